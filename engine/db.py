"""Database connections: one SQLAlchemy engine, short read and write transactions.

SQLite runs in WAL mode; its write transactions start with ``BEGIN IMMEDIATE`` so two
writers queue for the lock instead of failing half-way.  PostgreSQL uses its defaults
(READ COMMITTED) and the optimistic ``version`` check on instance rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from engine import write_batch

SQLITE_BUSY_TIMEOUT_MS = 30_000
# PostgreSQL: a server that does not answer at all (a host gone, a dropped route) fails a connection attempt
# after this many seconds instead of the operating system's minutes; ``?connect_timeout=`` in the URL wins.
CONNECT_TIMEOUT_SECONDS = 10


class Database:
    """Owns the connection pool and hands out sessions bound to one transaction each."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict = {"future": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            kwargs["pool_pre_ping"] = True
            if "connect_timeout" not in make_url(url).query:
                kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        else:
            write_batch.install(self.engine)
        self._read_sessions = sessionmaker(self.engine.execution_options(carecenter_read=True), expire_on_commit=False)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(carecenter_write=True), expire_on_commit=False
        )

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries, ended at the end of the block; it never holds a write lock.

        Objects read stay usable after the block, detached, with the values they had. The transaction ends
        with COMMIT, which for a read is the same as a rollback but for one thing: psycopg forgets the
        statements it prepared on a connection at every ROLLBACK, so reads ending that way had PostgreSQL
        plan each of their statements again (a quarter of its CPU per staff read, bench/NOTES.md). A block
        that changed objects anyway, or failed, is rolled back, so nothing it changed is stored. The sessions
        carry the execution option ``carecenter_read``, by which the test suite fails any test whose read
        session sends a write (tests/conftest.py).
        """
        with self._read_sessions() as session:
            yield session
            if not (session.new or session.dirty or session.deleted):
                session.commit()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose work is committed when the block ends and rolled back on any error."""
        with self._write_sessions() as session, session.begin():
            yield session

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self.engine.begin() as connection:  # COMMIT, not ROLLBACK: see read()
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def dispose(self) -> None:
        self.engine.dispose()


def try_lock(session: Session, name: str) -> bool:
    """Whether this transaction got the lock ``name``, which only one transaction holds at a time.

    On PostgreSQL a transaction-scoped advisory lock keyed by the name and the schema, so that two
    installations sharing a database in schemas of their own never wait for each other; SQLite runs
    one writer at a time anyway.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    key = text("SELECT pg_try_advisory_xact_lock(hashtext(:name || ':' || current_schema()))")
    return bool(session.scalar(key, {"name": name}))


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # We emit BEGIN ourselves (below); the driver's own transaction handling must stay out of the way.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        immediate = connection.get_execution_options().get("carecenter_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
