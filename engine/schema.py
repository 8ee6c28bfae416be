"""Schema upgrades through Alembic, callable from the CLI and from tests alike."""

from __future__ import annotations

import re
from pathlib import Path

from alembic import command
from alembic.config import Config

from engine.db import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# SQLite's FTS5 tables of the staff search and their shadow tables (migration 0013): the database's index, no model.
_TEXT_INDEX_TABLE = re.compile(r"\w+_fts(_data|_idx|_docsize|_config|_content)?")


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's filter for comparing the models with a database: everything but the text-index tables."""
    return not (type_ == "table" and name is not None and _TEXT_INDEX_TABLE.fullmatch(name))


def alembic_config(connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the database to ``revision`` (the newest by default)."""
    with db.engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def autogenerate(db: Database, message: str) -> None:
    """Write a new migration script from the difference between the models and the database."""
    with db.engine.begin() as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True)
