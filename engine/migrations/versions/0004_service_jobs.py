"""service-task jobs, incidents that point at them

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "service_jobs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("instance_id", sa.Integer(), sa.ForeignKey("process_instances.id"), nullable=False),
        sa.Column("process_key", sa.String(200), nullable=False),
        sa.Column("element_id", sa.String(200), nullable=False),
        sa.Column("element_name", sa.String(300), nullable=False),
        sa.Column("task_guid", sa.String(36), nullable=False),
        sa.Column("operation", sa.String(200), nullable=False),
        sa.Column("arguments", JSON, nullable=False),
        sa.Column("result_variable", sa.String(200), nullable=False),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        sa.UniqueConstraint("idempotency_key"),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("backoff_seconds", sa.Float(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_service_jobs_status_due", "service_jobs", ["status", "due_at"])
    op.create_index("ix_service_jobs_instance_status", "service_jobs", ["instance_id", "status"])
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("job_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("job_id")
    op.drop_index("ix_service_jobs_instance_status", "service_jobs")
    op.drop_index("ix_service_jobs_status_due", "service_jobs")
    op.drop_table("service_jobs")
