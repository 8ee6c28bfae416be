"""The durable store of arriving mail: written before a mail is acknowledged, and the queue of its processing.

A mail server hands a mail over once and forgets it as soon as it is acknowledged; so the receiver
(and the IMAP reader) acknowledge only after :meth:`MailStore.receive` has committed the raw bytes.
The same mail arriving again — a retry after a lost acknowledgement, the receiver and the IMAP
mailbox both, a re-fetch after a crash — stores nothing: its ``dedup_key`` is the SHA-256 of its
Message-ID, or, for a mail without one, of its content without the trace headers each hop adds.

Processing claims rows the way the service-job worker claims jobs (a lease, ``SKIP LOCKED`` on
PostgreSQL), so it runs outside the receiver and a crash between the two loses nothing. A mail
whose processing fails is tried again with back-off and then kept as ``failed`` with its error,
for an admin to retry or download (:meth:`failed`, :meth:`retry`, :meth:`raw`); none is dropped.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32

from sqlalchemy import case, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from engine.clock import Clock
from engine.db import Database
from engine.errors import Conflict, NotFound
from engine.models import InboundMail, ProcessInstance
from engine.pagination import Page, page_of

NOTIFY_CHANNEL = "carecenter_mail"  # PostgreSQL: a stored mail is announced here at commit
SOURCES = ("smtp", "lmtp", "imap")
STATUSES = ("received", "processed", "failed", "ignored")
MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 3600.0
LEASE_SECONDS = 300.0
MAX_ERROR = 4000
MAX_RECIPIENTS_KEPT = 1000
# Header fields each hop adds on the way (RFC 5321 trace fields and what receiving servers stamp):
# left out of the content hash, so the same mail reached by two paths hashes the same.
TRACE_FIELDS = frozenset(
    {
        "received",
        "return-path",
        "delivered-to",
        "x-original-to",
        "authentication-results",
        "arc-authentication-results",
        "arc-message-signature",
        "arc-seal",
        "received-spf",
        "x-spam-status",
        "x-spam-score",
        "x-spam-flag",
        "x-virus-scanned",
    }
)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")


class MailTooLarge(Exception):
    """The mail is larger than ``CARECENTER_MAIL_MAX_BYTES``; it is not stored."""


@dataclass(frozen=True)
class Stored:
    id: int
    duplicate: bool  # the same mail was stored before; nothing new was written


@dataclass(frozen=True)
class MailClaim:
    id: int
    attempts: int


def normalized_message_id(value: str | None) -> str | None:
    """The Message-ID without angle brackets and whitespace; None when the header holds none."""
    if not value:
        return None
    found = _MESSAGE_ID.search(value)
    token = found.group(1) if found else "".join(value.split())
    return token or None


def content_hash(raw: bytes) -> str:
    """SHA-256 of the mail without trace header fields, with line ends made uniform."""
    raw = raw.replace(b"\r\n", b"\n")
    end = _HEADER_END.search(raw)
    head, body = (raw[: end.start()], raw[end.end() :]) if end else (raw, b"")
    fields: list[bytes] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\n" + line
        else:
            fields.append(line)
    kept = [field for field in fields if field.split(b":", 1)[0].strip().lower().decode("latin-1") not in TRACE_FIELDS]
    return hashlib.sha256(b"\n".join(kept) + b"\n\n" + body).hexdigest()


def dedup_key(message_id: str | None, hashed: str) -> str:
    basis = f"message-id:{message_id}" if message_id else f"content:{hashed}"
    return hashlib.sha256(basis.encode("utf-8", "surrogateescape")).hexdigest()


def header_message_id(raw: bytes) -> str | None:
    """The Message-ID of a raw mail, read from its header block only."""
    end = _HEADER_END.search(raw)
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw[: end.end()] if end else raw)
    value = headers.get("Message-ID")
    return normalized_message_id(str(value)) if value is not None else None


class MailStore:
    def __init__(self, db: Database, clock: Clock, max_bytes: int) -> None:
        self.db = db
        self.clock = clock
        self.max_bytes = max_bytes

    # -- arriving ----------------------------------------------------------------------------------

    def receive(self, raw: bytes, *, source: str, envelope_from: str | None, recipients: list[str]) -> Stored:
        """Commit one arriving mail (or find it stored already); only then may the sender be told 250."""
        if source not in SOURCES:
            raise ValueError(f"unknown mail source '{source}'")
        if len(raw) > self.max_bytes:
            raise MailTooLarge(f"the mail has {len(raw)} bytes; at most {self.max_bytes} are taken")
        message_id = header_message_id(raw)
        hashed = content_hash(raw)
        key = dedup_key(message_id, hashed)
        now = self.clock.now()
        try:
            with self.db.write() as session:
                earlier = session.scalar(select(InboundMail.id).where(InboundMail.dedup_key == key))
                if earlier is not None:
                    return Stored(earlier, True)
                row = InboundMail(
                    source=source,
                    dedup_key=key,
                    message_id=message_id[:500] if message_id else None,
                    content_hash=hashed,
                    envelope_from=envelope_from[:300] if envelope_from is not None else None,
                    recipients=[r[:300] for r in recipients[:MAX_RECIPIENTS_KEPT]],
                    size=len(raw),
                    raw=raw,
                    status="received",
                    attempts=0,
                    due_at=now,
                    received_at=now,
                )
                session.add(row)
                session.flush()
                if not self.db.is_sqlite:
                    session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})
                return Stored(row.id, False)
        except IntegrityError:  # the same mail, stored at the same moment by another connection
            with self.db.read() as session:
                earlier = session.scalar(select(InboundMail.id).where(InboundMail.dedup_key == key))
            if earlier is None:
                raise
            return Stored(earlier, True)

    # -- the processing queue ----------------------------------------------------------------------

    def claim(self, worker_id: str, limit: int = 10) -> list[MailClaim]:
        """Lease up to ``limit`` mails due for processing, oldest first; each claim counts as an attempt."""
        now = self.clock.now()
        query = (
            select(InboundMail)
            .where(
                InboundMail.status == "received",
                InboundMail.due_at <= now,
                or_(InboundMail.claimed_until.is_(None), InboundMail.claimed_until <= now),
            )
            .order_by(InboundMail.due_at, InboundMail.id)
            .limit(limit)
        )
        if not self.db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        with self.db.write() as session:
            claims = []
            for row in session.scalars(query):
                row.claimed_by = worker_id
                row.claimed_until = now + timedelta(seconds=LEASE_SECONDS)
                row.attempts += 1
                claims.append(MailClaim(row.id, row.attempts))
            return claims

    def raw(self, mail_id: int) -> bytes:
        """The mail's bytes exactly as they arrived."""
        with self.db.read() as session:
            raw = session.scalar(select(InboundMail.raw).where(InboundMail.id == mail_id))
        if raw is None:
            raise NotFound(f"no inbound mail {mail_id}")
        return bytes(raw)

    def failed_attempt(self, claim: MailClaim, worker_id: str, error: str) -> str:
        """Record a failed try: due again later with back-off, or ``failed`` after the last try; the new status."""
        now = self.clock.now()
        with self.db.write() as session:
            row = session.get(InboundMail, claim.id)
            if row is None or row.status != "received" or row.claimed_by != worker_id:
                return row.status if row is not None else "gone"
            row.error = error[:MAX_ERROR]
            row.claimed_by = row.claimed_until = None
            if row.attempts >= MAX_ATTEMPTS:
                row.status = "failed"
            else:
                delay = min(BACKOFF_SECONDS * 2 ** (row.attempts - 1), MAX_BACKOFF_SECONDS)
                row.due_at = now + timedelta(seconds=delay)
            return row.status

    def release_claims(self, worker_id: str) -> int:
        """Give back the claims of a worker that stops."""
        with self.db.write() as session:
            return session.execute(
                update(InboundMail)
                .where(InboundMail.claimed_by == worker_id, InboundMail.status == "received")
                .values(claimed_until=None, claimed_by=None)
                .execution_options(synchronize_session=False)
            ).rowcount

    def next_due_at(self) -> datetime | None:
        with self.db.read() as session:
            return session.scalar(
                select(InboundMail.due_at).where(InboundMail.status == "received").order_by(InboundMail.due_at).limit(1)
            )

    # -- for admins (/admin/mail) ------------------------------------------------------------------

    def list(self, status: str | None = None, limit: int = 50, after: int | None = None) -> Page[dict]:
        """Stored mails, newest first (``status`` e.g. ``failed``); never the raw bytes."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown status '{status}' (statuses: {', '.join(STATUSES)})")
        query = select(InboundMail).order_by(InboundMail.id.desc()).limit(limit + 1)
        if status is not None:
            query = query.where(InboundMail.status == status)
        if after is not None:
            query = query.where(InboundMail.id < after)
        with self.db.read() as session:
            page = page_of(list(session.scalars(query)), limit)
            return Page([mail_view(row) for row in page.items], page.next_after)

    def overview(self, status: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[dict], bool]:
        """The admins' list, failed mail first, then newest first, each with its case reference; and if more follow.

        Offset pages, because "failed first" is no single key to page by; the list is short-lived work.
        """
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown status '{status}' (statuses: {', '.join(STATUSES)})")
        query = (
            select(InboundMail, ProcessInstance.reference)
            .outerjoin(ProcessInstance, ProcessInstance.id == InboundMail.instance_id)
            .order_by(case((InboundMail.status == "failed", 0), else_=1), InboundMail.id.desc())
            .offset(max(offset, 0))
            .limit(limit + 1)
        )
        if status is not None:
            query = query.where(InboundMail.status == status)
        with self.db.read() as session:
            rows = list(session.execute(query))
        return [{**mail_view(row), "reference": reference} for row, reference in rows[:limit]], len(rows) > limit

    def failed(self, limit: int = 50, after: int | None = None) -> Page[dict]:
        return self.list("failed", limit, after)

    def get(self, mail_id: int) -> dict:
        with self.db.read() as session:
            row = session.get(InboundMail, mail_id)
            if row is None:
                raise NotFound(f"no inbound mail {mail_id}")
            return mail_view(row)

    def retry(self, mail_id: int) -> dict:
        """Process a failed mail again from the start (after a fix: a deployed process, a bug fixed)."""
        with self.db.write() as session:
            row = session.get(InboundMail, mail_id)
            if row is None:
                raise NotFound(f"no inbound mail {mail_id}")
            if row.status != "failed":
                raise Conflict(f"inbound mail {mail_id} is {row.status}; only failed mail is retried")
            row.status, row.attempts, row.due_at = "received", 0, self.clock.now()
            row.claimed_by = row.claimed_until = None
            if not self.db.is_sqlite:
                session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})
            return mail_view(row)


def mail_view(row: InboundMail) -> dict:
    return {
        "id": row.id,
        "source": row.source,
        "message_id": row.message_id,
        "envelope_from": row.envelope_from,
        "sender": row.sender,
        "subject": row.subject,
        "size": row.size,
        "status": row.status,
        "kind": row.kind,
        "auto_reply_allowed": row.auto_reply_allowed,
        "error": row.error,
        "attempts": row.attempts,
        "received_at": row.received_at.isoformat(),
        "processed_at": row.processed_at.isoformat() if row.processed_at else None,
        "instance_id": row.instance_id,
    }
