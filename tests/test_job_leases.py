"""A service call that takes longer than its job's lease is made once (#22 item 7).

Two real ``carecenter worker`` processes with a 2 s job lease, and calls of 3 s each: the worker
that claimed the batch extends the leases of every claim in hand until it has finished it, so
the other worker never takes one over while the first still works on it (before, one call in ten
ran twice with a 2 s lease and no crash at all). The wall clock, as in tests/worker_processes.py.
"""

from __future__ import annotations

from sqlalchemy import select

import tests.worker_operations  # noqa: F401  (registers test_slow_call here too, for the deploy check)
from engine.models import ServiceJob
from engine.runtime import StartRequest
from tests.conftest import make_engine, source
from tests.worker_processes import Workers, wait_until

CALL_SECONDS = 3.0
LEASE_SECONDS = "2"


def test_calls_longer_than_the_lease_are_made_once(database_url, tmp_path):
    care = make_engine(database_url)
    pool = Workers(database_url, tmp_path, {"OPERATION_MODULES": "tests.worker_operations"})
    calls = tmp_path / "calls.txt"
    calls.touch()
    try:
        care.repository.deploy([source("worker_slow.bpmn")], "test", "test")
        variables = {"seconds": CALL_SECONDS, "calls_file": str(calls)}
        started = [care.runtime.start(StartRequest("worker_slow", variables), "test")[0]["id"] for _ in range(2)]
        pool.start("first", "--job-lease", LEASE_SECONDS)
        pool.start("second", "--job-lease", LEASE_SECONDS)

        def all_completed() -> bool:
            return all(care.runtime.get(i, with_data=False)["status"] == "completed" for i in started)

        wait_until(all_completed, "both calls were made and recorded")
    finally:
        pool.stop_all()
        with care.db.read() as session:
            jobs = list(session.scalars(select(ServiceJob).order_by(ServiceJob.id)))
        care.close()

    keys = [line.split()[0] for line in calls.read_text().splitlines()]
    assert sorted(keys) == sorted(job.idempotency_key for job in jobs)  # each call once
    assert [(job.status, job.attempts) for job in jobs] == [("completed", 1)] * 2  # nobody claimed one again
