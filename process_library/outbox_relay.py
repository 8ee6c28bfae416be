"""Sends the outbox mails that no service-task call delivers itself: sign-in links, confirmations, staff answers.

``notify_customer`` delivers its own mail inside its (retried) call; mails written elsewhere —
the portal's link, written while answering the same way for known and unknown addresses —
stay ``held`` until this relay, run by the worker, sends them. A row is taken by moving it from
``held`` to ``sending`` in one conditional update, so two workers never send it twice; a
transient SMTP failure puts it back to ``held``, to be tried again after a growing pause
(:func:`retry_delay`) and given up after :data:`MAX_TRANSIENT_ATTEMPTS`; a refusal (5xx) marks it
``failed`` and, for a mail of a case, opens an incident on the case (:mod:`engine.delivery_failures`),
whose retry puts the mail back here (payload ``resend``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from engine import delivery_failures
from engine.clock import Clock
from engine.config import Settings
from engine.db import Database
from engine.delivery_failures import RESEND
from process_library.mail import AUTOMATIC_HEADERS, Mail, MailRefused, deliver, outbox_headers
from process_library.registry import TransientError
from process_library.store import OutboxMessage

RELAYED_PURPOSES = frozenset({"portal_link", "portal_confirm", "confirmation"})  # automatic mails
PERSONAL_PURPOSES = frozenset({"answer"})  # written by a person (engine/mail_answers.py): no Auto-Submitted
BATCH = 20
MAX_ERROR = 2000
RETRY_AT = "retry_at"  # payload: after a transient failure, the relay tries again from this time (ISO 8601)
FIRST_RETRY_SECONDS = 60
MAX_RETRY_SECONDS = 3600
MAX_TRANSIENT_ATTEMPTS = 12  # about half a day of trying; then the mail counts as refused


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed try: 1, 2, 4, ... minutes, at most an hour."""
    return timedelta(seconds=min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1)))


def _due(payload: dict, now: datetime) -> bool:
    retry_at = payload.get(RETRY_AT)
    return not retry_at or datetime.fromisoformat(retry_at) <= now


def relay_held_mail(db: Database, settings: Settings, clock: Clock) -> int:
    """Send held mails whose purpose the relay owns; returns how many were sent. Nothing without an SMTP host."""
    if not settings.smtp_host:
        return 0
    now = clock.now()
    with db.read() as session:
        query = select(OutboxMessage).where(OutboxMessage.kind == "mail", OutboxMessage.status == "held")
        candidates = [
            row.id
            for row in session.scalars(query.order_by(OutboxMessage.id).limit(BATCH * 5))
            if _relayed(row.payload or {}) and _due(row.payload or {}, now)
        ][:BATCH]
    sent = 0
    for outbox_id in candidates:
        with db.write() as session:
            taken = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == outbox_id, OutboxMessage.status == "held")
                .values(status="sending", attempts=OutboxMessage.attempts + 1)
            ).rowcount
            row = session.get(OutboxMessage, outbox_id) if taken else None
            automatic = row is not None and (row.payload or {}).get("purpose") in RELAYED_PURPOSES
            headers = {**(AUTOMATIC_HEADERS if automatic else {}), **outbox_headers(row.payload)} if row else {}
            mail = Mail(row.recipient, row.subject, row.body, row.idempotency_key, headers) if row else None
        if mail is None:
            continue  # another worker took it
        status, error = "sent", None
        try:
            deliver(mail, settings)
            sent += 1
        except TransientError as failure:
            status, error = "held", str(failure)
        except MailRefused as failure:
            status, error = "failed", str(failure)
        with db.write() as session:
            row = session.get(OutboxMessage, outbox_id)
            if status == "held" and row.attempts >= MAX_TRANSIENT_ATTEMPTS:
                status, error = "failed", f"gave up after {row.attempts} tries: {error}"
            elif status == "held":
                row.payload = {**(row.payload or {}), RETRY_AT: (clock.now() + retry_delay(row.attempts)).isoformat()}
            row.status, row.last_error = status, error[:MAX_ERROR] if error else None
            if status == "sent":
                row.sent_at = clock.now()
            elif status == "failed":  # refused for good: the case it belongs to shows it
                delivery_failures.open_incident(session, row, row.last_error, clock.now(), settings.secret_key)
    return sent


def _relayed(payload: dict) -> bool:
    return payload.get("purpose") in RELAYED_PURPOSES | PERSONAL_PURPOSES or bool(payload.get(RESEND))
