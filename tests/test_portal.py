"""The self-service portal: a signed, time-limited link through the outbox lists a customer's requests."""

import dataclasses
import re
from datetime import timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from engine.runtime import InstanceFilter
from process_library.outbox_relay import relay_held_mail
from process_library.store import Customer, OutboxMessage
from tests.conftest import source, upload
from tests.smtp_server import smtp_server  # noqa: F401 (a fixture)


@pytest.fixture
def customers(care, client):
    with care.db.write() as session:
        session.add(Customer(id="C-1", name="Alice Example", email="alice@example.com", tier="gold", language="en"))
        session.add(Customer(id="C-2", name="Bob Other", email="bob@example.com", tier="basic", language="de"))
    assert client.post("/api/deployments", data=upload("hello_care.bpmn")).status_code == 201
    for customer in ("C-1", "C-1", "C-2"):
        client.post("/api/process-definitions/hello_care/instances", json={"customer_id": customer})


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def _outbox(care) -> list[OutboxMessage]:
    with care.db.read() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_a_signed_link_lists_the_customers_requests(care, anonymous, customers):
    token = _csrf(anonymous.get("/portal").text)
    answer = anonymous.post("/portal/link", data={"email": "Alice@Example.com", "csrf_token": token})
    assert answer.status_code == 200 and "If we know this address" in answer.text
    [mail] = _outbox(care)
    assert (mail.recipient, mail.status, mail.kind) == ("alice@example.com", "held", "mail")
    link = re.search(r"http://localhost(/portal/requests\?token=\S+)", mail.body)[1]
    page = anonymous.get(link)
    assert page.status_code == 200
    assert page.text.count("/track/") == 2 and "Hello care" in page.text
    assert len(re.findall(r"\(CC-[0-9A-Z]{4}-[0-9A-Z]{4}\)", page.text)) == 2  # each with its case reference


def test_unknown_addresses_get_the_same_answer_and_no_mail(care, anonymous, customers):
    token = _csrf(anonymous.get("/portal").text)
    answer = anonymous.post("/portal/link", data={"email": "nobody@example.com", "csrf_token": token})
    assert answer.status_code == 200 and "If we know this address" in answer.text
    assert _outbox(care) == []
    bad = anonymous.post("/portal/link", data={"email": "not-an-address", "csrf_token": token})
    assert bad.status_code == 422 and _outbox(care) == []
    assert anonymous.post("/portal/link", data={"email": "alice@example.com"}).status_code == 400
    assert _outbox(care) == []


def test_forged_and_expired_links_show_nothing(app, anonymous, customers, monkeypatch):
    forged = URLSafeTimedSerializer("not-the-secret", salt="carecenter.portal.requests").dumps("C-1")
    response = anonymous.get(f"/portal/requests?token={forged}")
    assert response.status_code == 403 and "/track/" not in response.text
    assert anonymous.get("/portal/requests?token=garbage").status_code == 403
    signer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="carecenter.portal.requests")
    old = signer.dumps("C-1")
    import time

    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + timedelta(hours=25).total_seconds())
    expired = anonymous.get(f"/portal/requests?token={old}")
    assert expired.status_code == 403 and "/track/" not in expired.text


def test_the_inquiry_form_validates_on_the_server(care, anonymous):
    form = anonymous.get("/portal/inquiry?lang=de")
    assert form.status_code == 200 and "Neue Anfrage" in form.text and "<script" not in form.text
    token = _csrf(form.text)
    data = {"name": "", "email": "no-address", "product": "Router X1", "subject": "x" * 301, "description": "Broken"}
    refused = anonymous.post("/portal/inquiry?lang=de", data={**data, "csrf_token": token})
    assert refused.status_code == 422
    assert 'id="name-error"' in refused.text and 'id="email-error"' in refused.text
    assert 'id="subject-error"' in refused.text and 'id="product-error"' not in refused.text
    assert 'value="Router X1"' in refused.text  # what was typed stays
    with care.db.read() as session:
        assert session.scalar(select(OutboxMessage)) is None
    assert anonymous.post("/portal/inquiry", data={**data}).status_code == 400  # no CSRF token


def test_a_valid_inquiry_starts_inquiry_intake_and_shows_its_tracking_page(care, anonymous):
    token = _csrf(anonymous.get("/portal/inquiry").text)
    data = {"name": "Alice", "email": "alice@example.com", "product": "Router", "subject": "Hi", "description": "Hello"}
    unavailable = anonymous.post("/portal/inquiry", data={**data, "csrf_token": token})
    assert unavailable.status_code == 503  # no intake process deployed yet: nothing starts
    assert care.runtime.list(InstanceFilter(), 10, None).items == []

    files = ("inquiry_intake.bpmn", "escalation.bpmn", "classify_inquiry.dmn", "inquiry_sla.dmn")
    care.repository.deploy([source(name) for name in files], "test", "test")
    response = anonymous.post("/portal/inquiry", data={**data, "csrf_token": token})
    assert response.status_code == 302 and "/track/" in response.headers["Location"]
    [started] = care.runtime.list(InstanceFilter(), 10, None).items
    assert (started["process_key"], started["channel"], started["customer_id"]) == (
        "inquiry_intake",
        "web",
        "web:alice@example.com",
    )
    assert started["tracking_code"] in response.headers["Location"]


def test_the_worker_relay_sends_the_held_link_once_over_smtp(care, anonymous, customers, smtp_server):  # noqa: F811
    token = _csrf(anonymous.get("/portal").text)
    anonymous.post("/portal/link", data={"email": "alice@example.com", "csrf_token": token})
    settings = dataclasses.replace(care.settings, smtp_host="127.0.0.1", smtp_port=smtp_server.port)
    assert relay_held_mail(care.db, dataclasses.replace(care.settings, smtp_host=""), care.clock) == 0
    smtp_server.fail_next(1)  # a busy server: the mail stays held for the next round
    assert relay_held_mail(care.db, settings, care.clock) == 0
    assert _outbox(care)[0].status == "held"
    assert relay_held_mail(care.db, settings, care.clock) == 1
    assert relay_held_mail(care.db, settings, care.clock) == 0  # sent once
    [message] = smtp_server.messages
    assert message["To"] == "alice@example.com" and "/portal/requests?token=" in message.get_content()
    [mail] = _outbox(care)
    assert (mail.status, mail.attempts) == ("sent", 2)
