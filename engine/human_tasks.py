"""The human-task read model: ready user and manual tasks mirrored into rows after every step.

Task lists, filters and claims work on these rows only; the workflow is loaded when a task
is completed, never to list tasks.

A step writes its task rows with SQLAlchemy Core statements (new tasks and their candidates in one
INSERT each, closed ones in one UPDATE each), not through the ORM's unit of work, which costs more
Python per row than the statement itself (#21). The row objects it hands back stay in the session as
if loaded: a later change to one in the same transaction is written as usual.
"""

from __future__ import annotations

import functools
import logging

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Update, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from engine import row_writes, timer_rows, write_batch
from engine.clock import Clock
from engine.expressions import Expression
from engine.history import History
from engine.models import HumanTask, HumanTaskCandidate, ProcessInstance
from engine.repository import LoadedDefinition

log = logging.getLogger(__name__)
EXCLUDED = "excluded"  # a candidate row naming someone who may not claim or complete the task (``excluded_users``)


def ready_human_tasks(workflow: BpmnWorkflow) -> list:
    """READY tasks that wait for a person, including those inside subprocesses and call activities."""
    return workflow.get_tasks(state=TaskState.READY, manual=True)


def sync(
    session: Session,
    instance: ProcessInstance,
    ready_tasks: list,
    definition: LoadedDefinition,
    principal: str,
    history: History,
    clock: Clock,
    none_stored: bool = False,
    stored_guids: list[str] | None = None,
) -> list[HumanTask]:
    """Make the open rows of one instance match its ready tasks (:func:`ready_human_tasks`); returns the open rows.

    ``stored_guids`` (from the instance's digest, :mod:`engine.read_models`) names the tasks that may
    have open rows; without it every open row of the instance is read.
    """
    ready = {str(task.id): task for task in ready_tasks}
    if none_stored:
        open_rows = []
    elif stored_guids is not None:
        open_rows = _open_rows_of(session, instance.id, stored_guids)
    else:
        open_rows = open_tasks(session, instance.id)
    known = {row.task_guid for row in open_rows}
    gone = [row for row in open_rows if row.task_guid not in ready]
    if gone:
        close(session, gone, "cancelled", clock.now())
        for row in gone:
            history.record(
                session, instance.id, "task_cancelled", principal, element_id=row.element_id, human_task_id=row.id
            )
    result = [row for row in open_rows if row.task_guid in ready]
    new_rows = [_new_row(instance, task, definition, clock) for guid, task in ready.items() if guid not in known]
    if new_rows:
        _insert(session, new_rows)
        for row in new_rows:
            history.record(
                session, instance.id, "task_created", principal, element_id=row.element_id, human_task_id=row.id
            )
        result.extend(new_rows)
    return result


def close(session: Session, rows: list[HumanTask], status: str, at, by: str | None = None) -> None:
    """Move open tasks to ``status`` (completed or cancelled), their candidate rows with them.

    A completed task's draft (unfinished form input) goes; a cancelled one keeps it.
    """
    values = {"status": status, "completed_at": at}
    if by is not None:
        values["completed_by"] = by
    if status == "completed":
        values["draft"] = None
    ids = [row.id for row in rows]
    connection = session.connection()
    parameters = {"ids": ids, **{f"new_{k}": v for k, v in values.items()}}
    write_batch.execute(connection, _close_statement(tuple(values)), parameters)
    if any("candidates" not in row.__dict__ or row.candidates for row in rows):  # loaded and empty: nothing to close
        write_batch.execute(connection, _close_candidates_statement(), {"ids": ids})
    for row in rows:  # the objects say what the rows say now, without an UPDATE of their own at the next flush
        for name, value in values.items():
            set_committed_value(row, name, value)
        for candidate in row.__dict__.get("candidates", ()):  # only those loaded already: no lazy load here
            set_committed_value(candidate, "task_open", False)


@functools.cache
def _close_statement(keys: tuple[str, ...]) -> Update:
    tasks = HumanTask.__table__
    where = tasks.c.id.in_(bindparam("ids", expanding=True))
    return update(tasks).where(where).values({tasks.c[key]: bindparam(f"new_{key}") for key in keys})


@functools.cache
def _close_candidates_statement() -> Update:
    candidates = HumanTaskCandidate.__table__
    where = candidates.c.task_id.in_(bindparam("ids", expanding=True)), candidates.c.task_open
    return update(candidates).where(*where).values(task_open=False)


def _insert(session: Session, rows: list[HumanTask]) -> None:
    """Insert new task rows, then their candidates (one statement each), and keep them all in the session."""
    row_writes.insert_new(session, rows, then_keep=False)  # the candidates need the tasks' ids first
    candidates = []
    for row in rows:
        for candidate in row.candidates:
            candidate.task_id = row.id
            candidates.append(candidate)
    row_writes.insert_new(session, candidates)
    row_writes.keep(session, rows)


def _new_row(instance: ProcessInstance, task, definition: LoadedDefinition, clock: Clock) -> HumanTask:
    spec = task.task_spec
    element_id = spec.bpmn_id or spec.name  # a multi-instance body's spec is named "<id> [child]"
    info = definition.element(task.workflow.spec.name, element_id)
    lane = getattr(spec, "lane", None)
    groups = _resolve(task, info.candidate_groups, True) if info and info.candidate_groups else ([lane] if lane else [])
    users = _resolve(task, info.candidate_users, True) if info else []
    excluded = _resolve(task, info.excluded_users, True) if info else []
    assignee = _resolve(task, (info.assignee,), False) if info and info.assignee else []
    row = HumanTask(
        instance_id=instance.id,
        task_guid=str(task.id),
        element_id=element_id,
        name=spec.bpmn_name or spec.name,
        process_key=instance.process_key,
        lane=lane,
        assignee=assignee[0] if assignee else None,
        form_key=info.form_key if info else None,
        status="open",
        created_at=clock.now(),
        due_at=timer_rows.human_task_due_at(task, info, clock.now()),
        completed_at=None,
        completed_by=None,
        draft=None,
    )
    row.candidates = (
        [HumanTaskCandidate(kind="group", name=g, task_open=True) for g in dict.fromkeys(groups)]
        + [HumanTaskCandidate(kind="user", name=u, task_open=True) for u in dict.fromkeys(users)]
        + [HumanTaskCandidate(kind=EXCLUDED, name=u, task_open=True) for u in dict.fromkeys(excluded)]
    )
    return row


def _resolve(task, values: tuple[str | Expression, ...], candidates: bool) -> list[str]:
    """Names as written, or computed from task data when written as an expression: ``${owner}``, ``=team``.

    An expression may give one name or a list; for candidates, text is split at commas, as Camunda
    does.  One that fails leaves the name out (the task stays reachable through its other
    candidates) and is logged for the designer.
    """
    names: list[str] = []
    for value in values:
        if not isinstance(value, Expression):
            names.append(value)
            continue
        try:
            result = task.workflow.script_engine.evaluate(task, value.python)
        except Exception as error:
            log.warning("task %s: assignment expression %r failed: %s", task.task_spec.name, value.source, error)
            continue
        if isinstance(result, list | tuple):
            items = result
        elif candidates and isinstance(result, str):
            items = result.split(",")
        else:
            items = [result]
        names.extend(str(item).strip() for item in items if item is not None and str(item).strip())
    return names


# Built once: a step reads the open tasks of its instance that its session does not hold yet.
_OPEN_TASKS_OF = (
    select(HumanTask)
    .where(HumanTask.instance_id == bindparam("instance"), HumanTask.status == "open")
    .order_by(HumanTask.id)
)
_OPEN_TASKS_WITH_GUIDS = select(HumanTask).where(
    HumanTask.instance_id == bindparam("instance"),
    HumanTask.status == "open",
    HumanTask.task_guid.in_(bindparam("guids", expanding=True)),
)


def _open_rows_of(session: Session, instance_id: int, guids: list[str]) -> list[HumanTask]:
    """The open rows of these tasks: those the step has in its session already (the task it completes) are
    not read again; the others in one query."""
    in_session: dict[str, HumanTask] = {}
    for row in session.identity_map.values():
        ours = isinstance(row, HumanTask) and row.instance_id == instance_id and row.task_guid in guids
        if ours and (row.task_guid not in in_session or row.status == "open"):
            in_session[row.task_guid] = row
    rows = list(in_session.values())
    missing = [guid for guid in guids if guid not in in_session]
    if missing:
        rows.extend(session.scalars(_OPEN_TASKS_WITH_GUIDS, {"instance": instance_id, "guids": missing}))
    return sorted((row for row in rows if row.status == "open"), key=lambda row: row.id)


def open_tasks(session: Session, instance_id: int) -> list[HumanTask]:
    return list(session.scalars(_OPEN_TASKS_OF, {"instance": instance_id}))
