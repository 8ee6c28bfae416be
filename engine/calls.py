"""Phone calls: the caller log that CTI events write, the caller found by number, the call logged as a contact.

Each CTI event (:mod:`engine.cti`) is stored raw as a ``call_events`` row in the same transaction
that brings its call row up to date, before the phone system gets its answer, so nothing that
arrived is lost and the events of one call apply in order (the call row is locked on PostgreSQL;
SQLite has one writer). A repeated event changes nothing twice: a second ``hangup`` logs no second
contact. Arrival never waits on the process engine: a call is a few rows.

- ``newCall``: the call row, with the other party's number in E.164 and the customer whose phone
  it is (when exactly one customer has it); an incoming call from a blocked number is answered
  ``{"action": "reject", "reason": "busy"}`` and pops up for nobody.
- ``answer``: answered now, by the user the phone system names in ``answeringNumber`` (a
  username or user id) or ``user`` (a display name or username), when one matches.
- ``hangup``: ended; answered or missed; and, for a known customer, recorded as a contact (channel
  phone, direction of the call, duration, agent) on the case the agent chose during the call, in
  the same transaction. The agent's choice (:meth:`Calls.choose`) is stored on the call row.

Every change is a ``call_events`` row, so screen pops follow the table by id (any web process can
serve them); within this process :meth:`Calls.wait` wakes them at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import contacts, cti, phone_numbers
from engine.change_signal import ChangeSignal
from engine.clock import Clock
from engine.customer_requests import open_request
from engine.db import Database
from engine.errors import Conflict, InvalidRequest, NotFound
from engine.models import Call, CallEvent, CtiIntegration, ProcessInstance, User
from engine.pagination import Page, page_of
from engine.visibility import TaskScope
from process_library.store import Customer

STATUSES = ("ringing", "answered", "missed")
STALE_AFTER = timedelta(hours=2)  # a call without hangup this old is no longer shown as going on
MAX_CANDIDATES = 5  # customers offered when several have the calling number
MAX_SUBJECT = 300
MAX_NOTE = 20_000
PHONE_SYSTEM_PREFIX = "cti:"  # who logged a call that no agent took or filed: the phone system, by its name
REJECT = {"action": "reject", "reason": "busy"}
STAFF_ROLES = ("staff", "admin")
# What a call is logged as when nobody gave it a subject. Stored in English, as keys: every page shows them in
# its reader's language (api.pages.locale.contact_subject), so a customer never reads the agent's language.
CALL_IN, CALL_OUT, MISSED_CALL = "Phone call", "Call to the customer", "Missed call"
DEFAULT_SUBJECTS = frozenset({CALL_IN, CALL_OUT, MISSED_CALL})


@dataclass(frozen=True)
class Change:
    """The newest ``call_events`` id seen, and the calls that changed after the one asked about."""

    last_event: int
    calls: list[int]


def duration_seconds(call: Call) -> int | None:
    """How long the customer and the agent talked; None for a call not answered or not ended."""
    if call.answered_at is None or call.ended_at is None:
        return None
    return max(0, round((call.ended_at - call.answered_at).total_seconds()))


def call_view(call: Call, customer_name: str | None = None, reference: str | None = None) -> dict:
    return {
        "id": call.id,
        "call_id": call.call_id,
        "direction": call.direction,
        "from": call.from_number,
        "to": call.to_number,
        "number": call.number,
        "number_shown": phone_numbers.display(call.number) if call.number else call.from_number,
        "customer_id": call.customer_id,
        "customer_name": customer_name,
        "status": call.status,
        "blocked": call.blocked,
        "cause": call.cause,
        "queue": call.queue,
        "users": list(call.users or []),
        "agent": call.agent,
        "answered_by": call.answered_by,
        "started_at": call.started_at.isoformat(),
        "answered_at": call.answered_at.isoformat() if call.answered_at else None,
        "ended_at": call.ended_at.isoformat() if call.ended_at else None,
        "duration_seconds": duration_seconds(call),
        "instance_id": call.instance_id,
        "reference": reference,
        "subject": call.subject,
        "note": call.note,
        "chosen_by": call.chosen_by,
        "contact_id": call.contact_id,
    }


def logged_as(session: Session, contact_ids: list[int]) -> dict[int, dict]:
    """The calls logged as these contacts, by contact id: pages describe a call in the reader's language from
    its row (the contact's own text is the English one the log keeps)."""
    if not contact_ids:
        return {}
    found = session.scalars(select(Call).where(Call.contact_id.in_(contact_ids)))
    return {call.contact_id: call_view(call) for call in found}


def customers_with_number(session: Session, number: str | None, limit: int = MAX_CANDIDATES) -> list[Customer]:
    """The customers whose phone is this E.164 number (by the index on ``customers.phone_e164``)."""
    if number is None:
        return []
    query = select(Customer).where(Customer.phone_e164 == number).order_by(Customer.id).limit(limit)
    return list(session.scalars(query))


def resolve_agent(session: Session, answering_number: str | None, users: tuple[str, ...]) -> str | None:
    """The username of the staff member the phone system names, if exactly one matches.

    ``answeringNumber`` is looked up as a username, then as a user id (the generic CTI API's
    ``user.login``, ``user.id``); otherwise a single ``user`` name as a display name or username.
    """
    active = (User.disabled.is_(False), User.role.in_(STAFF_ROLES))
    if answering_number:
        wanted = answering_number.strip().lower()
        found = session.scalar(select(User.username).where(User.username == wanted, *active))
        if found is None and wanted.isdigit() and len(wanted) < 10:
            found = session.scalar(select(User.username).where(User.id == int(wanted), *active))
        if found is not None:
            return found
    if len(users) == 1:
        name = users[0].strip().lower()
        query = select(User.username).where(or_(func.lower(User.display_name) == name, User.username == name), *active)
        found = list(session.scalars(query.limit(2)))
        if len(found) == 1:
            return found[0]
    return None


class Calls:
    """The caller log: written by CTI events and the agents' choices, read by the pages and ``GET /api/calls``."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.signal = ChangeSignal()  # bumped whenever this process changes a call (the live streams wait on it)

    # -- what the phone system reports ----------------------------------------------------------

    def receive(self, integration: CtiIntegration, event: cti.CtiEvent) -> dict:
        """Store ``event`` and apply it to its call; the answer for the phone system (``{}`` or a reject)."""
        for attempt in range(2):
            try:
                with self.db.write() as session:
                    answer = self._apply(session, integration, event)
                break
            except IntegrityError:  # the first two events of one call at once: the other one made the row
                if attempt:
                    raise
        self.signal.notify()
        return answer

    def _apply(self, session: Session, integration: CtiIntegration, event: cti.CtiEvent) -> dict:
        now = self.clock.now()
        query = select(Call).where(Call.integration_id == integration.id, Call.call_id == event.call_id)
        if not self.db.is_sqlite:
            query = query.with_for_update()
        call = session.scalar(query)
        if call is None:
            call = self._new_call(session, integration, event, now)
        session.add(CallEvent(call=call.id, kind=event.event, fields=event.fields, received_at=now))
        row = session.get(CtiIntegration, integration.id)
        if row is not None:
            row.last_event_at = now
        call.queue = call.queue or event.queue
        if event.users and not call.users:
            call.users = list(event.users)
        if event.event == "answer":
            self._answered(session, call, event, now)
        elif event.event == "hangup":
            self._ended(session, call, event, now, integration.name)
        return dict(REJECT) if event.event == "newCall" and call.blocked else {}

    def _new_call(self, session: Session, integration: CtiIntegration, event: cti.CtiEvent, now: datetime) -> Call:
        number = phone_numbers.e164(event.other_party)
        found = customers_with_number(session, number, 2)
        call = Call(
            integration_id=integration.id,
            call_id=event.call_id,
            direction=event.direction,
            from_number=event.from_number,
            to_number=event.to_number,
            number=number,
            customer_id=found[0].id if len(found) == 1 else None,
            status="ringing",
            blocked=event.direction == "in" and cti.is_blocked(session, number),
            queue=event.queue,
            users=list(event.users),
            agent=resolve_agent(session, None, event.users) if event.direction == "out" else None,
            started_at=now,
        )
        session.add(call)
        session.flush()
        return call

    def _answered(self, session: Session, call: Call, event: cti.CtiEvent, now: datetime) -> None:
        if call.ended_at is not None or call.answered_at is not None:
            return  # late or repeated
        call.answered_at, call.status = now, "answered"
        self._name_agent(session, call, event)

    def _name_agent(self, session: Session, call: Call, event: cti.CtiEvent) -> None:
        named = event.answering_number or ", ".join(event.users)
        if not named:
            return
        call.answered_by = named[:200]
        call.agent = resolve_agent(session, event.answering_number, event.users) or call.agent

    def _ended(self, session: Session, call: Call, event: cti.CtiEvent, now: datetime, system: str) -> None:
        if call.ended_at is not None:
            return  # a repeated hangup: logged already
        call.ended_at, call.cause = now, (event.cause or None)
        call.status = "answered" if call.answered_at is not None else "missed"
        if call.answered_at is not None and call.agent is None:
            self._name_agent(session, call, event)
        if call.customer_id is None:  # filed by an agent while the call went on?
            found = customers_with_number(session, call.number, 2)
            call.customer_id = found[0].id if len(found) == 1 else None
        self._log(session, call, now, system)

    def _log(self, session: Session, call: Call, now: datetime, system: str) -> None:
        """The ended call as a contact on its customer (none for a blocked or unknown caller)."""
        if call.blocked or call.customer_id is None or call.contact_id is not None:
            return
        contact = contacts.record(
            session,
            customer_id=call.customer_id,
            instance_id=call.instance_id,
            channel="phone",
            direction=call.direction,
            subject=call.subject or default_subject(call.status, call.direction),
            text=contact_text(call),
            recorded_by=call.agent or call.chosen_by or f"{PHONE_SYSTEM_PREFIX}{system}"[:200],
            at=now,
        )
        call.contact_id = contact.id

    # -- what the agent chooses during the call --------------------------------------------------

    def choose(
        self,
        call_id: int,
        *,
        customer_id: str | None,
        instance_id: int | None,
        subject: str | None,
        note: str | None,
        by: str,
        scope: TaskScope | None,
    ) -> dict:
        """Store whom the call is about and on which open case it is to be logged, with a subject and note.

        A call that ended without being logged (its caller was not known then) is logged now; one
        logged already is a Conflict: add to the customer's contacts instead.
        """
        subject = (subject or "").strip() or None
        note = (note or "").strip() or None
        if subject is not None and len(subject) > MAX_SUBJECT:
            raise InvalidRequest(f"the subject must be at most {MAX_SUBJECT} characters")
        if note is not None and len(note) > MAX_NOTE:
            raise InvalidRequest(f"the note must be at most {MAX_NOTE} characters")
        with self.db.write() as session:
            call = session.get(Call, call_id, with_for_update=not self.db.is_sqlite)
            if call is None:
                raise NotFound(f"no call has the id {call_id}")
            if call.contact_id is not None:
                raise Conflict("the call has ended and is logged already")
            customer_id = customer_id or call.customer_id
            if customer_id is None or session.get(Customer, customer_id) is None:
                raise InvalidRequest("name the customer the call is about")
            if instance_id is not None and open_request(session, customer_id, scope, instance_id) is None:
                raise InvalidRequest("the case is no open request of this customer that you can see")
            call.customer_id, call.instance_id = customer_id, instance_id
            call.subject, call.note, call.chosen_by = subject, note, by
            choice = {"customer_id": customer_id, "instance_id": instance_id, "by": by}
            session.add(CallEvent(call=call.id, kind="choice", fields=choice, received_at=self.clock.now()))
            if call.ended_at is not None:
                system = session.scalar(select(CtiIntegration.name).where(CtiIntegration.id == call.integration_id))
                self._log(session, call, self.clock.now(), system or "phone")
            view = call_view(call)
        self.signal.notify()
        return view

    # -- reading ---------------------------------------------------------------------------------

    def get(self, call_id: int) -> dict:
        with self.db.read() as session:
            views = self.get_many(session, [call_id])
        if not views:
            raise NotFound(f"no call has the id {call_id}")
        return views[0]

    def list(
        self,
        limit: int,
        after: int | None = None,
        *,
        status: str | None = None,
        customer_id: str | None = None,
        number: str | None = None,
    ) -> Page[dict]:
        """Calls newest first; ``after`` is the id of the last call of the previous page."""
        query = select(Call.id).order_by(Call.id.desc()).limit(limit + 1)
        if after is not None:
            query = query.where(Call.id < after)
        if status is not None:
            query = query.where(Call.status == status)
        if customer_id is not None:
            query = query.where(Call.customer_id == customer_id)
        if number is not None:
            wanted = phone_numbers.e164(number)
            query = query.where(Call.number == wanted) if wanted else query.where(false())
        with self.db.read() as session:
            ids = list(session.scalars(query))
            page = page_of(ids, limit, key=lambda call_id: call_id)
            return Page(self.get_many(session, page.items), page.next_after)

    def going_on(self) -> list[int]:
        """Calls not ended (and not stale), not blocked, newest first: what screen pops show on opening."""
        since = self.clock.now() - STALE_AFTER
        query = (
            select(Call.id)
            .where(Call.ended_at.is_(None), Call.blocked.is_(False), Call.started_at >= since)
            .order_by(Call.id.desc())
            .limit(20)
        )
        with self.db.read() as session:
            return list(session.scalars(query))

    def get_many(self, session: Session, call_ids: list[int]) -> list[dict]:
        if not call_ids:
            return []
        rows = session.execute(
            select(Call, Customer.name, ProcessInstance.reference)
            .outerjoin(Customer, Customer.id == Call.customer_id)
            .outerjoin(ProcessInstance, ProcessInstance.id == Call.instance_id)
            .where(Call.id.in_(call_ids))
        )
        found = {call.id: call_view(call, name, reference) for call, name, reference in rows}
        return [found[call_id] for call_id in call_ids if call_id in found]

    # -- following changes -----------------------------------------------------------------------

    def last_event(self) -> int:
        with self.db.read() as session:
            return session.scalar(select(func.max(CallEvent.id))) or 0

    def changes(self, after: int) -> Change:
        """The calls changed since ``call_events`` id ``after`` (in the order of their last change)."""
        with self.db.read() as session:
            rows = list(
                session.execute(
                    select(CallEvent.id, CallEvent.call).where(CallEvent.id > after).order_by(CallEvent.id).limit(500)
                )
            )
        if not rows:
            return Change(after, [])
        calls = list(dict.fromkeys(call for _, call in reversed(rows)))[::-1]
        return Change(rows[-1][0], calls)


def contact_text(call: Call) -> str:
    """What the contact log says of a call (in English, like the other texts the care center writes itself)."""
    shown = phone_numbers.display(call.number) or (call.from_number if call.direction == "in" else call.to_number)
    lines = [f"Call {'from' if call.direction == 'in' else 'to'} {shown}."]
    seconds = duration_seconds(call)
    if call.status == "answered":
        who = call.agent or call.answered_by or "an agent"
        talked = f", {seconds // 60}:{seconds % 60:02d} min" if seconds is not None else ""
        lines.append(f"Answered by {who}{talked}.")
    else:
        lines.append(f"Not answered{f' ({call.cause})' if call.cause else ''}.")
    if call.note:
        lines += ["", call.note]
    return "\n".join(lines)


def default_subject(status: str, direction: str) -> str:
    """The subject a call of ``status`` and ``direction`` is logged with when nobody gave it one (one of
    :data:`DEFAULT_SUBJECTS`); the pages show the same (``call_default_subject``)."""
    if status != "answered":
        return MISSED_CALL
    return CALL_IN if direction == "in" else CALL_OUT
