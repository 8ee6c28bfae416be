"""The phone systems' side of calls: their integrations (a secret URL each), the numbers they reject, their events.

A phone system (PBX) that speaks Zammad's generic CTI API reports each call with ``newCall``,
``answer`` and ``hangup`` events, POSTed as JSON or form fields to a URL with a secret token in
it. That token is the integration's only credential: it is made here (32 random bytes), shown
once, and stored only as its SHA-256 digest, like API tokens (:mod:`engine.tokens`). An incoming
token is looked up by its digest and the digests are compared once more in constant time.

:func:`read_event` takes the fields as the phone system sends them, in both of the forms the
generic API allows (``user`` as a list or repeated ``user[]`` field, quoted form values), and says
clearly what is missing or malformed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import phone_numbers
from engine.clock import Clock
from engine.db import Database
from engine.errors import Conflict, InvalidRequest, NotFound, Unprocessable
from engine.models import BlockedNumber, CtiIntegration

EVENTS = ("newCall", "answer", "hangup")
DIRECTIONS = ("in", "out")
# hangup causes of the generic CTI API: answered calls end with normalClearing, missed ones with the others
CAUSES = ("normalClearing", "busy", "cancel", "noAnswer", "congestion", "notFound", "forwarded")
TOKEN_BYTES = 32
MAX_NAME = 200
MAX_CALL_ID = 250
MAX_NUMBER = 100
MAX_TEXT = 200  # queue, user names, answeringNumber, cause
MAX_USERS = 20
MAX_NOTE = 200


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class CtiEvent:
    """One event of the generic CTI API, read and checked; ``fields`` as they arrived, for the record."""

    event: str
    from_number: str
    to_number: str
    direction: str
    call_id: str
    users: tuple[str, ...] = ()
    queue: str | None = None
    answering_number: str | None = None
    cause: str | None = None
    fields: dict = field(default_factory=dict)

    @property
    def other_party(self) -> str:
        """The customer's side of the call: who calls in, or who is called."""
        return self.from_number if self.direction == "in" else self.to_number


def _unquoted(value: str) -> str:
    """A form value as meant: ``curl --form 'event="newCall"'`` examples send the quotes along."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].strip()
    return value


def read_event(fields: Mapping[str, object], user_list: list[object] | None = None) -> CtiEvent:
    """The event in ``fields`` (a JSON object, or form fields with ``user_list`` the values of ``user[]``/``user``).

    Raises InvalidRequest naming every field that is missing or wrong.
    """
    problems: list[str] = []

    def text(name: str, longest: int, required: bool = True) -> str | None:
        value = fields.get(name)
        if value is None or value == "":
            if required:
                problems.append(f"'{name}' is required")
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # numbers and call ids sent as JSON numbers
        if not isinstance(value, str):
            problems.append(f"'{name}' must be a string")
            return None
        value = _unquoted(value)
        if "\x00" in value:
            problems.append(f"'{name}' must not contain a NUL character")
            return None
        if len(value) > longest:
            problems.append(f"'{name}' must be at most {longest} characters")
            return None
        if not value and required:
            problems.append(f"'{name}' is required")
        return value or None

    event = text("event", 20)
    if event is not None and event not in EVENTS:
        problems.append(f"'event' must be one of {', '.join(EVENTS)}")
    direction = text("direction", 20)
    if direction is not None and direction not in DIRECTIONS:
        problems.append("'direction' must be in or out")
    from_number = text("from", MAX_NUMBER)
    to_number = text("to", MAX_NUMBER)
    call_id = text("callId", MAX_CALL_ID)
    queue = text("queue", MAX_TEXT, required=False)
    answering = text("answeringNumber", MAX_TEXT, required=False)
    cause = text("cause", MAX_TEXT, required=False)
    users = _users(fields.get("user") if user_list is None else user_list, problems)
    if problems:
        raise InvalidRequest("not a CTI event: " + "; ".join(problems))
    return CtiEvent(
        event, from_number, to_number, direction, call_id, users, queue, answering, cause, _recorded(fields, users)
    )


def _users(value: object, problems: list[str]) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    values = value if isinstance(value, list) else [value]
    if len(values) > MAX_USERS:
        problems.append(f"'user' names at most {MAX_USERS} users")
        return ()
    users = []
    for item in values:
        if not isinstance(item, str) or len(item) > MAX_TEXT or "\x00" in item:
            problems.append(f"'user' must be names of at most {MAX_TEXT} characters")
            return ()
        if _unquoted(item):
            users.append(_unquoted(item))
    return tuple(users)


def _recorded(fields: Mapping[str, object], users: tuple[str, ...]) -> dict:
    """What is kept of the event: the documented fields only (a phone system may send more, of any size)."""
    kept = {
        name: _unquoted(str(fields[name]))
        for name in ("event", "from", "to", "direction", "callId", "queue", "answeringNumber", "cause")
        if fields.get(name) not in (None, "")
    }
    if users:
        kept["user"] = list(users)
    return kept


def integration_view(row: CtiIntegration) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "last_event_at": row.last_event_at.isoformat() if row.last_event_at else None,
    }


def blocked_view(row: BlockedNumber) -> dict:
    return {
        "id": row.id,
        "number": row.number,
        "shown": phone_numbers.display(row.number),
        "note": row.note,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
    }


class Integrations:
    """Phone systems allowed to report calls, and the numbers they are told to reject."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def create(self, name: str, by: str) -> tuple[dict, str]:
        """A new integration and its token (returned once, never stored)."""
        name = (name or "").strip()
        if not name or len(name) > MAX_NAME or "\x00" in name:
            raise InvalidRequest(f"a CTI integration needs a name of at most {MAX_NAME} characters")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self.db.write() as session:
            row = CtiIntegration(name=name, token_hash=digest(token), created_by=by, created_at=self.clock.now())
            session.add(row)
            session.flush()
            return integration_view(row), token

    def list(self) -> list[dict]:
        with self.db.read() as session:
            rows = session.scalars(select(CtiIntegration).order_by(CtiIntegration.id.desc()))
            return [integration_view(row) for row in rows]

    def revoke(self, integration_id: int) -> dict:
        """From now on its URL answers 401; its calls stay in the caller log."""
        with self.db.write() as session:
            row = session.get(CtiIntegration, integration_id)
            if row is None:
                raise NotFound(f"no CTI integration has the id {integration_id}")
            if row.revoked_at is None:
                row.revoked_at = self.clock.now()
            return integration_view(row)

    def find(self, token: str) -> CtiIntegration | None:
        """The live integration whose token this is; None for an unknown or revoked one."""
        if not token or len(token) > 200:
            return None
        wanted = digest(token)
        with self.db.read() as session:
            row = session.scalar(select(CtiIntegration).where(CtiIntegration.token_hash == wanted))
        if row is None or not hmac.compare_digest(row.token_hash, wanted) or row.revoked_at is not None:
            return None
        return row

    # -- blocked numbers -------------------------------------------------------------------------

    def block(self, typed: str, note: str | None, by: str) -> dict:
        """Reject calls from this number (any notation of it); Unprocessable if it is no phone number."""
        number = phone_numbers.e164(typed)
        if number is None:
            raise Unprocessable(f"'{(typed or '')[:60]}' is not a phone number")
        note = (note or "").strip() or None
        if note is not None and (len(note) > MAX_NOTE or "\x00" in note):
            raise InvalidRequest(f"the note must be at most {MAX_NOTE} characters")
        try:
            with self.db.write() as session:
                row = BlockedNumber(number=number, note=note, created_by=by, created_at=self.clock.now())
                session.add(row)
                session.flush()
                return blocked_view(row)
        except IntegrityError:
            raise Conflict(f"{phone_numbers.display(number)} is blocked already") from None

    def unblock(self, blocked_id: int) -> None:
        with self.db.write() as session:
            row = session.get(BlockedNumber, blocked_id)
            if row is None:
                raise NotFound(f"no blocked number has the id {blocked_id}")
            session.delete(row)

    def blocked(self) -> list[dict]:
        with self.db.read() as session:
            return [blocked_view(row) for row in session.scalars(select(BlockedNumber).order_by(BlockedNumber.number))]


def is_blocked(session: Session, number: str | None) -> bool:
    """Whether calls from this E.164 number are rejected."""
    if number is None:
        return False
    return session.scalar(select(BlockedNumber.id).where(BlockedNumber.number == number)) is not None
