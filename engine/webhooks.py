"""Webhook endpoints: admins register the URLs of other systems, list, disable, enable and delete them.

Registering answers with the endpoint's signing secret (``whsec_…``, Standard Webhooks), the only
time it is shown. An endpoint receives the events written after it was registered: all of them,
or the types it lists. Its deliveries are listed with what the receiver answered, and each can be
sent again. The worker side, which sends them, is :mod:`engine.webhook_delivery`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.config import env_values
from engine.db import Database
from engine.errors import Conflict, InvalidRequest, NotFound, Unprocessable
from engine.event_types import type_problem
from engine.events import cloudevent
from engine.models import EventRecord, WebhookDelivery, WebhookEndpoint
from engine.pagination import Page, page_of
from engine.views import iso
from engine.webhook_addresses import RefusedAddress, addresses, check_url, port_of
from engine.webhook_signing import new_secret

ALL_TYPES = "*"
MAX_DESCRIPTION = 300
MAX_TYPES = 50
DELIVERY_STATUSES = ("pending", "delivered", "failed")
ENDPOINT_STATUSES = ("active", "disabled")


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("use true or false")


@dataclass(frozen=True)
class WebhookConfig:
    """How webhooks are sent; ``CARECENTER_WEBHOOK_*`` variables set these (docs/events.md).

    A try that fails waits ``first_retry_seconds``, then twice as long each time, at most
    ``max_retry_seconds``; after ``max_attempts`` tries the delivery is given up. The lease is how
    long a claimed delivery may take before another worker sends it again.
    """

    allow_private: bool = False
    timeout_seconds: float = 10.0
    first_retry_seconds: float = 10.0
    max_retry_seconds: float = 6 * 3600.0
    max_attempts: int = 12
    lease_seconds: float = 60.0
    batch_size: int = 100
    concurrency: int = 16

    @classmethod
    def from_env(cls, **overrides: object) -> WebhookConfig:
        variables = {
            "timeout_seconds": ("WEBHOOK_TIMEOUT_SECONDS", float),
            "first_retry_seconds": ("WEBHOOK_RETRY_SECONDS", float),
            "max_retry_seconds": ("WEBHOOK_MAX_RETRY_SECONDS", float),
            "max_attempts": ("WEBHOOK_MAX_ATTEMPTS", int),
            "lease_seconds": ("WEBHOOK_LEASE_SECONDS", float),
            "batch_size": ("WEBHOOK_BATCH", int),
            "concurrency": ("WEBHOOK_CONCURRENCY", int),
        }
        values = env_values(variables, {})
        raw = os.environ.get("CARECENTER_WEBHOOKS_ALLOW_PRIVATE", "")
        try:
            values["allow_private"] = _flag(raw)
        except ValueError as error:
            raise ValueError(f"CARECENTER_WEBHOOKS_ALLOW_PRIVATE={raw!r} is not valid: {error}") from None
        values.update({name: value for name, value in overrides.items() if value is not None})
        return cls(**values)


def endpoint_view(row: WebhookEndpoint, pending: int | None = None) -> dict:
    view = {
        "id": row.id,
        "url": row.url,
        "description": row.description,
        "events": row.types if row.types is not None else [ALL_TYPES],
        "status": row.status,
        "disabled_reason": row.disabled_reason,
        "created_at": iso(row.created_at),
        "created_by": row.created_by,
        "disabled_at": iso(row.disabled_at),
    }
    if pending is not None:
        view["pending"] = pending
    return view


def delivery_view(row: WebhookDelivery, event: EventRecord | None) -> dict:
    return {
        "id": row.id,
        "endpoint_id": row.endpoint_id,
        "event_id": event.event_id if event else None,
        "type": event.type if event else None,
        "subject": event.subject if event else None,
        "status": row.status,
        "attempts": row.attempts,
        "due_at": iso(row.due_at) if row.status == "pending" else None,
        "response_status": row.response_status,
        "response_excerpt": row.response_excerpt,
        "error": row.error,
        "created_at": iso(row.created_at),
        "last_attempt_at": iso(row.last_attempt_at),
        "delivered_at": iso(row.delivered_at),
    }


def checked_types(value: object) -> list[str] | None:
    """The event types an endpoint asks for: None for all (left out, ``"*"`` or ``["*"]``)."""
    if value is None or value == ALL_TYPES or value == [ALL_TYPES]:
        return None
    if not isinstance(value, list) or not value:
        raise InvalidRequest('events must be a list of event types, or "*" for all')
    if len(value) > MAX_TYPES:
        raise InvalidRequest(f"events may list at most {MAX_TYPES} types")
    for name in value:
        problem = type_problem(name)
        if problem:
            raise Unprocessable(problem)
    return list(dict.fromkeys(value))


class Webhooks:
    """The admins' side of webhooks."""

    def __init__(self, db: Database, clock: Clock, config: WebhookConfig | None = None) -> None:
        self.db = db
        self.clock = clock
        self.config = config or WebhookConfig()

    def register(self, url: object, events: object, description: object, principal: str) -> tuple[dict, str]:
        """A new active endpoint and its signing secret (returned here only)."""
        if description is not None and (not isinstance(description, str) or len(description) > MAX_DESCRIPTION):
            raise InvalidRequest(f"description must be a string of at most {MAX_DESCRIPTION} characters")
        types = checked_types(events)
        try:
            parts = check_url(url)
        except RefusedAddress as refused:
            raise Unprocessable(str(refused)) from None
        try:
            addresses(parts.hostname, port_of(parts), self.config.allow_private)
        except RefusedAddress as refused:
            raise Unprocessable(str(refused)) from None
        secret = new_secret()
        with self.db.write() as session:
            last = session.scalar(select(func.max(EventRecord.id))) or 0
            row = WebhookEndpoint(
                url=url.strip(),
                description=(description or "").strip(),
                types=types,
                secret=secret,
                status="active",
                after_event=last,
                created_at=self.clock.now(),
                created_by=principal,
            )
            session.add(row)
            session.flush()
            return endpoint_view(row, 0), secret

    def list(self) -> list[dict]:
        with self.db.read() as session:
            pending = dict(
                session.execute(
                    select(WebhookDelivery.endpoint_id, func.count())
                    .where(WebhookDelivery.status == "pending")
                    .group_by(WebhookDelivery.endpoint_id)
                ).all()
            )
            rows = session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id))
            return [endpoint_view(row, pending.get(row.id, 0)) for row in rows]

    def get(self, endpoint_id: int) -> dict:
        with self.db.read() as session:
            row = self._endpoint(session, endpoint_id)
            pending = session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending")
            )
            return endpoint_view(row, pending)

    def disable(self, endpoint_id: int, reason: str = "disabled by an admin") -> dict:
        """Send it nothing more (its pending deliveries wait); events written meanwhile are not kept for it."""
        with self.db.write() as session:
            row = self._endpoint(session, endpoint_id)
            if row.status != "disabled":
                row.status, row.disabled_reason, row.disabled_at = "disabled", reason, self.clock.now()
            return endpoint_view(row)

    def enable(self, endpoint_id: int) -> dict:
        """Send again: pending deliveries first, then every event from now on."""
        with self.db.write() as session:
            row = self._endpoint(session, endpoint_id)
            if row.status != "active":
                row.status, row.disabled_reason, row.disabled_at = "active", None, None
                row.after_event = max(row.after_event, session.scalar(select(func.max(EventRecord.id))) or 0)
            return endpoint_view(row)

    def delete(self, endpoint_id: int) -> None:
        """Remove the endpoint and its deliveries."""
        with self.db.write() as session:
            self._endpoint(session, endpoint_id)
            session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id))
            session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))

    def deliveries(self, endpoint_id: int, status: str | None, limit: int, after: int | None) -> Page[dict]:
        """The endpoint's deliveries, newest first, with the event each carries and its last answer."""
        if status is not None and status not in DELIVERY_STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(DELIVERY_STATUSES)}")
        query = (
            select(WebhookDelivery, EventRecord)
            .outerjoin(EventRecord, EventRecord.id == WebhookDelivery.event)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit + 1)
        )
        if status is not None:
            query = query.where(WebhookDelivery.status == status)
        if after is not None:
            query = query.where(WebhookDelivery.id < after)
        with self.db.read() as session:
            self._endpoint(session, endpoint_id)
            page = page_of(list(session.execute(query)), limit, key=lambda row: row[0].id)
            return Page([delivery_view(d, e) for d, e in page.items], page.next_after)

    def delivery(self, delivery_id: int, source: str) -> dict:
        """One delivery with the event it carries, as sent (CloudEvents JSON)."""
        with self.db.read() as session:
            row = session.get(WebhookDelivery, delivery_id)
            if row is None:
                raise NotFound(f"no webhook delivery with id {delivery_id}")
            event = session.get(EventRecord, row.event)
            view = delivery_view(row, event)
            view["event"] = cloudevent(event, source) if event else None
            return view

    def resend(self, delivery_id: int) -> dict:
        """Send a delivery again, at once (before the case's later events to that endpoint, as it is older)."""
        with self.db.write() as session:
            row = session.get(WebhookDelivery, delivery_id, with_for_update=True)
            if row is None:
                raise NotFound(f"no webhook delivery with id {delivery_id}")
            if row.status == "pending" and row.claimed_until is not None and row.claimed_until > self.clock.now():
                raise Conflict(f"webhook delivery {delivery_id} is being sent right now")
            row.status, row.attempts, row.due_at = "pending", 0, self.clock.now()
            row.claimed_by = row.claimed_until = None
            row.delivered_at = None
            return delivery_view(row, session.get(EventRecord, row.event))

    @staticmethod
    def _endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
        row = session.get(WebhookEndpoint, endpoint_id)
        if row is None:
            raise NotFound(f"no webhook endpoint with id {endpoint_id}")
        return row
