"""The message side of a step: subscription rows for waiting catches, buffered messages taken, thrown ones stored.

A waiting message or signal catch (receive task, intermediate catch event, boundary event, a
branch of an event-based gateway, an event-subprocess start) is mirrored as a
``message_subscriptions`` row in the same transaction as its instance (:func:`sync`), so that
correlating a message reads indexed rows and never deserializes unrelated instances. A catch
that became active takes a buffered message at once (:func:`take_buffered`); messages the
instance threw are stored for delivery after commit (:func:`thrown_messages`). The message
service (:mod:`engine.messages`) publishes and delivers; this module holds only what the
executor does within a step, so the two do not import each other.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.util import BpmnEvent
from sqlalchemy import bindparam, delete, or_, select
from sqlalchemy.orm import Session

from engine import row_writes, write_batch
from engine.clock import Clock
from engine.history import History
from engine.models import Message, MessageSubscription, ProcessInstance

log = logging.getLogger(__name__)

# Statements of every step that waits on a message, built once (building one costs more than running it).
_SUBSCRIPTIONS_OF = select(MessageSubscription).where(MessageSubscription.instance_id == bindparam("instance"))
_SUBSCRIPTION_ROWS = MessageSubscription.__table__
_DELETE_SUBSCRIPTIONS_OF = delete(_SUBSCRIPTION_ROWS).where(_SUBSCRIPTION_ROWS.c.instance_id == bindparam("instance"))
_DELETE_SUBSCRIPTIONS = delete(_SUBSCRIPTION_ROWS).where(_SUBSCRIPTION_ROWS.c.id.in_(bindparam("ids", expanding=True)))
_BUFFERED_FOR = (
    select(Message)
    .where(
        Message.status == "pending",
        Message.name == bindparam("name"),
        Message.expires_at > bindparam("now"),
        or_(Message.target_instance_id.is_(None), Message.target_instance_id == bindparam("instance")),
    )
    .order_by(Message.id)
)
# On PostgreSQL a message another instance is taking right now is skipped, not waited for.
_BUFFERED_FOR_UPDATE = _BUFFERED_FOR.with_for_update(skip_locked=True)


def waiting_catches(workflow) -> list[tuple[Any, str, str, Any]]:
    """(task, kind, name, event definition) of every waiting message or signal catch.

    An event-based gateway waits for all its branches at once: one entry per message or signal
    branch, all on the gateway's task.  Start events of the instance itself are not catches.
    """
    found = []
    for task in list(workflow.event_manager.tasks.values()):
        spec = task.task_spec
        if isinstance(spec, StartEvent) and task.workflow is workflow:
            continue  # how this instance could have started; not something it waits for
        definition = getattr(spec, "event_definition", None)
        branches = definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]
        for branch in branches:
            if not getattr(branch, "name", None):
                continue  # a catch without a message or signal name cannot be addressed from outside
            if isinstance(branch, MessageEventDefinition):
                found.append((task, "message", branch.name, branch))
            elif isinstance(branch, SignalEventDefinition):
                found.append((task, "signal", branch.name, branch))
    return found


def correlation_of(task, definition) -> dict[str, str]:
    """The values a catch correlates on, from the task data.

    Spiff process correlations (``processVariableCorrelation``: property id -> expression), and
    the process variables a ``correlation_key`` extension property names (comma-separated; in
    ``camunda:properties`` or ``spiffworkflow:properties``), for files without correlations.
    """
    values: dict[str, str] = {}
    named = (getattr(task.task_spec, "extensions", None) or {}).get("correlation_key") or ""
    for variable in (name.strip() for name in named.split(",") if name.strip()):
        if task.data.get(variable) is not None:
            values[variable] = str(task.data[variable])
    for prop in getattr(definition, "process_correlations", None) or []:
        try:
            values[prop.name] = str(task.workflow.script_engine.evaluate(task, prop.retrieval_expression))
        except Exception as error:  # an unset variable: the catch matches messages without this key only
            log.debug("correlation %s of %s not evaluable: %s", prop.name, task.task_spec.name, error)
    return values


def sync(session: Session, instance: ProcessInstance, workflow, clock: Clock, none_stored: bool = False) -> None:
    """Make the subscription rows of one instance match its waiting catches."""
    waiting = {} if instance.status == "cancelled" or workflow.is_completed() else _keyed(waiting_catches(workflow))
    if not waiting:  # nothing to compare: whatever is stored goes, in one statement without reading it first
        if not none_stored:
            write_batch.execute(session.connection(), _DELETE_SUBSCRIPTIONS_OF, {"instance": instance.id})
            _forget(session, [row for row in session.identity_map.values() if _subscription_of(row, instance.id)])
        return
    stored = [] if none_stored else session.scalars(_SUBSCRIPTIONS_OF, {"instance": instance.id})
    rows = {(row.task_guid, row.kind, row.name): row for row in stored}
    gone = [row for key, row in rows.items() if key not in waiting]
    if gone:
        write_batch.execute(session.connection(), _DELETE_SUBSCRIPTIONS, {"ids": [row.id for row in gone]})
        _forget(session, gone)
    new = []
    for key, (task, definition) in waiting.items():
        correlation = correlation_of(task, definition)
        row = rows.get(key)
        if row is None:
            new.append(
                MessageSubscription(
                    instance_id=instance.id,
                    task_guid=key[0],
                    element_id=task.task_spec.bpmn_id or task.task_spec.name,
                    kind=key[1],
                    name=key[2],
                    correlation=correlation,
                    created_at=clock.now(),
                )
            )
        elif row.correlation != correlation:
            row.correlation = correlation
            row_writes.write_changes(session, row)
    row_writes.insert_new(session, new)


def _subscription_of(row: object, instance_id: int) -> bool:
    return isinstance(row, MessageSubscription) and row.instance_id == instance_id


def _forget(session: Session, deleted: list[MessageSubscription]) -> None:
    """Take rows the DELETE above removed out of the session (the statement is Core: the ORM does not know)."""
    for row in deleted:
        session.expunge(row)


def _keyed(catches: list) -> dict:
    return {(str(task.id), kind, name): (task, definition) for task, kind, name, definition in catches}


def matches(message: Message, correlation: dict, business_key: str | None) -> bool:
    """Every correlation value the message names equals the catch's; its business key, when given, too."""
    if message.business_key is not None and message.business_key != business_key:
        return False
    return all(str(value) == correlation.get(key) for key, value in (message.correlation or {}).items())


def catch(task, definition, payload: Any) -> None:
    """Deliver a payload to one waiting catch task (it lands under the message's variable)."""
    event = BpmnEvent(definition, payload=payload)
    task.task_spec.catch(task, event)
    task.task_spec._update(task)


def take_buffered(session: Session, instance: ProcessInstance, workflow, history: History, now: datetime) -> int:
    """Deliver buffered messages to the catches this instance waits on now; returns how many it took."""
    taken = 0
    query = None
    for task, kind, name, definition in waiting_catches(workflow):
        if kind != "message":
            continue
        if query is None:
            query = _BUFFERED_FOR_UPDATE if session.get_bind().dialect.name == "postgresql" else _BUFFERED_FOR
        correlation = correlation_of(task, definition)
        found = session.scalars(query, {"name": name, "now": now, "instance": instance.id})
        message = next((m for m in found if matches(m, correlation, instance.business_key)), None)
        if message is None:
            continue
        catch(task, definition, message.payload)
        delivered(message, {"status": "delivered", "instances": [instance.id], "buffered": True}, now)
        history.record(
            session,
            instance.id,
            "message_received",
            message.published_by,
            element_id=task.task_spec.name,
            message=name,
            message_row=message.id,
        )
        taken += 1
    return taken


def thrown_messages(session: Session, instance: ProcessInstance, workflow, ttl: timedelta, now: datetime) -> list:
    """Store the messages and signals the instance threw that no catch of its own took (delivered after commit)."""
    stored: list[Message] = []
    signals: list[tuple[str, Any]] = []
    for event in workflow.get_events():
        definition = event.event_definition
        if isinstance(definition, MessageEventDefinition):
            flat = {
                prop: str(value) for values in (event.correlations or {}).values() for prop, value in values.items()
            }
            row = Message(
                name=definition.name,
                correlation=flat,
                payload=_object(event.payload),
                status="pending",
                published_by=f"instance:{instance.id}",
                created_at=now,
                expires_at=now + ttl,
            )
            session.add(row)
            stored.append(row)
        elif isinstance(definition, SignalEventDefinition):
            signals.append((definition.name, event.payload))
    if stored:
        session.flush()  # the messages' ids are what is delivered after commit
    return [("message", row.id) for row in stored] + [("signal", signal) for signal in signals]


def _object(payload: Any) -> dict:
    return payload if isinstance(payload, dict) else {"value": payload}


def delivered(message: Message, result: dict, now: datetime) -> None:
    message.status, message.result, message.delivered_at = "delivered", result, now
