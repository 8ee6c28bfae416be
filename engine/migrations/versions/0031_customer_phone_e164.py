"""customer phones in E.164: every notation of a number finds the customer (calls and the staff search)

Revision ID: 0031
Revises: 0030
"""

from collections.abc import Sequence
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

from engine import phone_numbers, search

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("id", "name", "email", "tier", "language", "postcode", "phone")


def upgrade() -> None:
    op.add_column("customers", sa.Column("phone_e164", sa.String(16), nullable=True))
    op.create_index("ix_customers_phone_e164", "customers", ["phone_e164"])
    # the rows as the engine reads them, without the ORM (whose models may be newer than this migration)
    connection = op.get_bind()
    customers = sa.table("customers", *(sa.column(name, sa.String) for name in (*COLUMNS, "phone_e164")))
    words = sa.table("search_customers", sa.column("customer_id"), sa.column("words"))
    rows = connection.execute(sa.select(*(customers.c[name] for name in COLUMNS)).where(customers.c.phone.isnot(None)))
    for row in rows.all():
        customer = SimpleNamespace(**row._mapping)
        connection.execute(
            customers.update().where(customers.c.id == row.id).values(phone_e164=phone_numbers.e164(row.phone))
        )
        connection.execute(
            words.update().where(words.c.customer_id == row.id).values(words=search.customer_words(customer))
        )


def downgrade() -> None:
    connection = op.get_bind()
    customers = sa.table("customers", *(sa.column(name, sa.String) for name in COLUMNS))
    words = sa.table("search_customers", sa.column("customer_id"), sa.column("words"))
    op.drop_index("ix_customers_phone_e164", table_name="customers")
    # ALTER TABLE, not a batch copy: on SQLite that would lose the expression indexes of migration 0014
    op.execute("ALTER TABLE customers DROP COLUMN phone_e164")
    # the words as they were before (the digits as written only): what migration 0016 would write
    for row in connection.execute(sa.select(customers).where(customers.c.phone.isnot(None))).all():
        digits = search.phone_digits(row.phone)
        old = search._words(
            search.identifier_tokens(row.id),
            search.tokens(row.name),
            search.tokens(row.email),
            search.tokens(row.phone),
            [search.phone_token(digits)] if len(digits) >= search.MIN_PHONE_DIGITS else [],
        )
        connection.execute(words.update().where(words.c.customer_id == row.id).values(words=old))
