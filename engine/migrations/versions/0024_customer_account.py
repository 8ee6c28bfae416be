"""customers' account data (contact person, addresses, preferred channel, authorized contacts) and its history

Revision ID: 0024
Revises: 0023
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy): on SQLite a batch copy would lose the expression indexes of 0014.
    op.add_column("customers", sa.Column("contact_person", sa.String(200), nullable=True))
    op.add_column("customers", sa.Column("address", sa.Text(), nullable=True))
    op.add_column("customers", sa.Column("billing_address", sa.Text(), nullable=True))
    op.add_column("customers", sa.Column("preferred_channel", sa.String(20), nullable=True))
    op.add_column("customers", sa.Column("authorized_contacts", JSON, nullable=True))
    op.create_table(
        "customer_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        sa.UniqueConstraint("idempotency_key"),
        sa.Column("customer_id", sa.String(50), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(50), nullable=False),
        sa.Column("before", JSON, nullable=True),
        sa.Column("after", JSON, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(20), nullable=True),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_customer_changes_customer_id", "customer_changes", ["customer_id", "id"])
    op.create_index("ix_customer_changes_instance_id", "customer_changes", ["instance_id", "field"])


def downgrade() -> None:
    op.drop_index("ix_customer_changes_instance_id", table_name="customer_changes")
    op.drop_index("ix_customer_changes_customer_id", table_name="customer_changes")
    op.drop_table("customer_changes")
    for column in ("authorized_contacts", "preferred_channel", "billing_address", "address", "contact_person"):
        op.drop_column("customers", column)
