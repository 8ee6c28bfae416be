"""The automatic confirmation of a mailed inquiry, on real parts: the receiver driven by ``smtplib``, the relay
sending to the test's SMTP server, on the database under test.

The first mail of a new case is confirmed once, in the customer's language, with the case reference and the
status link on the public URL, threaded under the customer's mail and marked automatic; bulk mail, replies,
automatic mail and senders over the hourly cap get none.
"""

from __future__ import annotations

import dataclasses

import pytest

from engine.confirmations import language_tag
from engine.mail_receiver import MailReceiver
from engine.mail_threading import case_of_message_id
from engine.models import Contact, InboundMail, ProcessInstance
from process_library.outbox_relay import relay_held_mail
from process_library.store import Customer, OutboxMessage
from tests.conftest import source
from tests.smtp_server import free_port, smtp_server  # noqa: F401 (a fixture)
from tests.test_mail import INTAKE_FILES, SECRET, engine_on, mail, process, rows, send

PUBLIC = "https://care.example.com"


@pytest.fixture
def care(database_url, smtp_server):  # noqa: F811
    engine = engine_on(database_url, smtp_server.port)
    engine.settings = dataclasses.replace(engine.settings, public_url=PUBLIC)
    engine.mail.settings = engine.settings
    engine.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    with engine.db.write() as session:
        session.add(Customer(id="C-1", name="Ada Lovelace", email="Ada@Example.com", tier="premium", language="en"))
        session.add(Customer(id="C-2", name="Dora Dietrich", email="dora@example.de", tier="standard", language="de"))
    yield engine
    engine.close()


@pytest.fixture
def receiver(care):
    server = MailReceiver(care.mail.store, "127.0.0.1", free_port())
    server.start()
    yield server
    server.stop()


def confirmations(care) -> list[OutboxMessage]:
    return [row for row in rows(care, OutboxMessage) if row.payload.get("purpose") == "confirmation"]


def relay(care) -> int:
    return relay_held_mail(care.db, care.settings, care.clock)


def test_a_new_inquiry_is_confirmed_once_threaded_with_reference_and_status_link(care, receiver, smtp_server):  # noqa: F811
    message = mail(subject="AW: Printer broken")
    send(receiver, message)
    [row] = process(care)
    case = care.runtime.get(row.instance_id)
    [held] = confirmations(care)
    assert (held.status, held.recipient, held.payload["instance_id"]) == ("held", "ada@example.com", case["id"])
    assert relay(care) == 1
    [sent] = smtp_server.messages
    assert sent["To"] == "ada@example.com"
    assert sent["Subject"] == f"We have received your request: Printer broken [{case['reference']}]"
    assert sent["In-Reply-To"] == message["Message-ID"] and sent["References"] == message["Message-ID"]
    assert (sent["Auto-Submitted"], sent["X-Auto-Response-Suppress"]) == ("auto-replied", "All")
    assert case_of_message_id(sent["Message-ID"], SECRET) == case["reference"]
    body = sent.get_content()
    assert case["reference"] in body and f"{PUBLIC}/track/{case['tracking_code']}" in body
    assert "Hello Ada Lovelace" in body
    [contact] = rows(care, Contact, Contact.direction == "out")  # on the customer's contact log, secret blanked
    assert (contact.customer_id, contact.instance_id, contact.subject) == ("C-1", case["id"], sent["Subject"])
    assert case["tracking_code"] not in contact.text and case["reference"] in contact.text
    # processing the same mail again (a crash before its outcome was recorded) writes no second one
    with care.db.write() as session:
        session.get(InboundMail, row.id).status = "received"
    process(care)
    assert len(confirmations(care)) == 1 and relay(care) == 0
    # the customer's reply to the confirmation reaches the case
    reply = mail(subject="Re: " + sent["Subject"], body="One more thing.", In_Reply_To=sent["Message-ID"])
    send(receiver, reply)
    back = process(care)[-1]
    assert (back.kind, back.instance_id) == ("reply", case["id"])
    assert len(confirmations(care)) == 1  # a reply is not confirmed


@pytest.mark.parametrize(
    ("sender", "written_in", "language", "greeting"),
    [
        ("Dora <dora@example.de>", "en", "de", "Guten Tag Dora Dietrich"),  # the store decides
        ("Jana <jana@example.cz>", "cs-CZ", "cs", "Dobrý den, Jana"),  # else the mail's Content-Language
        ("Zed <zed@example.com>", "fr", "en", "Hello Zed"),
        ("Zed <zed@example.com>", None, "en", "Hello Zed"),
    ],
)
def test_the_confirmation_is_in_the_customers_language(
    care,
    receiver,
    smtp_server,  # noqa: F811
    sender,
    written_in,
    language,
    greeting,
):
    message = mail(sender=sender)
    if written_in:
        message["Content-Language"] = written_in
    send(receiver, message)
    process(care)
    [held] = confirmations(care)
    assert held.payload["language"] == language and held.body.startswith(greeting)
    relay(care)
    assert smtp_server.messages[0]["Subject"].startswith(
        {"en": "We have received", "de": "Wir haben Ihre Anfrage", "cs": "Váš požadavek"}[language]
    )


def test_language_tags():
    assert [language_tag(v) for v in ("de-AT, en", "cs_CZ", "fr, de;q=0.5", "", None, "EN")] == [
        "de",
        "cs",
        "de",
        None,
        None,
        "en",
    ]


@pytest.mark.parametrize("headers", [{"Precedence": "bulk"}, {"List_Id": "<news.example.com>"}])
def test_bulk_mail_becomes_a_case_without_confirmation(care, receiver, headers):
    send(receiver, mail(**headers))
    [row] = process(care)
    assert row.kind == "inquiry" and confirmations(care) == []


def test_at_most_the_hourly_limit_of_confirmations_go_to_one_sender(care, receiver):
    for number in range(7):
        send(receiver, mail(subject=f"Question {number}"))
    process(care)
    assert len(confirmations(care)) == 5


def test_no_case_no_confirmation(database_url, smtp_server):  # noqa: F811
    bare = engine_on(database_url, smtp_server.port)  # no process takes inquiries: the intake refuses
    try:
        bare.mail.store.receive(mail().as_bytes(), source="smtp", envelope_from="ada@example.com", recipients=["c@x"])
        [row] = process(bare)
        assert row.status == "received" and "inquiry_received" in row.error  # tried again later
        assert confirmations(bare) == [] and rows(bare, ProcessInstance) == []
    finally:
        bare.close()


def test_a_start_hook_that_fails_leaves_no_case_and_no_confirmation(care):
    def broken(session, case) -> None:
        row = OutboxMessage(idempotency_key=f"x:{case.reference}", kind="mail", recipient="a@b", subject="s",
                            body="b", payload={}, status="held", attempts=0, created_at=care.clock.now())  # fmt: skip
        session.add(row)
        session.flush()
        raise RuntimeError("the template is broken")

    customer = {"id": "C-1", "name": "Ada", "email": "ada@example.com"}
    with pytest.raises(RuntimeError, match="the template is broken"):  # the mail job tries the mail again later
        care.intake.submit(channel="email", customer=customer, subject="s", body="b", reference=None,
                           principal="test", message_id="hook-1", on_start=broken)  # fmt: skip
    assert rows(care, ProcessInstance) == [] and rows(care, OutboxMessage) == []
