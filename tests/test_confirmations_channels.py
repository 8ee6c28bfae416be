"""Every channel confirms a new case by mail where the customer has an address (engine/confirmations.on_start).

Channel systems (``POST /api/inquiries``) and the staff's contact log on the customer page, on the
database under test; the relay sends the confirmation to a real SMTP server on loopback.
"""

from __future__ import annotations

import re

import pytest

from api.app import create_app
from process_library.outbox_relay import relay_held_mail
from process_library.store import Customer, OutboxMessage
from tests.conftest import source
from tests.smtp_server import smtp_server  # noqa: F401 (a fixture)
from tests.test_mail import INTAKE_FILES, engine_on, rows

PASSWORD = "correct horse battery"


@pytest.fixture
def care(database_url, smtp_server):  # noqa: F811
    engine = engine_on(database_url, smtp_server.port)
    engine.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    with engine.db.write() as session:
        session.add(Customer(id="C-1", name="Jana Nováková", email="jana@example.cz", tier="basic", language="cs"))
        session.add(Customer(id="C-2", name="Otto Ohnemail", email="", tier="basic", language="de"))
    engine.identity.add_group("support")
    engine.identity.add_user("sam", "staff", ["support"], password=PASSWORD)
    yield engine
    engine.close()


def confirmations(care) -> list[OutboxMessage]:
    return rows(care, OutboxMessage, OutboxMessage.idempotency_key.like("confirmation:%"))


def integration_token(care, name: str) -> str:
    care.identity.add_user(name, "integration")
    return care.tokens.create(f"{name}-token", username=name)[1]


def inquiry(client, token: str, **fields):
    body = {"channel": "web", "subject": "Login fails", "body": "Since today.", **fields}
    return client.post("/api/inquiries", json=body, headers={"Authorization": f"Bearer {token}"})


def test_a_channel_systems_inquiry_is_confirmed_in_the_customers_language_and_arrives(care, smtp_server):  # noqa: F811
    client, token = create_app(care).test_client(), integration_token(care, "web-form")
    started = inquiry(client, token, customer={"id": "C-1"})
    assert started.status_code == 201, started.text
    [mail] = confirmations(care)
    assert mail.recipient == "jana@example.cz" and mail.payload["language"] == "cs"
    reference = started.json["reference"]
    assert mail.subject.startswith("Váš požadavek jsme přijali") and f"[{reference}]" in mail.subject
    relay_held_mail(care.db, care.settings, care.clock)
    [sent] = smtp_server.messages
    assert f"/track/{started.json['tracking_code']}" in sent.get_content() and reference in sent.get_content()
    # the customer's reply to the open case is not confirmed as a new case
    reply = inquiry(client, token, customer={"id": "C-1"}, reference=reference, subject="Still broken")
    assert reply.status_code == 200 and len(confirmations(care)) == 1


def test_a_new_caller_given_with_an_address_is_confirmed_and_one_without_is_not(care):
    client, token = create_app(care).test_client(), integration_token(care, "phone-bridge")
    new = {"name": "Eva Neu", "email": "eva@example.de", "language": "de"}
    assert inquiry(client, token, channel="phone", customer=new).status_code == 201
    assert inquiry(client, token, channel="phone", customer={"id": "C-2"}).status_code == 201
    [mail] = confirmations(care)
    assert mail.recipient == "eva@example.de" and mail.payload["language"] == "de"


def test_a_channel_system_that_confirms_on_its_own_turns_it_off(care):
    client, token = create_app(care).test_client(), integration_token(care, "chat")
    assert inquiry(client, token, channel="chat", customer={"id": "C-1"}, confirm=False).status_code == 201
    assert confirmations(care) == []


def test_a_phone_call_logged_by_staff_is_read_out_and_confirmed_by_mail(care):
    app = create_app(care)
    sam = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', sam.get("/login").text)[1]
    sam.post("/login", data={"username": "sam", "password": PASSWORD, "csrf_token": token})
    page = sam.get("/customers/C-1").text
    form = {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page)[1],
        "message_id": re.search(r'name="message_id" value="([^"]+)"', page)[1],
        "channel": "phone",
        "subject": "Router blinks red",
        "text": "Called at 9:10.",
        "request": "new",
    }
    logged = sam.post("/customers/C-1/contacts", data=form)
    assert logged.status_code == 302
    shown = sam.get(logged.headers["Location"]).text
    reference = re.search(r'id="logged-reference">([^<]+)<', shown)[1]
    [mail] = confirmations(care)
    assert mail.recipient == "jana@example.cz" and f"[{reference}]" in mail.subject
    assert "obrátili" in mail.body and "zprávu" not in mail.body  # she called: thanked for contacting, not writing
    assert sam.post("/customers/C-1/contacts", data=form).status_code == 302  # sent twice: logged and confirmed once
    assert len(confirmations(care)) == 1
