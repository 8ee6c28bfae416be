"""Messages and signals: one point of contact, whatever the channel, and nothing lost on the way.

A waiting message or signal catch (receive task, intermediate catch event, boundary event, a
branch of an event-based gateway, an event-subprocess start) is mirrored as a
``message_subscriptions`` row in the same transaction as its instance (:mod:`engine.message_rows`), so that
correlating a message reads indexed rows and never deserializes unrelated instances.

Publishing (:meth:`Messages.publish`) first stores the message (``messages``; a repeated
``message_id`` returns the first result), then delivers it in the instance's own transaction
through :meth:`engine.execution.Executor.mutate`, where the message row is re-read and locked:
a race with a task completion is retried, and a message is never applied twice.  A message that
matches no waiting catch starts the process whose message start event it names, or stays
buffered until its ttl ends; an instance that starts waiting for it later takes it in the
transaction that creates the catch (:func:`engine.message_rows.take_buffered`).  Messages thrown by an instance
(message end events, intermediate throw events, send tasks) are stored in the thrower's
transaction and delivered after its commit the same way.

Signals (:meth:`Messages.broadcast`) reach every waiting signal catch and start every process
with a matching signal start event; they are not buffered.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import MAXYEAR, UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.db import Database
from engine.errors import CareError, Conflict, InvalidRequest, NotFound, Unprocessable
from engine.history import History
from engine.incident_text import describe
from engine.message_rows import catch, correlation_of, delivered, matches, waiting_catches
from engine.models import Message, MessageSubscription, ProcessInstance
from engine.timer_specs import duration_from, is_duration

if TYPE_CHECKING:
    from engine.execution import Executor
    from engine.repository import Repository

log = logging.getLogger(__name__)

DEFAULT_TTL = "PT1H"
MAX_NAME = 200
LAST_MOMENT = datetime.max.replace(tzinfo=UTC)  # a message must expire before the calendar ends
OPEN_STATUSES = ("active", "failed")


class _Unchanged(Exception):
    """A delivery found nothing to do: its transaction is rolled back rather than committed as a step.

    (A step of an instance that completed meanwhile would record its completion once more.)
    """


# -- the service --------------------------------------------------------------------------------


class PublishHooks:
    """What a caller adds to publishing, in the engine's own transactions (channel intake records its contact so).

    Each hook runs inside the transaction named, so what it writes is committed with that write or
    not at all; none runs for a repeated ``message_id``.
    """

    def stored(self, session: Session, message: Message) -> None:
        """The new message row was just written (flushed: its id is known)."""

    def prepare(self, row: ProcessInstance) -> None:
        """A new instance the message starts, before it first runs: set its columns (e.g. the channel)."""

    def started(self, session: Session, row: ProcessInstance) -> None:
        """The new instance after its first run, in the transaction that starts it."""


@dataclass(frozen=True)
class Published:
    """What publishing came to: the row id, where it went, and whether this call was a repeat."""

    message: int
    status: str  # delivered, started, buffered; unmatched (dropped, see ``keep``)
    instances: list[int]
    started: int | None = None
    tracking_code: str | None = None
    reference: str | None = None
    expires_at: str | None = None
    duplicate: bool = False

    def as_dict(self) -> dict:
        return {key: value for key, value in self.__dict__.items() if value is not None}


class Messages:
    def __init__(
        self, db: Database, executor: Executor, repository: Repository, history: History, clock: Clock, ttl: str
    ) -> None:
        self.db = db
        self.executor = executor
        self.repository = repository
        self.history = history
        self.clock = clock
        self.default_ttl = ttl

    def publish(
        self,
        name: str,
        *,
        principal: str,
        business_key: str | None = None,
        correlation: dict | None = None,
        payload: Any = None,
        message_id: str | None = None,
        ttl: str | None = None,
        target_instance_id: int | None = None,
        hooks: PublishHooks | None = None,
        keep: bool = True,
    ) -> Published:
        """Store a message and deliver it: to the catch that waits longest, else a message start, else the buffer.

        Without ``keep`` (Camunda's correlate) a message nothing takes at once is dropped: status ``unmatched``.
        """
        name = _name(name)
        correlation = _correlation(correlation)
        payload = _payload(payload)
        lifetime = self.lifetime(ttl)
        if message_id is not None and not (isinstance(message_id, str) and 0 < len(message_id) <= 200):
            raise InvalidRequest("message_id must be a string of 1 to 200 characters")
        now = self.clock.now()
        try:
            with self.db.write() as session:
                if message_id is not None:
                    earlier = session.scalar(select(Message).where(Message.message_id == message_id))
                    if earlier is not None:
                        return self._repeat(earlier)
                row = Message(
                    message_id=message_id,
                    name=name,
                    business_key=business_key,
                    correlation=correlation,
                    target_instance_id=target_instance_id,
                    payload=payload,
                    status="pending",
                    published_by=principal,
                    created_at=now,
                    expires_at=now + lifetime,
                )
                session.add(row)
                session.flush()
                row_id = row.id
                if hooks is not None:
                    hooks.stored(session, row)
        except IntegrityError:  # the same message_id, published at the same moment by someone else
            with self.db.read() as session:
                return self._repeat(session.scalar(select(Message).where(Message.message_id == message_id)))
        return self.deliver(row_id, hooks=hooks, keep=keep)

    def _repeat(self, earlier: Message) -> Published:
        result = earlier.result or {"status": "buffered", "instances": []}
        if result.get("status") == "refused":  # the first answer was a refusal: so is every repeat
            raise Unprocessable(result["detail"])
        return Published(
            earlier.id,
            result.get("status", "buffered"),
            result.get("instances", []),
            result.get("started"),
            result.get("tracking_code"),
            result.get("reference"),
            earlier.expires_at.isoformat() if result.get("status", "buffered") == "buffered" else None,
            duplicate=True,
        )

    def deliver(self, message_row: int, hooks: PublishHooks | None = None, keep: bool = True) -> Published:
        """Deliver one stored message now if anything takes it; otherwise leave it buffered (or drop it)."""
        with self.db.read() as session:
            message = session.get(Message, message_row)
            if message is None:
                raise NotFound(f"no message {message_row}")
            candidates = self._candidates(session, message)
        for instance_id, task_guid in candidates:
            delivered = self._deliver_to(message_row, instance_id, task_guid)
            if delivered is not None:
                return delivered
        started = self._start(message_row, hooks)
        if started is not None:
            return started
        with self.db.write() as session:
            # Locked (PostgreSQL): a catch that appears meanwhile takes the buffered message in another transaction;
            # reading the row unlocked, this one would write "buffered" over the result of that delivery.
            message = session.get(Message, message_row, with_for_update=True)
            if message.status == "delivered":
                return self._repeat(message)  # a catch that appeared meanwhile took it
            if not keep:
                message.status, message.result = "expired", {"status": "unmatched", "instances": []}
                return Published(message.id, "unmatched", [])
            message.result = {"status": "buffered", "instances": []}
            return Published(message.id, "buffered", [], expires_at=message.expires_at.isoformat())

    def _candidates(self, session: Session, message: Message) -> list[tuple[int, str]]:
        query = (
            select(MessageSubscription, ProcessInstance.business_key)
            .join(ProcessInstance, ProcessInstance.id == MessageSubscription.instance_id)
            .where(
                MessageSubscription.kind == "message",
                MessageSubscription.name == message.name,
                ProcessInstance.status.in_(OPEN_STATUSES),
            )
            .order_by(MessageSubscription.id)
        )
        if message.target_instance_id is not None:
            query = query.where(MessageSubscription.instance_id == message.target_instance_id)
        return [
            (sub.instance_id, sub.task_guid)
            for sub, business_key in session.execute(query)
            if matches(message, sub.correlation, business_key)
        ]

    def _deliver_to(self, message_row: int, instance_id: int, task_guid: str) -> Published | None:
        outcome: list[Published | None] = []

        def change(session, row, workflow, definition):
            message = session.get(Message, message_row, with_for_update=True, populate_existing=True)
            if message.status != "pending":
                outcome.append(self._repeat(message))
                raise _Unchanged  # taken meanwhile: running the instance on could complete it a second time
            same_name = [
                (t, d) for t, kind, n, d in waiting_catches(workflow) if kind == "message" and n == message.name
            ]
            # the catch it was matched to, or the one that replaced it (a non-interrupting boundary re-arms itself)
            found = next(((t, d) for t, d in same_name if str(t.id) == task_guid), None) or next(
                ((t, d) for t, d in same_name if matches(message, correlation_of(t, d), row.business_key)), None
            )
            if found is None:  # the catch went away meanwhile (a task completion won the race): try the next one
                outcome.append(None)
                raise _Unchanged
            task, branch = found
            catch(task, branch, message.payload)
            result = {"status": "delivered", "instances": [row.id]}
            delivered(message, result, self.clock.now())
            self.history.record(
                session,
                row.id,
                "message_received",
                message.published_by,
                element_id=task.task_spec.name,
                message=message.name,
                message_row=message.id,
            )
            outcome.append(Published(message.id, "delivered", [row.id]))

        with contextlib.suppress(NotFound, _Unchanged):
            self.executor.mutate(instance_id, change, "messages")
        return outcome[-1] if outcome else None

    def _start(self, message_row: int, hooks: PublishHooks | None) -> Published | None:
        with self.db.read() as session:
            message = session.get(Message, message_row)
            if message.target_instance_id is not None:
                return None
            name, payload, business_key, principal = (
                message.name,
                message.payload,
                message.business_key,
                message.published_by,
            )
        definition, start_event = self._start_event("message", name)
        if definition is None:
            return None
        with self.db.write() as session:
            message = session.get(Message, message_row, with_for_update=True, populate_existing=True)
            if message.status != "pending":
                return self._repeat(message)
            try:
                row, _ = self.executor.create(
                    session,
                    definition,
                    variables={},
                    business_key=business_key,
                    customer_id=None,
                    principal=principal,
                    deliver=lambda workflow: _catch_start(workflow, start_event, payload),
                    prepare=hooks.prepare if hooks is not None else None,
                )
            except CareError:
                raise
            except Exception as error:  # the start event cannot take it, e.g. its correlation needs a missing field
                refused = (
                    f"message '{name}' cannot start process '{definition.key}': {describe(error)} (does the payload "
                    "carry every field the start event's correlation properties read?)"
                )
                message.status, message.result = "expired", {"status": "refused", "instances": [], "detail": refused}
            else:
                if hooks is not None:
                    hooks.started(session, row)
                result = {
                    "status": "started",
                    "instances": [row.id],
                    "started": row.id,
                    "tracking_code": row.tracking_code,
                    "reference": row.reference,
                }
                delivered(message, result, self.clock.now())
                return Published(message.id, "started", [row.id], row.id, row.tracking_code, row.reference)
        raise Unprocessable(refused)  # after the refusal is stored: the message is kept, and never tried again

    def _start_event(self, kind: str, name: str):
        """The latest definition with a start event for this message or signal, and that event's name."""
        for definition in self.starting_definitions(kind, name):
            return definition
        return None, None

    def starting_definitions(self, kind: str, name: str) -> list:
        wanted = MessageEventDefinition if kind == "message" else SignalEventDefinition
        found = []
        for row in self.repository.latest_definitions():
            if not row.executable:
                continue
            loaded = self.repository.load(row.id)
            for spec in loaded.spec.task_specs.values():
                definition = getattr(spec, "event_definition", None)
                if isinstance(spec, StartEvent) and isinstance(definition, wanted) and definition.name == name:
                    found.append((loaded, spec.name))
                    break
        return found

    def broadcast(self, name: str, payload: Any, principal: str) -> dict:
        """Send a signal to every waiting signal catch and start every process with a matching signal start."""
        name = _name(name)
        with self.db.read() as session:
            query = (
                select(MessageSubscription.instance_id)
                .join(ProcessInstance, ProcessInstance.id == MessageSubscription.instance_id)
                .where(
                    MessageSubscription.kind == "signal",
                    MessageSubscription.name == name,
                    ProcessInstance.status.in_(OPEN_STATUSES),
                )
                .distinct()
            )
            instance_ids = sorted(session.scalars(query))
        received: list[int] = []
        for instance_id in instance_ids:
            if self._signal_instance(instance_id, name, payload, principal):
                received.append(instance_id)
        started: list[dict] = []
        for definition, start_event in self.starting_definitions("signal", name):
            with self.db.write() as session:
                row, _ = self.executor.create(
                    session,
                    definition,
                    variables={},
                    business_key=None,
                    customer_id=None,
                    principal=principal,
                    deliver=lambda workflow, event=start_event: _catch_start(workflow, event, payload),
                )
                started.append(
                    {
                        "instance": row.id,
                        "process_key": row.process_key,
                        "tracking_code": row.tracking_code,
                        "reference": row.reference,
                    }
                )
        return {"signal": name, "receivers": len(received) + len(started), "instances": received, "started": started}

    def _signal_instance(self, instance_id: int, name: str, payload: Any, principal: str) -> bool:
        caught: list[int] = []

        def change(session, row, workflow, definition):
            tasks = [(t, d) for t, kind, n, d in waiting_catches(workflow) if kind == "signal" and n == name]
            for task, branch in tasks:
                catch(task, branch, payload)
            if tasks:
                self.history.record(session, row.id, "signal_received", principal, signal=name)
            caught.append(len(tasks))

        try:
            self.executor.mutate(instance_id, change, principal)
        except NotFound:
            return False
        return bool(caught and caught[-1])

    def deliver_thrown(self, thrown: list[tuple[str, Any]]) -> None:
        """After the thrower committed: deliver its stored messages and broadcast its signals."""
        for kind, item in thrown:
            try:
                if kind == "message":
                    self.deliver(item)
                else:
                    self.broadcast(item[0], item[1], "engine")
            except Exception:  # stays pending; the worker's next message round tries again
                log.warning("could not deliver a thrown %s now", kind, exc_info=True)

    def run_pending(self, older_than: timedelta = timedelta(seconds=10)) -> int:
        """Worker round: expire messages past their ttl (recorded in history), retry deliveries left pending."""
        now = self.clock.now()
        with self.db.write() as session:
            expired = list(
                session.scalars(select(Message).where(Message.status == "pending", Message.expires_at <= now))
            )
            for message in expired:
                message.status = "expired"
                if message.target_instance_id is not None:
                    self.history.record(
                        session, message.target_instance_id, "message_expired", "worker", message=message.name
                    )
            retry = list(
                session.scalars(
                    select(Message.id).where(Message.status == "pending", Message.created_at <= now - older_than)
                )
            )
        for message_row in retry:
            try:
                self.deliver(message_row)
            except Exception:
                log.warning("delivering message %s failed", message_row, exc_info=True)
        return len(expired)

    def forget(self, before: datetime) -> int:
        """Housekeeping: drop delivered and expired messages older than ``before``."""
        with self.db.write() as session:
            query = delete(Message).where(Message.status != "pending", Message.created_at < before)
            return session.execute(query).rowcount

    def lifetime(self, ttl: str | None) -> timedelta:
        """A ttl (ISO 8601 duration, default the configured one) as a timedelta; refused unless positive."""
        text = ttl or self.default_ttl
        if not is_duration(text):
            raise InvalidRequest(f"ttl: '{text}' is not an ISO 8601 duration such as PT1H or P1D")
        now = self.clock.now()
        try:
            lifetime = duration_from(text, now)
        except (ValueError, OverflowError):
            lifetime = None
        if lifetime is None or lifetime >= LAST_MOMENT - now:
            raise Unprocessable(f"ttl: '{text}' reaches past the year {MAXYEAR}")
        if lifetime <= timedelta(0):
            raise Unprocessable("ttl must be longer than zero")
        return lifetime


def _catch_start(workflow, start_event: str, payload: Any) -> None:
    """Run a new workflow's start up to its start events, then deliver the payload to the named one."""
    workflow.do_engine_steps()
    for task in _start_catches(workflow):
        if task.task_spec.name == start_event:
            catch(task, task.task_spec.event_definition, payload)
            return
    raise Conflict(f"the start event '{start_event}' does not wait for a message")


def _start_catches(workflow) -> list:
    return [
        task
        for task in list(workflow.event_manager.tasks.values())
        if isinstance(task.task_spec, StartEvent) and task.workflow is workflow
    ]


def _name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise InvalidRequest(f"name must be a non-empty string of at most {MAX_NAME} characters")
    return name.strip()


def _correlation(correlation: Any) -> dict:
    if correlation is None:
        return {}
    if not isinstance(correlation, dict) or not all(isinstance(k, str) for k in correlation):
        raise InvalidRequest("correlation_keys must be an object of names to values")
    if any(isinstance(v, dict | list) for v in correlation.values()):
        raise InvalidRequest("correlation_keys values must be strings or numbers")
    return {key: str(value) for key, value in correlation.items()}


def _payload(payload: Any) -> dict:
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise InvalidRequest("payload must be a JSON object")
    return payload
