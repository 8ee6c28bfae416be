"""A loaded row's changed columns written by one Core UPDATE, not by the ORM's unit of work (#21).

A step changes a few columns of rows it loaded (the instance, its customer status, its timers).
The unit of work finds and writes such changes too, but costs several times the statement itself
in Python per row; on the hot path the step writes them here, by primary key, and the objects
then say what the rows say, as if just loaded: a later change in the same transaction is written
as usual, by this or by the unit of work.
"""

from __future__ import annotations

import functools

from sqlalchemy import Update, bindparam, inspect, update
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError


def write_changes(session: Session, obj: object, version: str | None = None) -> bool:
    """UPDATE the columns of persistent ``obj`` changed since it was loaded; False if none had changed.

    With ``version`` (the name of a version-counter column), the row is written only if it still has
    the version the object was loaded with, the counter goes up by one, and a row changed meanwhile
    raises :class:`StaleDataError`, as the unit of work would.
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
    if session.connection().execute(statement, parameters).rowcount != 1:
        raise StaleDataError(f"{state.mapper.local_table.name} row {state.identity} changed or went since it was read")
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
