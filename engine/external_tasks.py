"""External tasks: Camunda 7 external-task workers fetch, lock and finish service tasks of carecenter.

A Camunda external service task whose topic names no registered operation is not run by
carecenter's worker: its ``service_jobs`` row (kind ``external``, written with the instance, see
:mod:`engine.jobs`) waits for an outside worker, the way Camunda 7's external tasks do, so that
workers written for Camunda's REST API (Java, JavaScript, Python clients) keep working.

- :meth:`ExternalTasks.fetch_and_lock` locks due rows of the asked topics to a worker id for the
  asked time (``claimed_by`` / ``claimed_until``; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), and
  answers with the variables the task sees.  With a wait (Camunda's long polling) it answers as
  soon as a task appears: the executor wakes it when this process writes new jobs, and it looks
  again every poll interval for tasks other processes wrote, retries whose timeout ran out and
  locks that expired.
- :meth:`ExternalTasks.complete`, :meth:`failure` and :meth:`bpmn_error` change the instance in one
  transaction through :meth:`Executor.mutate`, by the worker that holds the lock only (as in
  Camunda, also after the lock expired, as long as no other worker locked the task since):
  complete merges the variables into the instance and runs it on; a failure with retries left
  makes the task fetchable again after its retry timeout, without retries it opens an incident
  (``POST /api/incidents/{id}/retry`` gives the task one retry); a BPMN error reaches the error
  boundary event as the errors of carecenter's own operations do (uncaught, an incident).
- :meth:`ExternalTasks.extend_lock` lengthens a lock that has not expired, :meth:`unlock` drops one.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from engine import state
from engine.camunda_variables import camunda_date, to_typed
from engine.clock import Clock
from engine.db import Database
from engine.errors import CareError, InvalidRequest, NotFound
from engine.execution import Executor
from engine.history import History
from engine.job_rows import EXTERNAL
from engine.jobs import Jobs, task_of
from engine.models import ProcessInstance, ServiceJob
from engine.repository import Repository
from engine.service_specs import CALL_KEY
from process_library.registry import BpmnError

MAX_WAIT_MS = 1_800_000  # Camunda's limit for asyncResponseTimeout (30 minutes)


class LockViolation(CareError):
    """The external task is not locked by the worker that reports on it (or its lock expired)."""

    problem_type = "/problems/external-task-lock"
    status = 400
    title = "External task not locked by this worker"


class ExternalTaskFailed(Exception):
    """What an incident of an external task says failed: the worker's report, not carecenter's code."""


@dataclass(frozen=True)
class Topic:
    """One topic of a fetch, with the lock duration and the filters Camunda's clients may send."""

    name: str
    lock_ms: int
    variables: tuple[str, ...] | None = None  # the variables to answer with; None: all
    local_only: bool = False  # only the task's own (input parameter) variables
    business_key: str | None = None
    process_keys: tuple[str, ...] = ()
    definition_ids: tuple[str, ...] = ()  # "<key>:<version>", as carecenter writes definitionId
    include_properties: bool = False

    def condition(self):
        """The SQL condition for rows of this topic."""
        parts = [ServiceJob.operation == self.name]
        if self.business_key is not None:
            parts.append(ProcessInstance.business_key == self.business_key)
        if self.process_keys:
            parts.append(ServiceJob.process_key.in_(self.process_keys))
        if self.definition_ids:
            parts.append(or_(*(_definition_condition(d) for d in self.definition_ids)))
        return and_(*parts)

    def matches(self, job: ServiceJob, instance: ProcessInstance) -> bool:
        return (
            job.operation == self.name
            and (self.business_key is None or instance.business_key == self.business_key)
            and (not self.process_keys or job.process_key in self.process_keys)
            and (
                not self.definition_ids
                or definition_id(instance.process_key, instance.definition_version) in self.definition_ids
            )
        )


def _definition_condition(value: str):
    key, _, version = value.rpartition(":")
    if not key or not version.isdigit():
        raise InvalidRequest(f"'{value}' is not a process definition id of carecenter (<key>:<version>)")
    return and_(ProcessInstance.process_key == key, ProcessInstance.definition_version == int(version))


def definition_id(process_key: str, version: int) -> str:
    """Camunda's ``definitionId`` of a process version, as carecenter writes it: ``<key>:<version>``."""
    return f"{process_key}:{version}"


@dataclass(frozen=True)
class FetchRequest:
    worker_id: str
    max_tasks: int
    topics: tuple[Topic, ...]
    use_priority: bool = False
    newest_first: bool | None = None  # Camunda's sorting by createTime; None: oldest first
    wait_ms: int = 0  # asyncResponseTimeout: how long to wait for a task when none is there


@dataclass(frozen=True)
class LockedTask:
    """A task locked to a worker, answered in the shape of Camunda's ``LockedExternalTaskDto``."""

    id: int
    topic: str
    worker_id: str
    lock_expires_at: datetime
    created_at: datetime
    instance_id: int
    definition_id: str
    process_key: str
    element_id: str
    execution_id: str
    business_key: str | None
    retries: int | None
    error_message: str | None
    error_details: str | None
    priority: int
    variables: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "activityId": self.element_id,
            "activityInstanceId": self.execution_id,
            "errorMessage": self.error_message,
            "errorDetails": self.error_details,
            "executionId": self.execution_id,
            "id": str(self.id),
            "lockExpirationTime": camunda_date(self.lock_expires_at),
            "createTime": camunda_date(self.created_at),
            "processDefinitionId": self.definition_id,
            "processDefinitionKey": self.process_key,
            "processDefinitionVersionTag": None,
            "processInstanceId": str(self.instance_id),
            "tenantId": None,
            "retries": self.retries,
            "workerId": self.worker_id,
            "priority": self.priority,
            "topicName": self.topic,
            "businessKey": self.business_key,
            "variables": to_typed(self.variables),
            "extensionProperties": self.properties,
        }


class ExternalTasks:
    def __init__(
        self,
        db: Database,
        repository: Repository,
        executor: Executor,
        jobs: Jobs,
        history: History,
        clock: Clock,
        poll_seconds: float = 1.0,
    ) -> None:
        self.db = db
        self.repository = repository
        self.executor = executor
        self.jobs = jobs
        self.history = history
        self.clock = clock
        self.poll_seconds = poll_seconds
        self._changed = threading.Condition()
        self._generation = 0  # counts wake-ups, so that one between a look and the wait is not lost

    def wake(self) -> None:
        """New jobs were committed in this process: waiting fetches look again now."""
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    # -- fetching ------------------------------------------------------------------------------

    def fetch_and_lock(self, request: FetchRequest) -> list[LockedTask]:
        """Lock up to ``max_tasks`` due tasks of the topics to the worker; wait up to ``wait_ms`` for one."""
        if not 0 <= request.wait_ms <= MAX_WAIT_MS:
            raise InvalidRequest(f"asyncResponseTimeout must be between 0 and {MAX_WAIT_MS} milliseconds")
        deadline = time.monotonic() + request.wait_ms / 1000
        while True:
            with self._changed:
                generation = self._generation
            locked = self._lock(request)
            remaining = deadline - time.monotonic()
            if locked or remaining <= 0:
                return locked
            with self._changed:
                if self._generation == generation:
                    self._changed.wait(min(remaining, self.poll_seconds))

    def _lock(self, request: FetchRequest) -> list[LockedTask]:
        if request.max_tasks <= 0 or not request.topics:
            return []
        now = self.clock.now()
        due = (
            ServiceJob.kind == EXTERNAL,
            ServiceJob.status == "pending",
            ServiceJob.due_at <= now,
            or_(ServiceJob.claimed_until.is_(None), ServiceJob.claimed_until <= now),
            or_(*(topic.condition() for topic in request.topics)),
        )
        joined = select(ServiceJob.id).join(ProcessInstance, ProcessInstance.id == ServiceJob.instance_id)
        with self.db.read() as session:  # a waiting fetch looks often: only a read while there is nothing
            if session.scalar(joined.where(*due).limit(1)) is None:
                return []
        order = [ServiceJob.priority.desc()] if request.use_priority else []
        created = ServiceJob.created_at.desc() if request.newest_first else ServiceJob.created_at
        query = (
            select(ServiceJob, ProcessInstance)
            .join(ProcessInstance, ProcessInstance.id == ServiceJob.instance_id)
            .where(*due)
            .order_by(*order, created, ServiceJob.id)
            .limit(request.max_tasks)
        )
        if not self.db.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=ServiceJob)
        with self.db.write() as session:
            locked = []
            for job, instance in session.execute(query).all():
                topic = next(t for t in request.topics if t.matches(job, instance))
                job.claimed_by = request.worker_id
                job.claimed_until = now + timedelta(milliseconds=topic.lock_ms)
                job.attempts += 1
                locked.append(self._locked(session, job, instance, topic))
            return locked

    def _locked(self, session: Session, job: ServiceJob, instance: ProcessInstance, topic: Topic) -> LockedTask:
        definition = self.repository.load(instance.definition_id)
        workflow = state.load(instance.state, definition.spec, definition.subprocess_specs, self.executor.script_engine)
        task = task_of(workflow, job.task_guid)
        own = dict(task.internal_data.get(CALL_KEY, {})) if task is not None else dict(job.arguments)
        variables = own if topic.local_only else {**(task.data if task is not None else {}), **own}
        if topic.variables is not None:
            variables = {name: value for name, value in variables.items() if name in topic.variables}
        spec = task.task_spec if task is not None else None
        return LockedTask(
            id=job.id,
            topic=job.operation,
            worker_id=job.claimed_by,
            lock_expires_at=job.claimed_until,
            created_at=job.created_at,
            instance_id=instance.id,
            definition_id=definition_id(instance.process_key, instance.definition_version),
            process_key=job.process_key,
            element_id=job.element_id,
            execution_id=job.task_guid,
            business_key=instance.business_key,
            retries=job.retries,
            error_message=job.last_error,
            error_details=job.error_details,
            priority=job.priority,
            variables=variables,
            properties=dict(getattr(spec, "properties", {})) if topic.include_properties else {},
        )

    # -- reports of the worker -----------------------------------------------------------------

    def complete(self, task_id: str, worker_id: str, variables: dict, principal: str) -> None:
        """The worker is done: merge its variables into the instance, complete the task, run on."""

        def apply(session, row, job, task):
            task.data.update(variables)
            task.complete()
            job.status, job.finished_at, job.claimed_until = "completed", self.clock.now(), None
            self.history.record(
                session, row.id, "external_task_completed", principal, element_id=job.element_id, worker=worker_id
            )

        self._report(task_id, worker_id, "completed", apply, principal)

    def failure(
        self,
        task_id: str,
        worker_id: str,
        *,
        error_message: str | None,
        error_details: str | None,
        retries: int,
        retry_timeout_ms: int,
        variables: dict,
        principal: str,
    ) -> None:
        """The worker failed: with retries left the task is fetchable again after the timeout, else an incident."""
        if retries < 0 or retry_timeout_ms < 0:
            raise InvalidRequest("retries and retryTimeout must be 0 or more")

        def apply(session, row, job, task):
            task.data.update(variables)
            job.retries, job.last_error, job.error_details = retries, error_message, error_details
            if retries > 0:  # the lock stays with this worker until the retry timeout has passed
                job.claimed_until = self.clock.now() + timedelta(milliseconds=retry_timeout_ms)
                self.history.record(
                    session,
                    row.id,
                    "external_task_failed",
                    principal,
                    element_id=job.element_id,
                    worker=worker_id,
                    retries=retries,
                    message=error_message,
                )
                return
            message = error_message or f"external task '{job.operation}' failed (worker {worker_id})"
            self.jobs.fail(session, row, job, ExternalTaskFailed(message), message, principal)

        self._report(task_id, worker_id, "failed", apply, principal)

    def bpmn_error(
        self, task_id: str, worker_id: str, code: str, message: str | None, variables: dict, principal: str
    ) -> None:
        """The worker reports a business error: thrown at the task for an error boundary event."""

        def apply(session, row, job, task):
            task.data.update(variables)
            self.jobs.throw(session, row, job, task, BpmnError(code, message or ""), principal, variables)

        self._report(task_id, worker_id, "reported with a BPMN error", apply, principal)

    def _report(self, task_id: str, worker_id: str, verb: str, apply, principal: str) -> None:
        job_id = _job_id(task_id)
        with self.db.read() as session:
            job = session.get(ServiceJob, job_id)
            if job is None or job.kind != EXTERNAL or job.status not in ("pending", "failed"):
                raise NotFound(f"External task with id {task_id} does not exist")
            instance_id = job.instance_id

        def change(session, row, workflow, definition):
            job = session.get(ServiceJob, job_id, populate_existing=True)
            _check_lock(job, task_id, worker_id, verb, self.clock.now(), expired_ok=True)
            task = task_of(workflow, job.task_guid)
            if task is None or task.state != TaskState.STARTED:
                raise NotFound(f"External task with id {task_id} does not exist")
            apply(session, row, job, task)

        self.executor.mutate(instance_id, change, principal)

    def unlock(self, task_id: str) -> None:
        """Drop the task's lock, whoever holds it (Camunda's unlock): it is fetchable again at once."""
        with self.db.write() as session:
            job = session.get(ServiceJob, _job_id(task_id), with_for_update=True)
            if job is None or job.kind != EXTERNAL or job.status not in ("pending", "failed"):
                raise NotFound(f"External task with id {task_id} does not exist")
            job.claimed_by = job.claimed_until = None

    def extend_lock(self, task_id: str, worker_id: str, new_duration_ms: int) -> None:
        """Lock the task for ``new_duration_ms`` from now; only its worker, and only before the lock expired."""
        if new_duration_ms <= 0:
            raise InvalidRequest("newDuration must be a positive number of milliseconds")
        job_id = _job_id(task_id)
        now = self.clock.now()
        with self.db.write() as session:
            job = session.get(ServiceJob, job_id, with_for_update=True)
            _check_lock(job, task_id, worker_id, "extended", now, expired_ok=False)
            job.claimed_until = now + timedelta(milliseconds=new_duration_ms)


def _job_id(task_id: str) -> int:
    if not task_id.isdigit():
        raise NotFound(f"External task with id {task_id} does not exist")
    return int(task_id)


def _check_lock(job: ServiceJob | None, task_id: str, worker_id: str, verb: str, now, expired_ok: bool) -> None:
    if job is None or job.kind != EXTERNAL or job.status not in ("pending", "failed"):
        raise NotFound(f"External task with id {task_id} does not exist")
    if job.status == "failed":
        raise LockViolation(f"External task {task_id} has no retries left: its incident must be retried first")
    if job.claimed_by != worker_id:
        holder = f"it is locked by worker '{job.claimed_by}'" if job.claimed_by else "it is not locked"
        raise LockViolation(f"External task {task_id} cannot be {verb} by worker '{worker_id}': {holder}")
    if not expired_ok and (job.claimed_until is None or job.claimed_until <= now):
        raise LockViolation(f"The lock of external task {task_id} expired; fetch and lock it again")
