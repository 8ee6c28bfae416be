"""A staff member's answer to the customer of a case, by e-mail, threaded under the customer's last mail.

Staff answer from the task page or the customer page ("Reply by e-mail"), or by filling the form
field a designer marked as the reply to the customer (``"x-reply-to-customer": true`` in the
task's JSON Schema, see :func:`engine.forms.reply_field`). Either way the answer is one outbox
mail, written in the transaction of the action that sends it, together with the outbound contact
(its author named) and a history event, so the case's timeline says who wrote what when. The
relay (:mod:`process_library.outbox_relay`) sends it with retries; a permanent refusal becomes an
incident on the case (:mod:`engine.delivery_failures`).

The mail carries ``In-Reply-To``/``References`` of the customer's last mail of the case, the case
reference in its subject and our signed Message-ID naming the case, so that the customer's mail
program shows it in the thread and their answer comes back to the case. It is written by a person:
no ``Auto-Submitted`` header. Each answer has an idempotency key (a form's request key, or the
completed task), so pressing Send twice sends once.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import contacts
from engine.clock import Clock
from engine.config import Settings
from engine.db import Database
from engine.errors import Conflict, Unprocessable
from engine.history import History
from engine.mail_threading import (
    UNVERIFIED_PREFIX,
    answer_headers,
    signed_message_id,
    with_reference,
    without_reply_prefixes,
)
from engine.models import Contact, ProcessInstance
from engine.visibility import TaskScope, visible_instance
from process_library.mail import message_id as plain_message_id
from process_library.store import Customer, OutboxMessage

PURPOSE = "answer"
ANSWER_MAILED = "answer_mailed"  # the history event of an answer that went to the outbox
MAX_BODY = 20000
MAX_SUBJECT = 200
REQUEST_KEY = re.compile(r"[A-Za-z0-9.:_-]{1,64}")  # the client's key for one answer: sending it twice sends once


class AnswerInvalid(Unprocessable):
    """An answer that cannot go as typed; ``extra["field"]`` names the part (body, subject, request_key)."""

    problem_type = "/problems/invalid-answer"


class NoAddress(Conflict):
    problem_type = "/problems/no-customer-address"
    title = "The case's customer has no e-mail address"


def recipient(session: Session, instance: ProcessInstance) -> str | None:
    """Where an answer goes: the customer's address in the store, else the address the case came from."""
    customer_id = instance.customer_id or ""
    if customer_id and not customer_id.startswith(UNVERIFIED_PREFIX):
        customer = session.get(Customer, customer_id)
        if customer is not None and customer.email:
            return customer.email
    if customer_id.startswith(UNVERIFIED_PREFIX):
        return customer_id[len(UNVERIFIED_PREFIX) :]
    return instance.contact_email or None


def suggested_subject(session: Session, instance: ProcessInstance) -> str:
    """``Re:`` and the subject of the customer's last message of the case (any channel); empty if it had none."""
    last = session.scalar(
        select(Contact.subject)
        .where(Contact.instance_id == instance.id, Contact.direction == "in", Contact.subject.is_not(None))
        .order_by(Contact.id.desc())
        .limit(1)
    )
    subject = without_reply_prefixes(" ".join((last or "").split()))
    return f"Re: {subject}" if subject else ""


def queue(
    session: Session,
    instance: ProcessInstance,
    *,
    subject: str,
    body: str,
    author: str,
    key: str,
    settings: Settings,
    history: History,
    now: datetime,
) -> OutboxMessage:
    """Write the answer to the outbox in the caller's transaction, once per ``key``; NoAddress if it cannot go."""
    earlier = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
    if earlier is not None:
        return earlier
    address = recipient(session, instance)
    if not address:
        raise NoAddress(f"case {instance.reference} has no customer e-mail address to answer to")
    subject = " ".join(subject.split())[:MAX_SUBJECT] or suggested_subject(session, instance)
    own_id = signed_message_id(instance.reference, key, settings.mail_from, settings.secret_key)
    row = OutboxMessage(
        idempotency_key=key,
        kind="mail",
        recipient=address,
        subject=with_reference(subject, instance.reference),
        body=body,
        payload={
            "purpose": PURPOSE,
            "instance_id": instance.id,
            "customer_id": instance.customer_id,
            "author": author,
            "message_id": own_id or plain_message_id(key, settings.mail_from),
            "headers": answer_headers(session, instance.id),
        },
        status="held",
        attempts=0,
        created_at=now,
    )
    session.add(row)
    session.flush()
    contacts.record(
        session,
        customer_id=instance.customer_id,
        instance_id=instance.id,
        channel="email",
        direction="out",
        subject=row.subject,
        text=contacts.without_secret(body, instance.tracking_code),
        recorded_by=author,
        at=now,
    )
    history.record(session, instance.id, ANSWER_MAILED, author, outbox_id=row.id)
    return row


def checked_text(subject: str, body: str, request_key: str) -> tuple[str, str, str]:
    """The subject, body and request key of an answer typed by a person; Unprocessable naming what is wrong."""
    body = (body or "").strip()
    if not body:
        raise AnswerInvalid("the answer needs a text", field="body")
    if len(body) > MAX_BODY:
        raise AnswerInvalid(f"the answer is longer than {MAX_BODY} characters", field="body")
    if len(subject or "") > MAX_SUBJECT:
        raise AnswerInvalid(f"the subject is longer than {MAX_SUBJECT} characters", field="subject")
    request_key = (request_key or "").strip()
    if not REQUEST_KEY.fullmatch(request_key):
        raise AnswerInvalid(
            "the answer needs a request_key of 1 to 64 letters, digits and . : _ -", field="request_key"
        )
    return subject or "", body, request_key


class MailAnswers:
    """Answers typed by staff on the task page, the customer page or through the API."""

    def __init__(self, db: Database, history: History, clock: Clock, settings: Settings) -> None:
        self.db = db
        self.history = history
        self.clock = clock
        self.settings = settings

    def send(
        self,
        instance_id: int,
        *,
        subject: str,
        body: str,
        request_key: str,
        author: str,
        scope: TaskScope | None = None,
    ) -> dict:
        """Queue an answer to the case's customer; the same ``request_key`` twice queues it once."""
        subject, body, request_key = checked_text(subject, body, request_key)
        with self.db.write() as session:
            instance = visible_instance(session, instance_id, scope)
            row = queue(
                session,
                instance,
                subject=subject,
                body=body,
                author=author,
                key=f"{PURPOSE}:{instance_id}:{request_key}",
                settings=self.settings,
                history=self.history,
                now=self.clock.now(),
            )
            return answer_view(row)

    def draft(self, instance_id: int, scope: TaskScope | None = None) -> dict:
        """What the answer form starts with: the recipient (None if there is none) and a subject."""
        with self.db.read() as session:
            instance = visible_instance(session, instance_id, scope)
            return {
                "instance_id": instance.id,
                "reference": instance.reference,
                "recipient": recipient(session, instance),
                "subject": suggested_subject(session, instance),
            }


def answer_view(row: OutboxMessage) -> dict:
    payload = row.payload or {}
    return {
        "outbox_id": row.id,
        "instance_id": payload.get("instance_id"),
        "recipient": row.recipient,
        "subject": row.subject,
        "status": row.status,
        "in_reply_to": (payload.get("headers") or {}).get("In-Reply-To"),
    }
