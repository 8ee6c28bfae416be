"""Schema upgrades through Alembic, callable from the CLI and from tests alike."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from engine.db import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the database to ``revision`` (the newest by default)."""
    with db.engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def revisions(db: Database) -> tuple[str | None, str]:
    """The database's schema revision (None: never migrated) and the newest one this code knows."""
    with db.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        head = ScriptDirectory.from_config(alembic_config(connection)).get_current_head()
    return current, head


def autogenerate(db: Database, message: str) -> None:
    """Write a new migration script from the difference between the models and the database."""
    with db.engine.begin() as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True)
