"""Schema upgrades through Alembic, callable from the CLI and from tests alike.

Alembic is imported only by what runs migrations: :func:`revisions`, which every ``serve`` and
``worker`` asks before it starts, reads the migration files' headers and the version table itself,
as importing Alembic and loading every migration module would cost a restarted server a good part of a second.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

from sqlalchemy import inspect, text

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


def alembic_config(connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the database to ``revision`` (the newest by default)."""
    from alembic import command

    with db.engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def revisions(db: Database) -> tuple[str | None, str]:
    """The database's schema revision (None: never migrated) and the newest one this code knows."""
    with db.engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None, head()
        current = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(current) > 1:
        raise RuntimeError(f"the database is at several schema revisions at once: {', '.join(sorted(current))}")
    return (current[0] if current else None), head()


@functools.cache
def _down_revisions() -> dict[str, tuple[str, ...]]:
    """Each migration's revision and the ones it follows, read from the files' headers (not imported)."""
    named: dict[str, tuple[str, ...]] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        values = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target = node.target if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [None])[0]
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision") and node.value is not None:
                values[target.id] = ast.literal_eval(node.value)
        if "revision" in values:
            down = values.get("down_revision")
            named[values["revision"]] = tuple(down) if isinstance(down, (tuple, list)) else ((down,) if down else ())
    return named


@functools.cache
def head() -> str:
    """The newest migration this code knows: the one no other names as its ``down_revision``."""
    named = _down_revisions()
    heads = set(named) - {down for downs in named.values() for down in downs}
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads ({', '.join(sorted(heads))}); merge them")
    return heads.pop()


CURRENT, BEHIND, AHEAD = "current", "behind", "ahead"


def compatibility(current: str | None) -> str:
    """How a database at revision ``current`` suits this code.

    ``current``: at this code's head. ``behind``: an older revision (or none): ``carecenter db upgrade``
    first. ``ahead``: a revision this code does not know, written by newer code's ``db upgrade``, as
    during a rolling upgrade; the old code carries on, because a release's migrations only add
    (docs/operations.md, "Upgrades").
    """
    if current == head():
        return CURRENT
    if current is None or current in _down_revisions():
        return BEHIND
    return AHEAD


def autogenerate(db: Database, message: str) -> None:
    """Write a new migration script from the difference between the models and the database."""
    from alembic import command

    with db.engine.begin() as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True)
