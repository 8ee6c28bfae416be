"""Staff notes on a customer: what colleagues should know before the next call, never shown to the customer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InvalidRequest
from engine.models import Note

MAX_TEXT = 5000


def add(session: Session, *, customer_id: str, text: str, author: str, at: datetime) -> Note:
    """Add a note in the caller's transaction; InvalidRequest for empty or overlong text."""
    if not isinstance(text, str) or not text.strip() or len(text.strip()) > MAX_TEXT:
        raise InvalidRequest(f"text must be a non-empty string of at most {MAX_TEXT} characters")
    note = Note(customer_id=customer_id, instance_id=None, author=author, text=text.strip(), created_at=at)
    session.add(note)
    session.flush()
    return note


def note_view(note: Note) -> dict:
    return {
        "id": note.id,
        "customer_id": note.customer_id,
        "author": note.author,
        "text": note.text,
        "created_at": note.created_at.isoformat(),
    }


def of_customer(session: Session, customer_id: str, limit: int, before: int | None) -> tuple[list[dict], int | None]:
    """The customer's notes, newest first, and the id to pass as ``before`` for older ones (None at the end)."""
    query = select(Note).where(Note.customer_id == customer_id).order_by(Note.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(Note.id < before)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return [note_view(note) for note in rows], rows[-1].id if more else None
