"""Internal notes on a case: what staff tell each other about it, never shown to the customer.

A note is written with a history event naming its author in the same transaction, so the case's
history says who added what when. Notes live in their own table, which no customer-facing read
model (status page, portal) reads.
"""

from __future__ import annotations

from sqlalchemy import select

from engine.clock import Clock
from engine.db import Database
from engine.errors import Unprocessable
from engine.history import History
from engine.models import Note, User
from engine.views import iso
from engine.visibility import TaskScope, visible_instance

MAX_NOTE = 5000
NOTE_ADDED = "note_added"


def note_view(note: Note, author_name: str | None) -> dict:
    return {
        "id": note.id,
        "instance_id": note.instance_id,
        "author": note.author,
        "author_name": author_name or note.author,
        "text": note.text,
        "created_at": iso(note.created_at),
    }


class Notes:
    def __init__(self, db: Database, history: History, clock: Clock) -> None:
        self.db = db
        self.history = history
        self.clock = clock

    def add(self, instance_id: int, text: str, author: str, scope: TaskScope | None = None) -> dict:
        """Add a note to the case ``instance_id`` as ``author``; 422 for an empty or too long text."""
        text = (text or "").strip()
        if not text or len(text) > MAX_NOTE:
            raise Unprocessable(f"a note needs a text of 1 to {MAX_NOTE} characters")
        with self.db.write() as session:
            instance = visible_instance(session, instance_id, scope)
            note = Note(
                customer_id=instance.customer_id,
                instance_id=instance_id,
                author=author,
                text=text,
                created_at=self.clock.now(),
            )
            session.add(note)
            session.flush()
            self.history.record(session, instance_id, NOTE_ADDED, author, note_id=note.id)
            return note_view(note, session.scalar(select(User.display_name).where(User.username == author)))

    def of_instance(self, instance_id: int, scope: TaskScope | None = None) -> list[dict]:
        """The case's notes, oldest first."""
        with self.db.read() as session:
            visible_instance(session, instance_id, scope)
            query = (
                select(Note, User.display_name)
                .outerjoin(User, User.username == Note.author)
                .where(Note.instance_id == instance_id)
                .order_by(Note.id)
            )
            return [note_view(note, author_name) for note, author_name in session.execute(query)]
