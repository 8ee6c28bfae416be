"""A customer's timeline for staff: every instance of one customer across processes, newest first.

Read from the instance rows, the customer status read model and history (no workflow is
loaded); paged by instance id, descending, like the other keyset-paged lists.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import CustomerStageEvent, CustomerStatus, HistoryEvent, ProcessInstance
from engine.pagination import Page, page_of

KEY_EVENTS = (
    "instance_started",
    "message_received",
    "signal_received",
    "task_completed",
    "incident_retried",
    "instance_failed",
    "instance_completed",
    "instance_cancelled",
    "customer_linked",
)


def timeline(session: Session, customer_id: str, limit: int, after: int | None) -> Page[dict]:
    query = (
        select(ProcessInstance, CustomerStatus)
        .outerjoin(CustomerStatus, CustomerStatus.instance_id == ProcessInstance.id)
        .where(ProcessInstance.customer_id == customer_id)
        .order_by(ProcessInstance.id.desc())
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(ProcessInstance.id < after)
    page = page_of(list(session.execute(query)), limit, key=lambda pair: pair[0].id)
    ids = [instance.id for instance, _ in page.items]
    events: dict[int, list[dict]] = {i: [] for i in ids}
    if ids:
        for event in session.scalars(
            select(HistoryEvent)
            .where(HistoryEvent.instance_id.in_(ids), HistoryEvent.event_type.in_(KEY_EVENTS))
            .order_by(HistoryEvent.id)
        ):
            events[event.instance_id].append(
                {
                    "type": event.event_type,
                    "at": event.at.isoformat(),
                    "principal": event.principal,
                    "element_id": event.element_id,
                }
            )
        for stage in session.scalars(
            select(CustomerStageEvent).where(CustomerStageEvent.instance_id.in_(ids)).order_by(CustomerStageEvent.id)
        ):
            events[stage.instance_id].append(
                {"type": "stage_entered", "at": stage.entered_at.isoformat(), "principal": None, "stage": stage.stage}
            )
    items = []
    for instance, status in page.items:
        items.append(
            {
                "instance_id": instance.id,
                "process_key": instance.process_key,
                "title": status.title if status else instance.process_key,
                "status": instance.status,
                "channel": instance.channel,
                "customer_status": status.status if status else None,
                "stage": status.stage if status else None,
                "tracking_code": instance.tracking_code,
                "reference": instance.reference,
                "started_at": instance.started_at.isoformat(),
                "updated_at": instance.updated_at.isoformat(),
                "events": sorted(events[instance.id], key=lambda e: e["at"], reverse=True),
            }
        )
    return Page(items, page.next_after)
