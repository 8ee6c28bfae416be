"""A mail to a customer that cannot be delivered becomes an incident on its case, and a retry sends it again.

A failed outbox row alone is seen by nobody: the case goes on as if the customer had been told.
So when the SMTP server refuses a case's mail for good (5xx, the relay) or the customer's server
bounces it later (a delivery-status report, :mod:`engine.mail_bounces`), the case gets an open
incident naming the mail, its recipient and the reason; it shows on the case page and in the
admins' incident list like any other. The case itself keeps running: nothing in the process
failed. Retrying the incident (after the customer's address was corrected in the store, say)
puts the mail back in the outbox, addressed to the customer's address on file, for the relay.

Mail sent inside a service task (``notify_customer``) that is refused while the task runs fails
that task instead (an uncaught ``mail_refused`` BPMN error is an incident at the task already).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import events
from engine.mail_threading import case_of_message_id
from engine.models import Incident, ProcessInstance
from process_library.store import Customer, OutboxMessage

ERROR_TYPE = "MailNotDelivered"
RESEND = "resend"  # payload flag: the relay sends this mail again, whatever its purpose
MAX_MESSAGE = 2000


def case_of(session: Session, outbox: OutboxMessage, secret: str) -> int | None:
    """The id of the case an outbox mail belongs to: named in its payload, or by its signed Message-ID."""
    payload = outbox.payload or {}
    if isinstance(payload.get("instance_id"), int):
        return payload["instance_id"]
    reference = case_of_message_id(str(payload.get("message_id") or ""), secret)
    if reference is None:
        return None
    return session.scalar(select(ProcessInstance.id).where(ProcessInstance.reference == reference))


def open_incident(session: Session, outbox: OutboxMessage, reason: str, now: datetime, secret: str) -> int | None:
    """Open an incident on the mail's case (one per mail while it is open); None for mail of no case."""
    instance_id = case_of(session, outbox, secret)
    if instance_id is None or session.get(ProcessInstance, instance_id) is None:
        return None
    earlier = session.scalar(select(Incident.id).where(Incident.outbox_id == outbox.id, Incident.status == "open"))
    if earlier is not None:
        return earlier
    message = f"The mail “{outbox.subject}” to {outbox.recipient} could not be delivered: {reason}"
    incident = Incident(
        instance_id=instance_id,
        element_id=None,
        element_name=None,
        error_type=ERROR_TYPE,
        message=message[:MAX_MESSAGE],
        status="open",
        created_at=now,
        outbox_id=outbox.id,
    )
    session.add(incident)
    session.flush()
    events.incident_opened(session, session.get(ProcessInstance, instance_id), incident, now)
    return incident.id


def resend(session: Session, incident: Incident) -> OutboxMessage | None:
    """Put the incident's mail back in the outbox for the relay, to the customer's address on file if there is one."""
    outbox = session.get(OutboxMessage, incident.outbox_id)
    if outbox is None:
        return None
    payload = dict(outbox.payload or {})
    customer = session.get(Customer, payload["customer_id"]) if payload.get("customer_id") else None
    if customer is not None and customer.email:
        outbox.recipient = customer.email
    payload[RESEND] = True
    payload.pop("retry_at", None)  # process_library.outbox_relay.RETRY_AT: the resend goes at once
    outbox.payload = payload
    outbox.status, outbox.last_error, outbox.attempts = "held", None, 0
    return outbox
