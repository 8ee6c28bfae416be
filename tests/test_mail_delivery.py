# ruff: noqa: F811 (the fixtures of tests/test_mail.py are imported and then requested by name)
"""A customer mail that cannot be delivered is an incident on its case, and retrying it sends the mail again.

On real parts: the receiver driven by ``smtplib``, the test's SMTP server refusing with 550, a bounce report
coming back, on the database under test.
"""

from __future__ import annotations

from sqlalchemy import select

from engine.bpmn import SourceFile
from engine.models import Incident
from engine.runtime import StartRequest
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


NOTICE = SourceFile(
    "mail_notice.bpmn",
    b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" targetNamespace="http://cc.example/t">
  <bpmn:process id="mail_notice" name="Tell the customer" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="tell" name="Tell the customer">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="notify_customer" resultVariable="sent">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="customer_id" type="any" value="'C-1'" />
            <spiffworkflow:parameter id="subject" type="any" value="'Your update'" />
            <spiffworkflow:parameter id="body" type="any" value="'The update is installed.'" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
        <spiffworkflow:properties><spiffworkflow:property name="retries" value="0" /></spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="tell" />
    <bpmn:sequenceFlow id="f2" sourceRef="tell" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
""",
)


def test_a_refused_notice_fails_its_task_and_retrying_after_the_address_is_corrected_sends_it(care, smtp_server):
    care.repository.deploy([NOTICE], "test", "test")
    [instance, _] = care.runtime.start(StartRequest("mail_notice", {}), "test")[:2]
    smtp_server.fail_next(reply="550 5.1.1 <ada@example.com>: Recipient address rejected: User unknown")
    care.jobs.run_due("w")
    [incident] = care.incidents.list("open", instance["id"], 10, None).items
    assert incident["element_name"] == "Tell the customer" and "User unknown" in incident["message"]
    care.incidents.retry(incident["id"], "ada")  # the address on file is still the refused one: refused again
    care.jobs.run_due("w")
    [again] = care.incidents.list("open", instance["id"], 10, None).items
    assert smtp_server.messages == []
    with care.db.write() as session:
        session.get(Customer, "C-1").email = "ada.lovelace@example.com"
    care.incidents.retry(again["id"], "ada")
    care.jobs.run_due("w")
    [sent] = smtp_server.messages
    assert sent["To"] == "ada.lovelace@example.com" and sent["Subject"].startswith("Your update")
    assert care.incidents.list("open", instance["id"], 10, None).items == []
    assert care.runtime.get(instance["id"])["status"] == "completed"


def test_the_relay_sends_the_portals_confirm_links_too(care, smtp_server):
    with care.db.write() as session:
        session.add(
            OutboxMessage(idempotency_key="portal-confirm:1", kind="mail", recipient="ada@example.com",
                          subject="Did you send us the request?", body="…", status="held", attempts=0,
                          payload={"customer_id": "C-1", "purpose": "portal_confirm"}, created_at=care.clock.now())
        )  # fmt: skip
    assert relay(care) == 1
    [sent] = smtp_server.messages
    assert sent["Subject"] == "Did you send us the request?" and sent["Auto-Submitted"] == "auto-generated"
