"""The service-job read model: the row behind every waiting service task, written after every step.

When a step leaves an instance at a service task (``STARTED``, see :mod:`engine.service_specs`),
:func:`sync` writes a ``service_jobs`` row in the same transaction as the instance: the operation,
its evaluated arguments and a stable idempotency key. The job service (:mod:`engine.jobs`) claims
and runs these rows; this module holds only what the executor writes, so the two do not import
each other.
"""

from __future__ import annotations

import json

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from engine import write_batch
from engine.clock import Clock
from engine.models import ProcessInstance, ServiceJob
from engine.service_specs import CALL_KEY, CareServiceTask, runs_outside
from process_library.registry import Registry

NOTIFY_CHANNEL = "carecenter_jobs"  # PostgreSQL: jobs made due are announced here at commit
_NOTIFY = text("SELECT pg_notify(:channel, '')")
OPERATION, EXTERNAL = "operation", "external"  # who runs a job: carecenter's worker, or an outside one
# Built once (every step of a process with service tasks reads them): an instance's open jobs, and how many
# jobs one of its elements had (the count of calls, for the idempotency key of the next).
_OPEN_JOBS_OF = select(ServiceJob).where(
    ServiceJob.instance_id == bindparam("instance"), ServiceJob.status.in_(("pending", "failed"))
)
_CALLS_OF_ELEMENT = (
    select(func.count())
    .select_from(ServiceJob)
    .where(ServiceJob.instance_id == bindparam("instance"), ServiceJob.element_id == bindparam("element"))
)


def waiting_service_tasks(workflow) -> list:
    return [t for t in workflow.get_tasks(state=TaskState.STARTED) if isinstance(t.task_spec, CareServiceTask)]


def sync(
    session: Session,
    instance: ProcessInstance,
    workflow,
    clock: Clock,
    operations: Registry | None,
    none_stored: bool = False,
) -> int:
    """Make the job rows of one instance match its waiting service tasks; returns how many rows are new.

    A new row is for carecenter's worker, or, for a Camunda external task whose topic is not one of
    ``operations``, for outside workers (kind ``external``).
    """
    now = clock.now()
    waiting = {str(task.id): task for task in waiting_service_tasks(workflow)}
    rows = [] if none_stored else session.scalars(_OPEN_JOBS_OF, {"instance": instance.id})
    open_rows = {row.task_guid: row for row in rows}
    for guid, row in open_rows.items():
        if guid not in waiting:  # the task went away: cancelled, or interrupted by a boundary event
            row.status, row.finished_at, row.claimed_by, row.claimed_until = "cancelled", now, None, None
    new = [task for guid, task in waiting.items() if guid not in open_rows]
    for task in new:
        spec = task.task_spec
        outside = runs_outside(spec, operations)
        calls = session.scalar(_CALLS_OF_ELEMENT, {"instance": instance.id, "element": spec.bpmn_id})
        session.add(
            ServiceJob(
                instance_id=instance.id,
                process_key=instance.process_key,
                element_id=spec.bpmn_id,
                element_name=spec.bpmn_name or spec.bpmn_id,
                task_guid=str(task.id),
                operation=spec.operation_name,
                arguments=json_safe(task.internal_data.get(CALL_KEY, {})),
                result_variable=spec.result_variable,
                # stable for every try of this call; the n-th call of the element (a loop, a multi-instance) differs
                idempotency_key=f"cc-{instance.id}-{spec.bpmn_id}-{calls + 1}",
                kind=EXTERNAL if outside else OPERATION,
                priority=spec.priority,
                # what an outside worker is told at the first fetch: a Camunda 8 job's retries, Camunda 7's none
                retries=spec.initial_retries if outside else None,
                status="pending",
                attempts=0,
                max_attempts=spec.max_attempts,
                backoff_seconds=spec.backoff_seconds,
                due_at=now,
                created_at=now,
            )
        )
        session.flush()
    if new:
        notify(session)
    return len(new)


def notify(session: Session) -> None:
    """On PostgreSQL, wake listening workers of every process (at commit) for a job due now."""
    if session.get_bind().dialect.name == "postgresql":
        write_batch.execute(session.connection(), _NOTIFY, {"channel": NOTIFY_CHANNEL})


def json_safe(value: dict) -> dict:
    return json.loads(json.dumps(value, default=str))
