"""Schema upgrades through Alembic, callable from the CLI and from tests alike."""

from __future__ import annotations

import re
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from engine.db import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The staff search's text indexes (migration 0013), which are the database's and no model: SQLite's FTS5 tables
# and their shadow tables, PostgreSQL's generated tsvector columns and their GIN indexes.
_TEXT_INDEX = {
    "table": re.compile(r"\w+_fts(_data|_idx|_docsize|_config|_content)?"),
    "column": re.compile(r"words_tsv"),
    "index": re.compile(r"ix_search_(cases|customers)_words"),
}


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's filter for comparing the models with a database: everything but the text indexes."""
    pattern = _TEXT_INDEX.get(type_)
    return not (pattern and name is not None and pattern.fullmatch(name))


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
