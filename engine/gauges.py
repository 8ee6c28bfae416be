"""What the database holds right now, for ``GET /metrics``: a handful of counts over indexed columns.

Unlike the counters of :mod:`engine.metrics`, these are the same whichever process is asked (the
database is shared by every web process and worker of every host), so they are read at scrape
time rather than kept per process. Each query walks one index: open tasks per team the
``(kind, name, task_open)`` candidates index, overdue tasks and open incidents their status
indexes, due timers and jobs ``(status, due_at)``, buffered messages ``(status, name)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from engine.db import Database
from engine.models import HumanTask, HumanTaskCandidate, Incident, Message, ServiceJob, Timer, TimerWorker

# A worker whose heartbeat is older than this is not alive (as in GET /api/worker/status).
ALIVE_SECONDS = 30.0
# Workers that stopped or were last heard of longer ago are left out of the heartbeat series.
HEARTBEAT_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class WorkerBeat:
    id: str
    hostname: str
    heartbeat_at: datetime


@dataclass(frozen=True)
class Snapshot:
    open_tasks_by_team: dict[str, int]
    open_tasks: int
    overdue_tasks: int
    timer_lag_seconds: float
    due_timers: int
    job_queue: dict[str, int]  # kind (operation, external) -> pending jobs due now
    job_retries: dict[str, int]  # kind -> pending jobs that failed before and wait for another try
    open_incidents: int
    buffered_messages: int
    workers_alive: int
    workers: list[WorkerBeat]


def snapshot(db: Database, now: datetime) -> Snapshot:
    """The counts as of ``now`` (the engine's clock)."""
    with db.read() as session:
        by_team = dict(
            session.execute(
                select(HumanTaskCandidate.name, func.count())
                .where(HumanTaskCandidate.kind == "group", HumanTaskCandidate.task_open.is_(True))
                .group_by(HumanTaskCandidate.name)
            ).all()
        )
        open_tasks = session.scalar(select(func.count()).where(HumanTask.status == "open"))
        overdue = session.scalar(
            select(func.count()).where(
                HumanTask.status == "open", HumanTask.due_at.is_not(None), HumanTask.due_at < now
            )
        )
        oldest_due, due_timers = session.execute(
            select(func.min(Timer.due_at), func.count()).where(Timer.status == "pending", Timer.due_at <= now)
        ).one()
        queue = dict(
            session.execute(
                select(ServiceJob.kind, func.count())
                .where(ServiceJob.status == "pending", ServiceJob.due_at <= now)
                .group_by(ServiceJob.kind)
            ).all()
        )
        retries = dict(
            session.execute(
                select(ServiceJob.kind, func.count())
                .where(ServiceJob.status == "pending", ServiceJob.attempts > 0)
                .group_by(ServiceJob.kind)
            ).all()
        )
        incidents = session.scalar(select(func.count()).where(Incident.status == "open"))
        buffered = session.scalar(select(func.count()).where(Message.status == "pending"))
        beats = list(
            session.execute(
                select(TimerWorker.id, TimerWorker.hostname, TimerWorker.heartbeat_at).where(
                    TimerWorker.stopped_at.is_(None), TimerWorker.heartbeat_at >= now - HEARTBEAT_WINDOW
                )
            ).all()
        )
    workers = [WorkerBeat(*beat) for beat in beats]
    return Snapshot(
        open_tasks_by_team=by_team,
        open_tasks=open_tasks or 0,
        overdue_tasks=overdue or 0,
        timer_lag_seconds=max((now - oldest_due).total_seconds(), 0.0) if oldest_due is not None else 0.0,
        due_timers=due_timers or 0,
        job_queue=queue,
        job_retries=retries,
        open_incidents=incidents or 0,
        buffered_messages=buffered or 0,
        workers_alive=sum(1 for w in workers if (now - w.heartbeat_at).total_seconds() <= ALIVE_SECONDS),
        workers=workers,
    )
