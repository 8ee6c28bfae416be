"""How a read session ends (engine/db.py): COMMIT, so that PostgreSQL keeps the statements psycopg prepared;
a read that changed objects, or failed, stores nothing; a read session that writes fails every test (conftest)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text, update

from engine.models import ProcessDefinition, ProcessInstance
from tests.conftest import make_engine, source, writes_in_reads


def deployed(care) -> int:
    care.repository.deploy([source("hello_care.bpmn")], "test", "test")
    with care.db.read() as session:
        return session.scalar(select(ProcessDefinition.id))


def test_statements_read_again_and_again_are_prepared_once_on_postgresql(care):
    if care.db.is_sqlite:
        pytest.skip("prepared statements of psycopg: PostgreSQL only (SQLite's driver caches its own)")
    deployed(care)
    for _ in range(8):  # psycopg prepares a statement on its fifth run on one connection
        with care.db.read() as session:
            session.scalars(select(ProcessDefinition.key).where(ProcessDefinition.version >= 1)).all()
    with care.db.read() as session:
        prepared = session.scalars(text("SELECT statement FROM pg_prepared_statements")).all()
    assert [s for s in prepared if "FROM process_definitions" in s], prepared  # none when reads rolled back


def test_a_read_that_changed_an_object_stores_nothing(care):
    definition_id = deployed(care)
    with care.db.read() as session:
        session.get(ProcessDefinition, definition_id).name = "changed while reading"
    with care.db.read() as session:
        assert session.get(ProcessDefinition, definition_id).name != "changed while reading"


def test_a_read_that_fails_ends_and_leaves_the_database_as_it_was(care):
    definition_id = deployed(care)
    with pytest.raises(LookupError), care.db.read() as session:
        session.get(ProcessDefinition, definition_id).name = "changed, then failed"
        raise LookupError("the reading code failed")
    with care.db.read() as session:
        assert session.get(ProcessDefinition, definition_id).name != "changed, then failed"


def test_the_suite_notices_a_read_session_that_writes(database_url):
    """The guard every test's ``care`` fixture carries: it sees a write sent from a read session."""
    care = make_engine(database_url)
    try:
        writes = writes_in_reads(care)
        with care.db.read() as session:
            session.execute(update(ProcessInstance).where(ProcessInstance.id == -1).values(business_key="x"))
        with care.db.write() as session:
            session.execute(update(ProcessInstance).where(ProcessInstance.id == -1).values(business_key="y"))
    finally:
        care.close()
    assert len(writes) == 1 and writes[0].startswith("UPDATE process_instances"), writes
