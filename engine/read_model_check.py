"""Recompute an instance's read models from its stored workflow and compare them with the rows written.

The executor keeps the human-task, timer, job, subscription and customer-status rows up to date
step by step, writing only what changed. This module derives the same rows from scratch, from
nothing but the stored state, so that a test (or an operator who doubts a row) can check that the
incremental writes never drifted from what the workflow says.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import human_tasks, job_rows, message_rows, state, status, timer_rows
from engine.models import CustomerStatus, HumanTask, MessageSubscription, ProcessInstance, ServiceJob, Timer
from engine.repository import Repository

OPEN_JOB_STATUSES = ("pending", "failed")


def mismatches(session: Session, repository: Repository, script_engine, instance_id: int) -> list[str]:
    """What the stored read-model rows of one instance get wrong; empty when they match its workflow."""
    row = session.get(ProcessInstance, instance_id)
    definition = repository.load(row.definition_id)
    workflow = state.load(row.state, definition.spec, definition.subprocess_specs, script_engine)
    found: list[str] = []
    ended = row.status == "cancelled" or workflow.is_completed()

    def differ(what: str, expected: object, stored: object) -> None:
        if expected != stored:
            found.append(f"instance {instance_id}: {what}: the workflow says {expected!r}, the rows say {stored!r}")

    if row.status == "completed" or (workflow.is_completed() and row.status not in ("cancelled", "failed")):
        differ("status", "completed" if workflow.is_completed() else "not completed", row.status)

    open_rows = list(
        session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.status == "open"))
    )
    ready = {} if row.status == "cancelled" else {str(t.id): t for t in human_tasks.ready_human_tasks(workflow)}
    differ(
        "open human tasks",
        sorted((guid, task.task_spec.bpmn_id or task.task_spec.name) for guid, task in ready.items()),
        sorted((task.task_guid, task.element_id) for task in open_rows),
    )

    pending = session.scalars(select(Timer).where(Timer.instance_id == instance_id, Timer.status == "pending"))
    waiting = [] if row.status == "cancelled" else timer_rows.waiting_timers(workflow)
    differ(
        "pending timers",
        sorted((w.task_guid, w.element_id, w.due_at.isoformat()) for w in waiting),
        sorted((t.task_guid, t.element_id, t.due_at.isoformat()) for t in pending),
    )

    open_jobs = session.scalars(
        select(ServiceJob).where(ServiceJob.instance_id == instance_id, ServiceJob.status.in_(OPEN_JOB_STATUSES))
    )
    calls = [] if row.status == "cancelled" else job_rows.waiting_service_tasks(workflow)
    differ(
        "open service jobs",
        sorted((str(t.id), t.task_spec.bpmn_id) for t in calls),
        sorted((j.task_guid, j.element_id) for j in open_jobs),
    )

    subscriptions = session.scalars(select(MessageSubscription).where(MessageSubscription.instance_id == instance_id))
    catches = [] if ended else message_rows.waiting_catches(workflow)
    differ(
        "message subscriptions",
        sorted(
            (str(t.id), kind, name, sorted(message_rows.correlation_of(t, d).items())) for t, kind, name, d in catches
        ),
        sorted((s.task_guid, s.kind, s.name, sorted((s.correlation or {}).items())) for s in subscriptions),
    )

    shown = session.get(CustomerStatus, instance_id)
    if shown is None:
        found.append(f"instance {instance_id}: no customer status row")
    else:
        stage = status.current_stage(workflow, definition)
        differ("customer stage", stage, shown.stage)
        differ("customer status", status.status_of(row, workflow, definition.customer, stage, open_rows), shown.status)
    return found
