"""The counting's long runs (engine/analytics_facts.py): batches walk instances that share one change time, and a run
that grows the facts' tables has them analysed, so that a first count after an upgrade or an import stays linear."""

from __future__ import annotations

import time

from sqlalchemy import select, text

from engine import analytics_facts
from engine.models import AnalyticsInstance, ProcessInstance
from engine.runtime import StartRequest
from tests.conftest import source

STARTED = 7


def start_at_one_moment(care) -> None:
    """``STARTED`` instances, all changed at the same (virtual) moment, as an import leaves them."""
    care.repository.deploy([source("analytics_review.bpmn")], "analytics", "test")
    for _ in range(STARTED):
        care.runtime.start(StartRequest("analytics_review", {}), "test")


def counted_ids(care) -> list[int]:
    with care.db.read() as session:
        return list(session.scalars(select(AnalyticsInstance.instance_id).order_by(AnalyticsInstance.instance_id)))


def test_batches_walk_instances_that_share_one_change_time_each_once(care, monkeypatch):
    monkeypatch.setattr(analytics_facts, "BATCH", 2)
    start_at_one_moment(care)
    batches: list[int] = []
    assert care.analytics.refresh(lambda: batches.append(1) or True) == STARTED  # none skipped, none twice
    assert len(batches) == 4  # 2 + 2 + 2 + 1
    with care.db.read() as session:
        started = sorted(session.scalars(select(ProcessInstance.id)))
    assert counted_ids(care) == started


def analyses(care) -> int:
    """How often PostgreSQL has analysed the visits' table (its statistics reach the view within a second)."""
    with care.db.read() as session:
        session.execute(text("SELECT pg_stat_clear_snapshot()"))
        return session.scalar(
            text(
                "SELECT analyze_count FROM pg_stat_user_tables"
                " WHERE relname = 'analytics_visits' AND schemaname = current_schema()"
            )
        )


def test_a_long_run_has_the_facts_tables_analysed(care, monkeypatch):
    monkeypatch.setattr(analytics_facts, "BATCH", 2)
    monkeypatch.setattr(analytics_facts, "ANALYZE_AFTER", 3)  # after the second batch
    start_at_one_moment(care)
    before = None if care.db.is_sqlite else analyses(care)
    assert care.analytics.refresh() == STARTED
    assert len(counted_ids(care)) == STARTED
    if care.db.is_sqlite:
        return  # SQLite plans by the indexes without statistics: nothing to analyse, nothing failed
    deadline = time.monotonic() + 10
    while analyses(care) == before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert analyses(care) > before  # (autovacuum may have analysed the table too meanwhile: not "== before + 1")
