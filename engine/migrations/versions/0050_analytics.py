"""analytics: the facts the reports read (instances, element visits, flows taken) and the worker's mark

Revision ID: 0050
Revises: 0040
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0050"
down_revision: str | None = "0045"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "analytics_instances",
        sa.Column("instance_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("process_key", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(20), nullable=True),
        sa.Column("customer_id", sa.String(200), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("started_day", sa.String(10), nullable=False),
        sa.Column("ended_at", WHEN, nullable=True),
        sa.Column("ended_day", sa.String(10), nullable=True),
        sa.Column("lead_seconds", sa.Float(), nullable=True),
        sa.Column("first_answer_seconds", sa.Float(), nullable=True),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("reopened", sa.Boolean(), nullable=False),
    )
    # the reports read these indexes alone on PostgreSQL (the columns they need are included)
    op.create_index(
        "ix_analytics_instances_key_started",
        "analytics_instances",
        ["process_key", "started_at"],
        postgresql_include=["version", "status", "lead_seconds"],
    )
    op.create_index(
        "ix_analytics_instances_started",
        "analytics_instances",
        ["started_at"],
        postgresql_include=[
            "started_day",
            "channel",
            "process_key",
            "status",
            "first_answer_seconds",
            "escalated",
            "reopened",
        ],
    )
    op.create_index(
        "ix_analytics_instances_ended", "analytics_instances", ["ended_at"], postgresql_include=["ended_day"]
    )
    op.create_index("ix_analytics_instances_customer", "analytics_instances", ["customer_id"])
    op.create_table(
        "analytics_visits",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("process_key", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("element_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("team", sa.String(200), nullable=True),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("entered_at", WHEN, nullable=False),
        sa.Column("claimed_at", WHEN, nullable=True),
        sa.Column("completed_at", WHEN, nullable=True),
        sa.Column("due_at", WHEN, nullable=True),
        sa.Column("spent_seconds", sa.Float(), nullable=True),
        sa.Column("wait_seconds", sa.Float(), nullable=True),
        sa.Column("work_seconds", sa.Float(), nullable=True),
    )
    op.create_index(
        "ix_analytics_visits_key_started",
        "analytics_visits",
        ["process_key", "started_at"],
        postgresql_include=[
            "version",
            "element_id",
            "kind",
            "completed_at",
            "spent_seconds",
            "wait_seconds",
            "work_seconds",
        ],
    )
    op.create_index("ix_analytics_visits_instance", "analytics_visits", ["instance_id"])
    op.create_index(
        "ix_analytics_visits_user_entered",
        "analytics_visits",
        ["entered_at"],
        postgresql_include=["day", "team"],
        postgresql_where=sa.text("kind = 'user'"),
        sqlite_where=sa.text("kind = 'user'"),
    )
    op.create_index(
        "ix_analytics_visits_due_completed",
        "analytics_visits",
        ["completed_at"],
        postgresql_include=["team", "due_at", "kind"],
        postgresql_where=sa.text("due_at IS NOT NULL"),
        sqlite_where=sa.text("due_at IS NOT NULL"),
    )
    op.create_table(
        "analytics_flows",
        sa.Column("instance_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("flow_id", sa.String(200), primary_key=True),
        sa.Column("process_key", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_analytics_flows_key_started",
        "analytics_flows",
        ["process_key", "started_at"],
        postgresql_include=["version", "flow_id", "taken"],
    )
    op.create_table(
        "analytics_marks",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("at", WHEN, nullable=False),
    )


def downgrade() -> None:
    for table in ("analytics_marks", "analytics_flows", "analytics_visits", "analytics_instances"):
        op.drop_table(table)
