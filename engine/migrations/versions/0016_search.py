"""search: the words cases and customers are found by, and each database's text index on them and on task names

``search_cases`` and ``search_customers`` hold the words (see engine/search.py), filled here from
the instances and customers there are. On PostgreSQL each gets a generated column ``words_tsv``
(``to_tsvector('simple', words)``, stored) with a GIN index, and the names of open tasks a partial
GIN index on ``to_tsvector('simple', name)``; SQLite gets FTS5 tables (``<table>_fts``, external
content) kept in step by triggers, for the two tables and for ``human_tasks.name``.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

from engine import search

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000
WORDS = "to_tsvector('simple', words)"
FTS_OPTIONS = "tokenize='unicode61 remove_diacritics 2', prefix='2 3'"
# SQLite: table -> (indexed column, rowid column); each gets <table>_fts and triggers <table>_fts_ai/_ad/_au.
FTS_TABLES = {
    "search_cases": ("words", "instance_id"),
    "search_customers": ("words", "id"),
    "human_tasks": ("name", "id"),
}


def upgrade() -> None:
    op.create_table(
        "search_cases",
        sa.Column("instance_id", sa.Integer(), sa.ForeignKey("process_instances.id"), primary_key=True),
        sa.Column("customer_id", sa.String(200), nullable=True),
        sa.Column("customer_name", sa.String(300), nullable=True),
        sa.Column("subject", sa.String(300), nullable=True),
        sa.Column("words", sa.Text(), nullable=False),
    )
    op.create_index("ix_search_cases_customer", "search_cases", ["customer_id"])
    op.create_table(
        "search_customers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.String(50), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
    )
    _backfill()
    if op.get_bind().dialect.name == "sqlite":
        for table, (column, rowid) in FTS_TABLES.items():
            _create_fts(table, column, rowid)
    else:
        for table in ("search_cases", "search_customers"):  # a stored tsvector: cheap to test row by row, too
            op.execute(f"ALTER TABLE {table} ADD COLUMN words_tsv tsvector GENERATED ALWAYS AS ({WORDS}) STORED")
            op.execute(f"CREATE INDEX ix_{table}_words ON {table} USING gin (words_tsv)")
        op.create_index(
            "ix_human_tasks_open_name",
            "human_tasks",
            [sa.text("to_tsvector('simple', name)")],
            postgresql_using="gin",
            postgresql_where=sa.text("status = 'open'"),
        )


def _create_fts(table: str, column: str, rowid: str) -> None:
    fts = f"{table}_fts"
    op.execute(
        f"CREATE VIRTUAL TABLE {fts} USING fts5({column}, content='{table}', content_rowid='{rowid}', {FTS_OPTIONS})"
    )
    add = f"INSERT INTO {fts}(rowid, {column}) VALUES (new.{rowid}, new.{column});"
    remove = f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.{rowid}, old.{column});"
    op.execute(f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN {add} END")
    op.execute(f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN {remove} END")
    op.execute(f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {column} ON {table} BEGIN {remove} {add} END")
    op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")  # what the table holds already


def _backfill() -> None:
    """The index of the instances and customers there are, with engine/search.py's words."""
    connection = op.get_bind()
    customers = sa.table(
        "customers",
        *(sa.column(name, sa.String) for name in ("id", "name", "email", "tier", "language", "postcode", "phone")),
    )
    instances = sa.table(
        "process_instances",
        sa.column("id", sa.Integer),
        sa.column("reference", sa.String),
        sa.column("business_key", sa.String),
        sa.column("customer_id", sa.String),
        sa.column("state", sa.Text),
    )
    cases = sa.table(
        "search_cases",
        *(sa.column(name) for name in ("instance_id", "customer_id", "customer_name", "subject", "words")),
    )
    search_customers = sa.table("search_customers", sa.column("customer_id"), sa.column("name"), sa.column("words"))
    # the rows as engine/search.py reads them, without the ORM (whose models may be newer than this migration)
    store = {row.id: SimpleNamespace(**row._mapping) for row in connection.execute(sa.select(customers))}
    rows = [{"customer_id": c.id, "name": c.name, "words": search.customer_words(c)} for c in store.values()]
    for start in range(0, len(rows), BATCH):
        connection.execute(search_customers.insert(), rows[start : start + BATCH])
    last = 0
    while True:
        batch = connection.execute(
            sa.select(instances).where(instances.c.id > last).order_by(instances.c.id).limit(BATCH)
        ).all()
        if not batch:
            return
        connection.execute(
            cases.insert(),
            [search.case_row(row, search.start_facts(row.state), store.get(row.customer_id)) for row in batch],
        )
        last = batch[-1].id


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in FTS_TABLES:
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER {table}_fts_{suffix}")
            op.execute(f"DROP TABLE {table}_fts")
    else:
        op.drop_index("ix_human_tasks_open_name", "human_tasks")
    op.drop_table("search_customers")
    op.drop_table("search_cases")
