"""Service-task jobs: the row behind every waiting service task, and the worker side that runs them.

When an instance reaches a service task, the task waits (``STARTED``, see
:mod:`engine.service_specs`) and :func:`engine.job_rows.sync` writes a ``service_jobs`` row in the same
transaction as the instance: the operation, its evaluated arguments and a stable idempotency
key.  The request that led there returns at once.

A worker then runs the job in three steps, none of them inside another's transaction:

1. :meth:`Jobs.claim` leases due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and counts
   the attempt;
2. the operation is called with no database transaction of the engine open;
3. :meth:`Jobs.finish` applies the outcome through :meth:`Executor.mutate`: the result lands
   in the task data and the task completes; a transient failure schedules the next try with
   exponential back-off; the last try (or a permanent failure) opens an incident that
   :meth:`engine.incidents.Incidents.retry` can clear; a :class:`BpmnError` is thrown into the
   process for an error boundary event.

While a batch of claims is in hand (called one after another), a thread of the worker extends
their leases every third of the lease (:class:`LeaseKeeper`), so a call that takes longer than the
lease, or a claim waiting behind such calls, is not taken over by another worker while this one
lives.  A worker that dies during step 2 stops extending; its leases expire and the next worker
calls the operation again with the same idempotency key, which the operations pass on so that
nothing happens twice.

Camunda external tasks whose topic names no operation get rows of kind ``external``: this worker
never claims them; outside workers fetch and lock them (:mod:`engine.external_tasks`), which
reuses the outcomes here (:meth:`Jobs.throw`, :meth:`Jobs.fail`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.config import Settings, env_values
from engine.db import Database
from engine.errors import ConcurrentModification, NotFound
from engine.history import History
from engine.job_rows import EXTERNAL, OPERATION, json_safe, notify
from engine.models import Incident, ProcessInstance, ServiceJob
from engine.pagination import Page, page_of
from engine.service_specs import CALL_KEY
from process_library.registry import BpmnError, OperationContext, Registry, TransientError

if TYPE_CHECKING:
    from engine.execution import Executor

log = logging.getLogger(__name__)

JOB_PRINCIPAL = "worker"
JOB_STATUSES = ("pending", "completed", "failed", "cancelled")
MAX_ERROR = 2000


@dataclass(frozen=True)
class JobConfig:
    """How jobs are claimed; ``carecenter worker`` flags and ``CARECENTER_JOB_*`` set these.

    The lease is how long a claim lasts unless renewed: the worker renews it every third of it while
    the call runs (:class:`LeaseKeeper`), so it is how long after a worker died another takes its jobs
    over (calling again with the same idempotency key).
    """

    lease_seconds: float = 120.0
    batch_size: int = 10
    max_backoff_seconds: float = 3600.0

    @classmethod
    def from_env(cls, **overrides: object) -> JobConfig:
        variables = {"lease_seconds": ("JOB_LEASE_SECONDS", float), "batch_size": ("JOB_BATCH_SIZE", int)}
        return cls(**env_values(variables, overrides))


@dataclass(frozen=True)
class JobClaim:
    """A due job leased to one worker, with everything needed to call the operation."""

    id: int
    instance_id: int
    process_key: str
    element_id: str
    operation: str
    arguments: dict
    idempotency_key: str
    tracking_code: str
    reference: str


@dataclass(frozen=True)
class Outcome:
    """What one call of an operation came to."""

    kind: str  # completed, transient, failed, bpmn_error
    result: dict | None = None
    error: Exception | None = None


def rearm(session: Session, job: ServiceJob, workflow, data: dict | None, now: datetime) -> None:
    """Make a failed job due again (an incident retry), re-evaluating its arguments after a data fix.

    An external task gets one retry and its lock is dropped, as Camunda's "increment retries" does.
    """
    task = task_of(workflow, job.task_guid)
    if task is not None and data:
        task.data.update(data)
        task.task_spec._execute(task)
        job.arguments = json_safe(task.internal_data.get(CALL_KEY, {}))
    job.status, job.attempts, job.due_at = "pending", 0, now
    job.claimed_by = job.claimed_until = job.last_error = None
    job.finished_at = None
    if job.kind == EXTERNAL:
        job.retries, job.error_details = 1, None
    notify(session)


def task_of(workflow, guid: str):
    """The task of a job's row in a loaded workflow, or None when it is gone."""
    try:
        return workflow.get_task_from_id(UUID(guid))
    except Exception:
        return None


# -- the worker side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class JobFilter:
    status: str | None = None
    instance_id: int | None = None
    operation: str | None = None
    kind: str | None = None


class Jobs:
    def __init__(
        self,
        db: Database,
        executor: Executor,
        history: History,
        clock: Clock,
        registry: Registry,
        settings: Settings,
        config: JobConfig | None = None,
    ) -> None:
        self.db = db
        self.executor = executor
        self.history = history
        self.clock = clock
        self.registry = registry
        self.settings = settings
        self.config = config or JobConfig()

    def claim(self, worker_id: str, limit: int | None = None) -> list[JobClaim]:
        """Lease up to ``limit`` due jobs to ``worker_id``, oldest due first; each claim counts as an attempt."""
        now = self.clock.now()
        query = (
            select(ServiceJob, ProcessInstance.tracking_code, ProcessInstance.reference)
            .join(ProcessInstance, ProcessInstance.id == ServiceJob.instance_id)
            .where(
                ServiceJob.kind == OPERATION,
                ServiceJob.status == "pending",
                ServiceJob.due_at <= now,
                or_(ServiceJob.claimed_until.is_(None), ServiceJob.claimed_until <= now),
            )
            .order_by(ServiceJob.due_at, ServiceJob.id)
            .limit(limit or self.config.batch_size)
        )
        if not self.db.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=ServiceJob)
        with self.db.write() as session:
            claims = []
            for job, tracking_code, reference in session.execute(query):
                job.claimed_by = worker_id
                job.claimed_until = now + timedelta(seconds=self.config.lease_seconds)
                job.attempts += 1
                claims.append(
                    JobClaim(
                        job.id,
                        job.instance_id,
                        job.process_key,
                        job.element_id,
                        job.operation,
                        dict(job.arguments),
                        job.idempotency_key,
                        tracking_code,
                        reference,
                    )
                )
            return claims

    def call(self, claim: JobClaim) -> Outcome:
        """Call the operation of a claimed job (no engine transaction is open)."""
        operation = self.registry.get(claim.operation)
        if operation is None:
            return Outcome("failed", error=LookupError(f"operation '{claim.operation}' is not registered"))
        context = OperationContext(
            claim.idempotency_key,
            claim.instance_id,
            claim.process_key,
            claim.element_id,
            claim.tracking_code,
            claim.reference,
            self.db,
            self.clock,
            self.settings,
        )
        try:
            result = operation.call(context, claim.arguments)
            if result is not None and not isinstance(result, dict):
                raise TypeError(f"operation '{claim.operation}' returned {type(result).__name__}, not a dict")
            return Outcome("completed", result=json_safe(result or {}))
        except BpmnError as error:
            return Outcome("bpmn_error", error=error)
        except (TransientError, OSError) as error:
            return Outcome("transient", error=error)
        except Exception as error:  # a bug or a refusal in the operation: an incident, never a lost job
            log.warning("operation %s failed for job %s", claim.operation, claim.id, exc_info=True)
            return Outcome("failed", error=error)

    def finish(self, claim: JobClaim, worker_id: str, outcome: Outcome) -> str:
        """Apply the outcome to the job and its instance in one transaction; returns the job's status after it."""
        statuses: list[str] = []

        def change(session, row, workflow, definition):
            job = session.get(ServiceJob, claim.id, populate_existing=True)
            if job is None or job.status != "pending" or job.claimed_by != worker_id:
                statuses.append(job.status if job is not None else "cancelled")
                # another worker took the job over after our lease ran out, or it was cancelled: change nothing
                # (committed as a step, an instance that completed meanwhile would record its completion again)
                raise _Unchanged
            task = task_of(workflow, job.task_guid)
            if task is None or task.state != TaskState.STARTED:
                job.status, job.finished_at = "cancelled", self.clock.now()
            elif outcome.kind == "completed":
                self._complete(session, row, job, task, outcome.result)
            elif outcome.kind == "bpmn_error":
                self.throw(session, row, job, task, outcome.error, JOB_PRINCIPAL)
            elif outcome.kind == "transient" and job.attempts < job.max_attempts:
                self._retry_later(session, row, job, outcome.error)
            else:
                self.fail(session, row, job, outcome.error, principal=JOB_PRINCIPAL)
            statuses.append(job.status)

        try:
            self.executor.mutate(claim.instance_id, change, JOB_PRINCIPAL)
        except _Unchanged:
            return statuses[-1]
        except NotFound:
            return "cancelled"
        except ConcurrentModification:
            # the instance kept changing: give the claim back at once; the next run calls again (same key)
            self._release(claim.id, worker_id)
            return "pending"
        return statuses[-1] if statuses else "pending"

    def _complete(self, session, row, job, task, result) -> None:
        now = self.clock.now()
        if task.task_spec.merges_result and isinstance(result, dict | None):
            # a Camunda job or external task without a result variable: what it completes with becomes variables
            task.data.update(result or {})
        else:
            task.data[job.result_variable] = result
        task.complete()
        job.status, job.finished_at, job.claimed_until, job.last_error = "completed", now, None, None
        self.history.record(
            session, row.id, "job_completed", JOB_PRINCIPAL, element_id=job.element_id, operation=job.operation
        )

    def throw(self, session, row, job, task, error: BpmnError, principal: str, variables: dict | None = None) -> None:
        """Throw a BPMN error at the job's task (for an error boundary event); uncaught, it is an incident.

        ``variables`` (an external worker's, as Camunda's bpmnError takes them) land in the catching event's data,
        so the path that handles the error reads them.
        """
        payload = {"code": error.code, "message": error.message, **error.payload}
        top = task.workflow.top_workflow
        # Each dialect has its own error definition class, and definitions match by class: throw with theirs.
        classes = {
            type(waiting.task_spec.event_definition)
            for waiting in top.event_manager.tasks.values()
            if isinstance(waiting.task_spec.event_definition, ErrorEventDefinition)
        }
        caught = False
        for definition_class in sorted(classes, key=lambda cls: cls.__module__) or [ErrorEventDefinition]:
            event = BpmnEvent(definition_class(error.code, code=error.code), payload=payload, target=task.workflow)
            caught = top.event_manager.catch(event) > 0 or any(  # an error passed up to a parent returns 0
                isinstance(getattr(ready.task_spec, "event_definition", None), ErrorEventDefinition)
                for ready in top.get_tasks(state=TaskState.READY)
            )
            if caught:
                break
        for ready in top.get_tasks(state=TaskState.READY) if caught and variables else []:
            if isinstance(getattr(ready.task_spec, "event_definition", None), ErrorEventDefinition):
                ready.data.update(variables)
        self.history.record(
            session,
            row.id,
            "bpmn_error_thrown",
            principal,
            element_id=job.element_id,
            code=error.code,
            message=error.message,
        )
        if not caught:  # the process does not model this error
            message = f"BPMN error '{error.code}' was not caught: {error.message}"
            self.fail(session, row, job, error, message, principal)
        else:
            job.status, job.finished_at, job.claimed_until = "completed", self.clock.now(), None
            job.last_error = f"BPMN error '{error.code}': {error.message}"[:MAX_ERROR]

    def _retry_later(self, session, row, job, error: Exception) -> None:
        delay = min(job.backoff_seconds * 2 ** max(job.attempts - 1, 0), self.config.max_backoff_seconds)
        job.due_at = self.clock.now() + timedelta(seconds=delay)
        job.claimed_by = job.claimed_until = None
        job.last_error = _describe(error)
        self.history.record(
            session,
            row.id,
            "job_retry_scheduled",
            JOB_PRINCIPAL,
            element_id=job.element_id,
            attempt=job.attempts,
            next_try_at=job.due_at.isoformat(),
            error=job.last_error,
        )

    def fail(
        self, session, row, job, error: Exception, message: str | None = None, principal: str = JOB_PRINCIPAL
    ) -> None:
        """Give up on the job: an incident at its element (the instance fails) that a retry can clear."""
        now = self.clock.now()
        tries = f"after {job.attempts} tr{'y' if job.attempts == 1 else 'ies'}"
        text = message or f"operation '{job.operation}' failed {tries}: {_describe(error)}"
        job.status, job.finished_at, job.claimed_until, job.last_error = "failed", now, None, text[:MAX_ERROR]
        session.add(
            Incident(
                instance_id=row.id,
                element_id=job.element_id,
                element_name=job.element_name,
                error_type=type(error).__name__,
                message=text[:MAX_ERROR],
                status="open",
                created_at=now,
                job_id=job.id,
            )
        )
        session.flush()
        row.status = "failed"
        self.history.record(session, row.id, "instance_failed", principal, element_id=job.element_id, message=text)

    def _release(self, job_id: int, worker_id: str) -> None:
        with self.db.write() as session:
            session.execute(
                update(ServiceJob)
                .where(ServiceJob.id == job_id, ServiceJob.claimed_by == worker_id, ServiceJob.status == "pending")
                .values(claimed_until=None)
                .execution_options(synchronize_session=False)
            )

    def release_claims(self, worker_id: str) -> int:
        """Give back the claims of a worker that stops (jobs it had not started calling)."""
        with self.db.write() as session:
            return session.execute(
                update(ServiceJob)
                .where(ServiceJob.kind == OPERATION, ServiceJob.claimed_by == worker_id, ServiceJob.status == "pending")
                .values(claimed_until=None)
                .execution_options(synchronize_session=False)
            ).rowcount

    def run_due(self, worker_id: str, max_rounds: int = 100) -> int:
        """Claim, call and finish everything due now (and what that made due); returns how many calls were made.

        The leases of the claims in hand are extended until each is finished; a claim whose lease was
        lost all the same (the database was away longer than the lease) is left to the worker that took it.
        This is what the worker runs; tests call it after moving a virtual clock.
        """
        calls = 0
        for _ in range(max_rounds):
            claims = self.claim(worker_id)
            if not claims:
                break
            with LeaseKeeper(self, worker_id, [claim.id for claim in claims]) as keeper:
                for claim in claims:
                    if keeper.lost(claim.id):
                        continue
                    self.finish(claim, worker_id, self.call(claim))
                    keeper.done(claim.id)
                    calls += 1
        return calls

    def extend_leases(self, worker_id: str, job_ids: list[int]) -> set[int]:
        """Renew the leases of these claims of ``worker_id`` from now; returns the ids still held (others were lost)."""
        if not job_ids:
            return set()
        until = self.clock.now() + timedelta(seconds=self.config.lease_seconds)
        with self.db.write() as session:
            held = session.scalars(
                update(ServiceJob)
                .where(ServiceJob.id.in_(job_ids), ServiceJob.claimed_by == worker_id, ServiceJob.status == "pending")
                .values(claimed_until=until)
                .returning(ServiceJob.id)
                .execution_options(synchronize_session=False)
            )
            return set(held)

    def list(self, filters: JobFilter, limit: int, after: int | None) -> Page[dict]:
        query = select(ServiceJob).order_by(ServiceJob.id.desc()).limit(limit + 1)
        for column, value in (
            (ServiceJob.status, filters.status),
            (ServiceJob.instance_id, filters.instance_id),
            (ServiceJob.operation, filters.operation),
            (ServiceJob.kind, filters.kind),
        ):
            if value is not None:
                query = query.where(column == value)
        if after is not None:
            query = query.where(ServiceJob.id < after)
        with self.db.read() as session:
            page = page_of(list(session.scalars(query)), limit)
            return Page([job_view(job) for job in page.items], page.next_after)


class _Unchanged(Exception):
    """The outcome of a call no longer applies (the claim was lost): the step's transaction is rolled back."""


class LeaseKeeper:
    """A thread that extends the leases of one batch of claims every third of the lease, until each is done.

    Without it, a call longer than the lease, or the claims of a batch waiting behind slow calls, would
    be taken over by another worker and called a second time while this worker still works on them.
    """

    def __init__(self, jobs: Jobs, worker_id: str, job_ids: list[int]) -> None:
        self.jobs = jobs
        self.worker_id = worker_id
        self._held = set(job_ids)
        self._lost: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="carecenter-job-leases", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def done(self, job_id: int) -> None:
        """The claim is finished: its lease needs no more extending."""
        with self._lock:
            self._held.discard(job_id)

    def lost(self, job_id: int) -> bool:
        """Whether an extension found the claim gone (taken over, cancelled): then it must not be called."""
        with self._lock:
            return job_id in self._lost

    def _run(self) -> None:
        interval = self.jobs.config.lease_seconds / 3
        while not self._stop.wait(interval):
            with self._lock:
                held = sorted(self._held)
            if not held:
                return
            try:
                kept = self.jobs.extend_leases(self.worker_id, held)
            except Exception:  # the database is away: try again at the next interval, the lease may still hold
                log.warning("could not extend the leases of jobs %s", held, exc_info=True)
                continue
            with self._lock:
                gone = set(held) - kept
                self._lost |= gone
                self._held -= gone


def job_view(job: ServiceJob) -> dict:
    return {
        "id": job.id,
        "instance_id": job.instance_id,
        "process_key": job.process_key,
        "element_id": job.element_id,
        "element_name": job.element_name,
        "operation": job.operation,
        "arguments": job.arguments,
        "idempotency_key": job.idempotency_key,
        "kind": job.kind,
        "status": job.status,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "due_at": job.due_at.isoformat(),
        "claimed_by": job.claimed_by,
        "claimed_until": job.claimed_until.isoformat() if job.claimed_until else None,
        "last_error": job.last_error,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def _describe(error: Exception | None) -> str:
    if error is None:
        return "unknown error"
    return f"{type(error).__name__}: {error}"[:MAX_ERROR]
