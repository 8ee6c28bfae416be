"""HistoryService: an append-only log of every change to an instance, with who made it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import appends, events, metrics
from engine.clock import Clock
from engine.db import Database
from engine.models import HistoryEvent, ProcessInstance
from engine.visibility import TaskScope, visible_instance


class History:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def record(
        self,
        session: Session,
        instance_id: int,
        event_type: str,
        principal: str,
        *,
        element_id: str | None = None,
        human_task_id: int | None = None,
        **details: object,
    ) -> None:
        """Append one event inside the caller's transaction (and its event for other systems, if it has one).

        Instances started, completed and failed, and tasks completed, also count for ``/metrics`` once the
        transaction commits (:mod:`engine.metrics`).
        """
        at = self.clock.now()
        appends.add(
            session,
            HistoryEvent.__table__,
            {
                "instance_id": instance_id,
                "event_type": event_type,
                "element_id": element_id,
                "human_task_id": human_task_id,
                "principal": principal,
                "at": at,
                "details": details,
            },
        )
        events.from_history(session, instance_id, event_type, principal, element_id, human_task_id, details, at)
        if event_type in metrics.COUNTED:
            instance = session.get(ProcessInstance, instance_id)  # in the session already: no query
            metrics.note(session, event_type, instance.process_key if instance is not None else None)

    def of_instance(self, instance_id: int, scope: TaskScope | None = None) -> list[HistoryEvent]:
        with self.db.read() as session:
            visible_instance(session, instance_id, scope)
            query = select(HistoryEvent).where(HistoryEvent.instance_id == instance_id).order_by(HistoryEvent.id)
            return list(session.scalars(query))
