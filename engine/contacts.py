"""Every contact with a customer, on any channel, in or out: recording it and listing a customer's, newest first.

Contacts are written by the code that handles them, in that code's own transaction, so a contact
is recorded exactly when the thing it records happened: channel intake writes an inbound contact
with the inquiry or reply it stores (:mod:`engine.intake`; a repeated ``message_id`` stores
nothing, so it records nothing twice), and ``notify_customer`` an outbound one with the mail it
puts in the outbox (:mod:`process_library.operations`).  A contact is never changed afterwards,
except that an inquiry's contact learns the case it started, in the transaction that starts it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine import events
from engine.models import Contact, CustomerStatus, ProcessInstance

# Where a contact happened; channel intake takes all but letter from channel systems, staff log all of them.
CHANNELS = ("email", "phone", "web", "chat", "visit", "letter")
DIRECTIONS = ("in", "out")  # in: from the customer; out: to the customer
MAX_SUBJECT = 300  # the contacts.subject column
PROCESS_PREFIX = "process:"  # recorded_by of what a process sent on its own: process:<process key>


HIDDEN_SECRET = "[tracking code]"  # what the contact log shows where a mail carried the case's secret link


def without_secret(text: str, secret: str | None) -> str:
    """``text`` with the case's tracking code blanked: staff read the contact log, and only admins the code."""
    return text.replace(secret, HIDDEN_SECRET) if secret else text


def record(
    session: Session,
    *,
    customer_id: str | None,
    instance_id: int | None,
    channel: str,
    direction: str,
    subject: str | None,
    text: str,
    recorded_by: str,
    at: datetime,
) -> Contact:
    """Add one contact in the caller's transaction (flushed: its id is known)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel '{channel}' (channels: {', '.join(CHANNELS)})")
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction '{direction}' (in or out)")
    contact = Contact(
        customer_id=customer_id,
        instance_id=instance_id,
        channel=channel,
        direction=direction,
        subject=_shortened(subject),
        text=text,
        recorded_by=recorded_by,
        created_at=at,
    )
    session.add(contact)
    session.flush()
    events.contact_logged(session, contact, at)
    return contact


def _shortened(subject: str | None) -> str | None:
    if subject is None or len(subject) <= MAX_SUBJECT:
        return subject
    return subject[: MAX_SUBJECT - 1] + "…"


def link_instance(session: Session, contact_id: int, instance_id: int) -> None:
    """The case a new inquiry's contact started (in the transaction that starts it)."""
    contact = session.get(Contact, contact_id)
    if contact is not None and contact.instance_id is None:
        contact.instance_id = instance_id


def contact_view(contact: Contact, reference: str | None = None, title: str | None = None) -> dict:
    """A contact, with the case reference and process title of its case, if it has one."""
    return {
        "id": contact.id,
        "customer_id": contact.customer_id,
        "instance_id": contact.instance_id,
        "reference": reference,
        "title": title,
        "channel": contact.channel,
        "direction": contact.direction,
        "subject": contact.subject,
        "text": contact.text,
        "recorded_by": contact.recorded_by,
        "created_at": contact.created_at.isoformat(),
    }


def of_customer(session: Session, customer_id: str, limit: int, before: int | None) -> tuple[list[dict], int | None]:
    """The customer's contacts, newest first: filed under them, or belonging to one of their cases.

    A request from the portal is filed under an unverified contact (``web:<e-mail>``) until staff
    link it to the customer; its contacts show here from then on.  Returns the page and the id to
    pass as ``before`` for the next (older) one, or None at the end.
    """
    cases = select(ProcessInstance.id).where(ProcessInstance.customer_id == customer_id)
    query = (
        select(Contact, ProcessInstance.reference, CustomerStatus.title)
        .outerjoin(ProcessInstance, ProcessInstance.id == Contact.instance_id)
        .outerjoin(CustomerStatus, CustomerStatus.instance_id == Contact.instance_id)
        .where(or_(Contact.customer_id == customer_id, Contact.instance_id.in_(cases)))
        .order_by(Contact.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(Contact.id < before)
    rows = list(session.execute(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return [contact_view(*row) for row in rows], rows[-1][0].id if more else None
