"""customers: indexes that find a customer by the beginning of their name, e-mail address or id, in any case

On PostgreSQL the keys are byte-wise (COLLATE "C"), so a prefix range is exact whatever the
database's collation; SQLite compares byte-wise anyway. See process_library/customers.py.

Revision ID: 0014
Revises: 0012
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_customers_name_key": "lower(name){collate}, id",
    "ix_customers_email_key": "lower(email){collate}",
    "ix_customers_id_key": "lower(id){collate}",
}


def upgrade() -> None:
    collate = ' COLLATE "C"' if op.get_bind().dialect.name == "postgresql" else ""
    for name, columns in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON customers ({columns.format(collate=collate)})")


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="customers")
