"""The worker for real: ``carecenter worker`` processes on SQLite and PostgreSQL, SIGKILL mid-fire, wake-ups.

These tests use the wall clock (separate processes cannot share a virtual clock): timers are
created by an engine whose virtual clock is set in the past, so they are already due when the
workers start.  They wait for outcomes in the database, with generous time limits; they never
assert on speed.
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from engine.clock import Clock, VirtualClock
from engine.models import HistoryEvent, ProcessInstance, Timer
from engine.runtime import StartRequest
from engine.timer_specs import parse_datetime
from engine.worker import Worker, start_embedded
from tests.conftest import make_engine, source
from tests.worker_processes import Workers, wait_until


def create_due_instances(url: str, count: int, work: int = 20_000) -> None:
    """``count`` instances of timer_worker whose timer fell due an hour ago, written in batches."""
    care = make_engine(url, VirtualClock(datetime.now(UTC) - timedelta(hours=2)))
    try:
        care.repository.deploy([source("timer_worker.bpmn")], "test", "test")
        with care.db.read() as session:
            definition = care.repository.load(care.repository.latest(session, "timer_worker").id)
        for offset in range(0, count, 100):
            with care.db.write() as session:
                for _ in range(min(100, count - offset)):
                    care.executor.create(
                        session,
                        definition,
                        variables={"wait": "PT1H", "work": work, "runs": 0},
                        business_key=None,
                        customer_id=None,
                        principal="test",
                    )
    finally:
        care.close()


@pytest.fixture
def workers(any_database_url, tmp_path):
    pool = Workers(any_database_url, tmp_path)
    yield pool
    pool.stop_all()


def count(care, *where) -> int:
    with care.db.read() as session:
        return session.scalar(select(func.count()).select_from(Timer).where(*where))


def assert_each_fired_once(care, expected: int) -> dict[str, int]:
    """Every timer fired exactly once, every instance ran on exactly once; returns firings per worker."""
    with care.db.read() as session:
        rows = list(session.scalars(select(Timer)))
        assert len(rows) == expected
        assert {row.status for row in rows} == {"fired"}
        fired_events = session.execute(
            select(HistoryEvent.instance_id, func.count())
            .where(HistoryEvent.event_type == "timer_fired")
            .group_by(HistoryEvent.instance_id)
        ).all()
        assert len(fired_events) == expected
        assert {n for _, n in fired_events} == {1}
        statuses = session.execute(select(ProcessInstance.status, func.count()).group_by(ProcessInstance.status)).all()
        assert statuses == [("completed", expected)]
        for instance in session.scalars(select(ProcessInstance).limit(50)):
            assert '"runs":1' in instance.state.replace(" ", "")  # the step after the timer ran once
    per_worker: dict[str, int] = {}
    for row in rows:
        per_worker[row.claimed_by] = per_worker.get(row.claimed_by, 0) + 1
    return per_worker


def test_two_workers_fire_1000_timers_once_each(any_database_url, workers):
    create_due_instances(any_database_url, 1000, work=1000)
    care = make_engine(any_database_url, Clock())
    try:
        assert count(care, Timer.status == "pending") == 1000
        workers.start("w1", "--batch", "10")
        workers.start("w2", "--batch", "10")
        wait_until(lambda: count(care, Timer.status == "pending") == 0, "all timers fired")
        per_worker = assert_each_fired_once(care, 1000)
        assert set(per_worker) == {"w1", "w2"}, workers.log("w1") + workers.log("w2")
        workers.stop_all()
        status = care.timers.status()
        assert {w["id"]: w["fired"] for w in status["workers"]} == per_worker
        assert all(w["stopped_at"] is not None for w in status["workers"])
    finally:
        care.close()


def test_a_worker_killed_mid_fire_loses_nothing(any_database_url, workers):
    total = 300
    create_due_instances(any_database_url, total, work=200_000)  # each firing takes a few milliseconds
    care = make_engine(any_database_url, Clock())
    try:
        victim = workers.start("victim", "--batch", "20", "--lease", "2")

        def victim_holds_claims() -> bool:
            held = count(care, Timer.status == "pending", Timer.claimed_by == "victim")
            return held >= 5 and count(care, Timer.status == "fired") >= 5

        wait_until(victim_holds_claims, "the victim fired some timers and holds more")
        workers.kill("victim")
        assert victim.returncode == -signal.SIGKILL
        with care.db.read() as session:
            orphaned = set(
                session.scalars(select(Timer.id).where(Timer.status == "pending", Timer.claimed_by == "victim"))
            )
        assert orphaned
        workers.start("survivor", "--batch", "20", "--lease", "2")
        wait_until(lambda: count(care, Timer.status == "pending") == 0, "the survivor fired the rest")
        per_worker = assert_each_fired_once(care, total)
        assert per_worker["survivor"] >= len(orphaned)
        with care.db.read() as session:
            taken_over = list(session.scalars(select(Timer).where(Timer.id.in_(orphaned))))
        assert {row.claimed_by for row in taken_over} == {"survivor"}
        assert all(row.attempts >= 2 for row in taken_over)  # claimed by the victim, then again
    finally:
        care.close()


def _fired_at(care, instance_id: int) -> datetime:
    with care.db.read() as session:
        return session.scalar(
            select(HistoryEvent.at).where(
                HistoryEvent.instance_id == instance_id, HistoryEvent.event_type == "timer_fired"
            )
        )


def _due_of(care, instance_id: int) -> datetime:
    with care.db.read() as session:
        return session.scalar(select(Timer.due_at).where(Timer.instance_id == instance_id))


def test_the_embedded_worker_wakes_for_the_next_due_timer_not_the_poll(database_url):
    """With a 30 s poll, a timer due in half a second fires long before the poll would have come."""
    care = make_engine(database_url, Clock())
    worker = None
    try:
        care.repository.deploy([source("timer_worker.bpmn")], "test", "test")
        worker = start_embedded(care, poll_seconds=30, listen=False)
        time.sleep(0.3)  # the first poll ran: from now on only a wake-up can fire the timer in time
        view, _ = care.runtime.start(StartRequest("timer_worker", {"wait": "PT0.5S", "work": 10, "runs": 0}), "test")
        wait_until(lambda: _fired_at(care, view["id"]) is not None, "the timer fired", limit=20)
        assert _fired_at(care, view["id"]) - _due_of(care, view["id"]) < timedelta(seconds=15)
    finally:
        if worker is not None:
            worker.stop()
        care.close()


def test_a_worker_started_late_still_runs_its_first_rounds(database_url):
    """On a busy machine the scheduler may start its first runs seconds late: they run late, never dropped.

    APScheduler's default drops a run more than a second late; with a ten-minute poll that left the first
    round (timers here; the mailbox in CI's failed run) undone for ten minutes."""
    care = make_engine(database_url, Clock())
    worker = Worker(care, BackgroundScheduler(timezone="UTC"), poll_seconds=600, listen=False)
    try:
        worker.add_jobs()
        time.sleep(1.5)  # the first runs' time passes before the scheduler starts them
        worker.scheduler.start()
        wait_until(lambda: worker.last_run_at is not None, "the first timer round ran", limit=30)
    finally:
        worker.stop()
        care.close()


def test_a_worker_process_is_woken_by_postgresql_notify(postgres_schema, tmp_path):
    """A timer written by another process wakes a PostgreSQL worker at once, not at its next (30 s) poll."""
    postgres_schema.empty()
    pool = Workers(postgres_schema.url, tmp_path)
    care = make_engine(postgres_schema.url, Clock())
    try:
        care.repository.deploy([source("timer_worker.bpmn")], "test", "test")
        pool.start("listener", "--poll", "30")
        wait_until(lambda: care.timers.status()["workers_alive"] == 1, "the worker is up", limit=30)
        time.sleep(0.5)  # its first poll ran and it is listening
        view, _ = care.runtime.start(StartRequest("timer_worker", {"wait": "PT1S", "work": 10, "runs": 0}), "test")
        wait_until(lambda: _fired_at(care, view["id"]) is not None, "the timer fired", limit=25)
        assert _fired_at(care, view["id"]) - _due_of(care, view["id"]) < timedelta(seconds=15), pool.log("listener")
    finally:
        pool.stop_all()
        care.close()


def test_parse_datetime_reads_what_the_worker_is_notified_with():
    now = datetime.now(UTC)
    assert parse_datetime(now.isoformat()) == now
