"""Channel intake: an inquiry from e-mail, phone, web, chat, a visit or a letter reaches its conversation or starts one.

A channel system (or the portal, or staff recording a call) submits an inquiry. A reference that
names an open instance (its case reference, typed as forgivingly as :mod:`engine.case_reference`
parses it, its tracking code or its business key) makes the inquiry a customer reply to it:
message ``customer_reply``, buffered if the instance does not wait for one right now.
Otherwise — no reference, or one of a closed or unknown conversation, which is kept in the
inquiry as ``reference`` — message ``inquiry_received`` starts the process whose message start
event takes it (inquiry intake), with the channel, the customer and the address they wrote from
recorded on the instance.

Every inquiry and reply is also an inbound contact (:mod:`engine.contacts`), written in the
transaction that stores the message: recorded once, or not at all.  A ``message_id`` makes a
submission idempotent: a repeat stores nothing and answers like the first.

Who the customer is: a customer of the store may be named by id alone (name and e-mail come from
the store; an unknown id is refused with 422).  With ``register`` (staff logging a call,
integration accounts), a customer the store does not know is filed in it
(:func:`process_library.customers.create_customer`): under the id the channel gives, or a new
one.  An id that cannot be one of the store (``web:<e-mail>``, an unverified contact) files the
inquiry under it as given, as does every unknown id without ``register``.  The portal does not
register: nobody proves who they are on a web form.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import case_reference, contacts
from engine.db import Database
from engine.errors import Conflict, InvalidRequest, Unprocessable
from engine.messages import OPEN_STATUSES, Messages, PublishHooks
from engine.models import Message, ProcessInstance
from process_library.customers import check_new_customer, create_customer, new_customer_id, storable_id
from process_library.store import Customer

CHANNELS = contacts.CHANNELS
NEW_INQUIRY = "inquiry_received"
REPLY = "customer_reply"
MAX_TEXT = 20_000
MAX_CUSTOMER_ID = 200  # the process_instances.customer_id column
CUSTOMER_FIELDS = (("id", MAX_CUSTOMER_ID), ("name", 300), ("email", 300), ("phone", 50), ("language", 10))


@dataclass(frozen=True)
class IntakeResult:
    instance_id: int
    tracking_code: str
    reference: str
    started: bool  # False: correlated into an open conversation as a reply
    status: str  # started, delivered (the instance took the reply), buffered (it will when it waits for one)
    customer_id: str

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class Intake:
    def __init__(self, db: Database, messages: Messages) -> None:
        self.db = db
        self.messages = messages

    def submit(
        self,
        *,
        channel: str,
        customer: dict,
        subject: str,
        body: str,
        reference: str | None,
        principal: str,
        message_id: str | None = None,
        register: bool = False,
        on_start: Callable[[Session, ProcessInstance], None] | None = None,
    ) -> IntakeResult:
        """Take one inquiry or reply; ``register`` files a customer the store does not know (see the module).

        ``on_start`` is called in the transaction that starts a new case, with the case's row (not for a reply,
        not for a repeat): what it writes commits with the case or not at all, e.g. the confirmation mail.
        """
        given = _inquiry_fields(channel, customer, subject, body, reference)
        new_customer = self._customer(given["customer"], register)
        inquiry = {**given, "customer": {key: given["customer"][key] for key in ("id", "name", "email")}}
        open_instance = self._open_conversation(reference) if reference else None
        recorder = _Recorder(self.messages, inquiry, principal, new_customer, open_instance, on_start)
        if open_instance is not None:
            published = self.messages.publish(
                REPLY,
                principal=principal,
                payload=inquiry,
                target_instance_id=open_instance.id,
                message_id=message_id,
                hooks=recorder,
            )
            return IntakeResult(
                open_instance.id,
                open_instance.tracking_code,
                open_instance.reference,
                False,
                published.status,
                self._customer_of(published.duplicate, open_instance.id, inquiry),
            )
        if not self.messages.starting_definitions("message", NEW_INQUIRY):
            raise Conflict(f"no deployed process starts on message '{NEW_INQUIRY}'; nothing was recorded")
        published = self.messages.publish(
            NEW_INQUIRY, principal=principal, payload=inquiry, message_id=message_id, hooks=recorder
        )
        if published.started is None:  # the process went away between the check and the start
            raise Conflict(f"no deployed process started on message '{NEW_INQUIRY}'")
        return IntakeResult(
            published.started,
            published.tracking_code or "",
            published.reference or "",
            True,
            "started",
            self._customer_of(published.duplicate, published.started, inquiry),
        )

    def _customer(self, customer: dict, register: bool) -> dict | None:
        """Complete ``customer`` (id, name, email) from the store; the fields of a record to file, if one is new."""
        with self.db.read() as session:
            stored = session.get(Customer, customer["id"]) if customer.get("id") else None
        if stored is not None:
            customer.setdefault("name", stored.name)
            customer.setdefault("email", stored.email)
            return None
        if customer.get("id") and not (customer.get("name") and customer.get("email")):
            raise Unprocessable(
                f"no customer has the id '{customer['id']}'; name a known customer by id, or give name and email "
                "for a new one"
            )
        if customer.get("id") and (not register or not storable_id(customer["id"])):
            return None  # filed under the channel's own id, as given (the portal's web:<e-mail>)
        if not register:
            raise InvalidRequest("customer.id is required: this channel does not file new customers")
        problems = check_new_customer(
            name=customer.get("name"),
            email=customer.get("email"),
            phone=customer.get("phone"),
            language=customer.get("language"),
            customer_id=customer.get("id"),
        )
        if problems:
            raise Unprocessable("; ".join(problems))
        customer.setdefault("id", new_customer_id())
        return dict(customer)

    def _customer_of(self, duplicate: bool, instance_id: int, inquiry: dict) -> str:
        """The customer the inquiry was filed under (for a repeat: the first submission's)."""
        if not duplicate:
            return inquiry["customer"]["id"]
        with self.db.read() as session:
            filed = session.scalar(select(ProcessInstance.customer_id).where(ProcessInstance.id == instance_id))
        return filed or inquiry["customer"]["id"]

    def _open_conversation(self, reference: str) -> ProcessInstance | None:
        names = [ProcessInstance.tracking_code == reference, ProcessInstance.business_key == reference]
        with suppress(case_reference.InvalidReference):  # else it is a tracking code or business key
            names.append(ProcessInstance.reference == case_reference.parse(reference))
        with self.db.read() as session:
            query = (
                select(ProcessInstance)
                .where(or_(*names), ProcessInstance.status.in_(OPEN_STATUSES))
                .order_by(ProcessInstance.id.desc())
                .limit(1)
            )
            return session.scalar(query)


class _Recorder(PublishHooks):
    """Files a new customer and records the inbound contact with the stored message; notes the case it starts."""

    def __init__(
        self,
        messages: Messages,
        inquiry: dict,
        principal: str,
        new_customer: dict | None,
        open_instance: ProcessInstance | None,
        on_start: Callable[[Session, ProcessInstance], None] | None = None,
    ) -> None:
        self.clock = messages.clock
        self.inquiry = inquiry
        self.principal = principal
        self.new_customer = new_customer
        self.open_instance_id = open_instance.id if open_instance is not None else None
        self.contact_id: int | None = None
        self.on_start = on_start

    def stored(self, session: Session, message: Message) -> None:
        customer = self.inquiry["customer"]
        if self.new_customer is not None:
            self._file_customer(session, customer["id"])
        self.contact_id = contacts.record(
            session,
            customer_id=customer["id"],
            instance_id=self.open_instance_id,
            channel=self.inquiry["channel"],
            direction="in",
            subject=self.inquiry["subject"],
            text=self.inquiry["body"],
            recorded_by=self.principal,
            at=self.clock.now(),
        ).id

    def _file_customer(self, session: Session, customer_id: str) -> None:
        try:
            with session.begin_nested():
                if session.get(Customer, customer_id) is None:
                    create_customer(
                        session,
                        name=self.new_customer["name"],
                        email=self.new_customer["email"],
                        phone=self.new_customer.get("phone"),
                        language=self.new_customer.get("language"),
                        customer_id=customer_id,
                        at=self.clock.now(),
                    )
        except IntegrityError:  # a concurrent inquiry filed the same id a moment ago: it is that customer
            pass

    def prepare(self, row: ProcessInstance) -> None:
        row.channel = self.inquiry["channel"]
        row.customer_id = self.inquiry["customer"]["id"]
        row.contact_email = self.inquiry["customer"]["email"]

    def started(self, session: Session, row: ProcessInstance) -> None:
        if self.contact_id is not None:
            contacts.link_instance(session, self.contact_id, row.id)
        if self.on_start is not None:
            self.on_start(session, row)


def _inquiry_fields(channel: str, customer: dict, subject: str, body: str, reference: str | None) -> dict:
    """The inquiry as submitted, checked and trimmed; the customer's fields are those given (completed later)."""
    problems = []
    if channel not in CHANNELS:
        problems.append(f"channel must be one of {', '.join(CHANNELS)}")
    if not isinstance(customer, dict):
        problems.append("customer must be an object: id (a known customer), or name and email")
        customer = {}
    given = {}
    for field, longest in CUSTOMER_FIELDS:
        value = customer.get(field)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip() or len(value) > longest:
            problems.append(f"customer.{field} must be a non-empty string of at most {longest} characters")
        else:
            given[field] = value.strip()
    if not given.get("id") and not (given.get("name") and given.get("email")):
        problems.append("customer needs an id (a known customer), or a name and an email (a new one)")
    if "email" in given and "@" not in given["email"]:
        problems.append("customer.email must be an e-mail address")
    for field, value in (("subject", subject), ("body", body)):
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
            problems.append(f"{field} must be a non-empty string of at most {MAX_TEXT} characters")
    if reference is not None and (not isinstance(reference, str) or len(reference) > 200):
        problems.append("reference must be a string of at most 200 characters")
    if problems:
        raise InvalidRequest("; ".join(problems))
    return {
        "channel": channel,
        "customer": given,
        "subject": subject.strip(),
        "body": body.strip(),
        "product": str(customer.get("product", "") or ""),
        "reference": reference,
    }
