"""workspace: every contact with a customer, staff notes, the customer's phone, each user's language and time zone

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.String(200), nullable=True),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("subject", sa.String(300), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_contacts_customer", "contacts", ["customer_id", "id"])
    op.create_index("ix_contacts_instance", "contacts", ["instance_id", "id"])
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.String(200), nullable=True),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_notes_customer", "notes", ["customer_id", "id"])
    op.create_index("ix_notes_instance", "notes", ["instance_id", "id"])
    op.add_column("customers", sa.Column("phone", sa.String(50), nullable=True))
    op.add_column("users", sa.Column("language", sa.String(10), nullable=True))
    op.add_column("users", sa.Column("time_zone", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("time_zone")
        batch.drop_column("language")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("phone")
    op.drop_table("notes")
    op.drop_table("contacts")
