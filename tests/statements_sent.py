"""The SQL statements the engine sends, as the tests that count or read them watch them: one watcher for all.

BEGIN is left out: on PostgreSQL psycopg sends it on its own, on SQLite the engine sends it (engine/db.py), so
counting it would give the same code different counts on the two databases.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import event

from engine.core import CareEngine


@contextlib.contextmanager
def statements_sent(care: CareEngine) -> Iterator[list[str]]:
    """Every statement ``care`` sends while the block runs, in order and as sent; BEGIN left out."""
    sent: list[str] = []

    def note(_connection, _cursor, statement: str, *_rest) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            sent.append(statement)

    event.listen(care.db.engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(care.db.engine, "before_cursor_execute", note)
