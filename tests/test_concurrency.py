"""Races on one instance, through a real HTTP server on 127.0.0.1, on SQLite and on PostgreSQL.

Of two writes that cannot both apply, exactly one succeeds and the other gets 409 and changes
nothing; writes that can both apply (two different tasks of one instance) both succeed.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.orm.exc import StaleDataError

from engine.models import ProcessInstance
from engine.runtime import StartRequest
from tests.conftest import make_engine, source
from tests.live_server import live_server

THREADS = 8


@pytest.fixture
def server(any_database_url):
    care = make_engine(any_database_url)
    care.repository.deploy([source("hello_care.bpmn"), source("parallel_tasks.bpmn")], "test", "test")
    _, token = care.tokens.create("race")
    with live_server(care, THREADS) as base:
        yield base, token, care
    care.close()


def call(base: str, token: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        base + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def winner_data(results: list) -> int:
    """The minutes_spent sent by the one request that succeeded (its index in the race)."""
    [index] = [i for i, (status, _) in enumerate(results) if status == 200]
    return index


def race(count: int, action) -> list:
    barrier = threading.Barrier(count)

    def run(index):
        barrier.wait()
        return action(index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_same_task_completed_by_many_at_once_applies_exactly_once(server):
    base, token, _ = server
    _, instance = call(base, token, "POST", "/api/process-definitions/hello_care/instances", {})
    task_id = instance["tasks"][0]["id"]
    results = race(
        THREADS,
        lambda i: call(
            base, token, "POST", f"/api/tasks/{task_id}/complete", {"data": {"answer": "Fixed", "minutes_spent": i}}
        ),
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [409] * (THREADS - 1), results
    winner = next(body for status, body in results if status == 200)["task"]
    _, detail = call(base, token, "GET", f"/api/instances/{instance['id']}")
    assert detail["status"] == "completed"
    _, history = call(base, token, "GET", f"/api/instances/{instance['id']}/history")
    assert [e["event_type"] for e in history["items"]].count("task_completed") == 1
    assert detail["data"]["minutes_spent"] == winner_data(results)
    assert winner["status"] == "completed"


def test_two_tasks_of_one_instance_completed_at_once_both_apply(server):
    base, token, _ = server
    _, instance = call(base, token, "POST", "/api/process-definitions/parallel_tasks/instances", {})
    ids = [t["id"] for t in instance["tasks"]]
    results = race(2, lambda i: call(base, token, "POST", f"/api/tasks/{ids[i]}/complete", {"data": {f"k{i}": i}}))
    assert [status for status, _ in results] == [200, 200], results
    _, detail = call(base, token, "GET", f"/api/instances/{instance['id']}")
    assert detail["status"] == "completed"


def test_claim_race_has_one_winner(server):
    base, token, _ = server
    _, instance = call(base, token, "POST", "/api/process-definitions/hello_care/instances", {})
    task_id = instance["tasks"][0]["id"]
    results = race(THREADS, lambda i: call(base, token, "POST", f"/api/tasks/{task_id}/claim"))
    assert sorted(status for status, _ in results) == [200] + [409] * (THREADS - 1)


def test_cancel_racing_completion_leaves_one_consistent_outcome(server):
    base, token, _ = server
    _, instance = call(base, token, "POST", "/api/process-definitions/hello_care/instances", {})
    task_id = instance["tasks"][0]["id"]
    paths = [f"/api/tasks/{task_id}/complete", f"/api/instances/{instance['id']}/cancel"]
    results = race(2, lambda i: call(base, token, "POST", paths[i], {"data": {"answer": "Fixed"}} if i == 0 else None))
    statuses = [status for status, _ in results]
    _, detail = call(base, token, "GET", f"/api/instances/{instance['id']}")
    if statuses == [200, 409]:
        assert detail["status"] == "completed"
    else:
        assert statuses == [409, 200], results
        assert detail["status"] == "cancelled"


def test_a_stale_instance_write_is_refused_by_the_version_check(server):
    _, _, care = server
    view, _ = care.runtime.start(StartRequest("hello_care", {}), "test")
    with care.db.read() as session:
        stale = session.get(ProcessInstance, view["id"])  # version n, detached after the block
        stale_version = stale.version
    care.runtime.cancel(view["id"], "test")  # another writer moves it to version n + 1
    with pytest.raises(StaleDataError), care.db.write() as session:
        session.add(stale)
        stale.business_key = "late"
        session.flush()
    with care.db.read() as session:
        fresh = session.get(ProcessInstance, view["id"])
        assert (fresh.business_key, fresh.status, fresh.version) == (None, "cancelled", stale_version + 1)
