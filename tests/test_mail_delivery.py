# ruff: noqa: F811 (the fixtures of tests/test_mail.py are imported and then requested by name)
"""A customer mail that cannot be delivered is an incident on its case, and retrying it sends the mail again.

On real parts: the receiver driven by ``smtplib``, the test's SMTP server refusing with 550, a bounce report
coming back, on the database under test.
"""

from __future__ import annotations

from sqlalchemy import select

from engine.models import Incident
from process_library.outbox_relay import relay_held_mail
from process_library.store import Customer, OutboxMessage
from tests.smtp_server import smtp_server  # noqa: F401 (a fixture)
from tests.test_mail import (  # noqa: F401 (fixtures)
    answer_case,
    care,
    case_from,
    delivery_report,
    process,
    receiver,
    rows,
    send,
)


def relay(care) -> int:
    return relay_held_mail(care.db, care.settings, care.clock)


def incidents(care) -> list[Incident]:
    with care.db.read() as session:
        return list(session.scalars(select(Incident).order_by(Incident.id)))


def test_a_refused_confirmation_is_an_incident_on_the_case_and_retry_sends_it_to_the_corrected_address(
    care,
    receiver,
    smtp_server,
):
    _, case = case_from(care, receiver)
    status_before = care.runtime.get(case["id"])["status"]
    smtp_server.fail_next(reply="550 5.1.1 <ada@example.com>: Recipient address rejected: User unknown")
    assert relay(care) == 0
    [outbox] = rows(care, OutboxMessage)
    assert outbox.status == "failed"
    [incident] = incidents(care)
    assert (incident.instance_id, incident.status, incident.outbox_id) == (case["id"], "open", outbox.id)
    assert "could not be delivered" in incident.message and "ada@example.com" in incident.message
    assert "User unknown" in incident.message and "We have received your request" in incident.message
    listed = care.incidents.list("open", case["id"], 10, None).items
    assert [i["id"] for i in listed] == [incident.id]  # what the case page and the admins' list show
    assert relay(care) == 0  # refused for good: not tried again by itself
    with care.db.write() as session:
        session.get(Customer, "C-1").email = "ada.lovelace@example.com"
    view = care.incidents.retry(incident.id, "ada")
    assert view["status"] == status_before  # the case itself is left as it was
    assert relay(care) == 1
    [sent] = smtp_server.messages
    assert sent["To"] == "ada.lovelace@example.com" and sent["Auto-Submitted"] == "auto-replied"
    [incident] = incidents(care)
    assert (incident.status, incident.resolved_by) == ("resolved", "ada")
    assert relay(care) == 0  # sent once


def test_a_bounced_answer_is_an_incident_on_the_case_and_is_sent_again_as_a_person_wrote_it(
    care,
    receiver,
    smtp_server,
):
    _, case = case_from(care, receiver)
    answer_case(care, case["id"], "Please switch it off and on again.")
    [answer] = smtp_server.messages
    send(receiver, delivery_report(answer["Message-ID"], "Ada@Example.com"), "")
    process(care)
    [incident] = incidents(care)
    assert incident.instance_id == case["id"] and "bounced" in incident.message and "User unknown" in incident.message
    care.incidents.retry(incident.id, "ada")
    assert relay(care) == 2  # the confirmation (held until now) and the answer again
    again = smtp_server.messages[-1]
    assert again["Message-ID"] == answer["Message-ID"] and again["Auto-Submitted"] is None


def test_a_refused_mail_of_no_case_opens_no_incident(care, smtp_server):
    with care.db.write() as session:
        session.add(
            OutboxMessage(idempotency_key="portal-1", kind="mail", recipient="ada@example.com", subject="Your link",
                          body="…", payload={"purpose": "portal_link"}, status="held", attempts=0,
                          created_at=care.clock.now())
        )  # fmt: skip
    smtp_server.fail_next(reply="550 5.1.1 User unknown")
    relay(care)
    assert [row.status for row in rows(care, OutboxMessage)] == ["failed"] and incidents(care) == []
