"""The event log (#27 item 4, 5): each change writes its CloudEvents in its own transaction; the export writes them.

Real SQLite file or PostgreSQL (``CARECENTER_TEST_DATABASE_URL``); the engine runs as in production.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from api.commands import main
from engine import contacts
from engine.bpmn import SourceFile
from engine.config import PROJECT_ROOT
from engine.errors import DeploymentInvalid, TaskNotOpen
from engine.event_types import BUILT_IN
from engine.models import EventRecord, HumanTask, Incident
from engine.runtime import StartRequest
from process_library.customers import create_customer
from tests.conftest import make_engine, source

SHIPPING = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" targetNamespace="http://carecenter.example/test">
  <bpmn:process id="shipping" name="Ship an order" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="pack" name="Pack the order">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:intermediateThrowEvent id="shipped" name="Order shipped">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="event" value="{name}" />
        <spiffworkflow:property name="event_data" value="order_id, weight" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:intermediateThrowEvent>
    <bpmn:endEvent id="done">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="event" value="order.closed" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f3</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="pack" />
    <bpmn:sequenceFlow id="f2" sourceRef="pack" targetRef="shipped" />
    <bpmn:sequenceFlow id="f3" sourceRef="shipped" targetRef="done" />
  </bpmn:process>
</bpmn:definitions>
"""


# One step's order: what the step did (tasks, completion), then the stage it ended in.
EXPECTED = [
    "instance.started",
    "task.created",
    "stage.changed",
    "task.completed",
    "instance.completed",
    "stage.changed",
]


def shipping(name: str = "order.shipped") -> SourceFile:
    return SourceFile("shipping.bpmn", SHIPPING.replace("{name}", name).encode())


@pytest.fixture
def care(database_url, clock):
    engine = make_engine(database_url, clock)
    engine.repository.deploy([source("hello_care.bpmn"), shipping()], "test", "test")
    yield engine
    engine.close()


def logged(care) -> list[EventRecord]:
    with care.db.read() as session:
        return list(session.scalars(select(EventRecord).order_by(EventRecord.id)))


def open_task(care, instance_id: int) -> int:
    with care.db.read() as session:
        return session.scalar(
            select(HumanTask.id).where(HumanTask.instance_id == instance_id, HumanTask.status == "open")
        )


def test_a_case_writes_its_events_in_order_with_its_reference_as_subject(care, clock):
    view, _ = care.runtime.start(StartRequest("hello_care", {"subject": "Printer"}, customer_id="C-9"), "sam")
    clock.advance("PT5S")
    care.tasks.complete(open_task(care, view["id"]), {"answer": "Restarted"}, "sam")
    rows = logged(care)
    assert [r.type for r in rows] == EXPECTED
    assert {r.subject for r in rows} == {view["reference"]}
    assert {r.ordering_key for r in rows} == {f"case:{view['id']}"}
    assert len({r.event_id for r in rows}) == len(rows)
    started = rows[0].data
    assert (started["reference"], started["process_key"], started["customer_id"], started["principal"]) == (
        view["reference"],
        "hello_care",
        "C-9",
        "sam",
    )
    created = next(r for r in rows if r.type == "task.created").data
    completed = next(r for r in rows if r.type == "task.completed").data
    assert created["task_id"] == completed["task_id"] and created["name"] and completed["principal"] == "sam"
    stages = [(r.data["previous_stage"], r.data["stage"]) for r in rows if r.type == "stage.changed"]
    assert stages == [(None, "answering"), ("answering", "answered")]
    assert rows[-1].time > rows[0].time  # the engine's clock


def test_a_change_that_fails_writes_no_event(care):
    view, _ = care.runtime.start(StartRequest("hello_care", {"subject": "Printer"}), "sam")
    task_id = open_task(care, view["id"])
    care.tasks.complete(task_id, {"answer": "Done"}, "sam")
    before = len(logged(care))
    with pytest.raises(TaskNotOpen):
        care.tasks.complete(task_id, {"answer": "Again"}, "sam")
    assert len(logged(care)) == before


def test_contacts_customers_and_incidents_are_events_too(care, clock):
    with care.db.write() as session:
        create_customer(session, name="Ada King", email="ada@example.com", customer_id="C-1", at=clock.now())
        contacts.record(
            session,
            customer_id="C-1",
            instance_id=None,
            channel="phone",
            direction="in",
            subject="Printer jams",
            text="It jams since Monday.",
            recorded_by="sam",
            at=clock.now(),
        )
    care.repository.deploy([source("script_failure.bpmn")], "test", "test")
    failed, _ = care.runtime.start(StartRequest("script_failure", {"divisor": 0}), "sam")
    rows = logged(care)
    customer, contact = rows[0], rows[1]
    assert (customer.type, customer.subject, customer.ordering_key) == ("customer.changed", "C-1", "customer:C-1")
    assert customer.data["change"] == "created" and customer.data["customer"]["email"] == "ada@example.com"
    assert (contact.type, contact.subject, contact.ordering_key) == ("contact.logged", "C-1", "customer:C-1")
    assert contact.data["channel"] == "phone" and "text" not in contact.data  # the text stays in carecenter
    incident = next(r for r in rows if r.type == "incident.opened")
    with care.db.read() as session:
        incident_id = session.scalar(select(Incident.id).where(Incident.instance_id == failed["id"]))
    assert incident.subject == failed["reference"] and incident.data["incident_id"] == incident_id
    assert "division by zero" in incident.data["message"]


def test_a_model_publishes_its_own_events_with_the_variables_it_names(care):
    view, _ = care.runtime.start(StartRequest("shipping", {"order_id": "O-7", "secret": "x"}), "sam")
    assert [r.type for r in logged(care)] == ["instance.started", "task.created"]
    care.tasks.complete(open_task(care, view["id"]), {"weight": 2.5}, "sam")
    rows = logged(care)
    published = [r for r in rows if r.type in ("order.shipped", "order.closed")]
    assert [r.type for r in published] == ["order.shipped", "order.closed"]
    shipped = published[0].data
    assert shipped["variables"] == {"order_id": "O-7", "weight": 2.5}  # only what event_data names
    assert (shipped["element_id"], shipped["element_name"], published[0].subject) == (
        "shipped",
        "Order shipped",
        view["reference"],
    )
    assert published[1].data["variables"] == {}
    assert rows[-1].type == "instance.completed"


@pytest.mark.parametrize(
    ("name", "says"),
    [("Order Shipped", "lower-case words joined by dots"), ("shipped", "lower-case words"), ("task.created", "own")],
)
def test_a_bad_event_name_is_refused_at_deploy(care, name, says):
    with pytest.raises(DeploymentInvalid) as refused:
        care.repository.deploy([shipping(name)], "test", "test")
    (problem,) = refused.value.problems
    assert problem.element_id == "shipped" and says in problem.message and problem.line


def test_the_event_property_belongs_on_throw_and_end_events_only(care):
    marked = (
        '<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="event" value="order.packed" />'
        "</spiffworkflow:properties></bpmn:extensionElements>"
    )
    wrong = SHIPPING.replace("{name}", "order.shipped").replace(
        '<bpmn:userTask id="pack" name="Pack the order">', '<bpmn:userTask id="pack" name="Pack the order">' + marked
    )
    with pytest.raises(DeploymentInvalid) as refused:
        care.repository.deploy([SourceFile("shipping.bpmn", wrong.encode())], "test", "test")
    assert [p.element_id for p in refused.value.problems] == ["pack"]


# -- the export -----------------------------------------------------------------------------------


@pytest.fixture
def exported(care, clock, monkeypatch):
    monkeypatch.setenv("CARECENTER_DATABASE_URL", care.settings.database_url)
    monkeypatch.setenv("CARECENTER_PUBLIC_URL", "https://care.example.com")
    for number in range(3):
        view, _ = care.runtime.start(StartRequest("hello_care", {"subject": f"Case {number}"}), "sam")
        clock.advance("PT10M")
        care.tasks.complete(open_task(care, view["id"]), {"answer": "ok"}, "sam")
        clock.advance("PT10M")
    return logged(care)


def export(*args: str) -> tuple[int, list[dict], str]:
    result = CliRunner().invoke(main, ["events", "export", *args])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()] if result.exit_code == 0 else []
    return result.exit_code, lines, result.output


def test_the_export_writes_the_whole_log_in_order_as_cloudevents(exported, tmp_path):
    code, lines, _ = export()
    assert code == 0 and [e["id"] for e in lines] == [r.event_id for r in exported]
    first = lines[0]
    assert (first["specversion"], first["source"], first["type"], first["subject"]) == (
        "1.0",
        "https://care.example.com",
        "instance.started",
        exported[0].subject,
    )
    assert first["time"].endswith("Z") and first["data"]["reference"] == exported[0].subject
    assert [e["sequence"] for e in lines] == sorted(e["sequence"] for e in lines)
    target = tmp_path / "events.ndjson"
    result = CliRunner().invoke(main, ["events", "export", "-o", str(target)])
    assert result.exit_code == 0 and f"{len(exported)} events written" in result.output
    assert [json.loads(line)["id"] for line in target.read_text().splitlines()] == [r.event_id for r in exported]


def test_the_export_starts_after_an_event_id_or_at_a_time_and_stops_at_until(exported):
    middle = exported[len(exported) // 2]
    code, lines, _ = export("--since", middle.event_id)
    assert code == 0 and [e["id"] for e in lines] == [r.event_id for r in exported if r.id > middle.id]
    since = middle.time.isoformat()
    code, lines, _ = export("--since", since, "--until", exported[-2].event_id)
    assert [e["id"] for e in lines] == [r.event_id for r in exported[:-1] if r.time >= middle.time]
    naive = middle.time.replace(tzinfo=None).isoformat()  # no offset: UTC
    assert export("--since", naive)[1] == export("--since", since)[1]


def test_the_export_refuses_what_is_neither_an_event_id_nor_a_time(exported):
    code, _, output = export("--since", "yesterday")
    assert code != 0 and "neither an event id nor an ISO 8601 time" in output
    code, _, output = export("--since", "00000000-0000-4000-8000-000000000000")
    assert code != 0 and "no event has the id" in output


def test_every_built_in_type_is_documented():
    text = (PROJECT_ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in text for name in BUILT_IN)
