"""Writes whose answer nobody waits for, sent to PostgreSQL in one round trip with the next one (#21).

A step writes a dozen rows and reads the answer of almost none of them: its history, events,
customer status, search row, candidates, and the instance's own UPDATE (whose version check can
wait until the transaction ends). Sent one by one, each costs a round trip in which the client
waits for the server and the server for the client. Executed through :func:`execute`, such a
statement is kept on its connection instead, and psycopg's pipeline sends the kept statements
together with the next statement whose answer is needed, or just before the transaction commits:
in order, in the same transaction, so every later statement sees them as before.

What changes is only when a failure shows: a kept statement that fails (a broken constraint, a
version check that found no row) raises at that next statement or at the commit, as the same
SQLAlchemy error (or :class:`StaleDataError`) it would have raised at once, and the transaction
is rolled back as before. SQLite runs in the process and gains nothing: there, and on a
connection in autocommit mode, the statement runs at once.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Executable, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError

LATER = "carecenter_later"  # the execution option that marks a statement as one to keep
_KEPT = "carecenter_kept"  # where a connection keeps its statements (its pool record's ``info``)
_KEEPING: weakref.WeakSet = weakref.WeakSet()  # the dialects of the engines install() was called for


@dataclass(frozen=True)
class Expectation:
    """What a kept statement must report: ``rows`` rows changed, else ``StaleDataError(stale)``."""

    rows: int | None = None
    stale: str = ""


@dataclass(frozen=True)
class _Kept:
    statement: str
    parameters: Any
    many: bool
    expectation: Expectation


def install(engine: Engine) -> None:
    """Keep statements executed through :func:`execute` on ``engine``'s connections (PostgreSQL with psycopg)."""
    if not _can_keep(engine.dialect) or engine.dialect in _KEEPING:
        return
    _KEEPING.add(engine.dialect)
    event.listen(engine, "do_execute", _on_execute, retval=True)
    event.listen(engine, "do_executemany", _on_executemany, retval=True)
    event.listen(engine, "do_execute_no_params", _on_execute_no_params, retval=True)
    event.listen(engine, "commit", _on_commit)
    event.listen(engine, "rollback", _on_rollback)
    event.listen(engine.pool, "reset", _on_reset)


def execute(
    connection: Connection,
    statement: Executable,
    parameters: dict | list[dict] | None = None,
    expect_rows: int | None = None,
    stale: str = "",
) -> None:
    """Run ``statement``, whose answer the caller does not read, now or with the next round trip.

    With ``expect_rows``, a statement that changes another number of rows raises
    :class:`StaleDataError` with ``stale`` as its message: at once, or when the kept statements go.
    """
    result = connection.execute(statement, parameters, execution_options={LATER: Expectation(expect_rows, stale)})
    if expect_rows is not None and not kept(result.context) and result.rowcount != expect_rows:
        raise StaleDataError(stale)


def kept(context) -> bool:
    """True when the statement of ``context`` (an execution context) is kept rather than sent now.

    Never one that returns rows: a single-row INSERT of a table with a generated key fetches that key
    unless the statement is ``inline()``.
    """
    return (
        LATER in context.execution_options
        and context.dialect in _KEEPING
        and not (context.compiled is not None and context.compiled.effective_returning)
        and not context.root_connection.connection.dbapi_connection.autocommit
    )


def pending(connection: Connection) -> int:
    """How many statements ``connection`` keeps to send."""
    return len(_queue(connection) or ())


def _can_keep(dialect) -> bool:
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


def _on_execute(cursor, statement: str, parameters, context) -> bool:
    return _run(cursor, statement, parameters, context, many=False)


def _on_executemany(cursor, statement: str, parameters, context) -> bool:
    return _run(cursor, statement, parameters, context, many=True)


def _on_execute_no_params(cursor, statement: str, context) -> bool:
    return _run(cursor, statement, None, context, many=False)  # psycopg takes no parameters as None


def _run(cursor, statement: str, parameters, context, many: bool) -> bool:
    """Keep a marked statement; send an unmarked one together with what is kept (True: executed here)."""
    if kept(context):
        item = _Kept(statement, parameters, many, context.execution_options[LATER])
        context.root_connection.info.setdefault(_KEPT, []).append(item)
        return True
    queue = _queue(context.root_connection)
    if not queue:
        return False
    if isinstance(cursor, context.dialect.loaded_dbapi.ServerCursor):  # a named cursor cannot join a pipeline
        _send(context.root_connection, queue)
        return False
    _send(
        context.root_connection,
        queue,
        lambda: cursor.executemany(statement, parameters) if many else cursor.execute(statement, parameters),
    )
    return True


def _queue(connection: Connection) -> list[_Kept] | None:
    """The statements ``connection`` keeps; None on the connection SQLAlchemy first connects with (it has no
    ``info``, and runs only the dialect's own queries)."""
    try:
        return connection.info.get(_KEPT)
    except NotImplementedError:
        return None


def _send(connection: Connection, queue: list[_Kept], then=None) -> None:
    """Send the kept statements (and ``then``, the statement that needs its answer) in one pipeline.

    A database error propagates as psycopg raised it, for the caller to wrap; a version check that
    failed raises :class:`StaleDataError` once every statement has been answered.
    """
    items = list(queue)
    queue.clear()
    dbapi_connection = connection.connection.dbapi_connection
    cursors = []
    try:
        with dbapi_connection.pipeline():
            for item in items:
                cursor = dbapi_connection.cursor()
                cursors.append(cursor)
                if item.many:
                    cursor.executemany(item.statement, item.parameters)
                else:
                    cursor.execute(item.statement, item.parameters)
            if then is not None:
                then()
        counts = [cursor.rowcount for cursor in cursors]
    except Exception as exc:
        exc.add_note(f"raised by one of {len(items) + (then is not None)} statements sent together")
        raise
    finally:
        for cursor in cursors:
            cursor.close()
    for item, count in zip(items, counts, strict=True):
        if item.expectation.rows is not None and count != item.expectation.rows:
            raise StaleDataError(item.expectation.stale)


def _on_commit(connection: Connection) -> None:
    queue = _queue(connection)
    if not queue:
        return
    statements = "\n;\n".join(item.statement for item in queue)
    parameters = [item.parameters for item in queue]
    try:
        _send(connection, queue)
    except connection.dialect.loaded_dbapi.Error as exc:  # wrapped as SQLAlchemy wraps the errors of execute()
        raise DBAPIError.instance(
            statements,
            parameters,
            exc,
            connection.dialect.loaded_dbapi.Error,
            hide_parameters=connection.engine.hide_parameters,
            dialect=connection.dialect,
        ) from exc


def _on_rollback(connection: Connection) -> None:
    queue = _queue(connection)
    if queue:
        queue.clear()


def _on_reset(_dbapi_connection, record, _state=None) -> None:
    record.info.pop(_KEPT, None)
