"""The event log: what happened in carecenter, for the care center's other systems, in CloudEvents 1.0 form.

Every event is one ``events`` row, added in the same transaction as the change that caused it
(so it exists exactly when the change does), and never changed afterwards. From the log the
worker delivers events to webhook endpoints (:mod:`engine.webhooks`) and ``carecenter events
export`` writes it as NDJSON for a data warehouse.

Writing an event costs one insert and no read: most are derived from the history entry the change
writes anyway (:meth:`engine.history.History.record` calls :func:`from_history`), and the instance
or task they describe is taken from the session, where the change has it loaded already.

An event's ``subject`` is the case reference (or the customer id for a customer's own events), its
``source`` the configured public URL, added when the event leaves (:func:`cloudevent`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import appends, event_specs
from engine.db import Database
from engine.errors import InvalidRequest
from engine.event_types import (
    CONTACT_LOGGED,
    CUSTOMER_CHANGED,
    FROM_HISTORY,
    INCIDENT_OPENED,
    INSTANCE_STARTED,
    STAGE_CHANGED,
    TASK_COMPLETED,
    TASK_CREATED,
)
from engine.models import EventRecord, HumanTask, Incident, ProcessInstance

SPEC_VERSION = "1.0"
EXPORT_BATCH = 1000


def case_key(instance_id: int) -> str:
    return f"case:{instance_id}"


def customer_key(customer_id: str) -> str:
    return f"customer:{customer_id}"


def record(
    session: Session,
    event_type: str,
    *,
    subject: str | None,
    ordering_key: str,
    instance_id: int | None,
    data: dict,
    at: datetime,
) -> None:
    """Add one event to the log in the caller's transaction."""
    row = {
        "event_id": str(uuid.uuid4()),
        "type": event_type,
        "subject": subject,
        "ordering_key": ordering_key,
        "instance_id": instance_id,
        "time": at,
        "data": data,
        "dispatched": False,
    }
    appends.add(session, EventRecord.__table__, row)


def _case(instance: ProcessInstance) -> dict:
    return {
        "instance_id": instance.id,
        "reference": instance.reference,
        "process_key": instance.process_key,
        "customer_id": instance.customer_id,
    }


def _record_case(session: Session, event_type: str, instance: ProcessInstance, data: dict, at: datetime) -> None:
    record(
        session,
        event_type,
        subject=instance.reference,
        ordering_key=case_key(instance.id),
        instance_id=instance.id,
        data={**_case(instance), **data},
        at=at,
    )


def from_history(
    session: Session,
    instance_id: int,
    history_type: str,
    principal: str,
    element_id: str | None,
    human_task_id: int | None,
    details: dict,
    at: datetime,
) -> None:
    """The event a history entry stands for, if it stands for one (:data:`engine.event_types.FROM_HISTORY`)."""
    event_type = FROM_HISTORY.get(history_type)
    if event_type is None:
        return
    instance = session.get(ProcessInstance, instance_id)  # in the session already on the executor's path: no query
    if instance is None:
        return
    data: dict = {"principal": principal}
    if element_id is not None:
        data["element_id"] = element_id
    if event_type == INSTANCE_STARTED:
        data.update(
            version=instance.definition_version,
            business_key=instance.business_key,
            channel=instance.channel,
        )
    elif event_type in (TASK_CREATED, TASK_COMPLETED) and human_task_id is not None:
        task = session.get(HumanTask, human_task_id)
        if task is not None:
            data.update(task_id=task.id, name=task.name, lane=task.lane, assignee=task.assignee)
            if event_type == TASK_CREATED:
                data["due_at"] = task.due_at.isoformat() if task.due_at else None
    elif event_type == INCIDENT_OPENED:
        data.update(message=details.get("message"), incident_id=_new_incident_id(session, instance_id))
    elif "incident_id" in details:
        data["incident_id"] = details["incident_id"]
    _record_case(session, event_type, instance, data, at)


def _new_incident_id(session: Session, instance_id: int) -> int | None:
    """The id of the incident just opened on the instance (added to the session, not yet written)."""
    pending = [o for o in session.new if isinstance(o, Incident) and o.instance_id == instance_id]
    if not pending:
        return None
    session.flush()  # rare: an instance failed; its incident gets its id
    return pending[-1].id


def stage_changed(session: Session, instance: ProcessInstance, stage: str, previous: str | None, at: datetime) -> None:
    _record_case(session, STAGE_CHANGED, instance, {"stage": stage, "previous_stage": previous}, at)


def incident_opened(session: Session, instance: ProcessInstance, incident: Incident, at: datetime) -> None:
    """An incident that no history entry announces (a customer mail that could not be delivered)."""
    data = {"incident_id": incident.id, "error_type": incident.error_type, "message": incident.message}
    _record_case(session, INCIDENT_OPENED, instance, data, at)


def contact_logged(session: Session, contact, at: datetime) -> None:
    """A contact (:class:`engine.models.Contact`, flushed): in its case's order, else in its customer's."""
    instance = session.get(ProcessInstance, contact.instance_id) if contact.instance_id is not None else None
    data = {
        "contact_id": contact.id,
        "customer_id": contact.customer_id,
        "channel": contact.channel,
        "direction": contact.direction,
        "subject": contact.subject,
        "recorded_by": contact.recorded_by,
    }
    if instance is not None:
        _record_case(session, CONTACT_LOGGED, instance, {**data, "customer_id": contact.customer_id}, at)
        return
    key = customer_key(contact.customer_id) if contact.customer_id else f"contact:{contact.id}"
    record(
        session,
        CONTACT_LOGGED,
        subject=contact.customer_id,
        ordering_key=key,
        instance_id=None,
        data={**data, "instance_id": None, "reference": None},
        at=at,
    )


def customer_changed(session: Session, customer_id: str, change: str, fields: dict, at: datetime) -> None:
    """A customer record was created or updated (``change``); ``fields`` are its values now."""
    record(
        session,
        CUSTOMER_CHANGED,
        subject=customer_id,
        ordering_key=customer_key(customer_id),
        instance_id=None,
        data={"customer_id": customer_id, "change": change, "customer": fields},
        at=at,
    )


def published(session: Session, instance: ProcessInstance, workflow, at: datetime) -> None:
    """The events the model's own elements published in this step (:mod:`engine.event_specs`)."""
    for name, element_id, element_name, variables in event_specs.take_published(workflow):
        data = {"element_id": element_id, "element_name": element_name, "variables": variables}
        _record_case(session, name, instance, data, at)


# -- leaving carecenter -------------------------------------------------------------------------


def cloudevent(row: EventRecord, source: str) -> dict:
    """The event as a CloudEvents 1.0 JSON object; ``sequence`` (the extension of that name) is the log's order."""
    event = {
        "specversion": SPEC_VERSION,
        "id": row.event_id,
        "source": source,
        "type": row.type,
        "time": row.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "sequence": f"{row.id:012d}",
    }
    if row.subject is not None:
        event["subject"] = row.subject
    event["data"] = row.data
    return event


def position(db: Database, value: str) -> tuple[str, object]:
    """Where ``--since`` or ``--until`` points: ("id", log id) for an event id, ("time", datetime) for a time.

    A time without an offset is UTC. InvalidRequest for a value that is neither, or an unknown event id.
    """
    text = value.strip()
    try:
        uuid.UUID(text)
    except ValueError:
        pass
    else:
        with db.read() as session:
            found = session.scalar(select(EventRecord.id).where(EventRecord.event_id == text))
        if found is None:
            raise InvalidRequest(f"no event has the id {text}")
        return "id", found
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise InvalidRequest(f"'{value}' is neither an event id nor an ISO 8601 time") from None
    return "time", moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def export(db: Database, source: str, since: str | None = None, until: str | None = None) -> Iterator[dict]:
    """The log in order as CloudEvents: after the event ``since`` names (or from its time on), up to ``until``
    (that event included, or before that time)."""
    query = select(EventRecord).order_by(EventRecord.id).limit(EXPORT_BATCH)
    if since is not None:
        kind, where = position(db, since)
        query = query.where(EventRecord.id > where if kind == "id" else EventRecord.time >= where)
    if until is not None:
        kind, where = position(db, until)
        query = query.where(EventRecord.id <= where if kind == "id" else EventRecord.time < where)
    last = 0
    while True:
        with db.read() as session:
            rows = list(session.scalars(query.where(EventRecord.id > last)))
        for row in rows:
            yield cloudevent(row, source)
        if len(rows) < EXPORT_BATCH:
            return
        last = rows[-1].id
