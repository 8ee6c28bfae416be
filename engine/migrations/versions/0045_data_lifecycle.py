"""data lifecycle: the record of purges and erasures, and ended instances by end time

Revision ID: 0045
Revises: 0040
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0045"
down_revision: str | None = "0040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "data_removals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("customer_id", sa.String(200), nullable=True),
        sa.Column("principal", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cutoff", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counts", JSON, nullable=False),
        sa.Column("note", sa.String(300), nullable=True),
    )
    op.create_index("ix_data_removals_customer", "data_removals", ["customer_id", "id"])
    op.create_index("ix_process_instances_ended", "process_instances", ["ended_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_process_instances_ended", table_name="process_instances")
    op.drop_table("data_removals")
