"""The Alembic migrations create exactly the schema the models describe."""

import uuid
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, insert, inspect, text
from sqlalchemy.exc import IntegrityError

from engine import case_reference
from engine.db import Database
from engine.models import Base
from engine.schema import alembic_config, include_name, upgrade
from tests.conftest import TEST_DATABASE_URL


def test_migrated_schema_matches_the_models(database_url):
    database = Database(database_url)
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": include_name})
        differences = compare_metadata(context, Base.metadata)
    database.dispose()
    assert differences == []


def test_sqlite_runs_in_wal_mode(tmp_path, sqlite_template):
    import shutil

    path = tmp_path / "wal.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    database.dispose()


@pytest.fixture
def fresh_url(tmp_path):
    """An empty database of the backend under test, for migrating step by step."""
    if not TEST_DATABASE_URL.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"cc_migrate_{uuid.uuid4().hex[:12]}"
    admin = create_engine(TEST_DATABASE_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    yield f"{TEST_DATABASE_URL}{'&' if '?' in TEST_DATABASE_URL else '?'}options=-csearch_path%3D{name}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()


def test_migration_0010_gives_existing_instances_fresh_references(fresh_url):
    database = Database(fresh_url)
    upgrade(database, "0009")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    tables = Base.metadata.tables
    with database.engine.begin() as connection:
        connection.execute(insert(tables["deployments"]).values(id=1, name="d", created_at=now, created_by="t"))
        connection.execute(
            insert(tables["deployment_resources"]).values(
                id=1, deployment_id=1, filename="p.bpmn", kind="bpmn", content=b"", checksum="c"
            )
        )
        connection.execute(
            insert(tables["process_definitions"]).values(
                id=1, key="p", version=1, name="P", executable=True, checksum="c", deployment_id=1, resource_id=1,
                dependencies={}, created_at=now,
            )
        )  # fmt: skip
        for number in range(1, 31):
            customer = "web:ada@example.com" if number == 1 else f"C-{number}"
            connection.execute(
                insert(tables["process_instances"]).values(
                    id=number, definition_id=1, process_key="p", definition_version=1, customer_id=customer,
                    tracking_code=f"code-{number}", status="active", state="{}", version=1, started_by="t",
                    started_at=now, updated_at=now,
                )
            )  # fmt: skip
            connection.execute(
                insert(tables["customer_status"]).values(
                    instance_id=number, tracking_code=f"code-{number}", process_key="p", title="P",
                    status="received", started_at=now, updated_at=now,
                )
            )  # fmt: skip
    upgrade(database)
    with database.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT i.id, i.reference, s.reference, i.contact_email FROM process_instances i "
                "JOIN customer_status s ON s.instance_id = i.id ORDER BY i.id"
            )
        ).all()
    assert len(rows) == 30
    assert len({row[1] for row in rows}) == 30
    for _id, reference, status_reference, _email in rows:
        assert case_reference.parse(reference) == reference == status_reference
    assert [row[3] for row in rows] == ["ada@example.com"] + [None] * 29
    with database.engine.connect() as connection, pytest.raises(IntegrityError):
        connection.execute(text("UPDATE process_instances SET reference = :r WHERE id = 2"), {"r": rows[0][1]})
    with database.engine.begin() as connection:  # and back: the downgrade works too
        command.downgrade(alembic_config(connection), "0009")
        assert "reference" not in {c["name"] for c in inspect(connection).get_columns("process_instances")}
    upgrade(database)
    database.dispose()
