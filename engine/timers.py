"""Timers: a durable row behind every waiting timer, and the service that claims and fires them.

Every change to an instance ends in :func:`engine.timer_rows.sync` (called by the executor),
which mirrors the instance's WAITING timer tasks into ``timers`` rows in the same transaction
as the instance row: new timers become ``pending`` rows, timers that fired become ``fired``
(one row per occurrence, so a cycle leaves one row per firing), timers whose task went away
become ``cancelled``.  Start timers of process definitions are rows too, written when the
definition is deployed.  Nothing about timers lives only in process memory, and finding due
timers is one indexed query on ``(status, due_at)``, never a scan of instances.

Firing is a claim, then a change:

1. :meth:`Timers.claim` leases a batch of due rows to one worker (``claimed_by``,
   ``claimed_until``); on PostgreSQL with ``FOR UPDATE SKIP LOCKED`` so workers never wait on
   each other, on SQLite inside its single-writer transaction.  An expired lease (a worker
   killed mid-fire) makes the row claimable again.
2. :meth:`Timers.fire` runs :meth:`Executor.mutate` on the instance: the instance row is
   locked, the row is re-read and skipped unless it is still ``pending`` with the claimed due
   time, SpiffWorkflow's timers are refreshed at the engine clock's now, the instance runs on,
   and the row turns ``fired`` in the same commit.  A second worker holding an expired lease on
   the same row therefore finds it fired and changes nothing: each occurrence fires once.
   A race with a request on the same instance is retried by ``mutate``, and a timer that still
   loses keeps its row and is claimed again.  The claims of one batch are fired by
   ``TimerConfig.threads`` threads side by side (two on PostgreSQL): two claims on one instance
   take turns on its row lock like two workers would.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.config import env_values
from engine.db import Database
from engine.errors import (
    ConcurrentModification,
    Conflict,
    DeploymentInvalid,
    DeploymentProblem,
    NotFound,
    Unprocessable,
)
from engine.history import History
from engine.models import ProcessDefinition, Timer, TimerWorker
from engine.pagination import Page, page_of
from engine.timer_rows import TIMER_PRINCIPAL, notify, pending_rows
from engine.timer_specs import (
    DEFAULT_CYCLE_CATCH_UP,
    ClockCycleTimerEventDefinition,
    ClockDurationTimerEventDefinition,
    ClockTimer,
    duration_from,
    fired_total,
    parse_cycle,
    parse_datetime,
    set_fire_horizon,
)

if TYPE_CHECKING:
    from engine.execution import Executor
    from engine.repository import Repository

log = logging.getLogger(__name__)

TIMER_STATUSES = ("pending", "fired", "cancelled", "skipped", "suspended")
MAX_ERROR = 2000


@dataclass(frozen=True)
class TimerConfig:
    """How timers are claimed and retried; ``carecenter worker`` flags and ``CARECENTER_TIMER_*`` set these."""

    lease_seconds: float = 30.0
    batch_size: int = 20
    cycle_catch_up: int = DEFAULT_CYCLE_CATCH_UP
    retry_seconds: float = 5.0
    max_retry_seconds: float = 300.0
    # Claims of one batch fired side by side; 0: 2 on PostgreSQL (a firing waits on the database about a
    # third of its time), 1 on SQLite (its writers take turns anyway).
    threads: int = 0

    @classmethod
    def from_env(cls, **overrides: object) -> TimerConfig:
        variables = {
            "lease_seconds": ("TIMER_LEASE_SECONDS", float),
            "batch_size": ("TIMER_BATCH_SIZE", int),
            "cycle_catch_up": ("TIMER_CYCLE_CATCH_UP", int),
            "threads": ("TIMER_THREADS", int),
        }
        config = cls(**env_values(variables, overrides))
        if config.threads < 0:
            raise ValueError(f"CARECENTER_TIMER_THREADS must be 0 (automatic) or more, not {config.threads}")
        return config


@dataclass(frozen=True)
class Claim:
    """A due timer row leased to one worker."""

    id: int
    instance_id: int | None
    due_at: datetime


# -- views --------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def timer_view(row: Timer, now: datetime | None = None) -> dict:
    return {
        "id": row.id,
        "kind": row.kind,
        "status": row.status,
        "due_at": _iso(row.due_at),
        "overdue": bool(now is not None and row.status == "pending" and row.due_at <= now),
        "process_key": row.process_key,
        "definition_id": row.definition_id,
        "instance_id": row.instance_id,
        "element_id": row.element_id,
        "element_name": row.element_name,
        "occurrence": row.occurrence,
        "attempts": row.attempts,
        "claimed_by": row.claimed_by if now is None or (row.claimed_until and row.claimed_until > now) else None,
        "last_error": row.last_error,
        "created_at": _iso(row.created_at),
        "fired_at": _iso(row.fired_at),
        "started_instance_id": row.started_instance_id,
    }


@dataclass(frozen=True)
class TimerFilter:
    status: str = "pending"
    process_key: str | None = None
    instance_id: int | None = None
    kind: str | None = None
    due_before: datetime | None = None


class _AlreadyHandled(Exception):
    """The claimed occurrence was fired or cancelled meanwhile: nothing to write."""


def new_worker_id() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"


class Timers:
    """The timer service: claim, fire, schedule start timers, suspend, and what operators see."""

    def __init__(
        self,
        db: Database,
        repository: Repository,
        executor: Executor,
        history: History,
        clock: Clock,
        config: TimerConfig | None = None,
    ) -> None:
        self.db = db
        self.repository = repository
        self.executor = executor
        self.history = history
        self.clock = clock
        self.config = config or TimerConfig()
        self.worker_id = new_worker_id()

    # -- claiming and firing ------------------------------------------------------------------

    def claim(self, worker_id: str, limit: int | None = None) -> list[Claim]:
        """Lease up to ``limit`` due rows to ``worker_id``, oldest due first."""
        now = self.clock.now()
        query = (
            select(Timer.id, Timer.instance_id, Timer.due_at)
            .where(
                Timer.status == "pending",
                Timer.due_at <= now,
                or_(Timer.claimed_until.is_(None), Timer.claimed_until <= now),
            )
            .order_by(Timer.due_at, Timer.id)
            .limit(limit or self.config.batch_size)
        )
        if not self.db.is_sqlite:  # SQLite has one writer at a time: the transaction is the lock
            query = query.with_for_update(skip_locked=True)
        with self.db.write() as session:
            claims = [Claim(row.id, row.instance_id, row.due_at) for row in session.execute(query)]
            if claims:
                session.execute(
                    update(Timer)
                    .where(Timer.id.in_([c.id for c in claims]))
                    .values(
                        claimed_by=worker_id,
                        claimed_until=now + timedelta(seconds=self.config.lease_seconds),
                        attempts=Timer.attempts + 1,
                    )
                    .execution_options(synchronize_session=False)
                )
        return claims

    def fire(self, claim: Claim, worker_id: str) -> int:
        """Fire one claimed occurrence; returns how many occurrences fired (with those due before it, on its instance).

        0 means it was handled elsewhere meanwhile, or that it failed and will be retried.
        """
        try:
            if claim.instance_id is None:
                return self._fire_start(claim)
            return self._fire_instance(claim)
        except _AlreadyHandled:
            return 0
        except ConcurrentModification as error:
            self._retry_later(claim, error, immediately=True)
        except NotFound as error:  # the instance or definition is gone: nothing will ever fire this
            self._finish(claim, "cancelled", error)
        except Exception as error:  # never lose a timer to an unexpected failure: keep the row, retry later
            log.exception("timer %s failed to fire in worker %s", claim.id, worker_id)
            self._retry_later(claim, error)
        return 0

    def _fire_instance(self, claim: Claim) -> int:
        def change(session, row, workflow, definition):
            timer = next((t for t in pending_rows(session, row.id) if t.id == claim.id), None)
            if timer is None or timer.due_at != claim.due_at:
                raise _AlreadyHandled()
            timer.last_error = None
            set_fire_horizon(workflow, claim.due_at)  # the executor fires what is due by then, oldest first
            return timer, workflow

        # the row as committed: the timer read model updated this same object in the transaction
        (timer, workflow), _, _ = self.executor.mutate(claim.instance_id, change, TIMER_PRINCIPAL)
        if timer.status == "pending":  # the engine did not consider it due (clocks apart?): look again a little later
            self._retry_later(claim, RuntimeError("the timer was not due for the engine yet"))
        return fired_total(workflow)

    def _retry_later(self, claim: Claim, error: Exception, immediately: bool = False) -> None:
        with self.db.write() as session:
            timer = session.get(Timer, claim.id)
            if timer is None or timer.status != "pending":
                return
            delay = (
                0.0
                if immediately
                else min(self.config.retry_seconds * 2 ** max(timer.attempts - 1, 0), self.config.max_retry_seconds)
            )
            timer.claimed_until = self.clock.now() + timedelta(seconds=delay) if delay else None
            timer.last_error = f"{type(error).__name__}: {error}"[:MAX_ERROR]

    def _finish(self, claim: Claim, status: str, error: Exception | None = None) -> None:
        with self.db.write() as session:
            timer = session.get(Timer, claim.id)
            if timer is not None and timer.status == "pending":
                timer.status = status
                timer.last_error = f"{type(error).__name__}: {error}"[:MAX_ERROR] if error else None

    def release_claims(self, worker_id: str) -> int:
        """Give back the unfired claims of a worker that stops, so others need not wait for the lease."""
        with self.db.write() as session:
            return session.execute(
                update(Timer)
                .where(Timer.claimed_by == worker_id, Timer.status == "pending")
                .values(claimed_until=None)
                .execution_options(synchronize_session=False)
            ).rowcount

    def fire_due(self, worker_id: str | None = None, max_rounds: int = 1000) -> int:
        """Claim and fire all that is due at the clock's now, and what firing made due; returns how many fired.

        This is what the worker runs; tests call it after moving a virtual clock.
        """
        worker_id = worker_id or self.worker_id
        threads = self.config.threads or (1 if self.db.is_sqlite else 2)
        fire = functools.partial(self.fire, worker_id=worker_id)
        fired = 0
        with ThreadPoolExecutor(threads, thread_name_prefix="carecenter-timer") as pool:
            for _ in range(max_rounds):
                claims = self.claim(worker_id)
                if not claims:
                    break
                # each in its own transaction; two claims on one instance take turns on its row lock
                fired += sum(pool.map(fire, claims) if threads > 1 else map(fire, claims))
        return fired

    def next_due_at(self) -> datetime | None:
        """When the worker should look next: the earliest free due time, or the end of a lease or back-off."""
        now = self.clock.now()
        free = or_(Timer.claimed_until.is_(None), Timer.claimed_until <= now)
        with self.db.read() as session:
            due = session.scalar(select(func.min(Timer.due_at)).where(Timer.status == "pending", free))
            held = session.scalar(select(func.min(Timer.claimed_until)).where(Timer.status == "pending", ~free))
        return min((t for t in (due, held) if t is not None), default=None)

    # -- start timers -------------------------------------------------------------------------

    def schedule_deployed(self, session: Session, deployed: list[tuple[ProcessDefinition, object]]) -> None:
        """Replace the start-timer schedule of each newly deployed process version (in the deploy's transaction)."""
        now = self.clock.now()
        for definition, spec in deployed:
            old = list(
                session.scalars(
                    select(Timer).where(
                        Timer.process_key == definition.key,
                        Timer.instance_id.is_(None),
                        Timer.status.in_(("pending", "suspended")),
                    )
                )
            )
            suspended = any(row.status == "suspended" for row in old)
            for row in old:
                row.status = "cancelled"
            if not definition.executable:
                continue
            for task_spec in _start_timer_specs(spec):
                timer = task_spec.event_definition
                try:
                    due, schedule = self._first_occurrence(timer, now)
                except Exception as error:  # the deploy is refused, with the element to fix
                    message = f"the start timer cannot be scheduled: {error}"
                    filename = getattr(spec, "file", None) or definition.key
                    raise DeploymentInvalid([DeploymentProblem(filename, None, task_spec.name, message)]) from None
                notify(session, due, now)
                session.add(
                    Timer(
                        instance_id=None,
                        definition_id=definition.id,
                        process_key=definition.key,
                        element_id=task_spec.name,
                        element_name=(task_spec.bpmn_name or task_spec.name)[:300],
                        kind="start",
                        task_guid=None,
                        due_at=due,
                        occurrence=1,
                        status="suspended" if suspended else "pending",
                        schedule=schedule,
                        attempts=0,
                        created_at=now,
                    )
                )

    def _first_occurrence(self, timer: ClockTimer, now: datetime) -> tuple[datetime, dict | None]:
        value = self.executor.script_engine.environment.evaluate(timer.expression, {}, None)
        if not isinstance(value, str):
            raise ValueError(f"{timer.expression} gives {value!r}, not ISO 8601 text")
        if isinstance(timer, ClockCycleTimerEventDefinition):
            cycles, start, interval = parse_cycle(value, now)
            return start, {"cycles": max(cycles - 1, 0) if cycles >= 0 else -1, "interval": interval.total_seconds()}
        if isinstance(timer, ClockDurationTimerEventDefinition):
            return now + duration_from(value, now), None
        return parse_datetime(value), None

    def _fire_start(self, claim: Claim) -> int:
        with self.db.write() as session:
            timer = session.get(Timer, claim.id, with_for_update=True, populate_existing=True)
            if timer is None or timer.status != "pending" or timer.due_at != claim.due_at:
                raise _AlreadyHandled()
            now = self.clock.now()
            latest = self.repository.latest(session, timer.process_key)
            if latest.id != timer.definition_id:  # replaced by a newer version's schedule
                timer.status = "cancelled"
                return 0
            skipped = self._skip_missed_starts(timer, now)
            definition = self.repository.load(timer.definition_id)
            instance, _ = self.executor.create(
                session,
                definition,
                variables={},
                business_key=None,
                customer_id=None,
                principal=TIMER_PRINCIPAL,
                start_event=timer.element_id,
            )
            timer.status = "fired"
            timer.fired_at = now
            timer.started_instance_id = instance.id
            timer.last_error = None
            details = {"due_at": timer.due_at.isoformat(), "occurrence": timer.occurrence}
            if skipped:
                details["skipped_occurrences"] = skipped
            self.history.record(
                session, instance.id, "timer_fired", TIMER_PRINCIPAL, element_id=timer.element_id, **details
            )
            fired = 1
            schedule = timer.schedule or {}
            if schedule.get("cycles", 0) != 0:
                interval = timedelta(seconds=schedule["interval"])
                cycles = schedule["cycles"]
                session.add(
                    Timer(
                        instance_id=None,
                        definition_id=timer.definition_id,
                        process_key=timer.process_key,
                        element_id=timer.element_id,
                        element_name=timer.element_name,
                        kind="start",
                        due_at=timer.due_at + interval,
                        occurrence=timer.occurrence + 1,
                        status="pending",
                        schedule={"cycles": cycles - 1 if cycles > 0 else -1, "interval": schedule["interval"]},
                        attempts=0,
                        created_at=now,
                    )
                )
            return fired

    def _skip_missed_starts(self, timer: Timer, now: datetime) -> int:
        """After downtime, start at most ``cycle_catch_up`` missed occurrences; the older ones are dropped."""
        schedule = timer.schedule
        if not schedule:
            return 0
        interval = timedelta(seconds=schedule["interval"])
        missed = int((now - timer.due_at) / interval) + 1
        if schedule["cycles"] >= 0:
            missed = min(missed, schedule["cycles"] + 1)
        skip = missed - max(1, self.config.cycle_catch_up)
        if skip <= 0:
            return 0
        timer.due_at = timer.due_at + skip * interval
        timer.occurrence += skip
        if schedule["cycles"] >= 0:
            timer.schedule = {**schedule, "cycles": schedule["cycles"] - skip}
        log.warning("start timer %s of %s: %d missed occurrences dropped", timer.element_id, timer.process_key, skip)
        return skip

    def suspend(self, key: str) -> dict:
        """Stop the start timers of a process: nothing starts until :meth:`activate`."""
        with self.db.write() as session:
            self.repository.latest(session, key)
            rows = self._start_rows(session, key, ("pending", "suspended"))
            if not rows:
                raise Conflict(f"process '{key}' has no timer start event to suspend")
            for row in rows:
                row.status = "suspended"
            return self._schedule_view(key, rows)

    def activate(self, key: str) -> dict:
        """Resume the start timers of a process; cycles continue with their next occurrence after now."""
        now = self.clock.now()
        with self.db.write() as session:
            self.repository.latest(session, key)
            rows = self._start_rows(session, key, ("pending", "suspended"))
            if not rows:
                raise Conflict(f"process '{key}' has no timer start event to activate")
            for row in rows:
                if row.status == "suspended" and row.schedule and row.due_at <= now:
                    self._roll_forward(row, now)
                row.status = "pending"
                row.claimed_until = None
            return self._schedule_view(key, rows)

    @staticmethod
    def _roll_forward(row: Timer, now: datetime) -> None:
        """Occurrences that fell due while suspended do not fire; the next one after now does."""
        interval = timedelta(seconds=row.schedule["interval"])
        steps = int((now - row.due_at) / interval) + 1
        if row.schedule["cycles"] >= 0:
            steps = min(steps, row.schedule["cycles"])
            row.schedule = {**row.schedule, "cycles": row.schedule["cycles"] - steps}
        row.due_at += steps * interval
        row.occurrence += steps

    @staticmethod
    def _start_rows(session: Session, key: str, statuses: tuple[str, ...]) -> list[Timer]:
        return list(
            session.scalars(
                select(Timer)
                .where(Timer.process_key == key, Timer.instance_id.is_(None), Timer.status.in_(statuses))
                .order_by(Timer.id)
            )
        )

    def _schedule_view(self, key: str, rows: list[Timer]) -> dict:
        now = self.clock.now()
        return {
            "key": key,
            "suspended": all(row.status == "suspended" for row in rows),
            "start_timers": [timer_view(row, now) for row in rows],
        }

    def schedule(self, key: str) -> dict:
        with self.db.read() as session:
            self.repository.latest(session, key)
            rows = self._start_rows(session, key, ("pending", "suspended"))
            return self._schedule_view(key, rows)

    # -- what operators see -------------------------------------------------------------------

    def list(self, filters: TimerFilter, limit: int, after: int | None) -> Page[dict]:
        """Timers by due time (then id); ``after`` is the id of the last row of the previous page."""
        query = select(Timer).where(Timer.status == filters.status)
        for column, value in (
            (Timer.process_key, filters.process_key),
            (Timer.instance_id, filters.instance_id),
            (Timer.kind, filters.kind),
        ):
            if value is not None:
                query = query.where(column == value)
        if filters.due_before is not None:
            query = query.where(Timer.due_at <= filters.due_before)
        with self.db.read() as session:
            if after is not None:
                last = session.get(Timer, after)
                if last is None:
                    raise Unprocessable(f"'after' names no timer ({after}); start again without it")
                query = query.where(
                    or_(Timer.due_at > last.due_at, (Timer.due_at == last.due_at) & (Timer.id > last.id))
                )
            rows = list(session.scalars(query.order_by(Timer.due_at, Timer.id).limit(limit + 1)))
            page = page_of(rows, limit)
            now = self.clock.now()
            return Page([timer_view(row, now) for row in page.items], page.next_after)

    def forget_finished(self, before: datetime) -> int:
        """Delete fired, cancelled and skipped rows created before ``before``, and workers silent since then."""
        with self.db.write() as session:
            removed = session.execute(
                delete(Timer).where(Timer.status.in_(("fired", "cancelled", "skipped")), Timer.created_at < before)
            ).rowcount
            session.execute(delete(TimerWorker).where(TimerWorker.heartbeat_at < before))
        return removed

    def heartbeat(self, worker_id: str, *, started_at: datetime, ran: bool = False, fired: int = 0) -> None:
        now = self.clock.now()
        with self.db.write() as session:
            row = session.get(TimerWorker, worker_id)
            if row is None:
                row = TimerWorker(
                    id=worker_id,
                    hostname=socket.gethostname()[:200],
                    pid=os.getpid(),
                    started_at=started_at,
                    heartbeat_at=now,
                    fired=0,
                )
                session.add(row)
            row.heartbeat_at = now
            row.stopped_at = None
            if ran:
                row.last_run_at = now
            row.fired = (row.fired or 0) + fired

    def stopped(self, worker_id: str) -> None:
        with self.db.write() as session:
            row = session.get(TimerWorker, worker_id)
            if row is not None:
                row.stopped_at = self.clock.now()

    def status(self, alive_seconds: float = 30.0) -> dict:
        """Workers and their last runs, how late the oldest due timer is, and what is claimed right now."""
        now = self.clock.now()
        with self.db.read() as session:
            workers = list(session.scalars(select(TimerWorker).order_by(TimerWorker.heartbeat_at.desc()).limit(50)))
            oldest_due = session.scalar(
                select(func.min(Timer.due_at)).where(Timer.status == "pending", Timer.due_at <= now)
            )
            counts = dict(
                session.execute(
                    select(Timer.status, func.count())
                    .where(Timer.status.in_(("pending", "suspended")))
                    .group_by(Timer.status)
                ).all()
            )
            due = session.scalar(select(func.count()).where(Timer.status == "pending", Timer.due_at <= now))
            claimed = session.scalar(select(func.count()).where(Timer.status == "pending", Timer.claimed_until > now))
            next_due = session.scalar(select(func.min(Timer.due_at)).where(Timer.status == "pending"))
        alive = [w for w in workers if w.stopped_at is None and (now - w.heartbeat_at).total_seconds() <= alive_seconds]
        runs = [w.last_run_at for w in workers if w.last_run_at is not None]
        return {
            "now": now.isoformat(),
            "last_run_at": _iso(max(runs)) if runs else None,
            "lag_seconds": round((now - oldest_due).total_seconds(), 3) if oldest_due else 0.0,
            "oldest_due_at": _iso(oldest_due),
            "next_due_at": _iso(next_due),
            "pending_timers": counts.get("pending", 0),
            "suspended_timers": counts.get("suspended", 0),
            "due_timers": due,
            "claimed_timers": claimed,
            "workers_alive": len(alive),
            "workers": [
                {
                    "id": w.id,
                    "hostname": w.hostname,
                    "pid": w.pid,
                    "started_at": _iso(w.started_at),
                    "heartbeat_at": _iso(w.heartbeat_at),
                    "last_run_at": _iso(w.last_run_at),
                    "fired": w.fired,
                    "alive": w in alive,
                    "stopped_at": _iso(w.stopped_at),
                }
                for w in workers
            ],
        }


def _start_timer_specs(spec) -> list:
    """Start events of the process itself (not of its subprocesses) that carry a timer."""
    return [
        task_spec
        for task_spec in spec.task_specs.values()
        if isinstance(task_spec, StartEvent) and isinstance(getattr(task_spec, "event_definition", None), ClockTimer)
    ]
