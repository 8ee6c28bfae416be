"""A closed chat's transcript, filed: it continues the chat's case, or starts an inquiry with channel ``chat``.

Like every channel, the chat ends in channel intake (:mod:`engine.intake`): the transcript is the
inquiry's text, so it becomes an inbound contact of the customer (channel ``chat``, with its
``contact.logged`` event) on the case it continues, or on the case it starts. A chat started from
a case's tracking page names that case by its reference: an open case gets the transcript as the
customer's reply, a closed one a new inquiry that keeps the reference. Any other chat starts an
inquiry, confirmed by mail with its reference and status link, as the portal's web form does.

Filing runs after the transaction that closed the chat, so it never holds the chat's row while
the process engine works. It is idempotent: the intake's ``message_id`` is the chat's, so filing
again after a crash (the worker files every closed chat that is not yet, :meth:`engine.chat.Chats.file_pending`)
stores nothing twice. Without a deployed intake process the transcript is still recorded as a
contact, on the chat's case if it has one.

The texts here are written by the care center itself, in English, like the caller log's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from engine import confirmations, contacts
from engine.chat_config import ChatConfig
from engine.clock import Clock
from engine.config import Settings
from engine.db import Database
from engine.errors import Conflict
from engine.intake import MAX_TEXT, Intake
from engine.models import Chat, ChatMessage, ProcessInstance
from process_library.store import Customer

PRINCIPAL = "chat"  # who filed it, when no agent accepted the chat
ENDINGS = {
    "customer": "The customer ended the chat.",
    "agent": "{agent} ended the chat.",
    "idle": "The chat ended after nobody wrote for a while.",
    "message_left": "No agent was free: the customer left a message.",
    "unanswered": "No agent was free, and the customer left.",
}


def message_id(chat_id: int) -> str:
    """The intake's idempotency key of a chat's transcript."""
    return f"chat:{chat_id}"


def subject(chat: Chat, label: str) -> str:
    if chat.close_reason == "message_left":
        return f"Message from the chat: {label}"
    return f"Chat: {label}"


def transcript(chat: Chat, rows: list[ChatMessage], label: str) -> str:
    """The chat as text: who, about what, when; then every line with its time (UTC)."""
    ended = f"–{_clock(chat.closed_at)}" if chat.closed_at else ""
    who = f"{chat.name} <{chat.email}>" if chat.email else chat.name
    lines = [f"Chat on “{label}” with {who}, {chat.created_at:%Y-%m-%d} {_clock(chat.created_at)}{ended} UTC.", ""]
    for row in rows:
        text = _line(chat, row)
        if text is not None:
            lines.append(f"{_clock(row.created_at)} {text}")
    body = "\n".join(lines)
    if len(body) > MAX_TEXT:
        tail = f"\n[…] The whole chat ({len(rows)} lines) is chat {chat.id} on the chats page."
        body = body[: MAX_TEXT - len(tail)] + tail
    return body


def _clock(moment: datetime | None) -> str:
    return f"{moment:%H:%M}" if moment else ""


def _line(chat: Chat, row: ChatMessage) -> str | None:
    if row.author == "customer":
        return f"{chat.name}: {_indented(row.text)}"
    if row.author == "agent":
        return f"{row.sender}: {_indented(row.text)}"
    if row.kind == "accepted":
        return f"{row.sender} accepted the chat."
    if row.kind == "missed":
        return "No agent was free."
    if row.kind == "closed":
        return ENDINGS.get(row.text, "The chat ended.").format(agent=row.sender or chat.agent or "The agent")
    return None  # started (the first line says it), filed


def _indented(text: str) -> str:
    return text.replace("\n", "\n      ")


def file(db: Database, intake: Intake, settings: Settings, config: ChatConfig, clock: Clock, chat_id: int) -> bool:
    """File the closed chat ``chat_id`` unless it is filed already (or not closed); whether it was filed now."""
    with db.read() as session:
        chat = session.get(Chat, chat_id)
        if chat is None or chat.status != "closed" or chat.filed_at is not None:
            return False
        rows = list(session.scalars(select(ChatMessage).where(ChatMessage.chat_id == chat_id).order_by(ChatMessage.id)))
        case = session.get(ProcessInstance, chat.instance_id) if chat.instance_id is not None else None
        reference = case.reference if case is not None else None
        someone_elses_address = (
            not chat.signed_in
            and chat.email is not None
            and session.scalar(select(Customer.id).where(func.lower(Customer.email) == chat.email).limit(1)) is not None
        )
        session.expunge(chat)
    topic = config.topic(chat.topic)
    label = topic.label if topic is not None else chat.topic
    filed_case, filed_reference, unfiled_text = None, None, None
    if any(row.author != "system" for row in rows):
        text = transcript(chat, rows, label)
        try:
            result = intake.submit(
                channel="chat",
                customer=_customer(chat),
                subject=subject(chat, label),
                body=text,
                reference=reference,
                principal=chat.agent or PRINCIPAL,
                message_id=message_id(chat.id),
                on_start=None
                if someone_elses_address  # as on the portal: a typed address of a customer gets no mail from here
                else confirmations.on_start(
                    settings,
                    clock,
                    subject=subject(chat, label),
                    address=chat.email,
                    name=chat.name,
                    language_hint=chat.language,
                ),
            )
            filed_case, filed_reference = result.instance_id, result.reference
        except Conflict:  # no deployed process takes inquiries: keep the transcript as a contact at least
            filed_case, filed_reference, unfiled_text = chat.instance_id, reference, text
    return _mark_filed(db, clock, chat, label, filed_case, filed_reference, unfiled_text)


def _customer(chat: Chat) -> dict:
    if chat.signed_in:
        return {"id": chat.customer_id}
    return {
        key: value for key, value in (("id", chat.customer_id), ("name", chat.name), ("email", chat.email)) if value
    }


def _mark_filed(
    db: Database,
    clock: Clock,
    chat: Chat,
    label: str,
    case: int | None,
    reference: str | None,
    unfiled_text: str | None,
) -> bool:
    now = clock.now()
    with db.write() as session:
        row = session.get(Chat, chat.id, with_for_update=not db.is_sqlite)
        if row is None or row.filed_at is not None:
            return False
        if unfiled_text is not None:
            contacts.record(
                session,
                customer_id=row.customer_id,
                instance_id=case,
                channel="chat",
                direction="in",
                subject=subject(row, label),
                text=unfiled_text,
                recorded_by=row.agent or PRINCIPAL,
                at=now,
            )
        row.filed_at, row.filed_instance_id, row.filed_reference = now, case, reference
        if case is not None:
            session.add(
                ChatMessage(chat_id=row.id, author="system", kind="filed", text=reference or "", created_at=now)
            )
    return True
