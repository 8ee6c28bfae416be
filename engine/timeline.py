"""A customer's timeline: every instance of one customer across processes, newest first, with its key events.

Everything the care center knows about the relationship in one place, for staff: what each
request was (process and channel), where it stands, and what happened (started, messages
and replies received, tasks done, incidents, the end). Reads rows only, never a workflow.
"""

from __future__ import annotations

from sqlalchemy import select

from engine.db import Database
from engine.models import HistoryEvent, ProcessDefinition, ProcessInstance
from engine.pagination import Page, page_of
from engine.views import iso

KEY_EVENTS = (
    "instance_started",
    "message_received",
    "signal_received",
    "task_completed",
    "instance_failed",
    "incident_retried",
    "instance_completed",
    "instance_cancelled",
)


def customer_timeline(db: Database, customer_id: str, limit: int, after: int | None) -> Page[dict]:
    """The instances of ``customer_id``, newest first (keyset by instance id), each with its key events."""
    query = (
        select(ProcessInstance, ProcessDefinition.name)
        .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
        .where(ProcessInstance.customer_id == customer_id)
        .order_by(ProcessInstance.id.desc())
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(ProcessInstance.id < after)
    with db.read() as session:
        rows = list(session.execute(query))
        page = page_of(rows, limit, key=lambda row: row[0].id)
        ids = [instance.id for instance, _ in page.items]
        events: dict[int, list[dict]] = {instance_id: [] for instance_id in ids}
        history = select(HistoryEvent).where(HistoryEvent.instance_id.in_(ids), HistoryEvent.event_type.in_(KEY_EVENTS))
        for event in session.scalars(history.order_by(HistoryEvent.id.desc())):
            events[event.instance_id].append(
                {"event": event.event_type, "at": iso(event.at), "element_id": event.element_id}
            )
        items = [
            {
                "instance_id": instance.id,
                "process_key": instance.process_key,
                "process_name": name,
                "status": instance.status,
                "channel": instance.channel,
                "business_key": instance.business_key,
                "tracking_code": instance.tracking_code,
                "started_at": iso(instance.started_at),
                "ended_at": iso(instance.ended_at),
                "events": events[instance.id],
            }
            for instance, name in page.items
        ]
    return Page(items, page.next_after)
