"""Statements kept for the next round trip (engine/write_batch.py): sent in order, in their transaction,
failing as they would have failed at once; on SQLite and in autocommit run at once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from api.app import create_app
from bench.common import PROCESSES, count_statements
from engine import write_batch
from engine.bpmn import SourceFile
from engine.db import Database
from tests.conftest import make_engine

INSERT = text("INSERT INTO write_batch_probe (id, v) VALUES (:id, :v)")
UPDATE = text("UPDATE write_batch_probe SET v = :v WHERE id = :id")
LIFECYCLE = PROCESSES / "inquiry_lifecycle.bpmn"


@pytest.fixture
def db(any_database_url) -> Iterator[Database]:
    yield from _probe_database(any_database_url)


@pytest.fixture
def postgresql_db(postgres_schema) -> Iterator[Database]:
    postgres_schema.empty()
    yield from _probe_database(postgres_schema.url)


def _probe_database(url: str) -> Iterator[Database]:
    database = Database(url)
    with database.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS write_batch_probe"))
        connection.execute(text("CREATE TABLE write_batch_probe (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)"))
    yield database
    with database.engine.begin() as connection:
        connection.execute(text("DROP TABLE write_batch_probe"))
    database.dispose()


def _stored(db: Database) -> list[tuple[int, int]]:
    with db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text("SELECT id, v FROM write_batch_probe ORDER BY id"))]


def test_kept_statements_go_with_the_commit_on_postgresql_at_once_on_sqlite(db):
    with count_statements(db) as counter, db.write() as session:
        write_batch.execute(session.connection(), INSERT, {"id": 1, "v": 1})
        write_batch.execute(session.connection(), UPDATE, {"id": 1, "v": 2}, expect_rows=1)
        assert write_batch.pending(session.connection()) == (0 if db.is_sqlite else 2)
    assert _stored(db) == [(1, 2)]
    assert counter == ([2, 2] if db.is_sqlite else [2, 1])  # on PostgreSQL: one round trip, with the COMMIT


def test_a_later_statement_sees_what_was_kept_before_it(db):
    with db.write() as session:
        write_batch.execute(session.connection(), INSERT, {"id": 1, "v": 1})
        write_batch.execute(session.connection(), UPDATE, {"id": 1, "v": 7})
        seen = session.execute(text("SELECT v FROM write_batch_probe WHERE id = 1")).scalar_one()
        assert write_batch.pending(session.connection()) == 0
    assert seen == 7


def test_a_version_check_that_finds_no_row_fails_the_transaction_and_stores_nothing(db):
    with pytest.raises(StaleDataError, match="probe 9 went"), db.write() as session:
        write_batch.execute(session.connection(), INSERT, {"id": 1, "v": 1})
        write_batch.execute(session.connection(), UPDATE, {"id": 9, "v": 2}, expect_rows=1, stale="probe 9 went")
    assert _stored(db) == []


def test_a_statement_sent_without_parameters_is_kept_and_checked_too(db):
    with pytest.raises(StaleDataError, match="probe 9 went"), db.write() as session:
        bare = session.connection().execution_options(no_parameters=True)  # the driver gets no parameters at all
        write_batch.execute(bare, text("INSERT INTO write_batch_probe (id, v) VALUES (1, 1)"))
        gone = text("UPDATE write_batch_probe SET v = 2 WHERE id = 9")
        write_batch.execute(bare, gone, expect_rows=1, stale="probe 9 went")
    assert _stored(db) == []
    with db.write() as session:
        bare = session.connection().execution_options(no_parameters=True)
        write_batch.execute(bare, text("INSERT INTO write_batch_probe (id, v) VALUES (1, 1)"))
        assert write_batch.pending(bare) == (0 if db.is_sqlite else 1)
    assert _stored(db) == [(1, 1)]


def test_a_broken_constraint_raises_sqlalchemys_integrity_error_at_commit_and_stores_nothing(db):
    with db.write() as session:
        write_batch.execute(session.connection(), INSERT, {"id": 1, "v": 1})
    with pytest.raises(IntegrityError) as raised, db.write() as session:
        write_batch.execute(session.connection(), INSERT, {"id": 2, "v": 2})
        write_batch.execute(session.connection(), INSERT, {"id": 1, "v": 3})
    assert "write_batch_probe" in str(raised.value)
    assert _stored(db) == [(1, 1)]
    with db.write() as session:  # the pool's connection is usable again
        write_batch.execute(session.connection(), INSERT, {"id": 3, "v": 3})
    assert _stored(db) == [(1, 1), (3, 3)]


def test_a_broken_constraint_raises_at_the_next_statement_that_needs_an_answer(db):
    with db.write() as session:
        write_batch.execute(session.connection(), INSERT, {"id": 1, "v": 1})
    with db.write() as session:
        with pytest.raises(IntegrityError):  # on SQLite at the INSERT itself
            write_batch.execute(session.connection(), INSERT, {"id": 1, "v": 2})
            session.execute(text("SELECT count(*) FROM write_batch_probe")).scalar_one()
        session.rollback()
    assert _stored(db) == [(1, 1)]


def test_a_rollback_forgets_what_was_kept(db):
    single = Database(db.url)
    single.engine.pool.dispose()
    with single.write() as session:
        write_batch.execute(session.connection(), INSERT, {"id": 1, "v": 1})
        session.rollback()
    with single.write() as session:  # the same pooled connection: nothing of the rolled-back block goes with it
        write_batch.execute(session.connection(), INSERT, {"id": 2, "v": 2})
    single.dispose()
    assert _stored(db) == [(2, 2)]


def test_a_postgresql_connection_in_autocommit_runs_each_statement_at_once(postgresql_db):
    db = postgresql_db
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        write_batch.execute(connection, INSERT, {"id": 1, "v": 1})
        assert write_batch.pending(connection) == 0
        with pytest.raises(StaleDataError):
            write_batch.execute(connection, UPDATE, {"id": 5, "v": 1}, expect_rows=1)
    assert _stored(db) == [(1, 1)]


def test_many_rows_in_one_kept_statement(db):
    with db.write() as session:
        write_batch.execute(session.connection(), INSERT, [{"id": n, "v": n} for n in range(1, 4)])
    assert _stored(db) == [(1, 1), (2, 2), (3, 3)]


def test_a_lifecycle_goes_in_at_most_twelve_round_trips_on_postgresql(any_database_url):
    """#21's count: start, staff task, confirmation of the bench's lifecycle through the Flask app."""
    care = make_engine(any_database_url)
    care.repository.deploy([SourceFile(LIFECYCLE.name, LIFECYCLE.read_bytes())], "test", "test")
    client = create_app(care).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {care.tokens.create('test')[1]}"

    def lifecycle() -> None:
        started = client.post("/api/process-definitions/inquiry_lifecycle/instances", json={"variables": {}}).json
        done = client.post(f"/api/tasks/{started['tasks'][0]['id']}/complete", json={"data": {"answer": "ok"}}).json
        last = client.post(
            f"/api/tasks/{done['instance']['tasks'][0]['id']}/complete", json={"data": {"confirmed": True}}
        )
        assert last.json["instance"]["status"] == "completed"

    lifecycle()  # the first fills the caches (the definition, the token)
    with count_statements(care.db) as counter:
        lifecycle()
    care.close()
    statements, round_trips = counter
    if care.db.is_sqlite:
        assert round_trips == statements
    else:
        assert round_trips <= 12 < statements
