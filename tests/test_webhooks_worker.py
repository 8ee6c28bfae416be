"""Webhooks through real ``carecenter worker`` processes, one SIGKILLed mid-delivery, on SQLite and PostgreSQL.

The loopback receiver verifies every signature with ``standardwebhooks``; dropping repeats by
``webhook-id`` it must see each event once, and each case's events in log order, although the
worker that was sending them died with deliveries in flight.
"""

from __future__ import annotations

import signal

import pytest
from sqlalchemy import func, select

from engine.clock import Clock
from engine.models import EventRecord, HumanTask, WebhookDelivery
from engine.runtime import StartRequest
from engine.webhooks import WebhookConfig
from tests.conftest import make_engine, source
from tests.webhook_receiver import Receiver
from tests.worker_processes import Workers, wait_until

SETTINGS = {
    "WEBHOOKS_ALLOW_PRIVATE": "true",  # the receiver is on loopback
    "WEBHOOK_LEASE_SECONDS": "3",
    "WEBHOOK_BATCH": "8",
    "WEBHOOK_CONCURRENCY": "4",
    "WEBHOOK_RETRY_SECONDS": "0.5",
}


@pytest.fixture
def workers(any_database_url, tmp_path):
    running = Workers(any_database_url, tmp_path, SETTINGS)
    yield running
    running.stop_all()


def pending(care) -> int:
    with care.db.read() as session:
        return session.scalar(
            select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == "pending")
        )


def test_a_worker_killed_mid_delivery_loses_nothing_and_keeps_each_case_in_order(any_database_url, workers):
    receiver = Receiver(delay=0.15).start()  # a slow receiver: the kill finds deliveries in flight
    care = make_engine(any_database_url, Clock())
    try:
        care.webhooks.config = WebhookConfig(allow_private=True)
        care.repository.deploy([source("hello_care.bpmn")], "test", "test")
        _, secret = care.webhooks.register(receiver.url("/a"), "*", "", "admin")
        receiver.secrets["/a"] = secret
        started = [care.runtime.start(StartRequest("hello_care", {"subject": f"Case {n}"}), "sam")[0] for n in range(8)]
        for view in started:
            with care.db.read() as session:
                task = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == view["id"]))
            care.tasks.complete(task, {"answer": "ok"}, "sam")
        with care.db.read() as session:
            entries = list(session.scalars(select(EventRecord).order_by(EventRecord.id)))

        victim = workers.start("victim")
        wait_until(lambda: len(receiver.received) >= 10, "the victim delivered some events")
        workers.kill("victim")
        assert victim.returncode == -signal.SIGKILL
        with care.db.read() as session:
            orphaned = set(
                session.scalars(
                    select(WebhookDelivery.id).where(
                        WebhookDelivery.status == "pending", WebhookDelivery.claimed_by == "victim"
                    )
                )
            )
        assert orphaned, workers.log("victim")  # killed with deliveries claimed (sent or about to be)
        workers.start("survivor")
        wait_until(lambda: pending(care) == 0, "the survivor delivered the rest")

        received = receiver.at("/a")
        assert all(r.verified for r in received)
        first_seen: dict[str, object] = {}
        for r in received:
            first_seen.setdefault(r.webhook_id, r)
        assert sorted(first_seen) == sorted(e.event_id for e in entries)  # each event, once per id
        per_case: dict[str, list[int]] = {}
        for r in received:
            per_case.setdefault(r.event["subject"], []).append(int(r.event["sequence"]))
        assert set(per_case) == {view["reference"] for view in started}
        for positions in per_case.values():
            assert positions == sorted(positions)  # a repeat comes right after itself, never after a later event
        with care.db.read() as session:
            rows = list(session.scalars(select(WebhookDelivery)))
        assert len(rows) == len(entries) and {row.status for row in rows} == {"delivered"}
        assert all(row.attempts >= 2 for row in rows if row.id in orphaned)  # claimed by the victim, then again
    finally:
        care.close()
        receiver.stop()
