"""The timer read model: a durable row behind every timer an instance waits for, written after every step.

:func:`sync` is called by :class:`engine.execution.Executor` at the end of each step, in the same
transaction as the instance row: new timers become ``pending`` rows, timers that fired become
``fired`` (one row per occurrence, so a cycle leaves one row per firing), timers whose task went
away become ``cancelled``. The timer service (:mod:`engine.timers`) claims and fires these rows;
this module holds only what the executor writes, so the two do not import each other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from engine import row_writes, write_batch
from engine.clock import Clock
from engine.expressions import Expression
from engine.history import History
from engine.models import ProcessInstance, Timer
from engine.timer_specs import (
    ClockCycleTimerEventDefinition,
    ClockTimer,
    duration_from,
    is_iso_literal,
    parse_datetime,
    take_fired,
    timer_definitions,
)

log = logging.getLogger(__name__)

TIMER_PRINCIPAL = "timer"
NOTIFY_CHANNEL = "carecenter_timers"  # PostgreSQL: new timer rows are announced here at commit
_NOTIFY = text("SELECT pg_notify(:channel, :due)")
NOTIFY_WINDOW = timedelta(minutes=5)  # ... when due sooner than this (longer than any sensible poll)
_PENDING_READ = "carecenter_pending_timers"  # session.info: pending rows read for an instance in this transaction


@dataclass(frozen=True)
class WaitingTimer:
    task_guid: str
    element_id: str
    element_name: str
    kind: str
    due_at: datetime
    occurrence: int


def _kind(task_spec) -> str:
    if isinstance(task_spec, BoundaryEvent):
        return "boundary"
    if isinstance(task_spec, StartEvent):
        return "start"
    return "intermediate"


def _element(definition: ClockTimer, task) -> tuple[str, str]:
    """Element id and name of a timer; an event-based gateway holds the timers of the events after it."""
    element_id = getattr(definition, "element_id", None) or task.task_spec.name
    if element_id == task.task_spec.name:
        return element_id, task.task_spec.bpmn_name or element_id
    return element_id, definition.name or element_id


def waiting_timers(workflow) -> list[WaitingTimer]:
    """Every timer the workflow waits for, with its next due time (subprocesses and call activities too)."""
    result = []
    for task in list(workflow.event_manager.tasks.values()):
        if task.state != TaskState.WAITING:
            continue
        for definition in timer_definitions(getattr(task.task_spec, "event_definition", None)):
            due = definition.due_at(task)
            if due is None:
                continue
            element_id, name = _element(definition, task)
            result.append(
                WaitingTimer(str(task.id), element_id, name, _kind(task.task_spec), due, definition.occurrence(task))
            )
    return result


def sync(
    session: Session, instance: ProcessInstance, workflow, history: History, clock: Clock, none_stored: bool = False
) -> list[datetime]:
    """Make the timer rows of one instance match its waiting timers; returns the due times of new rows.

    Changed rows are written by primary key and new ones in one INSERT, with Core statements
    (:mod:`engine.row_writes`); the loaded row objects say what their rows say afterwards.
    """
    now = clock.now()
    fired = take_fired(workflow)
    waiting = {(w.task_guid, w.due_at): w for w in waiting_timers(workflow)}
    still_waiting = {w.task_guid for w in waiting.values()}
    rows = [] if none_stored else pending_rows(session, instance.id, consume=True)
    pending = {(row.task_guid, row.due_at): row for row in rows}
    inserts = []
    for occurrence in fired:
        row = pending.pop((occurrence.task_guid, occurrence.due_at), None)
        if row is None:  # fired as soon as it was reached (its due time had passed already)
            task = _find_task(workflow, occurrence.task_guid)
            kind = _kind(task.task_spec) if task is not None else "intermediate"
            name = _element_name(task, occurrence.element_id)
            timer = WaitingTimer(
                occurrence.task_guid, occurrence.element_id, name, kind, occurrence.due_at, occurrence.occurrence
            )
            inserts.append(_instance_row(instance, timer, now) | {"status": "fired", "fired_at": now})
        else:
            row.status = "fired"
            row.fired_at = now
            row_writes.write_changes(session, row)
        details = {"due_at": occurrence.due_at.isoformat(), "occurrence": occurrence.occurrence}
        if occurrence.skipped:
            details["skipped_occurrences"] = occurrence.skipped
        history.record(
            session, instance.id, "timer_fired", TIMER_PRINCIPAL, element_id=occurrence.element_id, **details
        )
    for key, row in pending.items():
        if key not in waiting:
            # a cycle still waiting for a later occurrence dropped this one (catch-up cap); else the task went away
            row.status = "skipped" if row.task_guid in still_waiting else "cancelled"
            row.fired_at = None
            row_writes.write_changes(session, row)
    new = [w for key, w in waiting.items() if key not in pending]
    inserts.extend(_instance_row(instance, timer, now) for timer in new)
    if inserts:
        row_writes.insert_values(session, Timer.__table__, inserts)
    if new:
        notify(session, min(timer.due_at for timer in new), now)
    return [timer.due_at for timer in new]


_PENDING_OF = (  # built once: every timer firing reads them
    select(Timer).where(Timer.instance_id == bindparam("instance"), Timer.status == "pending").order_by(Timer.id)
)


def pending_rows(session: Session, instance_id: int, consume: bool = False) -> list[Timer]:
    """The pending timer rows of an instance, read once per step: firing a timer reads them before the step,
    and :func:`sync` (``consume``) takes that read instead of repeating it."""
    read: dict[int, list[Timer]] = session.info.setdefault(_PENDING_READ, {})
    rows = read.pop(instance_id, None) if consume else None
    if rows is None:
        rows = list(session.scalars(_PENDING_OF, {"instance": instance_id}))
        if not consume:
            read[instance_id] = rows
    return rows


def notify(session: Session, due: datetime, now: datetime) -> None:
    """On PostgreSQL, tell listening workers (at commit) that a timer falls due before their next poll.

    Later timers need no notice: every worker looks again at least once per poll interval.
    """
    if due - now <= NOTIFY_WINDOW and session.get_bind().dialect.name == "postgresql":
        write_batch.execute(session.connection(), _NOTIFY, {"channel": NOTIFY_CHANNEL, "due": due.isoformat()})


def human_task_due_at(task, info, now: datetime) -> datetime | None:
    """When a user task is due: its ``due`` property (ISO 8601 or an expression over task data), else the
    earliest of its boundary timers (repeating ones are reminders, not deadlines)."""
    due = info.due if info is not None else None
    if due:
        try:
            if isinstance(due, Expression):
                value = task.workflow.script_engine.evaluate(task, due.python)
            else:
                value = due if is_iso_literal(due) else task.workflow.script_engine.evaluate(task, due)
            if isinstance(value, datetime):
                return value if value.tzinfo else value.replace(tzinfo=UTC)
            value = str(value).strip()
            return now + duration_from(value, now) if value.upper().startswith("P") else parse_datetime(value)
        except Exception as error:  # a wrong due date must not stop the task from being offered
            source = due.source if isinstance(due, Expression) else due
            log.warning("due date '%s' of task %s could not be read: %s", source, task.task_spec.name, error)
            return None
    parent = task.parent
    if parent is None or not isinstance(parent.task_spec, BoundaryEventSplit):
        return None
    dues = [
        definition.due_at(sibling)
        for sibling in parent.children
        if sibling is not task
        for definition in timer_definitions(getattr(sibling.task_spec, "event_definition", None))
        if not isinstance(definition, ClockCycleTimerEventDefinition)
    ]
    dues = [due for due in dues if due is not None]
    return min(dues) if dues else None


def _find_task(workflow, guid: str):
    try:
        return workflow.get_task_from_id(UUID(guid))
    except Exception:  # removed from the tree meanwhile (a deleted subprocess)
        return None


def _element_name(task, element_id: str) -> str:
    if task is not None and task.task_spec.name == element_id:
        return task.task_spec.bpmn_name or element_id
    return element_id


def _instance_row(instance: ProcessInstance, timer: WaitingTimer, now: datetime) -> dict:
    """The values of a new pending row (every row of one step has the same columns: one INSERT for all)."""
    return {
        "instance_id": instance.id,
        "definition_id": instance.definition_id,
        "process_key": instance.process_key,
        "element_id": timer.element_id,
        "element_name": timer.element_name[:300],
        "kind": timer.kind,
        "task_guid": timer.task_guid,
        "due_at": timer.due_at,
        "occurrence": timer.occurrence,
        "status": "pending",
        "attempts": 0,
        "created_at": now,
        "fired_at": None,
    }
