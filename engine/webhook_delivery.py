"""The worker's side of webhooks: fan the event log out to endpoints, then send, at least once, in order per case.

1. :meth:`Deliveries.fan_out` turns new log entries into one ``webhook_deliveries`` row per
   interested endpoint and marks the entries dispatched. One worker at a time does it (a
   transaction-scoped advisory lock on PostgreSQL; SQLite has one writer anyway), so the rows of one
   case are made in log order.
2. :meth:`Deliveries.claim` leases due rows that are the oldest pending one of their endpoint and
   case (``ordering_key``), so a case's next event waits until the one before is delivered or given
   up; ``FOR UPDATE SKIP LOCKED`` keeps two workers apart on PostgreSQL.
3. The claimed rows are sent concurrently with no transaction open (:mod:`engine.webhook_http`),
   signed per Standard Webhooks.
4. :meth:`Deliveries.finish` records each answer: a 2xx delivers; 410 disables the endpoint (the
   row waits for it to be enabled); 429 waits as long as ``Retry-After`` says; anything else,
   a redirect included, retries after an exponentially growing pause, until the last try gives up.

A worker killed between 3 and 4 leaves its lease to expire; the next worker sends the row again
with the same ``webhook-id``, which receivers use to drop the repeat.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, insert, or_, select, update
from sqlalchemy.orm import aliased

from engine.clock import Clock
from engine.db import Database, try_lock
from engine.events import cloudevent
from engine.models import EventRecord, WebhookDelivery, WebhookEndpoint
from engine.webhook_http import Answer, post
from engine.webhook_signing import headers
from engine.webhooks import WebhookConfig

log = logging.getLogger(__name__)
FAN_OUT_BATCH = 2000
FAN_OUT_LOCK = "carecenter_webhook_fan_out"  # engine.db.try_lock: one fan-out at a time
RUN_BUDGET_SECONDS = 20.0  # one worker run sends for at most this long, then lets the scheduler breathe
DELIVERED_RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class Claim:
    """A delivery leased to one worker, with what it needs to send it."""

    id: int
    endpoint_id: int
    url: str
    secret: str
    message_id: str
    body: bytes


@dataclass(frozen=True)
class Result:
    claim: Claim
    answer: Answer


class Deliveries:
    def __init__(self, db: Database, clock: Clock, source: str, config: WebhookConfig | None = None) -> None:
        self.db = db
        self.clock = clock
        self.source = source  # the CloudEvents source: the configured public URL
        self.config = config or WebhookConfig()
        self._pool: ThreadPoolExecutor | None = None

    # -- 1. fan-out -------------------------------------------------------------------------------

    def fan_out(self, limit: int = FAN_OUT_BATCH) -> int:
        """Make the deliveries of undispatched log entries; returns how many entries were dispatched."""
        with self.db.write() as session:
            if not try_lock(session, FAN_OUT_LOCK):
                return 0  # another worker is at it
            entries = session.execute(
                select(EventRecord.id, EventRecord.type, EventRecord.ordering_key)
                .where(EventRecord.dispatched.is_(False))
                .order_by(EventRecord.id)
                .limit(limit)
            ).all()
            if not entries:
                return 0
            endpoints = session.execute(
                select(WebhookEndpoint.id, WebhookEndpoint.types, WebhookEndpoint.after_event).where(
                    WebhookEndpoint.status == "active"
                )
            ).all()
            now = self.clock.now()
            rows = [
                {
                    "endpoint_id": endpoint_id,
                    "event": entry_id,
                    "ordering_key": key,
                    "status": "pending",
                    "attempts": 0,
                    "due_at": now,
                    "created_at": now,
                }
                for entry_id, entry_type, key in entries
                for endpoint_id, types, after in endpoints
                if entry_id > after and (types is None or entry_type in types)
            ]
            if rows:
                session.execute(insert(WebhookDelivery.__table__), rows)  # Core: one statement, NULLs and all
            ids = [entry[0] for entry in entries]
            session.execute(
                update(EventRecord)
                .where(EventRecord.id.in_(ids))
                .values(dispatched=True)
                .execution_options(synchronize_session=False)
            )
            return len(entries)

    # -- 2. claim ---------------------------------------------------------------------------------

    def claim(self, worker_id: str, limit: int | None = None) -> list[Claim]:
        """Lease due deliveries that are first in line for their endpoint and case."""
        now = self.clock.now()
        earlier = aliased(WebhookDelivery)
        waiting = (
            exists()
            .where(
                earlier.endpoint_id == WebhookDelivery.endpoint_id,
                earlier.ordering_key == WebhookDelivery.ordering_key,
                earlier.status == "pending",
                earlier.id < WebhookDelivery.id,
            )
            .correlate(WebhookDelivery)
        )
        query = (
            select(WebhookDelivery.id, WebhookDelivery.endpoint_id, WebhookDelivery.event)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(
                WebhookEndpoint.status == "active",
                WebhookDelivery.status == "pending",
                WebhookDelivery.due_at <= now,
                or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until <= now),
                ~waiting,
            )
            .order_by(WebhookDelivery.id)
            .limit(limit or self.config.batch_size)
        )
        if not self.db.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
        with self.db.write() as session:
            found = session.execute(query).all()
            if not found:
                return []
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_([row.id for row in found]))
                .values(
                    claimed_by=worker_id,
                    claimed_until=now + timedelta(seconds=self.config.lease_seconds),
                    attempts=WebhookDelivery.attempts + 1,
                    last_attempt_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            entries = {
                e.id: e
                for e in session.scalars(select(EventRecord).where(EventRecord.id.in_({r.event for r in found})))
            }
            endpoints = {
                e.id: e
                for e in session.scalars(
                    select(WebhookEndpoint).where(WebhookEndpoint.id.in_({r.endpoint_id for r in found}))
                )
            }
        bodies = {
            entry_id: json.dumps(cloudevent(entry, self.source), separators=(",", ":"), ensure_ascii=False).encode()
            for entry_id, entry in entries.items()
        }
        return [
            Claim(
                row.id,
                row.endpoint_id,
                endpoints[row.endpoint_id].url,
                endpoints[row.endpoint_id].secret,
                entries[row.event].event_id,
                bodies[row.event],
            )
            for row in found
            if row.event in entries
        ]

    # -- 3. send ----------------------------------------------------------------------------------

    def send(self, claim: Claim) -> Answer:
        """One signed POST (no transaction open)."""
        signed = headers(claim.secret, claim.message_id, int(time.time()), claim.body)
        return post(claim.url, claim.body, signed, self.config.timeout_seconds, self.config.allow_private)

    def send_all(self, claims: list[Claim]) -> list[Result]:
        if len(claims) == 1 or self.config.concurrency <= 1:
            return [Result(claim, self.send(claim)) for claim in claims]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="carecenter-webhook")
        return [Result(claim, answer) for claim, answer in zip(claims, self._pool.map(self.send, claims), strict=True)]

    # -- 4. finish --------------------------------------------------------------------------------

    def retry_delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed try: the first pause, doubled each time, capped."""
        return min(self.config.max_retry_seconds, self.config.first_retry_seconds * 2 ** max(0, attempts - 1))

    def finish(self, worker_id: str, results: list[Result]) -> int:
        """Record the answers; returns how many deliveries are delivered now."""
        delivered = 0
        now = self.clock.now()
        with self.db.write() as session:
            rows = {
                row.id: row
                for row in session.scalars(
                    select(WebhookDelivery).where(WebhookDelivery.id.in_([r.claim.id for r in results]))
                )
            }
            for result in results:
                row = rows.get(result.claim.id)
                if row is None or row.status != "pending" or row.claimed_by != worker_id:
                    continue  # our lease ran out and another worker took it over, or it was deleted
                delivered += self._apply(session, row, result.answer, now)
        return delivered

    def _apply(self, session, row: WebhookDelivery, answer: Answer, now: datetime) -> int:
        row.claimed_by = row.claimed_until = None
        row.response_status, row.response_excerpt, row.error = answer.status, answer.excerpt, answer.error
        if answer.ok:
            row.status, row.delivered_at = "delivered", now
            return 1
        if answer.status == 410:
            endpoint = session.get(WebhookEndpoint, row.endpoint_id)
            if endpoint is not None and endpoint.status == "active":
                endpoint.status, endpoint.disabled_at = "disabled", now
                endpoint.disabled_reason = "the endpoint answered 410 Gone"
            row.error, row.due_at = "410 Gone: the endpoint is disabled", now
            return 0
        if answer.status is not None and 300 <= answer.status < 400:
            row.error = f"redirect to {answer.location or '(no Location)'} not followed"[:500]
        if row.attempts >= self.config.max_attempts:
            row.status = "failed"
            last = row.error or f"HTTP {answer.status}"
            row.error = f"given up after {row.attempts} tries ({last})"[:500]
            return 0
        pause = self.retry_delay(row.attempts)
        if answer.status == 429 and answer.retry_after is not None:
            pause = min(answer.retry_after, self.config.max_retry_seconds)
        row.due_at = now + timedelta(seconds=pause)
        return 0

    # -- the worker's run -------------------------------------------------------------------------

    def run_due(self, worker_id: str, budget_seconds: float = RUN_BUDGET_SECONDS) -> int:
        """Fan out and send until nothing is due or the budget is spent; returns how many were delivered."""
        delivered = 0
        deadline = time.monotonic() + budget_seconds
        while time.monotonic() < deadline:
            while self.fan_out() and time.monotonic() < deadline:
                pass
            claims = self.claim(worker_id)
            if not claims:
                break
            delivered += self.finish(worker_id, self.send_all(claims))
        return delivered

    def release_claims(self, worker_id: str) -> None:
        """Give back what this worker claimed but did not send (it is stopping)."""
        with self.db.write() as session:
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.claimed_by == worker_id, WebhookDelivery.status == "pending")
                .values(claimed_by=None, claimed_until=None)
            )

    def forget(self, before: datetime) -> int:
        """Drop delivered rows older than ``before`` (the event log itself is kept)."""
        with self.db.write() as session:
            return session.execute(
                delete(WebhookDelivery).where(
                    WebhookDelivery.status == "delivered", WebhookDelivery.delivered_at < before
                )
            ).rowcount

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
