"""The customer's status read model: written after every step, read without loading a workflow.

:func:`sync` runs in :meth:`engine.execution.Executor.advance`, in the same transaction as the
instance row.  It works out the current stage (the stage of the newest active node that marks
one, else the furthest stage reached), the customer-facing status, the message (rendered here
with the ``customer_fields`` only) and the expected-by time:

- ``cancelled`` / ``completed`` when the instance is; an instance with an incident stays ``in_progress``;
- ``waiting_for_you`` while a user task in lane ``customer`` is open;
- ``received`` while the first stage is current (without stages: until the first human task is done);
- else ``in_progress``.

Expected-by is the earliest of the pending timers and open human-task due dates on elements marked
``customer_deadline="true"``.

The whitelisted ``customer_fields`` are copied into the row too (``fields``), with their values
reduced to what a page shows (text, numbers, yes/no, dates), so :func:`view` can show them
labelled without loading the workflow; no other variable is ever read into the row.
"""

from __future__ import annotations

import math
from datetime import date, datetime

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from engine import events, forms, row_writes, templating
from engine.models import CustomerStageEvent, CustomerStatus, HumanTask, ProcessInstance, Timer
from engine.repository import LoadedDefinition

CUSTOMER_LANE = "customer"
STATUSES = ("received", "in_progress", "waiting_for_you", "completed", "cancelled")
ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
MAX_FIELD_CHARS = 500  # a whitelisted text longer than this is cut on the status page
CUSTOMER_ID_LENGTH = ProcessInstance.__table__.c.customer_id.type.length
COMPUTED_COLUMNS = ("stage", "customer_id", "title", "status", "message", "fields", "expected_by")
# Built once (a step of a process with stages or deadlines runs them): the stage the instance is in, and the due
# times of its pending timers on deadline elements.
_OPEN_STAGE_EVENT = (
    select(CustomerStageEvent)
    .where(CustomerStageEvent.instance_id == bindparam("instance"), CustomerStageEvent.left_at.is_(None))
    .order_by(CustomerStageEvent.id.desc())
    .limit(1)
)
_PENDING_DEADLINES = select(Timer.due_at).where(
    Timer.instance_id == bindparam("instance"),
    Timer.status == "pending",
    Timer.element_id.in_(bindparam("elements", expanding=True)),
)


def current_stage(workflow: BpmnWorkflow, definition: LoadedDefinition) -> str | None:
    model = definition.customer
    if not model.stages:
        return None
    marked = [t for t in workflow.get_tasks() if t.task_spec.name in model.element_stages]
    active = [t for t in marked if t.state & ACTIVE]
    if active:
        newest = max(active, key=lambda t: t.last_state_change)
        return model.element_stages[newest.task_spec.name]
    done = [model.element_stages[t.task_spec.name] for t in marked if t.state == TaskState.COMPLETED]
    if done:
        return max(done, key=model.index)
    return model.stages[0].key


def customer_data(workflow: BpmnWorkflow, definition: LoadedDefinition) -> dict:
    """The whitelisted variables, from the newest task's data (the workflow's own data where it has none)."""
    return _newest_values(workflow, definition.customer.fields)


def named_customer(workflow: BpmnWorkflow, definition: LoadedDefinition) -> str | None:
    """The customer the process's ``customer_variable`` names now, if it names one (a non-empty text that fits)."""
    name = definition.customer.customer_variable
    value = _newest_values(workflow, (name,)).get(name) if name else None
    customer_id = value.strip() if isinstance(value, str) else ""
    return customer_id if 0 < len(customer_id) <= CUSTOMER_ID_LENGTH else None


def _newest_values(workflow: BpmnWorkflow, names: tuple[str, ...]) -> dict:
    if not names:  # nothing asked: no need to look for the newest task
        return {}
    tasks = workflow.get_tasks(state=ACTIVE) or workflow.get_tasks(state=TaskState.COMPLETED)
    newest = max(tasks, key=lambda t: t.last_state_change).data if tasks else {}
    found = {}
    for name in names:
        if name in newest:
            found[name] = newest[name]
        elif name in workflow.data:
            found[name] = workflow.data[name]
    return found


def shown_fields(workflow: BpmnWorkflow, definition: LoadedDefinition) -> dict:
    """The whitelisted variables as the status page shows them: text (cut), numbers, yes/no and dates only.

    A value of another kind (a list, a mapping, an object) is left out rather than shown in part.
    """
    shown: dict = {}
    for name, value in customer_data(workflow, definition).items():
        if isinstance(value, bool) or (isinstance(value, int | float) and math.isfinite(value)):
            shown[name] = value
        elif isinstance(value, str):
            shown[name] = value[:MAX_FIELD_CHARS]
        elif isinstance(value, date):  # datetime too
            shown[name] = value.isoformat()
    return shown


def sync(
    session: Session,
    row: ProcessInstance,
    workflow: BpmnWorkflow,
    definition: LoadedDefinition,
    open_tasks: list[HumanTask],
    now: datetime,
    new_instance: bool = False,
) -> CustomerStatus:
    model = definition.customer
    status = None if new_instance else session.get(CustomerStatus, row.id)
    creating = False
    if status is None:
        status = CustomerStatus(
            instance_id=row.id,
            tracking_code=row.tracking_code,
            reference=row.reference,
            customer_id=row.customer_id,
            process_key=row.process_key,
            title=definition.name,
            started_at=row.started_at,
            status="received",
            updated_at=now,
        )
        creating = True
    stage = current_stage(workflow, definition)
    if stage is not None and stage != status.stage:
        # ``status`` came with the instance's lock, and may be older than the step that committed while this
        # one waited for the lock (engine.execution._lock_statement): the open stage event, read now, decides.
        previous = None if new_instance else session.scalar(_OPEN_STAGE_EVENT, {"instance": row.id})
        if previous is None or previous.stage != stage:
            if previous is not None:
                previous.left_at = now
            session.add(CustomerStageEvent(instance_id=row.id, stage=stage, entered_at=now))
            events.stage_changed(session, row, stage, previous.stage if previous is not None else status.stage, now)
    status.stage = stage
    status.customer_id = row.customer_id  # a contact confirmed later moves to its customer
    status.title = definition.name
    status.status = status_of(row, workflow, model, stage, open_tasks)
    status.message = _message(model.stage(stage), workflow, definition)
    fields = shown_fields(workflow, definition) or None
    if status.fields != fields:  # a new row without fields keeps the column NULL
        status.fields = fields
    status.expected_by = _expected_by(session, row, model.deadline_elements, open_tasks, definition)
    status.updated_at = now
    if creating:
        row_writes.insert_new(session, [status])
    else:
        # Every computed column is written, not only those that differ from the copy in the session: that copy
        # came with the instance's lock and may be older than the row (engine.execution._lock_statement), so a
        # value equal to it may still differ from what another step stored meanwhile.
        for column in COMPUTED_COLUMNS:
            flag_modified(status, column)
        row_writes.write_changes(session, status)
    return status


def status_of(row, workflow, model, stage, open_tasks) -> str:
    """What the customer sees as the state of their request (the customer-status row's ``status``)."""
    if row.status == "cancelled":
        return "cancelled"
    if row.status == "completed":
        return "completed"
    if any(task.lane == CUSTOMER_LANE for task in open_tasks):
        return "waiting_for_you"
    if model.stages:
        return "received" if model.index(stage) <= 0 else "in_progress"
    started = workflow.get_tasks(state=TaskState.COMPLETED, manual=True)
    return "in_progress" if started else "received"


def _message(stage, workflow, definition) -> str | None:
    if stage is None or not stage.message:
        return None
    try:
        return templating.render_text(stage.message, customer_data(workflow, definition))
    except templating.TemplateError:
        return None  # a template that fails at run time shows no message rather than an error


def _message_in(model, texts, status: CustomerStatus, language: str) -> str | None:
    """The current stage's message in ``language``: the catalogs' translation of its template, rendered with the
    fields the row keeps; else the message as rendered at the instance's last change (the model's text)."""
    stage = model.stage(status.stage) if status.stage else None
    translated = texts.get(language, stage.message) if stage is not None and stage.message else None
    if not translated or status.message is None:
        return status.message
    try:
        return templating.render_text(translated, status.fields or {})
    except templating.TemplateError:
        return status.message  # a translation that does not render: the model's own text rather than nothing


def _expected_by(session, row, deadline_elements, open_tasks, definition) -> datetime | None:
    if not deadline_elements:
        return None
    times = list(session.scalars(_PENDING_DEADLINES, {"instance": row.id, "elements": list(deadline_elements)}))
    times += [t.due_at for t in open_tasks if t.due_at is not None and t.element_id in deadline_elements]
    return min(times) if times else None


def view(session: Session, repository, tracking_code: str, language: str = "en") -> dict | None:
    """The customer's view of the instance with ``tracking_code``, or None; reads only read-model rows."""
    status = session.scalar(select(CustomerStatus).where(CustomerStatus.tracking_code == tracking_code))
    if status is None:
        return None
    instance = session.get(ProcessInstance, status.instance_id)
    model = repository.load(instance.definition_id).customer
    texts = repository.texts.of_definition(instance.definition_id)  # the catalogs shipped with the model
    events = list(
        session.scalars(
            select(CustomerStageEvent)
            .where(CustomerStageEvent.instance_id == status.instance_id)
            .order_by(CustomerStageEvent.id)
        )
    )
    entered = {event.stage: event for event in events}  # the newest entry of each stage
    current = model.index(status.stage)
    finished = status.status in ("completed", "cancelled")
    stages = []
    for index, stage in enumerate(model.stages):
        passed = status.status == "completed" or index < current  # the request has moved beyond this stage
        if passed and index > 0 and entered and stage.key not in entered:
            # a path it did not take (Declined when it was approved). Every request was received (the first
            # stage), and rows from before stage events were recorded count as done.
            state = "skipped"
        elif passed:
            state = "done"
        elif index == current and not finished:
            state = "current"
        else:
            state = "upcoming"
        event = entered.get(stage.key)
        stages.append(
            {
                "key": stage.key,
                "label": _label(model, texts, stage.key, language),
                "state": state,
                "entered_at": _iso(event.entered_at) if event and state != "upcoming" else None,
                "left_at": _iso(event.left_at) if event and state != "upcoming" else None,
            }
        )
    tasks = session.scalars(
        select(HumanTask)
        .where(
            HumanTask.instance_id == status.instance_id,
            HumanTask.status == "open",
            HumanTask.lane == CUSTOMER_LANE,
        )
        .order_by(HumanTask.id)
    )
    return {
        "tracking_code": status.tracking_code,
        "reference": status.reference,
        "title": texts.text(language, status.title),
        "status": status.status,
        "stage": status.stage,
        "stages": stages,
        "message": _message_in(model, texts, status, language),
        "fields": _fields(model, texts, status.fields or {}, language),
        "expected_by": _iso(status.expected_by),
        "started_at": _iso(status.started_at),
        "updated_at": _iso(status.updated_at),
        "history": [
            {"stage": e.stage, "label": _label(model, texts, e.stage, language), "entered_at": _iso(e.entered_at)}
            for e in events
        ],
        "tasks": [
            {"id": task.id, "name": texts.text(language, task.name), "due_at": _iso(task.due_at)} for task in tasks
        ],
    }


def _fields(model, texts, values: dict, language: str) -> list[dict]:
    """The whitelisted fields that have a value, in the model's order, each with its label in ``language``."""
    return [
        {"name": name, "label": field_label(texts, name, language), "value": values[name]}
        for name in model.fields
        if name in values
    ]


def field_label(texts, name: str, language: str) -> str:
    """The label of customer field ``name`` in ``language``, as the customer's status page shows it.

    The label is the field's name made readable (``customer_name``: "Customer name"), translated by
    the process's catalogs when they have that text (else the name itself, if they translate it).
    """
    label = forms.field_label(name, {})
    return texts.get(language, label) or texts.get(language, name) or label


def stage_label(repository, definition_id: int, key: str | None, language: str) -> str | None:
    """A stage's label in ``language`` for the definition version an instance runs (None for no stage)."""
    if key is None:
        return None
    model = repository.load(definition_id).customer
    return _label(model, repository.texts.of_definition(definition_id), key, language)


def _label(model, texts, key: str, language: str) -> str:
    """A stage's label: from the model's catalogs, else its ``customer_stage_<language>`` property, else the key."""
    stage = model.stage(key)
    return texts.get(language, key) or (stage.label(language) if stage else key)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
