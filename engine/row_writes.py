"""Rows of the hot path written by Core statements, not by the ORM's unit of work (#21).

A step inserts a few new rows (an instance, its tasks, status, subscriptions, search row) and
changes a few columns of rows it loaded (the instance, its customer status, its timers). The unit
of work finds and writes such changes too, but costs several times the statement itself in Python
per row; on the hot path the step writes them here, with statements built once, and the objects
then say what the rows say, as if just loaded: a later change in the same transaction is written
as usual, by this or by the unit of work.
"""

from __future__ import annotations

import functools

from sqlalchemy import Column, Insert, Table, Update, bindparam, insert, inspect, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from engine import write_batch

# The INSERT constructs that know ON CONFLICT, by dialect (the databases carecenter runs on)
_UPSERT_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def write_changes(session: Session, obj: object, version: str | None = None) -> bool:
    """UPDATE the columns of persistent ``obj`` changed since it was loaded; False if none had changed.

    With ``version`` (the name of a version-counter column), the row is written only if it still has
    the version the object was loaded with, the counter goes up by one, and a row changed meanwhile
    raises :class:`StaleDataError`, as the unit of work would (on PostgreSQL the UPDATE may go with the
    transaction's next round trip, and the error with it: :mod:`engine.write_batch`).
    """
    state = inspect(obj)
    if not state.persistent:
        raise ValueError(f"{obj!r} is not a loaded row")
    columns = state.mapper.column_attrs
    changed = {
        key: state.dict[key] for key in state.committed_state if key in columns and state.attrs[key].history.added
    }
    if not changed:
        return False
    parameters = {f"key_{index}": value for index, value in enumerate(state.identity)}
    if version is not None:
        loaded_version = state.committed_state.get(version, state.dict[version])
        changed[version] = loaded_version + 1
        parameters["loaded_version"] = loaded_version
    parameters.update({f"new_{key}": value for key, value in changed.items()})
    statement = _update_statement(state.mapper, tuple(changed), version)
    stale = f"{state.mapper.local_table.name} row {state.identity} changed or went since it was read"
    write_batch.execute(session.connection(), statement, parameters, expect_rows=1, stale=stale)
    for key, value in changed.items():
        set_committed_value(obj, key, value)
    if all(key in columns for key in state.committed_state):  # what is left was set to the value it had
        # Nothing remains for the unit of work, so it need not even look at the object at the next flush:
        # the step's closing flush then costs nothing. (No public call clears the "modified" mark.)
        state._commit_all(state.dict, session.identity_map)
    return True


@functools.cache
def _update_statement(mapper: Mapper, keys: tuple[str, ...], version: str | None) -> Update:
    """The UPDATE of these columns by primary key (and loaded version), built once: building costs more than running."""
    table = mapper.local_table
    statement = update(table).where(*(column == bindparam(f"key_{i}") for i, column in enumerate(table.primary_key)))
    if version is not None:
        statement = statement.where(mapper.column_attrs[version].columns[0] == bindparam("loaded_version"))
    return statement.values({mapper.column_attrs[key].columns[0]: bindparam(f"new_{key}") for key in keys})


def insert_new(session: Session, objects: list, then_keep: bool = True) -> None:
    """INSERT new objects of one class, then (``then_keep``) :func:`keep` them.

    Columns are given as the unit of work gives them: what the object holds, a ``None`` left out (the
    column's default or NULL) except where the type stores it (JSON ``null``), a scalar default filled
    in. Objects that give the same columns go in one statement; a primary key left empty comes back
    from the database (RETURNING). Related objects are not followed: insert them with their own call,
    before keeping the objects that hold them (keeping cascades to related objects still new).
    """
    if not objects:
        return
    mapper = inspect(objects[0]).mapper
    columns = mapper.column_attrs
    groups: dict[tuple[str, ...], list[tuple[object, dict]]] = {}
    for obj in objects:
        values = _new_row_values(obj, mapper)
        groups.setdefault(tuple(values), []).append((obj, values))
    connection = session.connection()
    for keys, members in groups.items():
        generated = _generated_keys(mapper, keys)
        returning = tuple(columns[key].columns[0] for key in generated)
        statement = _insert_statement(mapper.local_table, returning)
        rows = [values for _, values in members]
        if not generated:  # nothing to read back: it may go with the next round trip
            write_batch.execute(connection, statement, rows)
        else:
            result = connection.execute(statement, rows)
            for (obj, _), row in zip(members, result, strict=True):
                for key, value in zip(generated, row, strict=True):
                    set_committed_value(obj, key, value)
    if then_keep:
        keep(session, objects)


def insert_unless_taken(session: Session, obj: object, unique_key: str) -> bool:
    """INSERT new ``obj`` and :func:`keep` it, unless a row with its value of the unique column ``unique_key``
    exists: then nothing is stored and False comes back (``INSERT … ON CONFLICT DO NOTHING``, one statement
    instead of a look-up and an INSERT; on PostgreSQL a concurrent insert of the same value is waited for).
    """
    mapper = inspect(obj).mapper
    columns = mapper.column_attrs
    values = _new_row_values(obj, mapper)
    generated = _generated_keys(mapper, tuple(values))
    statement = _insert_unless_statement(
        session.get_bind().dialect.name,
        mapper.local_table,
        columns[unique_key].columns[0],
        tuple(columns[key].columns[0] for key in generated),
    )
    row = session.connection().execute(statement, values).first()
    if row is None:
        return False
    for key, value in zip(generated, row, strict=True):
        set_committed_value(obj, key, value)
    keep(session, [obj])
    return True


def _new_row_values(obj: object, mapper: Mapper) -> dict:
    """The column values the INSERT of new ``obj`` gives, as the unit of work would give them (see insert_new)."""
    state = inspect(obj)
    if not state.transient or state.mapper is not mapper:
        raise ValueError(f"{obj!r} is not a new {mapper.class_.__name__}")
    values = {}
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        value = state.dict.get(prop.key)
        if value is None and prop.key not in state.dict and column.default is not None and column.default.is_scalar:
            value = column.default.arg
            set_committed_value(obj, prop.key, value)
        if value is not None or (prop.key in state.dict and column.type.should_evaluate_none):
            values[prop.key] = value
        elif column.default is None and column.server_default is None and not column.primary_key:
            set_committed_value(obj, prop.key, None)  # NULL, known without reading it back
    return values


def _generated_keys(mapper: Mapper, given: tuple[str, ...]) -> tuple[str, ...]:
    """The primary-key attributes an INSERT giving ``given`` leaves to the database."""
    return tuple(prop.key for prop in mapper.column_attrs if prop.columns[0].primary_key and prop.key not in given)


def keep(session: Session, objects: list) -> None:
    """Put inserted objects in ``session`` as persistent, as if just read: nothing more to insert at a flush."""
    for obj in objects:
        make_transient_to_detached(obj)
        session.add(obj)


def insert_values(session: Session, table: Table, rows: list[dict]) -> None:
    """INSERT plain rows into ``table`` (one statement; no objects to keep, no ids wanted)."""
    write_batch.execute(session.connection(), _insert_statement(table, ()), rows)


@functools.cache
def _insert_unless_statement(dialect: str, table: Table, unique: Column, returning: tuple[Column, ...]) -> Insert:
    """The INSERT that stores nothing when ``unique`` is taken, returning the generated primary key, built once."""
    if dialect not in _UPSERT_INSERTS:
        raise NotImplementedError(f"no INSERT … ON CONFLICT for the {dialect} dialect")
    return _UPSERT_INSERTS[dialect](table).on_conflict_do_nothing(index_elements=[unique]).returning(*returning)


@functools.cache
def _insert_statement(table: Table, returning: tuple[Column, ...]) -> Insert:
    """The INSERT of a table, returning the primary-key columns the database fills in, built once.

    Without such columns it is ``inline()``: SQLAlchemy would otherwise fetch a generated key of a single row
    (its "implicit returning"), and nobody reads it.
    """
    statement = insert(table)
    return statement.returning(*returning, sort_by_parameter_order=True) if returning else statement.inline()
