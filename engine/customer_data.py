"""A customer's data on request: all of it as JSON (access), or erased (erasure), with the erasure recorded.

``carecenter customer export ID`` and ``carecenter customer erase ID`` call this.  A customer is
found by id: a customer of the store (``C-…``) or an unverified contact (``web:<e-mail>``) that has
cases and contacts but no record.  Their mail addresses are the record's e-mail and the addresses
their cases were opened from; mail is found by those.

Erasure refuses while the customer has a case that has not ended or a chat not yet closed (they
would still read and write their data): finish, cancel or close those first.  Then, in one transaction:

- their ended cases go with everything that was theirs (as the data lifecycle purges them,
  :func:`engine.lifecycle.remove_instances`), and nothing is archived;
- the customer record stays, anonymised: its id (which their licenses, systems and orders name,
  kept for the books) with the name ``(erased)``, an address that cannot receive mail, and every
  other personal field empty; the staff search finds it by its id only;
- contacts, calls and account changes stay as counts for the statistics, their text, numbers and
  values blanked (and "(erased)" where they name the customer as who acted); the raw calls' events,
  notes about the customer, their chats, mail from and to their addresses, bounces, portal links and sessions,
  the messages that carried their data and the stored answers to repeatable requests that name them
  go; event-log entries about them keep their type and time, their data replaced by ``{"erased": true}``;
- a ``data_removals`` row says who erased whom, when, and how many records of each kind, with the
  operator's reference (e.g. a ticket) and no personal data.

Webhook deliveries already made, backups and archives written before are outside the database:
docs/operations.md says what the operator has to do about them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.orm import Session

from engine import search
from engine.clock import Clock
from engine.db import Database
from engine.errors import Conflict, NotFound
from engine.lifecycle import ENDED, remove_instances, row_dict
from engine.models import (
    Call,
    CallEvent,
    Chat,
    ChatMessage,
    Contact,
    CustomerStageEvent,
    CustomerStatus,
    DataRemoval,
    EventRecord,
    IdempotencyRecord,
    InboundMail,
    MailBounce,
    Message,
    Note,
    PortalLink,
    PortalSession,
    ProcessInstance,
)
from process_library.store import Customer, CustomerChange, Dispatch, License, Order, OutboxMessage, System

FORMAT = "carecenter-customer-export/1"
ERASED_NAME = "(erased)"
ERASED = {"erased": True}
MAIL_FIELDS = ("id", "received_at", "sender", "subject", "status", "instance_id")  # not the raw mail (in contacts)


def erased_email(customer_id: str) -> str:
    """An address that names the record but reaches nobody (``.invalid`` is reserved for that, RFC 2606)."""
    return f"erased-{customer_id}@erased.invalid".lower()


@dataclass(frozen=True)
class Erasure:
    customer_id: str
    counts: dict[str, int]
    removal_id: int


class _RolledBack(Exception):
    """Ends a dry run's transaction (rolled back, as every failed write is) with what it would have done."""

    def __init__(self, erasure: Erasure) -> None:
        super().__init__("dry run")
        self.erasure = erasure


class CustomerData:
    """Export and erasure of one customer's data."""

    def __init__(self, db: Database, clock: Clock, variables: Callable[[int], dict]) -> None:
        """``variables`` gives an instance's process variables (for the export of its cases)."""
        self.db = db
        self.clock = clock
        self.variables = variables

    # -- access ---------------------------------------------------------------------------------

    def export(self, customer_id: str) -> dict:
        """Everything carecenter holds about the customer, as JSON-ready values; NotFound if it holds nothing."""
        with self.db.read() as session:
            customer = session.get(Customer, customer_id)
            cases = _cases(session, customer_id)
            if customer is None and not cases and not _has_contacts(session, customer_id):
                raise NotFound(f"carecenter holds nothing about a customer '{customer_id}'")
            ids = [case.id for case in cases]
            addresses = _addresses(customer, cases)
            status = {row.instance_id: row for row in _rows(session, CustomerStatus, CustomerStatus.instance_id, ids)}
            stages = _grouped(_rows(session, CustomerStageEvent, CustomerStageEvent.instance_id, ids))
            mine = {
                "systems": System,
                "licenses": License,
                "contacts": Contact,
                "notes": Note,
                "calls": Call,
                "orders": Order,
                "account_changes": CustomerChange,
                "dispatches": Dispatch,
                "erasures": DataRemoval,
            }
            export = {
                "format": FORMAT,
                "customer_id": customer_id,
                "exported_at": self.clock.now().isoformat(),
                "customer": row_dict(customer) if customer is not None else None,
                "cases": [
                    {
                        **_case(case),
                        "customer_status": row_dict(status[case.id]) if case.id in status else None,
                        "stages": stages.get(case.id, []),
                    }
                    for case in cases
                ],
            }
            for name, model in mine.items():
                query = select(model).where(model.customer_id == customer_id).order_by(model.id)
                export[name] = [row_dict(row) for row in session.scalars(query)]
            received = select(*(getattr(InboundMail, name) for name in MAIL_FIELDS)).where(_mail_of(ids, addresses))
            export["mails_received"] = [
                {
                    name: value.isoformat() if isinstance(value, datetime) else value
                    for name, value in row._asdict().items()
                }
                for row in session.execute(received.order_by(InboundMail.id))
            ]
            chats = list(session.scalars(select(Chat).where(_chats_of(customer_id, addresses)).order_by(Chat.id)))
            lines = _rows(session, ChatMessage, ChatMessage.chat_id, [chat.id for chat in chats])
            export["chats"] = [
                {
                    **{key: value for key, value in row_dict(chat).items() if key != "token_hash"},
                    "lines": [row_dict(line) for line in lines if line.chat_id == chat.id],
                }
                for chat in chats
            ]
            export["mails_sent"] = [
                row_dict(mail)
                for mail in session.scalars(
                    select(OutboxMessage)
                    .where(func.lower(OutboxMessage.recipient).in_(addresses))
                    .order_by(OutboxMessage.id)
                )
            ]
        for found in export["cases"]:  # after the session: loading a workflow opens its own
            found["variables"] = self.variables(found["id"])
        return export

    # -- erasure --------------------------------------------------------------------------------

    def erase(self, customer_id: str, principal: str, note: str | None = None, dry_run: bool = False) -> Erasure:
        """Erase the customer's personal data (see the module's docstring); Conflict while a case of theirs runs.

        A dry run does the same in a transaction it rolls back: the counts are exact, nothing changes
        (its ``removal_id`` is 0).
        """
        try:
            return self._erase(customer_id, principal, note, dry_run)
        except _RolledBack as rolled_back:
            return rolled_back.erasure

    def _erase(self, customer_id: str, principal: str, note: str | None, dry_run: bool) -> Erasure:
        now = self.clock.now()
        with self.db.write() as session:
            customer = session.get(Customer, customer_id, with_for_update=not self.db.is_sqlite)
            cases = _cases(session, customer_id)
            if customer is None and not cases and not _has_contacts(session, customer_id):
                raise NotFound(f"carecenter holds nothing about a customer '{customer_id}'")
            running = [case.reference for case in cases if case.status not in ENDED]
            if running:
                raise Conflict(
                    f"customer '{customer_id}' has cases that have not ended ({', '.join(running)}): "
                    "finish or cancel them first, then erase"
                )
            addresses = _addresses(customer, cases)
            chatting = session.scalar(
                select(func.count()).where(_chats_of(customer_id, addresses), Chat.status != "closed")
            )
            if chatting:
                raise Conflict(f"customer '{customer_id}' has a chat that is not closed and filed yet: erase after it")
            ids = [case.id for case in cases]
            counts = _erase_rows(session, customer_id, ids, addresses, customer)
            if customer is not None:
                _anonymise(session, customer)
                counts["customers"] = 1
            counts = {table: count for table, count in sorted(counts.items()) if count}
            if dry_run:
                raise _RolledBack(Erasure(customer_id, counts, 0))
            removal = DataRemoval(
                kind="erasure", customer_id=customer_id, principal=principal, at=now, counts=counts, note=note
            )
            session.add(removal)
            session.flush()
            return Erasure(customer_id, counts, removal.id)


def _cases(session: Session, customer_id: str) -> list[ProcessInstance]:
    return list(
        session.scalars(
            select(ProcessInstance).where(ProcessInstance.customer_id == customer_id).order_by(ProcessInstance.id)
        )
    )


def _has_contacts(session: Session, customer_id: str) -> bool:
    return session.scalar(select(Contact.id).where(Contact.customer_id == customer_id).limit(1)) is not None


def _addresses(customer: Customer | None, cases: list[ProcessInstance]) -> list[str]:
    found = {case.contact_email.strip().lower() for case in cases if case.contact_email}
    if customer is not None and customer.email:
        found.add(customer.email.strip().lower())
    return sorted(found)


def _rows(session: Session, model, column, ids: list[int]) -> list:
    return list(session.scalars(select(model).where(column.in_(ids)).order_by(column))) if ids else []


def _grouped(stages: list[CustomerStageEvent]) -> dict[int, list[dict]]:
    grouped: dict[int, list[dict]] = {}
    for stage in sorted(stages, key=lambda s: s.id):
        grouped.setdefault(stage.instance_id, []).append(row_dict(stage))
    return grouped


def _case(case: ProcessInstance) -> dict:
    values = row_dict(case)
    values.pop("state")
    values.pop("tracking_code")  # a secret that opens the status page, not the customer's data
    return values


def _chats_of(customer_id: str, addresses: list[str]):
    return or_(Chat.customer_id == customer_id, func.lower(Chat.email).in_(addresses))


def _mail_of(ids: list[int], addresses: list[str]):
    return or_(InboundMail.instance_id.in_(ids), InboundMail.sender.in_(addresses))


def _erase_rows(
    session: Session, customer_id: str, ids: list[int], addresses: list[str], customer: Customer | None
) -> dict[str, int]:
    """Delete or blank the customer's rows; how many per table."""
    counts: dict[str, int] = {}

    def run(table: str, statement) -> None:
        counts[table] = (
            counts.get(table, 0) + session.execute(statement.execution_options(synchronize_session=False)).rowcount
        )

    events_about = or_(
        EventRecord.subject == customer_id,
        EventRecord.ordering_key == f"customer:{customer_id}",
        EventRecord.instance_id.in_(ids),
    )
    run("events", update(EventRecord).where(events_about).values(data=ERASED))
    run("inbound_mails", delete(InboundMail).where(_mail_of(ids, addresses)))
    for table, count in remove_instances(session, ids).items():
        counts[table] = counts.get(table, 0) + count
    # who the customer was when they acted themselves (web:<e-mail>, their address or id): "(erased)"
    themselves = [customer_id, *addresses, *(f"web:{address}" for address in addresses)]

    def unnamed(column):
        return case((column.in_(themselves), ERASED_NAME), else_=column)

    run(
        "contacts",
        update(Contact)
        .where(Contact.customer_id == customer_id)
        .values(subject=None, text="", recorded_by=unnamed(Contact.recorded_by)),
    )
    run("notes", delete(Note).where(Note.customer_id == customer_id))
    numbers = [customer.phone_e164] if customer is not None and customer.phone_e164 else []
    calls = select(Call.id).where(or_(Call.customer_id == customer_id, Call.number.in_(numbers)))
    run("call_events", delete(CallEvent).where(CallEvent.call.in_(calls)))
    run(
        "calls",
        update(Call)
        .where(or_(Call.customer_id == customer_id, Call.number.in_(numbers)))
        .values(from_number="", to_number="", number=None, subject=None, note=None),
    )
    run(
        "customer_changes",
        update(CustomerChange)
        .where(CustomerChange.customer_id == customer_id)
        .values(before=None, after=None, requested_by=unnamed(CustomerChange.requested_by)),
    )
    run("messages", delete(Message).where(Message.id.in_(_messages_about(session, customer_id, ids, addresses))))
    answers = _answers_about(session, customer_id, addresses)
    run("idempotency_records", delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(answers)))
    run("outbox", delete(OutboxMessage).where(func.lower(OutboxMessage.recipient).in_(addresses)))
    run("mail_bounces", delete(MailBounce).where(MailBounce.address.in_(addresses)))
    chats = select(Chat.id).where(_chats_of(customer_id, addresses))
    run("chat_messages", delete(ChatMessage).where(ChatMessage.chat_id.in_(chats)))
    run("chats", delete(Chat).where(Chat.id.in_(chats)))
    run("portal_links", delete(PortalLink).where(PortalLink.customer_id == customer_id))
    run("portal_sessions", delete(PortalSession).where(PortalSession.customer_id == customer_id))
    return counts


def _naming(customer_id: str, addresses: list[str]) -> re.Pattern:
    """Finds the customer in JSON text: their id as a whole string value, an address of theirs as a whole address."""
    parts = [re.escape(json.dumps(customer_id.lower()))]
    parts += [rf"(?<![\w.+-]){re.escape(address)}(?![\w-]|\.\w)" for address in addresses]
    return re.compile("|".join(parts))


def _messages_about(session: Session, customer_id: str, ids: list[int], addresses: list[str]) -> list[int]:
    """Published messages that carry the customer's data: sent to or starting a case of theirs, or naming them.

    Housekeeping keeps delivered messages for a month, so this reads at most that month's, in Python (their
    payloads are JSON, searched alike on both databases).
    """
    found = []
    naming = _naming(customer_id, addresses)
    cases = set(ids)
    rows = session.execute(select(Message.id, Message.target_instance_id, Message.payload, Message.result))
    for message_id, target, payload, result in rows:
        started = set((result or {}).get("instances") or []) | {(result or {}).get("started")}
        words = json.dumps([payload, result], ensure_ascii=False).lower()
        if target in cases or started & cases or naming.search(words):
            found.append(message_id)
    return found


def _answers_about(session: Session, customer_id: str, addresses: list[str]) -> list[int]:
    """Stored first answers to requests repeated with an ``Idempotency-Key`` (kept a day) that name the customer."""
    naming = _naming(customer_id, addresses)
    rows = session.execute(select(IdempotencyRecord.id, IdempotencyRecord.response))
    return [row_id for row_id, response in rows if naming.search(json.dumps(response, ensure_ascii=False).lower())]


def _anonymise(session: Session, customer: Customer) -> None:
    customer.name = ERASED_NAME
    customer.email = erased_email(customer.id)
    for column in (
        "postcode",
        "phone",
        "contact_person",
        "address",
        "billing_address",
        "preferred_channel",
        "authorized_contacts",
    ):
        setattr(customer, column, None)
    session.flush()
    search.index_customer(session, customer)  # its words are the id and "(erased)" now: the old name finds nothing
