"""The background worker: APScheduler jobs that keep the engine's rows moving.

It runs inside ``carecenter worker`` (blocking) or embedded in ``carecenter serve``
(background thread).  The rows in the database are the store of record; the scheduler
only decides when to look at them.
TODO([timers]): claim and fire due timers; TODO([service]): run service-task jobs.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import delete

from engine.core import CareEngine
from engine.models import IdempotencyRecord

log = logging.getLogger(__name__)
IDEMPOTENCY_RETENTION = timedelta(hours=24)
HOUSEKEEPING_SECONDS = 300


def housekeeping(care: CareEngine) -> int:
    """Forget idempotency records older than the retention window; returns how many were removed."""
    cutoff = care.clock.now() - IDEMPOTENCY_RETENTION
    with care.db.write() as session:
        removed = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff)).rowcount
    if removed:
        log.info("housekeeping removed %d idempotency records", removed)
    return removed


def _schedule(scheduler: BaseScheduler, care: CareEngine) -> BaseScheduler:
    scheduler.add_job(
        housekeeping, "interval", args=[care], seconds=HOUSEKEEPING_SECONDS, id="housekeeping", coalesce=True
    )
    return scheduler


def start_embedded(care: CareEngine) -> BackgroundScheduler:
    """Start the worker jobs in a background thread of this process."""
    scheduler = _schedule(BackgroundScheduler(timezone="UTC"), care)
    scheduler.start()
    return scheduler


def run_blocking(care: CareEngine) -> None:
    """Run the worker jobs in the foreground until interrupted."""
    scheduler = _schedule(BlockingScheduler(timezone="UTC"), care)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("worker stopped")
