"""Shared fixtures: a real database per test (an SQLite file, or a PostgreSQL schema), the engine, the app.

Set ``CARECENTER_TEST_DATABASE_URL`` to a PostgreSQL URL to run the suite on PostgreSQL;
``.ci/run`` does so after the SQLite run.
"""

from __future__ import annotations

import io
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text

from engine.bpmn import SourceFile
from engine.clock import VirtualClock
from engine.config import PROJECT_ROOT, Settings
from engine.core import CareEngine
from engine.db import Database
from engine.models import Base
from engine.schema import upgrade

DATA = Path(__file__).parent / "data"
PG_DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TEST_DATABASE_URL = os.environ.get("CARECENTER_TEST_DATABASE_URL", "")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# The suite makes and signs in hundreds of users: argon2's cheapest parameters (0.1 s of CPU a hash otherwise).
# Servers the tests start as processes inherit it; a test that sets its own value keeps it.
os.environ.setdefault("CARECENTER_PASSWORD_HASHING", "cheapest-for-tests")
# Browser tests whose pages reach the database only through code the API and page tests cover on both
# databases; the staff search's are not among them (its text indexes are PostgreSQL's own).
DATABASE_SPECIFIC_BROWSER_TESTS = ("test_browser_search.py",)


DATABASE_FIXTURES = frozenset({"database_url", "module_database_url", "postgres_schema", "sqlite_template"})


def _for_the_postgresql_pass(item: pytest.Item) -> bool:
    """Whether a test reaches the database under test: through the fixtures, or a module that reads the URL
    itself. Tests on ``any_database_url`` run on both databases in every pass already: not again."""
    fixtures = set(getattr(item, "fixturenames", ()))
    if "any_database_url" in fixtures:
        return False
    module = getattr(item, "module", None)
    return bool(DATABASE_FIXTURES & fixtures) or (module is not None and "TEST_DATABASE_URL" in vars(module))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the browser tests (``-m "not browser"`` leaves them out; CI's PostgreSQL pass does, for time).

    On PostgreSQL (``CARECENTER_TEST_DATABASE_URL``) the tests that use no database at all (parsing,
    expressions, the sandbox, templates) are left out, and those that run on both databases anyway
    (``any_database_url``): they ran in the SQLite pass and would do the very same again.
    """
    for item in items:
        name = item.path.name
        if "browser" in name and name.startswith("test_") and name not in DATABASE_SPECIFIC_BROWSER_TESTS:
            item.add_marker(pytest.mark.browser)
    if TEST_DATABASE_URL.startswith("postgresql"):
        without = [item for item in items if not _for_the_postgresql_pass(item)]
        if without:
            config.hook.pytest_deselected(items=without)
            items[:] = [item for item in items if _for_the_postgresql_pass(item)]


def _postgres_reachable(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


class PostgresSchema:
    """One migrated schema per test session; tables are emptied between tests."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.name = f"cc_test_{uuid.uuid4().hex[:12]}"
        admin = create_engine(base_url)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{self.name}"'))
        admin.dispose()
        separator = "&" if "?" in base_url else "?"
        self.url = f"{base_url}{separator}options=-csearch_path%3D{self.name}"
        database = Database(self.url)
        upgrade(database)
        database.dispose()
        self._engine = create_engine(self.url)
        with self._engine.connect() as connection:
            sequences = connection.scalars(
                text("SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = :schema"),
                {"schema": self.name},
            ).all()
        # Emptied row by row, children first, and the sequences started again: what TRUNCATE ... RESTART IDENTITY
        # does, in 3 ms instead of 230 (TRUNCATE gives each of the 51 tables new files, each test).
        deletes = [f'DELETE FROM "{table.name}"' for table in reversed(Base.metadata.sorted_tables)]
        restarts = [f"SELECT setval('\"{sequence}\"', 1, false)" for sequence in sequences]
        self._empty = "; ".join(deletes + restarts)

    def empty(self) -> None:
        with self._engine.begin() as connection:
            connection.exec_driver_sql(self._empty)

    def drop(self) -> None:
        self._engine.dispose()
        admin = create_engine(self.base_url)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{self.name}" CASCADE'))
        admin.dispose()


def _require_postgres(url: str) -> None:
    if not _postgres_reachable(url):
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but does not answer at {url}")
        pytest.skip(f"PostgreSQL not reachable at {url}")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    database = Database(f"sqlite:///{path}")
    upgrade(database)
    database.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_schema():
    url = TEST_DATABASE_URL if TEST_DATABASE_URL.startswith("postgresql") else PG_DEFAULT_URL
    _require_postgres(url)
    schema = PostgresSchema(url)
    yield schema
    schema.drop()


def _sqlite_url(tmp_path: Path, template: Path) -> str:
    path = tmp_path / "carecenter.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database_url(request, tmp_path, sqlite_template) -> str:
    """Both backends, for tests whose point is behaviour that differs between them (locking, races)."""
    if request.param == "sqlite":
        return _sqlite_url(tmp_path, sqlite_template)
    schema = request.getfixturevalue("postgres_schema")
    schema.empty()
    return schema.url


@pytest.fixture
def database_url(request, tmp_path, sqlite_template) -> str:
    """The backend under test: PostgreSQL when CARECENTER_TEST_DATABASE_URL says so, else an SQLite file."""
    if TEST_DATABASE_URL.startswith("postgresql"):
        schema = request.getfixturevalue("postgres_schema")
        schema.empty()
        return schema.url
    return _sqlite_url(tmp_path, sqlite_template)


@pytest.fixture(scope="module")
def module_database_url(tmp_path_factory, sqlite_template) -> Iterator[str]:
    """A database of the module's own, for module-wide fixtures (a story every test reads): on PostgreSQL a
    schema of its own, which no other test empties, dropped after the module; else an SQLite file."""
    if not TEST_DATABASE_URL.startswith("postgresql"):
        path = tmp_path_factory.mktemp("module") / "carecenter.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    _require_postgres(TEST_DATABASE_URL)
    schema = PostgresSchema(TEST_DATABASE_URL)
    yield schema.url
    schema.drop()


def make_engine(url: str, clock=None) -> CareEngine:
    return CareEngine(Settings.from_env(database_url=url, processes_dir=PROJECT_ROOT / "processes"), clock=clock)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


def writes_in_reads(care: CareEngine) -> list[str]:
    """From now on, every INSERT, UPDATE or DELETE a read session (``Database.read``) of ``care`` sends.

    A read ends with COMMIT (engine/db.py says why): a write slipped into one would be stored, not dropped.
    """
    seen: list[str] = []

    def note(connection, _cursor, statement: str, *_rest) -> None:
        words = statement.split(None, 1)
        writes = bool(words) and words[0].upper() in ("INSERT", "UPDATE", "DELETE")
        if writes and connection.get_execution_options().get("carecenter_read"):
            seen.append(statement)

    event.listen(care.db.engine, "before_cursor_execute", note)
    return seen


@pytest.fixture
def care(database_url, clock):
    engine = make_engine(database_url, clock)
    writes = writes_in_reads(engine)
    yield engine
    engine.close()
    assert writes == [], f"a read session wrote: {writes}"


@pytest.fixture
def admin_token(care) -> str:
    return care.tokens.create("test-admin")[1]


@pytest.fixture
def app(care):
    from api.app import create_app

    return create_app(care)


@pytest.fixture
def client(app, admin_token):
    """A Flask test client that sends the admin token unless a test passes its own headers."""
    test_client = app.test_client()
    test_client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {admin_token}"
    return test_client


@pytest.fixture
def anonymous(app):
    return app.test_client()


def source(name: str) -> SourceFile:
    """A file from tests/data or processes/ as a deployable source."""
    for folder in (DATA, PROJECT_ROOT / "processes"):
        if (folder / name).exists():
            return SourceFile(name, (folder / name).read_bytes())
    raise FileNotFoundError(name)


def upload(*names: str) -> dict:
    """Multipart form data for POST /api/deployments."""
    return {"files": [(io.BytesIO(source(n).content), n) for n in names]}


@pytest.fixture
def browser_page():
    """A fresh Chromium page (1280 × 900) for one test; see :mod:`tests.browser`."""
    from tests import browser

    browser.ARTIFACTS.mkdir(exist_ok=True)
    with browser.sync_api.sync_playwright() as playwright:
        chromium = browser.launch(playwright)
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        yield context.new_page()
        context.close()
        chromium.close()
