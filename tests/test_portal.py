"""The self-service portal: a mailed sign-in link lists a customer's requests; the web inquiry form; confirmations.

Sessions, links and their limits in detail: tests/test_portal_session.py; *My account*: tests/test_portal_account.py.
"""

import dataclasses
import re
from datetime import timedelta

import pytest
from itsdangerous import URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import select

from api.pages.portal import SALT
from engine.runtime import InstanceFilter
from engine.tasks import TaskFilter
from process_library.outbox_relay import relay_held_mail
from process_library.store import Customer, OutboxMessage
from tests.conftest import source, upload
from tests.smtp_server import smtp_server  # noqa: F401 (a fixture)
from tests.test_portal_session import sign_in_to_portal, use_link


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
    link = re.search(r"http://127\.0\.0\.1:8000(/portal/signin\?token=\S+)", mail.body)[1]  # the default public URL
    assert use_link(anonymous, link).status_code == 303
    page = anonymous.get("/portal/account")
    assert page.status_code == 200
    assert page.text.count("/track/") == 2 and "Hello care" in page.text
    assert len(re.findall(r"CC-[0-9A-Z]{4}-[0-9A-Z]{4}</span>", page.text)) == 2  # each with its case reference


def test_unknown_addresses_get_the_same_answer_and_no_mail(care, anonymous, customers):
    token = _csrf(anonymous.get("/portal").text)
    answer = anonymous.post("/portal/link", data={"email": "nobody@example.com", "csrf_token": token})
    assert answer.status_code == 200 and "If we know this address" in answer.text
    assert _outbox(care) == []
    bad = anonymous.post("/portal/link", data={"email": "not-an-address", "csrf_token": token})
    assert bad.status_code == 422 and _outbox(care) == []
    assert anonymous.post("/portal/link", data={"email": "alice@example.com"}).status_code == 400
    assert _outbox(care) == []


def test_forged_and_expired_links_show_nothing(app, care, anonymous, customers):
    forged = URLSafeSerializer("not-the-secret", salt=SALT).dumps({"c": "C-1", "n": "x"})
    response = anonymous.get(f"/portal/signin?token={forged}")
    assert response.status_code == 403 and "/track/" not in response.text
    assert anonymous.get("/portal/signin?token=garbage").status_code == 403
    token = _csrf(anonymous.get("/portal").text)
    anonymous.post("/portal/link", data={"email": "alice@example.com", "csrf_token": token})
    [mail] = _outbox(care)
    link = re.search(r"http://127\.0\.0\.1:8000(/portal/signin\?token=\S+)", mail.body)[1]
    care.clock.advance(timedelta(hours=25))
    expired = anonymous.get(link)
    assert expired.status_code == 410 and "/track/" not in expired.text and "Alice" not in expired.text


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
    assert relay_held_mail(care.db, settings, care.clock) == 0  # tried again only after a pause
    care.clock.advance("PT1M")
    assert relay_held_mail(care.db, settings, care.clock) == 1
    assert relay_held_mail(care.db, settings, care.clock) == 0  # sent once
    [message] = smtp_server.messages
    assert message["To"] == "alice@example.com" and "/portal/signin?token=" in message.get_content()
    [mail] = _outbox(care)
    assert (mail.status, mail.attempts) == ("sent", 2)


INTAKE_FILES = ("inquiry_intake.bpmn", "escalation.bpmn", "classify_inquiry.dmn", "inquiry_sla.dmn")


def _send_inquiry(anonymous, email: str, subject: str = "My router is broken", language: str = "en") -> str:
    token = _csrf(anonymous.get(f"/portal/inquiry?lang={language}").text)
    data = {"name": "Mallory", "email": email, "product": "Router", "subject": subject, "description": "Help"}
    response = anonymous.post(f"/portal/inquiry?lang={language}", data={**data, "csrf_token": token})
    assert response.status_code == 302
    return response.headers["Location"]


def test_an_inquiry_naming_a_customers_address_is_not_filed_under_the_customer(care, client, anonymous, customers):
    care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    _send_inquiry(anonymous, "ALICE@example.com")
    [started] = care.runtime.list(InstanceFilter(process_key="inquiry_intake"), 10, None).items
    assert started["customer_id"] == "web:alice@example.com"
    timeline = client.get("/api/customers/C-1/timeline").get_json()["items"]
    assert started["id"] not in [item["instance_id"] for item in timeline]
    [confirmation] = [m for m in _outbox(care) if m.payload.get("purpose") == "portal_confirm"]
    assert confirmation.recipient == "alice@example.com"  # the address on file, never the form's spelling
    assert "My router is broken" in confirmation.subject
    # Alice's own account does not list it either.
    alice = client.application.test_client()
    sign_in_to_portal(alice, care, "alice@example.com")
    account = alice.get("/portal/account").text
    assert "My router" not in account and started["reference"] not in account


def test_the_customer_confirms_by_the_mailed_link_and_then_owns_the_request(care, client, anonymous, customers):
    care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    _send_inquiry(anonymous, "alice@example.com")
    [started] = care.runtime.list(InstanceFilter(process_key="inquiry_intake"), 10, None).items
    care.jobs.run_due("test-worker")  # the process looks up web:alice@example.com: nobody it knows
    [confirmation] = [m for m in _outbox(care) if m.payload.get("purpose") == "portal_confirm"]
    link = re.search(r"http://127\.0\.0\.1:8000(/portal/confirm\?token=\S+)", confirmation.body)[1]
    page = anonymous.get(link + "&lang=de")
    assert page.status_code == 200 and "Ja, diese Anfrage stammt von mir" in page.text
    assert care.runtime.get(started["id"], with_data=False)["customer_id"] == "web:alice@example.com"  # GET: nothing
    token = re.search(r'name="token" value="([^"]+)"', page.text)[1]
    confirmed = anonymous.post("/portal/confirm", data={"token": token, "csrf_token": _csrf(page.text)})
    assert confirmed.status_code == 200 and "filed with your account" in confirmed.text
    after = care.runtime.get(started["id"])
    assert after["customer_id"] == "C-1" and after["data"]["customer_id"] == "C-1"
    # From now on the process works for Alice: staff's answer goes to her address on file.
    [task] = care.tasks.list(TaskFilter(instance_id=started["id"]), 10, None).items
    care.tasks.complete(task["id"], {"answer": "Restart it, please."}, "sam")
    care.jobs.run_due("test-worker")
    [answer] = [m for m in _outbox(care) if m.subject == f"Re: My router is broken [{started['reference']}]"]
    assert answer.recipient == "alice@example.com" and answer.payload["customer_id"] == "C-1"
    assert f"http://127.0.0.1:8000/track/{started['tracking_code']}" in answer.body  # link on the public URL
    timeline = client.get("/api/customers/C-1/timeline").get_json()["items"]
    [linked] = [item for item in timeline if item["instance_id"] == started["id"]]
    assert "customer_linked" in [event["type"] for event in linked["events"]]
    again = anonymous.post("/portal/confirm", data={"token": token, "csrf_token": _csrf(page.text)})
    assert again.status_code == 200  # confirming twice changes nothing more
    history = client.get(f"/api/instances/{started['id']}/history").get_json()["items"]
    assert [e["event_type"] for e in history].count("customer_linked") == 1


def test_forged_confirmations_and_other_customers_change_nothing(app, care, client, anonymous, customers):
    care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    _send_inquiry(anonymous, "alice@example.com")
    [started] = care.runtime.list(InstanceFilter(process_key="inquiry_intake"), 10, None).items
    csrf = _csrf(anonymous.get("/portal").text)
    forged = URLSafeTimedSerializer("not-the-secret", salt="carecenter.portal.confirm").dumps(
        {"instance": started["id"], "customer": "C-2", "subject": "x"}
    )
    assert anonymous.post("/portal/confirm", data={"token": forged, "csrf_token": csrf}).status_code == 403
    # A valid signature for a customer whose address is not the contact's (Bob claiming Alice's request).
    signer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="carecenter.portal.confirm")
    wrong = signer.dumps({"instance": started["id"], "customer": "C-2", "subject": "x"})
    assert anonymous.post("/portal/confirm", data={"token": wrong, "csrf_token": csrf}).status_code == 403
    assert anonymous.get("/portal/confirm?token=garbage").status_code == 403
    assert care.runtime.get(started["id"], with_data=False)["customer_id"] == "web:alice@example.com"


def test_staff_link_a_contact_to_a_customer(care, client, anonymous, customers):
    care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    _send_inquiry(anonymous, "someone@elsewhere.example")
    [started] = care.runtime.list(InstanceFilter(process_key="inquiry_intake"), 10, None).items
    assert [m for m in _outbox(care) if m.payload.get("purpose") == "portal_confirm"] == []  # not a customer's
    path = f"/api/instances/{started['id']}/customer"
    assert client.post(path, json={"customer_id": "C-404"}).status_code == 422
    assert client.post(path, json={"customer_id": "C-2", "extra": 1}).status_code == 400
    linked = client.post(path, json={"customer_id": "C-2"})
    assert linked.status_code == 200 and linked.get_json()["customer_id"] == "C-2"
    history = client.get(f"/api/instances/{started['id']}/history").get_json()["items"]
    [event] = [e for e in history if e["event_type"] == "customer_linked"]
    assert event["principal"] == "token:test-admin"


def test_a_web_inquiry_is_greeted_on_its_status_page_and_confirmed_to_an_address_no_customer_has(care, anonymous):
    care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    token = _csrf(anonymous.get("/portal/inquiry?lang=de").text)
    data = {"name": "Nora", "email": "nora@example.org", "product": "Router", "subject": "WLAN", "description": "Weg"}
    response = anonymous.post("/portal/inquiry?lang=de", data={**data, "csrf_token": token})
    page = anonymous.get(response.headers["Location"]).text
    [started] = care.runtime.list(InstanceFilter(process_key="inquiry_intake"), 10, None).items
    assert "Vielen Dank: Wir haben Ihre Anfrage erhalten." in page and started["reference"] in page
    [confirmation] = [m for m in _outbox(care) if m.payload.get("purpose") == "confirmation"]
    assert confirmation.recipient == "nora@example.org" and confirmation.payload["language"] == "de"
    assert f"/track/{started['tracking_code']}" in confirmation.body
    assert "Vielen Dank" not in anonymous.get(f"/track/{started['tracking_code']}").text  # only on the answer page


def test_a_signed_in_customers_inquiry_is_theirs_and_confirmed_to_the_address_on_file(care, client, customers):
    care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    bob = client.application.test_client()
    sign_in_to_portal(bob, care, "bob@example.com")
    form = bob.get("/portal/inquiry").text
    assert "Bob Other" in form and 'name="email"' not in form  # who they are is not asked again
    data = {"product": "Router", "subject": "Slow line", "description": "Since Monday.", "email": "eve@evil.example"}
    response = bob.post("/portal/inquiry", data={**data, "csrf_token": _csrf(form)})
    assert response.status_code == 302, response.text
    [started] = care.runtime.list(InstanceFilter(process_key="inquiry_intake"), 10, None).items
    assert started["customer_id"] == "C-2"
    [confirmation] = [m for m in _outbox(care) if m.payload.get("purpose") == "confirmation"]
    assert confirmation.recipient == "bob@example.com" and confirmation.payload["language"] == "de"
    assert not [m for m in _outbox(care) if m.payload.get("purpose") == "portal_confirm"]
    assert started["reference"] in bob.get("/portal/account").text


def test_an_inquiry_typed_with_a_customers_address_sends_no_confirmation_to_it(care, anonymous, customers):
    care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    _send_inquiry(anonymous, "alice@example.com")
    purposes = [m.payload.get("purpose") for m in _outbox(care) if m.recipient == "alice@example.com"]
    assert purposes == ["portal_confirm"]  # the request to claim it, not a confirmation of someone else's words


def _answer_the_inquiry(care, client, answer: str) -> dict:
    """Staff answer the one web inquiry (the worker runs its service tasks before and after); returns the case."""
    care.jobs.run_due("test")
    [started] = care.runtime.list(InstanceFilter(process_key="inquiry_intake"), 10, None).items
    [task] = care.tasks.list(TaskFilter(instance_id=started["id"]), 10, None).items
    assert task["element_id"] == "answer"
    done = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"answer": answer}})
    assert done.status_code == 200, done.text
    care.jobs.run_due("test")
    return started


def test_a_web_contact_gets_the_staff_answer_at_the_address_its_case_was_confirmed_to(care, client, anonymous):
    care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    _send_inquiry(anonymous, "Nora@Example.org", subject="WLAN down")
    started = _answer_the_inquiry(care, client, "Restart the router, please.")
    [answer] = [m for m in _outbox(care) if m.subject.startswith("Re: WLAN down")]
    assert answer.recipient == "nora@example.org" and "Restart the router, please." in answer.body
    assert f"/track/{started['tracking_code']}" in answer.body
    status_page = anonymous.get(f"/track/{started['tracking_code']}").text
    assert "We have sent you our answer by e-mail. Did it solve your problem? Tell us on this page" in status_page
    history = client.get(f"/api/instances/{started['id']}/history").get_json()["items"]
    assert "bpmn_error_thrown" not in [event["event_type"] for event in history]


def test_the_customer_says_whether_the_answer_solved_it_by_choosing_and_is_thanked(care, client, anonymous):
    care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    _send_inquiry(anonymous, "nora@example.org", subject="WLAN down")
    started = _answer_the_inquiry(care, client, "Restart the router, please.")
    code = started["tracking_code"]
    page = anonymous.get(f"/track/{code}").text
    assert 'type="checkbox"' not in page  # an unticked box said "not solved" without the customer saying so
    assert re.search(r'type="radio" name="solved" value="True"\s+required> Yes, my problem is solved', page)
    assert re.search(r'type="radio" name="solved" value="False"\s+required> No, I still need help', page)
    [task] = care.tasks.list(TaskFilter(instance_id=started["id"]), 10, None).items
    action = f"/track/{code}/tasks/{task['id']}"
    sent = anonymous.post(action, data={"csrf_token": _csrf(page), "comment": ""})
    assert sent.status_code == 422 and "Thank you" not in sent.text  # nothing chosen: nothing happens
    assert "Please check the marked fields; nothing was sent yet." in sent.text
    assert 'id="field-solved-error"' in sent.text
    german = anonymous.post(f"{action}?lang=de", data={"csrf_token": _csrf(page)})
    assert german.status_code == 422 and "Dieses Feld ist ein Pflichtfeld." in german.text  # the reader's language
    assert care.tasks.list(TaskFilter(instance_id=started["id"]), 10, None).items == [task]
    sent = anonymous.post(action, data={"csrf_token": _csrf(page), "solved": "False", "comment": "Still down."})
    assert sent.status_code == 302 and sent.headers["Location"].endswith("sent=1")
    shown = anonymous.get(sent.headers["Location"]).text
    assert "Thank you: we have your answer. This page shows what happens next." in shown
    assert 'aria-current="step">In review' in shown  # back with the care team
    assert "Thank you: we have your answer" not in anonymous.get(f"/track/{code}").text  # once, after sending


def test_the_answer_to_a_web_contact_is_in_the_language_of_their_form(care, client, anonymous):
    care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    _send_inquiry(anonymous, "nora@example.org", subject="WLAN weg", language="de")
    _answer_the_inquiry(care, client, "Bitte starten Sie den Router neu.")
    [answer] = [m for m in _outbox(care) if m.subject.startswith("Re: WLAN weg")]
    assert "Bitte starten Sie den Router neu." in answer.body and "Hat das Ihr Problem gelöst?" in answer.body


def test_a_web_inquiry_typed_with_a_customers_address_is_not_answered_to_that_customer(
    care, client, anonymous, customers
):
    care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    _send_inquiry(anonymous, "alice@example.com", subject="WLAN down")
    started = _answer_the_inquiry(care, client, "Restart the router, please.")
    assert not [m for m in _outbox(care) if m.subject.startswith("Re: WLAN down")]
    history = client.get(f"/api/instances/{started['id']}/history").get_json()["items"]
    [error] = [event for event in history if event["event_type"] == "bpmn_error_thrown"]
    assert error["details"]["code"] == "unknown_customer"  # the model's "Customer not reachable by mail"
