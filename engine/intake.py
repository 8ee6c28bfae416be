"""Channel intake: an inquiry from e-mail, phone, web, chat or a visit reaches its conversation or starts one.

A channel system (or the portal, or staff recording a call) submits an inquiry. A reference that
names an open instance (its case reference, typed as forgivingly as :mod:`engine.case_reference`
parses it, its tracking code or its business key) makes the inquiry a customer reply to it:
message ``customer_reply``, buffered if the instance does not wait for one right now.
Otherwise — no reference, or one of a closed or unknown conversation, which is kept in the
inquiry as ``reference`` — message ``inquiry_received`` starts the process whose message start
event takes it (inquiry intake), with the channel, the customer and the address they wrote from
recorded on the instance.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, object_session

from engine import case_reference
from engine.db import Database
from engine.errors import CareError, Conflict, InvalidRequest
from engine.messages import OPEN_STATUSES, Messages
from engine.models import ProcessInstance

CHANNELS = ("email", "phone", "web", "chat", "visit")
NEW_INQUIRY = "inquiry_received"
REPLY = "customer_reply"
MAX_TEXT = 20_000
MAX_CUSTOMER_ID = 200  # the process_instances.customer_id column


@dataclass(frozen=True)
class IntakeResult:
    instance_id: int
    tracking_code: str
    reference: str
    started: bool  # False: correlated into an open conversation as a reply
    status: str  # started, delivered (the instance took the reply), buffered (it will when it waits for one)

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
        on_start: Callable[[Session, ProcessInstance], None] | None = None,
    ) -> IntakeResult:
        """``message_id`` (the channel's own id of what arrived) makes a repeated submission change nothing.

        ``on_start`` is called with the transaction that starts a new case and its row (not for a reply, not
        for a repeat): what it writes commits with the case or not at all, e.g. the confirmation mail.
        """
        inquiry = _inquiry(channel, customer, subject, body, reference)
        open_instance = self._open_conversation(reference) if reference else None
        if open_instance is not None:
            published = self.messages.publish(
                REPLY, principal=principal, payload=inquiry, target_instance_id=open_instance.id, message_id=message_id
            )
            return IntakeResult(
                open_instance.id, open_instance.tracking_code, open_instance.reference, False, published.status
            )
        if not self.messages.starting_definitions("message", NEW_INQUIRY):
            raise Conflict(f"no deployed process starts on message '{NEW_INQUIRY}'; nothing was recorded")

        def record(row: ProcessInstance) -> None:
            row.channel = channel
            row.customer_id = inquiry["customer"]["id"]
            row.contact_email = inquiry["customer"]["email"]
            if on_start is None:
                return
            try:
                on_start(object_session(row), row)
            except CareError:
                raise
            except Exception as error:  # as a CareError the start is rolled back whole, not stored as refused
                raise Conflict(f"the new case could not be recorded with what goes with it: {error}") from error

        published = self.messages.publish(
            NEW_INQUIRY, principal=principal, payload=inquiry, on_start=record, message_id=message_id
        )
        if published.started is None:  # the process went away between the check and the start
            raise Conflict(f"no deployed process started on message '{NEW_INQUIRY}'")
        return IntakeResult(
            published.started, published.tracking_code or "", published.reference or "", True, "started"
        )

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


def _inquiry(channel: str, customer: dict, subject: str, body: str, reference: str | None) -> dict:
    problems = []
    if channel not in CHANNELS:
        problems.append(f"channel must be one of {', '.join(CHANNELS)}")
    if not isinstance(customer, dict):
        problems.append("customer must be an object with id, name and email")
        customer = {}
    for field, longest in (("id", MAX_CUSTOMER_ID), ("name", 300), ("email", 300)):
        value = customer.get(field)
        if not isinstance(value, str) or not value.strip() or len(value) > longest:
            problems.append(f"customer.{field} must be a non-empty string of at most {longest} characters")
    if isinstance(customer.get("email"), str) and "@" not in customer["email"]:
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
        "customer": {field: customer[field].strip() for field in ("id", "name", "email")},
        "subject": subject.strip(),
        "body": body.strip(),
        "product": str(customer.get("product", "") or ""),
        "reference": reference,
    }
