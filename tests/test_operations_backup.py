"""Backup and restore as docs/operations.md tells it (#22 item 4): pg_dump, pg_restore into a new database, carry on.

The test's database is a schema of the test database (tests/conftest.py), so the dump takes that
schema (``--schema``) where an installation dumps its whole database; everything else is the
documented procedure: a custom-format dump, a fresh database, ``pg_restore --no-owner``, and
carecenter pointed at it answers ``/readyz``, shows the cases as they were and works on them.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.app import create_app
from tests.conftest import TEST_DATABASE_URL, make_engine, upload

pytestmark = [
    pytest.mark.skipif(
        not TEST_DATABASE_URL.startswith("postgresql"), reason="needs PostgreSQL (CARECENTER_TEST_DATABASE_URL)"
    ),
    pytest.mark.skipif(shutil.which("pg_dump") is None, reason="needs pg_dump and pg_restore"),
]


def libpq(url) -> str:
    """What pg_dump and pg_restore take: the URL without SQLAlchemy's driver name and our search_path option."""
    return url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)


def test_a_dump_restored_into_a_fresh_database_serves_and_works(postgres_schema, tmp_path):
    postgres_schema.empty()
    original = make_engine(postgres_schema.url)
    client = create_app(original).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {original.tokens.create('backup-test')[1]}"
    assert client.post("/api/deployments", data=upload("hello_care.bpmn")).status_code == 201
    cases = [client.post("/api/process-definitions/hello_care/instances", json={}).json for _ in range(2)]
    answer = {"data": {"answer": "Solved before the backup."}}
    assert client.post(f"/api/tasks/{cases[0]['tasks'][0]['id']}/complete", json=answer).status_code == 200
    before = client.get("/api/instances").json["items"]
    original.close()

    source = make_url(postgres_schema.url)
    dump = tmp_path / "carecenter.dump"
    subprocess.run(
        ["pg_dump", "--format=custom", f"--schema={postgres_schema.name}", f"--file={dump}", libpq(source)], check=True
    )
    fresh = f"cc_restore_{uuid.uuid4().hex[:10]}"
    admin = create_engine(source.set(query={}), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{fresh}"'))
    restored_url = source.set(database=fresh)
    try:
        subprocess.run(["pg_restore", "--no-owner", f"--dbname={libpq(restored_url)}", str(dump)], check=True)
        restored = make_engine(restored_url.render_as_string(hide_password=False))
        client = create_app(restored).test_client()
        assert client.get("/readyz").status_code == 200
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {restored.tokens.create('after-restore')[1]}"
        assert client.get("/api/instances").json["items"] == before
        done = client.post(f"/api/tasks/{cases[1]['tasks'][0]['id']}/complete", json=answer)
        assert done.status_code == 200 and done.json["instance"]["status"] == "completed"
        third = client.post("/api/process-definitions/hello_care/instances", json={}).json
        assert third["id"] > max(case["id"] for case in cases)  # the sequences came along
        restored.close()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{fresh}" WITH (FORCE)'))
        admin.dispose()
