"""Bounces: a delivery-status report is matched to the mail of ours it reports on, and marks the address.

A report (``multipart/report; report-type=delivery-status``, RFC 3464) never starts a case. It
names the mail it bounces by that mail's Message-ID (in its ``message/rfc822`` or
``text/rfc822-headers`` part); when that is one of our outbox mails, the outbox row becomes
``bounced`` with the server's diagnostic, and the recipient's address is recorded in
``mail_bounces`` (how often, since when, the last diagnostic) for the customer page and the outbox.
A report that matches no mail of ours (backscatter for a forged sender) marks nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.mail_parse import DeliveryReport
from engine.models import MailBounce
from process_library.store import OutboxMessage

MAX_DIAGNOSTIC = 2000


def record(session: Session, report: DeliveryReport, inbound_mail_id: int, now: datetime) -> int | None:
    """Mark the bounced outbox mail and its recipient; returns the outbox row's id, or None when none matches."""
    if not report.original_message_id:
        return None
    outbox = session.scalar(
        select(OutboxMessage)
        .where(
            OutboxMessage.kind == "mail",
            OutboxMessage.payload["message_id"].as_string() == f"<{report.original_message_id}>",
        )
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    if outbox is None:
        return None
    diagnostic = (report.diagnostic or "the receiving server reported the mail undeliverable")[:MAX_DIAGNOSTIC]
    outbox.status, outbox.last_error = "bounced", diagnostic
    address = outbox.recipient.strip().lower()
    bounce = session.get(MailBounce, address)
    if bounce is None:
        session.add(
            MailBounce(
                address=address,
                bounces=1,
                first_at=now,
                last_at=now,
                diagnostic=diagnostic,
                outbox_id=outbox.id,
                inbound_mail_id=inbound_mail_id,
            )
        )
    else:
        bounce.bounces += 1
        bounce.last_at, bounce.diagnostic = now, diagnostic
        bounce.outbox_id, bounce.inbound_mail_id = outbox.id, inbound_mail_id
    session.flush()
    return outbox.id


def bouncing(session: Session, address: str) -> dict | None:
    """What is known about bounces from ``address`` (for the customer page and the outbox), or None."""
    bounce = session.get(MailBounce, address.strip().lower())
    if bounce is None:
        return None
    return {
        "address": bounce.address,
        "bounces": bounce.bounces,
        "first_at": bounce.first_at.isoformat(),
        "last_at": bounce.last_at.isoformat(),
        "diagnostic": bounce.diagnostic,
    }
