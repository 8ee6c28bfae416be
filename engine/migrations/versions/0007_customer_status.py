"""the customer's view: status and stage history of every instance

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_status",
        sa.Column("instance_id", sa.Integer(), sa.ForeignKey("process_instances.id"), primary_key=True),
        sa.Column("tracking_code", sa.String(64), nullable=False),
        sa.UniqueConstraint("tracking_code"),
        sa.Column("customer_id", sa.String(200), nullable=True),
        sa.Column("process_key", sa.String(200), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("stage", sa.String(200), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("expected_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_customer_status_customer_id", "customer_status", ["customer_id"])
    op.create_table(
        "customer_stage_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("instance_id", sa.Integer(), sa.ForeignKey("process_instances.id"), nullable=False),
        sa.Column("stage", sa.String(200), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_customer_stage_events_instance", "customer_stage_events", ["instance_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_customer_stage_events_instance", "customer_stage_events")
    op.drop_table("customer_stage_events")
    op.drop_index("ix_customer_status_customer_id", "customer_status")
    op.drop_table("customer_status")
