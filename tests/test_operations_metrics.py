"""``GET /metrics`` and ``/readyz`` in one process (#22 items 1, 2): who may scrape, what moves, what is not ready.

The counters are the process's own here (no ``PROMETHEUS_MULTIPROC_DIR``) and shared by every app the
test session makes, so the tests compare before and after. tests/test_operations_serve.py scrapes
``carecenter serve --processes 2`` over HTTP, where they add up over processes.
"""

from __future__ import annotations

import json
import shutil
import socket
from datetime import timedelta

from alembic import command
from alembic.script import ScriptDirectory
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from api.app import create_app
from engine import schema
from engine.config import PROJECT_ROOT, Settings
from engine.core import CareEngine
from engine.db import Database
from engine.schema import alembic_config
from tests.conftest import upload
from tests.test_openapi import DOCUMENT, assert_documented


def load_document() -> dict:
    return json.loads(DOCUMENT.read_text())


def scrape(client) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) -> value of every sample /metrics answers."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_only_admins_scrape(client, anonymous, care):
    assert anonymous.get("/metrics").status_code == 401
    care.identity.add_user("sam", "staff", [], None, None)
    _, staff_token = care.tokens.create("sam's", username="sam")
    refused = anonymous.get("/metrics", headers={"Authorization": f"Bearer {staff_token}"})
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    document = load_document()
    assert_documented(document, refused, "/metrics", "get")
    assert_documented(document, client.get("/metrics"), "/metrics", "get")


def test_counters_move_as_instances_start_and_tasks_complete(client, care, clock):
    assert client.post("/api/deployments", data=upload("hello_care.bpmn")).status_code == 201
    before = scrape(client)
    first = client.post("/api/process-definitions/hello_care/instances", json={}).json
    second = client.post("/api/process-definitions/hello_care/instances", json={}).json
    care.tasks.claim(second["tasks"][0]["id"], "sam")  # still open, and still offered to its team
    middle = scrape(client)
    assert value(middle, "carecenter_instances_started_total", process="hello_care") == (
        value(before, "carecenter_instances_started_total", process="hello_care") + 2
    )
    assert value(middle, "carecenter_open_tasks", team="support") == 2
    assert value(middle, "carecenter_open_tasks_all") == 2
    assert value(middle, "carecenter_database_up") == 1

    done = client.post(f"/api/tasks/{first['tasks'][0]['id']}/complete", json={"data": {"answer": "Done."}})
    assert done.status_code == 200 and done.json["instance"]["status"] == "completed"
    again = client.post(f"/api/tasks/{first['tasks'][0]['id']}/complete", json={"data": {"answer": "Again."}})
    assert again.status_code == 409  # the loser of a race counts nothing
    after = scrape(client)
    for name, moved in (("carecenter_tasks_completed_total", 1), ("carecenter_instances_completed_total", 1)):
        assert value(after, name, process="hello_care") == value(middle, name, process="hello_care") + moved, name
    assert value(after, "carecenter_open_tasks", team="support") == 1
    # the latency histogram is labelled by the route's rule, not by the path with its id
    route = "/api/tasks/<id:task_id>/complete"
    ok = value(after, "carecenter_http_request_duration_seconds_count", route=route, method="POST", status="200")
    conflict = value(after, "carecenter_http_request_duration_seconds_count", route=route, method="POST", status="409")
    assert ok >= 1 and conflict >= 1
    assert not any(f"/api/tasks/{first['tasks'][0]['id']}" in dict(labels).get("route", "") for _, labels in after)


def test_gauges_of_due_tasks_timers_and_workers(client, care, clock):
    assert client.post("/api/deployments", data=upload("timer_sla.bpmn", "timer_intermediate.bpmn")).status_code == 201
    client.post("/api/process-definitions/timer_sla/instances", json={"variables": {"sla_hours": 4}})
    client.post("/api/process-definitions/timer_intermediate/instances", json={})
    samples = scrape(client)
    assert value(samples, "carecenter_overdue_tasks") == 0 and value(samples, "carecenter_due_timers") == 0
    clock.advance(timedelta(hours=2))  # the classification was due in 30 minutes, the timer in one hour
    samples = scrape(client)
    assert value(samples, "carecenter_overdue_tasks") == 1
    assert value(samples, "carecenter_open_tasks", team="intake") == 1
    assert value(samples, "carecenter_due_timers") == 1
    assert value(samples, "carecenter_timer_lag_seconds") == 3600
    assert value(samples, "carecenter_job_queue_depth", kind="operation") == 0
    assert value(samples, "carecenter_open_incidents") == 0 and value(samples, "carecenter_messages_buffered") == 0
    assert value(samples, "carecenter_workers_alive") == 0

    care.timers.heartbeat("metrics-test-worker", started_at=clock.now())
    assert care.timers.fire_due("metrics-test-worker") == 1
    samples = scrape(client)
    assert value(samples, "carecenter_due_timers") == 0 and value(samples, "carecenter_timer_lag_seconds") == 0
    assert value(samples, "carecenter_workers_alive") == 1
    beat = ("carecenter_worker_heartbeat_timestamp_seconds", "metrics-test-worker", socket.gethostname()[:200])
    assert value(samples, beat[0], worker=beat[1], hostname=beat[2]) == clock.now().timestamp()


def test_readyz_answers_when_migrated_or_ahead_and_503_otherwise(anonymous, tmp_path, sqlite_template):
    ready = anonymous.get("/readyz")
    assert ready.status_code == 200 and ready.json["status"] == "ready"
    document = load_document()
    assert_documented(document, ready, "/readyz", "get")
    assert anonymous.get("/healthz").json == {"status": "ok"}

    behind = tmp_path / "behind.db"  # a database one migration behind this code, as during a rolling upgrade
    shutil.copy(sqlite_template, behind)
    database = Database(f"sqlite:///{behind}")
    with database.engine.begin() as connection:
        previous = ScriptDirectory.from_config(alembic_config(None)).get_revision(schema.head()).down_revision
        command.stamp(alembic_config(connection), previous, purge=True)
    database.dispose()
    for url, expected in (
        (f"sqlite:///{behind}", "is at schema revision"),
        (f"sqlite:///{tmp_path}/no/such/folder/carecenter.db", "does not answer"),
    ):
        care = CareEngine(Settings.from_env(database_url=url, processes_dir=PROJECT_ROOT / "processes"))
        app = create_app(care)
        not_ready = app.test_client().get("/readyz")
        assert not_ready.status_code == 503 and not_ready.mimetype == "application/problem+json"
        assert expected in not_ready.json["detail"], not_ready.json
        assert_documented(document, not_ready, "/readyz", "get")
        assert app.test_client().get("/healthz").status_code == 200  # alive all the same
        care.close()

    ahead = tmp_path / "ahead.db"  # migrated by a newer release: this code serves on beside it (rolling upgrade)
    shutil.copy(sqlite_template, ahead)
    database = Database(f"sqlite:///{ahead}")
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_next_release'"))
    database.dispose()
    care = CareEngine(Settings.from_env(database_url=f"sqlite:///{ahead}", processes_dir=PROJECT_ROOT / "processes"))
    still = create_app(care).test_client().get("/readyz")
    assert still.status_code == 200 and still.json == {"status": "ready", "schema": "9999_from_the_next_release"}
    care.close()


def test_deployments_and_refused_admin_actions_are_audited_without_bodies(anonymous, care, caplog):
    care.identity.add_user("dora", "designer", [], None, None)
    care.identity.add_user("sam", "staff", [], None, None)
    designer = {"Authorization": f"Bearer {care.tokens.create('dora', username='dora')[1]}"}
    staff = {"Authorization": f"Bearer {care.tokens.create('sam', username='sam')[1]}"}
    caplog.set_level("INFO", logger="carecenter.audit")
    assert anonymous.post("/api/deployments", data=upload("hello_care.bpmn"), headers=designer).status_code == 201
    refused = anonymous.post("/api/tokens", json={"name": "mine", "username": "sam"}, headers=staff)
    assert refused.status_code == 403
    assert anonymous.get("/api/tasks", headers=staff).status_code == 200  # reading is no admin action
    audits = [r.fields for r in caplog.records if r.name == "carecenter.audit"]
    assert [(a["actor"], a["action"], a["status"]) for a in audits] == [
        ("dora", "deployments.create", 201),
        ("sam", "admin.create_token", 403),
    ]
    assert set(audits[0]["result"]) <= {"id", "name", "username", "role"}
