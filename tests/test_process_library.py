"""The care operations, called as the worker calls them: idempotent writes, real SMTP delivery, the store's queries."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.bpmn import SourceFile
from engine.config import Settings
from engine.core import CareEngine
from engine.runtime import StartRequest
from process_library import operations
from process_library.mail import message_id
from process_library.registry import REGISTRY, BpmnError, OperationContext, TransientError
from process_library.store import Customer, Dispatch, License, OutboxMessage, System
from tests.smtp_server import free_port, smtp_server  # noqa: F401 (a fixture)


def context_for(care, key: str = "key-1", settings=None) -> OperationContext:
    return OperationContext(
        key,
        1,
        "care_process",
        "service_task",
        "TRACK-1",
        "CC-0101-0112",
        care.db,
        care.clock,
        settings or care.settings,
    )


def with_smtp(care, port: int):
    return dataclasses.replace(care.settings, smtp_host="127.0.0.1", smtp_port=port, mail_from="care@example.com")


def count(care, model) -> int:
    with care.db.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def outbox_rows(care) -> list[OutboxMessage]:
    with care.db.read() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


@pytest.fixture
def store(care):
    """Two customers; systems and licenses around the clock's now (valid, lapsed, expired, renewed, other product)."""
    now = care.clock.now()
    with care.db.write() as session:
        session.add_all(
            [
                Customer(id="C-1", name="Ada Lovelace", email="ada@example.com", tier="premium", language="en"),
                Customer(id="C-2", name="Bert Brecht", email="bert@example.com", tier="standard", language="de"),
            ]
        )
        session.flush()
        session.add_all(
            [
                System(id="S-1", customer_id="C-1", product="carestation", version="4.1", hostname="cs1.ada.example"),
                System(id="S-2", customer_id="C-1", product="till", version="2.0", hostname="till.ada.example"),
                System(id="S-3", customer_id="C-2", product="carestation", version="4.0", hostname="cs.bert.example"),
                License(
                    id="L-1",
                    customer_id="C-1",
                    product="carestation",
                    level="enterprise",
                    valid_until=now + timedelta(days=365),
                    status="active",
                ),
                License(
                    id="L-2",
                    customer_id="C-2",
                    product="carestation",
                    level="basic",
                    valid_until=now + timedelta(days=10),
                    status="active",
                ),
                License(
                    id="L-3",
                    customer_id="C-1",
                    product="till",
                    level="pro",
                    valid_until=now - timedelta(days=2),
                    status="active",
                ),
                License(
                    id="L-4",
                    customer_id="C-2",
                    product="till",
                    level="pro",
                    valid_until=now + timedelta(days=5),
                    status="expired",
                ),
                License(
                    id="L-5",
                    customer_id="C-2",
                    product="carestation",
                    level="pro",
                    valid_until=now + timedelta(days=3),
                    status="renewed",
                ),
            ]
        )
    return care


# -- the registry ------------------------------------------------------------------------------


def test_the_care_operations_are_registered_with_descriptions_and_typed_parameters():
    names = {op.name for op in REGISTRY.all()}
    assert {"notify_customer", "lookup_licenses", "lookup_systems", "record_dispatch", "dispatch_update"} <= names
    notify = REGISTRY.get("notify_customer").as_dict()
    assert notify["description"].startswith("Send a customer a mail")
    parameters = {p["name"]: p for p in notify["parameters"]}
    assert list(parameters) == ["customer_id", "subject", "body", "variables", "automatic", "translations", "recipient"]
    assert (parameters["customer_id"]["type"], parameters["customer_id"]["required"]) == ("string", True)
    assert (parameters["variables"]["type"], parameters["variables"]["required"]) == ("object", False)
    assert all(p["description"] for p in parameters.values())
    licenses = {p["name"]: p for p in REGISTRY.get("lookup_licenses").as_dict()["parameters"]}
    assert licenses["expiring_within_days"]["type"] == "integer"
    assert not any(p["required"] for p in licenses.values())


# -- notify_customer ---------------------------------------------------------------------------


def test_without_smtp_host_the_mail_is_held_and_a_second_call_writes_nothing_new(store):
    context = context_for(store)
    first = operations.notify_customer(context, customer_id="C-1", subject="Hello", body="Body")
    second = operations.notify_customer(context, customer_id="C-1", subject="Hello", body="Body")
    assert first == second == {"outbox_id": first["outbox_id"], "status": "held"}
    [row] = outbox_rows(store)
    assert (row.id, row.kind, row.recipient, row.status, row.attempts) == (
        first["outbox_id"],
        "mail",
        "ada@example.com",
        "held",
        0,
    )


def test_templates_see_variables_customer_reference_and_tracking_code(store):
    operations.notify_customer(
        context_for(store),
        customer_id="C-2",
        subject="Ticket {{ reference }} ({{ tracking_code }}) for {{ customer.name }}",
        body="{% if customer.language == 'de' %}Hallo{% else %}Hello{% endif %} {{ customer.email }}: {{ topic }}",
        variables={"topic": "printer"},
    )
    [row] = outbox_rows(store)
    assert row.subject == "Ticket CC-0101-0112 (TRACK-1) for Bert Brecht"
    assert row.body == "Hallo bert@example.com: printer"


def test_mail_is_delivered_once_by_smtp_with_a_message_id_from_the_key(store, smtp_server):  # noqa: F811
    context = context_for(store, "cc-7-notify-1", with_smtp(store, smtp_server.port))
    first = operations.notify_customer(context, customer_id="C-1", subject="Hi {{ customer.name }}", body="Text")
    second = operations.notify_customer(context, customer_id="C-1", subject="Hi {{ customer.name }}", body="Text")
    assert first == second == {"outbox_id": first["outbox_id"], "status": "sent"}
    [message] = smtp_server.messages
    assert message["To"] == "ada@example.com"
    assert message["From"] == "care@example.com"
    assert message["Subject"] == "Hi Ada Lovelace [CC-0101-0112]"  # the case reference, for replies
    assert message["Message-ID"] == message_id("cc-7-notify-1", "care@example.com")
    assert message.get_content().strip() == "Text"
    assert smtp_server.envelopes == [("care@example.com", ["ada@example.com"])]
    [row] = outbox_rows(store)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 1, store.clock.now())


def test_a_451_answer_is_transient_and_the_retry_sends_the_mail_once(store, smtp_server):  # noqa: F811
    smtp_server.fail_next(1)
    context = context_for(store, settings=with_smtp(store, smtp_server.port))
    with pytest.raises(TransientError, match="451"):
        operations.notify_customer(context, customer_id="C-1", subject="S", body="B")
    [row] = outbox_rows(store)
    assert (row.status, row.attempts) == ("held", 1)
    assert "451" in row.last_error
    assert smtp_server.messages == []

    assert operations.notify_customer(context, customer_id="C-1", subject="S", body="B")["status"] == "sent"
    assert len(smtp_server.messages) == 1
    [row] = outbox_rows(store)
    assert (row.status, row.attempts) == ("sent", 2)


def test_a_5xx_answer_is_a_bpmn_error_and_is_not_sent_again(store, smtp_server):  # noqa: F811
    smtp_server.fail_next(1, "550 5.1.1 mailbox unavailable")
    context = context_for(store, settings=with_smtp(store, smtp_server.port))
    with pytest.raises(BpmnError) as raised:
        operations.notify_customer(context, customer_id="C-1", subject="S", body="B")
    assert raised.value.code == "mail_refused"
    assert "550" in raised.value.message
    with pytest.raises(BpmnError, match="550"):
        operations.notify_customer(context, customer_id="C-1", subject="S", body="B")
    assert smtp_server.refused == 1 and smtp_server.messages == []
    [row] = outbox_rows(store)
    assert (row.status, row.attempts) == ("failed", 1)


def test_an_smtp_server_that_does_not_answer_is_transient(store):
    context = context_for(store, settings=with_smtp(store, free_port()))
    with pytest.raises(TransientError, match="unavailable"):
        operations.notify_customer(context, customer_id="C-1", subject="S", body="B")
    [row] = outbox_rows(store)
    assert (row.status, row.attempts) == ("held", 1)
    assert row.last_error


def test_unknown_customer_is_a_bpmn_error_and_writes_nothing(store):
    with pytest.raises(BpmnError) as raised:
        operations.notify_customer(context_for(store), customer_id="C-404", subject="S", body="B")
    assert raised.value.code == "unknown_customer"
    assert outbox_rows(store) == []


def _confirmed(care, customer_id: str, address: str, language: str = "de") -> None:
    """The channel's confirmation of case 1 (the context's), as engine/confirmations.py writes it."""
    with care.db.write() as session:
        session.add(
            OutboxMessage(
                idempotency_key="confirmation:1",
                kind="mail",
                recipient=address,
                subject="We have received your request",
                body="B",
                payload={"purpose": "confirmation", "customer_id": customer_id, "name": "Nora", "language": language},
                status="sent",
                attempts=1,
                created_at=care.clock.now(),
            )
        )


def test_an_unverified_contact_is_written_to_where_its_case_was_confirmed(store):
    _confirmed(store, "web:nora@example.org", "nora@example.org")
    translations = {"de": {"subject": "Antwort", "body": "Hallo {{ customer.name }}"}}
    result = operations.notify_customer(
        context_for(store), customer_id="web:nora@example.org", subject="Answer", body="Hi", translations=translations
    )
    answer = [row for row in outbox_rows(store) if row.id == result["outbox_id"]][0]
    assert (answer.recipient, answer.body, answer.payload["customer_id"]) == (
        "nora@example.org",
        "Hallo Nora",
        "web:nora@example.org",
    )
    assert answer.subject.startswith("Antwort")


@pytest.mark.parametrize(
    "customer_id",
    [
        "web:other@example.org",  # the case was filed under another contact since (staff linked it elsewhere)
        "C-404",  # an id of the store whose customer is gone (erased): never mailed at an old address
    ],
)
def test_a_contact_its_case_was_not_confirmed_to_is_unknown(store, customer_id):
    _confirmed(store, "web:nora@example.org" if customer_id.startswith("web:") else customer_id, "nora@example.org")
    with pytest.raises(BpmnError) as raised:
        operations.notify_customer(context_for(store), customer_id=customer_id, subject="S", body="B")
    assert raised.value.code == "unknown_customer"
    assert len(outbox_rows(store)) == 1  # the confirmation alone


def test_a_template_that_does_not_render_is_a_permanent_failure(store):
    with pytest.raises(ValueError, match="body template"):
        operations.notify_customer(context_for(store), customer_id="C-1", subject="S", body="{% if %}")
    assert outbox_rows(store) == []


def test_a_subject_stays_one_header_line(store, smtp_server):  # noqa: F811
    context = context_for(store, settings=with_smtp(store, smtp_server.port))
    operations.notify_customer(
        context, customer_id="C-1", subject="Hi {{ name }}", body="B", variables={"name": "x\r\nBcc: eve@example.com"}
    )
    [message] = smtp_server.messages
    assert message["Subject"] == "Hi x Bcc: eve@example.com [CC-0101-0112]"
    assert message["Bcc"] is None
    assert smtp_server.envelopes[0][1] == ["ada@example.com"]


# -- lookups -----------------------------------------------------------------------------------


def license_ids(result: dict) -> list[str]:
    return [item["id"] for item in result["licenses"]]


def test_lookup_licenses_returns_only_valid_active_ones_soonest_first(store):
    context = context_for(store)
    assert license_ids(operations.lookup_licenses(context)) == ["L-2", "L-1"]
    assert license_ids(operations.lookup_licenses(context, customer_id="C-1")) == ["L-1"]
    assert license_ids(operations.lookup_licenses(context, product="till")) == []
    assert license_ids(operations.lookup_licenses(context, minimum_level="pro")) == ["L-1"]
    [item] = operations.lookup_licenses(context, customer_id="C-2")["licenses"]
    assert item == {
        "id": "L-2",
        "customer_id": "C-2",
        "product": "carestation",
        "level": "basic",
        "valid_until": (store.clock.now() + timedelta(days=10)).isoformat(),
        "status": "active",
    }


def test_lookup_licenses_expiring_includes_lapsed_active_ones_and_follows_the_clock(store):
    context = context_for(store)
    assert license_ids(operations.lookup_licenses(context, expiring_within_days=30)) == ["L-3", "L-2"]
    assert license_ids(operations.lookup_licenses(context, expiring_within_days=30, product="carestation")) == ["L-2"]
    assert license_ids(operations.lookup_licenses(context, expiring_within_days=0)) == ["L-3"]
    store.clock.advance(timedelta(days=11))
    assert license_ids(operations.lookup_licenses(context)) == ["L-1"]


def test_a_renewing_license_stays_valid_but_is_no_longer_expiring(store):
    context = context_for(store)
    result = operations.update_license(context, license_id="L-2", status="renewing")
    assert result["license"]["status"] == "renewing"
    assert license_ids(operations.lookup_licenses(context, expiring_within_days=30)) == ["L-3"]
    assert license_ids(operations.lookup_licenses(context)) == ["L-2", "L-1"]
    assert [s["id"] for s in operations.lookup_systems(context, product="carestation")["systems"]] == ["S-1", "S-3"]
    renewed = operations.update_license(context, license_id="L-2", status="active", valid_until="2031-06-30")
    assert renewed["license"]["valid_until"].startswith("2031-06-30T00:00:00")


def test_update_license_refuses_unknown_licenses_and_statuses_and_changes_nothing(store):
    with pytest.raises(BpmnError, match="no license 'L-404'"):
        operations.update_license(context_for(store), license_id="L-404", status="expired")
    with pytest.raises(ValueError, match="unknown license status 'gone'"):
        operations.update_license(context_for(store), license_id="L-1", status="gone")
    assert license_ids(operations.lookup_licenses(context_for(store), customer_id="C-1")) == ["L-1"]


def test_lookup_customer_tells_known_from_new_customers(store):
    context = context_for(store)
    assert operations.lookup_customer(context, customer_id="C-1") == {
        "known": True,
        "tier": "premium",
        "language": "en",
        "products": ["carestation", "till"],
    }
    assert operations.lookup_customer(context, customer_id="C-999")["known"] is False


def test_lookup_licenses_refuses_unknown_levels_and_negative_days(store):
    with pytest.raises(ValueError, match="levels: basic, pro, enterprise"):
        operations.lookup_licenses(context_for(store), minimum_level="gold")
    with pytest.raises(ValueError, match="negative"):
        operations.lookup_licenses(context_for(store), expiring_within_days=-1)


def test_lookup_systems_needs_a_valid_license_for_the_product_at_the_level(store):
    context = context_for(store)

    def ids(**arguments) -> list[str]:
        return [system["id"] for system in operations.lookup_systems(context, **arguments)["systems"]]

    assert ids(product="carestation") == ["S-1", "S-3"]
    assert ids(product="carestation", minimum_license_level="pro") == ["S-1"]
    assert ids(product="carestation", customer_id="C-2") == ["S-3"]
    assert ids(product="till") == []  # L-3 lapsed, L-4 is expired and belongs to a customer without a till
    store.clock.advance(timedelta(days=11))
    assert ids(product="carestation") == ["S-1"]
    [system] = operations.lookup_systems(context, product="carestation")["systems"]
    assert system == {
        "id": "S-1",
        "customer_id": "C-1",
        "product": "carestation",
        "version": "4.1",
        "hostname": "cs1.ada.example",
    }


# -- dispatches --------------------------------------------------------------------------------


def test_record_dispatch_is_idempotent_and_confirmed_sets_the_system_version(store):
    first = operations.record_dispatch(context_for(store, "k-a"), system_id="S-1", version="4.2")
    again = operations.record_dispatch(context_for(store, "k-a"), system_id="S-1", version="4.2")
    assert first == again
    assert first["status"] == "dispatched" and first["customer_id"] == "C-1" and first["product"] == "carestation"
    confirmed = operations.record_dispatch(
        context_for(store, "k-b"), system_id="S-1", version="4.2", status="confirmed"
    )
    assert confirmed["dispatch_id"] != first["dispatch_id"]
    assert count(store, Dispatch) == 2
    with store.db.read() as session:
        assert session.get(System, "S-1").version == "4.2"
        row = session.get(Dispatch, confirmed["dispatch_id"])
        assert (row.confirmed_at, row.instance_id) == (store.clock.now(), 1)
        assert session.get(Dispatch, first["dispatch_id"]).confirmed_at is None


def test_record_dispatch_refuses_unknown_systems_and_statuses(store):
    with pytest.raises(BpmnError) as raised:
        operations.record_dispatch(context_for(store), system_id="S-404", version="1")
    assert raised.value.code == "unknown_system"
    with pytest.raises(ValueError, match="dispatched, confirmed, failed"):
        operations.record_dispatch(context_for(store), system_id="S-1", version="1", status="done")
    assert count(store, Dispatch) == 0


def test_dispatch_update_writes_one_dispatch_and_one_outbox_message_per_key(store):
    context = context_for(store, "cc-9-dispatch-1")
    first = operations.dispatch_update(context, system_id="S-3", version="4.2")
    second = operations.dispatch_update(context, system_id="S-3", version="4.2")
    assert first == second
    assert first == {
        "dispatch_id": first["dispatch_id"],
        "system_id": "S-3",
        "customer_id": "C-2",
        "product": "carestation",
        "version": "4.2",
        "status": "dispatched",
    }
    assert count(store, Dispatch) == 1
    [row] = outbox_rows(store)
    assert (row.kind, row.recipient, row.status, row.idempotency_key) == (
        "dispatch",
        "cs.bert.example",
        "held",
        "cc-9-dispatch-1",
    )
    assert row.payload["dispatch_id"] == first["dispatch_id"]
    assert (row.payload["system_id"], row.payload["product"], row.payload["version"]) == ("S-3", "carestation", "4.2")
    assert row.payload["callback"]["correlation_key"] == "TRACK-1"
    assert row.payload["callback"]["report"]["dispatch_id"] == first["dispatch_id"]
    with store.db.read() as session:
        assert session.get(System, "S-3").version == "4.0"  # dispatched, not yet confirmed


def test_dispatch_update_of_an_unknown_system_is_a_bpmn_error(store):
    with pytest.raises(BpmnError) as raised:
        operations.dispatch_update(context_for(store), system_id="S-404", version="1")
    assert raised.value.code == "unknown_system"
    assert count(store, Dispatch) == 0 and outbox_rows(store) == []


class FlakyAdapter:
    """An integration that is down for its first call, then passes messages to the outbox adapter."""

    def __init__(self, context: OperationContext, failures: list[int], sent: list) -> None:
        self.inner = operations.OutboxDispatchAdapter(context.db, context.clock)
        self.failures = failures
        self.sent = sent

    def send(self, dispatch: operations.DispatchMessage) -> None:
        self.sent.append(dispatch)
        if self.failures:
            self.failures.pop()
            raise TransientError("integration down")
        self.inner.send(dispatch)


def test_a_retry_after_the_adapter_failed_reuses_the_dispatch(store):
    failures, sent = [1], []
    previous = operations.use_dispatch_adapter(lambda context: FlakyAdapter(context, failures, sent))
    try:
        context = context_for(store, "k-flaky")
        with pytest.raises(TransientError):
            operations.dispatch_update(context, system_id="S-1", version="4.2")
        result = operations.dispatch_update(context, system_id="S-1", version="4.2")
    finally:
        operations.use_dispatch_adapter(previous)
    assert [message.dispatch_id for message in sent] == [result["dispatch_id"]] * 2
    assert {message.idempotency_key for message in sent} == {"k-flaky"}
    assert count(store, Dispatch) == 1
    assert [row.payload["dispatch_id"] for row in outbox_rows(store)] == [result["dispatch_id"]]


def test_concurrent_tries_of_one_call_write_one_dispatch(store):
    results, errors = [], []
    barrier = threading.Barrier(4)

    def call() -> None:
        barrier.wait()
        try:
            results.append(operations.dispatch_update(context_for(store, "k-race"), system_id="S-1", version="5"))
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({result["dispatch_id"] for result in results}) == 1 and len(results) == 4
    assert count(store, Dispatch) == 1
    assert len(outbox_rows(store)) == 1


# -- through the engine: a deployed process whose service tasks the worker runs ----------------

CARE_PROCESS = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" targetNamespace="urn:test">
  <bpmn:process id="care_ops" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="notify" />
    <bpmn:serviceTask id="notify" name="Tell the customer">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="notify_customer" resultVariable="mail">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="customer_id" type="str" value="customer_id" />
            <spiffworkflow:parameter id="subject" type="str" value="'Update for {{ customer.name }}'" />
            <spiffworkflow:parameter id="body" type="str" value="'Version {{ version }} ({{ tracking_code }})'" />
            <spiffworkflow:parameter id="variables" type="any" value="{'version': version}" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f2" sourceRef="notify" targetRef="dispatch" />
    <bpmn:serviceTask id="dispatch" name="Dispatch the update">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="dispatch_update" resultVariable="dispatch">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="system_id" type="str" value="system_id" />
            <spiffworkflow:parameter id="version" type="str" value="version" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f3" sourceRef="dispatch" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_deployed_process_notifies_and_dispatches_through_the_worker(store, database_url, clock, smtp_server):  # noqa: F811
    engine = CareEngine(
        Settings.from_env(database_url=database_url, smtp_host="127.0.0.1", smtp_port=smtp_server.port), clock=clock
    )
    try:
        engine.repository.deploy([SourceFile("care_ops.bpmn", CARE_PROCESS)], "test", "test")
        variables = {"customer_id": "C-1", "system_id": "S-1", "version": "4.2"}
        view, _ = engine.runtime.start(StartRequest("care_ops", variables), "test")
        assert engine.jobs.run_due("w1") == 2
        instance = engine.runtime.get(view["id"])
    finally:
        engine.close()
    assert instance["status"] == "completed"
    [mail, dispatch] = outbox_rows(store)
    assert instance["data"]["mail"] == {"outbox_id": mail.id, "status": "sent"}
    assert instance["data"]["dispatch"]["dispatch_id"] == dispatch.payload["dispatch_id"]
    [message] = smtp_server.messages
    assert message["Subject"] == f"Update for Ada Lovelace [{view['reference']}]"
    assert message.get_content().strip() == f"Version 4.2 ({view['tracking_code']})"
    assert message["Message-ID"] == message_id(mail.idempotency_key, store.settings.mail_from)
    assert dispatch.payload["callback"]["correlation_key"] == view["tracking_code"]
