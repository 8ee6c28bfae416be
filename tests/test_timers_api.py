"""Timers through the JSON API: the SLA scenario on the virtual clock, operator endpoints, due dates on tasks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.clock import VirtualClock
from tests.conftest import upload

T0 = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    return VirtualClock(T0)


def at(delta: timedelta) -> str:
    return (T0 + delta).isoformat()


def tasks_of(client, instance_id, **query):
    response = client.get("/api/tasks", query_string={"instance_id": instance_id, **query})
    assert response.status_code == 200
    return response.json["items"]


def history_types(client, instance_id):
    return [
        (e["event_type"], e["element_id"]) for e in client.get(f"/api/instances/{instance_id}/history").json["items"]
    ]


def test_sla_scenario_escalates_on_the_virtual_clock_without_sleeping(client, care, clock):
    assert client.post("/api/deployments", data=upload("timer_sla.bpmn")).status_code == 201
    started = client.post(
        "/api/process-definitions/timer_sla/instances",
        json={"business_key": "inq-1", "variables": {"sla_hours": 4, "due_escalation": "PT2H"}},
    )
    assert started.status_code == 201
    iid = started.json["id"]

    [classify] = tasks_of(client, iid)
    assert (classify["element_id"], classify["due_at"], classify["overdue"]) == (
        "classify",
        at(timedelta(minutes=30)),
        False,
    )
    clock.advance("PT45M")
    [classify] = tasks_of(client, iid)
    assert classify["overdue"] is True
    assert client.post(f"/api/tasks/{classify['id']}/complete", json={"data": {}}).status_code == 200

    [answer] = tasks_of(client, iid)
    # due: the earliest boundary timer, here the non-interrupting warning after sla_hours - 1
    assert (answer["element_id"], answer["due_at"]) == ("answer", at(timedelta(hours=3, minutes=45)))
    timers = client.get("/api/timers", query_string={"instance_id": iid}).json["items"]
    assert [(t["element_id"], t["kind"], t["due_at"], t["status"]) for t in timers] == [
        ("sla_warning", "boundary", at(timedelta(hours=3, minutes=45)), "pending"),
        ("sla_breached", "boundary", at(timedelta(hours=4, minutes=45)), "pending"),
    ]

    clock.advance("PT3H")
    assert care.timers.fire_due() == 1
    assert [t["element_id"] for t in tasks_of(client, iid)] == ["answer"]
    assert client.get(f"/api/instances/{iid}").json["data"]["sla_warned"] is True

    clock.advance("PT1H")
    status = client.get("/api/worker/status").json
    assert (status["due_timers"], status["lag_seconds"]) == (1, 0.0)
    assert care.timers.fire_due() == 1
    [escalate] = tasks_of(client, iid)
    assert escalate["element_id"] == "escalate"
    assert escalate["candidate_groups"] == ["supervisors"]
    assert escalate["due_at"] == at(timedelta(hours=6, minutes=45))  # its due property: an expression giving PT2H
    events = history_types(client, iid)
    assert ("timer_fired", "sla_warning") in events and ("timer_fired", "sla_breached") in events
    assert ("task_cancelled", "answer") in events
    assert client.get("/api/timers", query_string={"instance_id": iid}).json["items"] == []
    fired = client.get("/api/timers", query_string={"instance_id": iid, "status": "fired"}).json["items"]
    assert [t["element_id"] for t in fired] == ["sla_warning", "sla_breached"]


def test_tasks_sort_by_due_date_on_request(client, care, clock):
    assert client.post("/api/deployments", data=upload("timer_sla.bpmn", "hello_care.bpmn")).status_code == 201
    undated = client.post("/api/process-definitions/hello_care/instances", json={}).json["id"]
    early = client.post("/api/process-definitions/timer_sla/instances", json={"variables": {"sla_hours": 4}})
    clock.advance("PT10M")
    late = client.post("/api/process-definitions/timer_sla/instances", json={"variables": {"sla_hours": 4}})
    clock.advance("PT25M")
    expected = [early.json["id"], late.json["id"], undated]
    items = client.get("/api/tasks", query_string={"sort": "due"}).json["items"]
    assert [t["instance_id"] for t in items] == expected
    assert [t["overdue"] for t in items] == [True, False, False]
    assert [t["instance_id"] for t in client.get("/api/tasks").json["items"]] == sorted(expected)
    seen, url = [], "/api/tasks?sort=due&limit=1"
    while url:
        page = client.get(url).json
        seen += [t["instance_id"] for t in page["items"]]
        url = page["next"]
    assert seen == expected
    assert client.get("/api/tasks", query_string={"sort": "name"}).status_code == 400


def test_timers_list_filters_and_pages(client, care, clock):
    assert (
        client.post("/api/deployments", data=upload("timer_intermediate.bpmn", "timer_start.bpmn")).status_code == 201
    )
    ids = []
    for _ in range(5):
        ids.append(client.post("/api/process-definitions/timer_intermediate/instances", json={}).json["id"])
        clock.advance("PT1M")
    first = client.get("/api/timers", query_string={"limit": 3, "kind": "intermediate"}).json
    assert [t["instance_id"] for t in first["items"]] == ids[:3]
    second = client.get(first["next"]).json
    assert [t["instance_id"] for t in second["items"]] == ids[3:]
    assert second["next"] is None
    [start_timer] = client.get("/api/timers", query_string={"kind": "start"}).json["items"]
    assert (start_timer["process_key"], start_timer["instance_id"], start_timer["element_id"]) == (
        "timer_start",
        None,
        "daily",
    )
    assert client.get("/api/timers", query_string={"process_key": "timer_start"}).json["items"] == [start_timer]
    due_soon = client.get("/api/timers", query_string={"due_before": at(timedelta(hours=1, minutes=2))}).json
    assert [t["kind"] for t in due_soon["items"]] == ["start", "intermediate", "intermediate", "intermediate"]
    assert client.get("/api/timers", query_string={"status": "nonsense"}).status_code == 400
    assert client.get("/api/timers", query_string={"due_before": "tomorrow"}).status_code == 400


def test_suspend_and_activate_a_timer_start_event(client, care, clock):
    assert client.post("/api/deployments", data=upload("timer_start.bpmn", "hello_care.bpmn")).status_code == 201
    suspended = client.post("/api/process-definitions/timer_start/suspend")
    assert suspended.status_code == 200
    assert suspended.json["suspended"] is True
    assert [t["status"] for t in suspended.json["start_timers"]] == ["suspended"]
    clock.advance("PT7H")
    assert care.timers.fire_due() == 0
    activated = client.post("/api/process-definitions/timer_start/activate")
    assert activated.json["suspended"] is False
    assert [t["due_at"] for t in activated.json["start_timers"]] == [at(timedelta(days=1, hours=-2))]
    assert client.post("/api/process-definitions/hello_care/suspend").status_code == 409
    assert client.post("/api/process-definitions/nope/suspend").status_code == 404


def test_worker_status_reports_workers_and_claims(client, care, clock):
    assert client.post("/api/deployments", data=upload("timer_intermediate.bpmn")).status_code == 201
    client.post("/api/process-definitions/timer_intermediate/instances", json={})
    care.timers.heartbeat("worker-a", started_at=clock.now(), ran=True, fired=0)
    clock.advance("PT1H30M")
    status = client.get("/api/worker/status").json
    assert status["pending_timers"] == 1
    assert status["due_timers"] == 1
    assert status["lag_seconds"] == 1800.0
    assert status["oldest_due_at"] == at(timedelta(hours=1))
    assert status["last_run_at"] == T0.isoformat()
    assert [w["id"] for w in status["workers"]] == ["worker-a"]
    assert status["workers"][0]["alive"] is False  # no heartbeat for 90 minutes
    claims = care.timers.claim("worker-b")
    assert len(claims) == 1
    assert client.get("/api/worker/status").json["claimed_timers"] == 1
    [timer] = client.get("/api/timers").json["items"]
    assert (timer["claimed_by"], timer["attempts"]) == ("worker-b", 1)


def test_timer_endpoints_need_a_token(anonymous):
    assert anonymous.get("/api/timers").status_code == 401
    assert anonymous.get("/api/worker/status").status_code == 401
    assert anonymous.post("/api/process-definitions/x/suspend").status_code == 401


def test_timer_responses_match_the_openapi_document(client, care, clock):
    from api.routes.openapi import load_document
    from tests.test_openapi import assert_documented

    document = load_document()
    assert client.post("/api/deployments", data=upload("timer_start.bpmn", "timer_boundary.bpmn")).status_code == 201
    client.post("/api/process-definitions/timer_boundary/instances", json={})
    care.timers.heartbeat("w", started_at=clock.now(), ran=True)
    clock.advance("PT1H")
    care.timers.fire_due()
    for path, documented in (
        ("/api/timers", "/api/timers"),
        ("/api/timers?status=fired", "/api/timers"),
        ("/api/worker/status", "/api/worker/status"),
    ):
        assert_documented(document, client.get(path), documented, "get")
    for action in ("suspend", "activate"):
        path = f"/api/process-definitions/{{key}}/{action}"
        assert_documented(document, client.post(f"/api/process-definitions/timer_start/{action}"), path, "post")
        assert_documented(document, client.post(f"/api/process-definitions/timer_boundary/{action}"), path, "post")
    assert_documented(document, client.get("/api/tasks?sort=due"), "/api/tasks", "get")
