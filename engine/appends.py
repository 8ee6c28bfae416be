"""Append-only rows of one transaction (history entries, events), written with one INSERT per table.

A step appends several history entries and events. Added one by one through the ORM, each is a
round trip plus the unit of work's bookkeeping; collected here, they go out just before the
transaction commits as one multi-row INSERT per table, in the order they were appended (the log's
ids keep that order, which event delivery relies on). Inside a savepoint a row is written at once,
so that rolling the savepoint back takes the row with it.
"""

from __future__ import annotations

from sqlalchemy import Table, event
from sqlalchemy.orm import Session

from engine import row_writes

_PENDING = "carecenter_appends"


def add(session: Session, table: Table, row: dict) -> None:
    """Append ``row`` to ``table`` in the session's transaction."""
    if session.in_nested_transaction():
        row_writes.insert_values(session, table, [row])
        return
    pending: dict[Table, list[dict]] = session.info.setdefault(_PENDING, {})
    pending.setdefault(table, []).append(row)


def write(session: Session) -> None:
    """Write what is pending now (before reading it back in the same transaction)."""
    pending: dict[Table, list[dict]] = session.info.get(_PENDING) or {}
    if not any(pending.values()):
        return
    session.flush()  # the rows appended refer to instances and tasks the unit of work may still hold
    for table, rows in pending.items():
        if rows:  # plain Core: these tables have no objects in the session to keep in step
            row_writes.insert_values(session, table, rows)
    pending.clear()


# Hooked once on the Session class, not on each session: hooking a session costs about 0.1 ms, once per step.
@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    if _PENDING in session.info:
        write(session)
        session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_pending(session: Session, previous_transaction) -> None:
    if not previous_transaction.nested:  # rows appended in a savepoint were written (and rolled back) already
        session.info.pop(_PENDING, None)
