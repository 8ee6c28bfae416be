"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 07:21:35.458410
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "idempotency_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=300), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "response",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scope", "key", name="uq_idempotency_records_scope_key"),
    )
    op.create_table(
        "deployment_resources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_deployment_resources_deployment_id"), "deployment_resources", ["deployment_id"], unique=False
    )
    op.create_table(
        "process_definitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("executable", sa.Boolean(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column(
            "dependencies",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["deployment_resources.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", "version", name="uq_process_definitions_key_version"),
    )
    op.create_index(
        op.f("ix_process_definitions_deployment_id"), "process_definitions", ["deployment_id"], unique=False
    )
    op.create_index(op.f("ix_process_definitions_key"), "process_definitions", ["key"], unique=False)
    op.create_table(
        "process_instances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("process_key", sa.String(length=200), nullable=False),
        sa.Column("definition_version", sa.Integer(), nullable=False),
        sa.Column("business_key", sa.String(length=200), nullable=True),
        sa.Column("customer_id", sa.String(length=200), nullable=True),
        sa.Column("tracking_code", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("started_by", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["process_definitions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tracking_code"),
    )
    op.create_index(op.f("ix_process_instances_business_key"), "process_instances", ["business_key"], unique=False)
    op.create_index(op.f("ix_process_instances_customer_id"), "process_instances", ["customer_id"], unique=False)
    op.create_index(op.f("ix_process_instances_definition_id"), "process_instances", ["definition_id"], unique=False)
    op.create_index("ix_process_instances_key_id", "process_instances", ["process_key", "id"], unique=False)
    op.create_index("ix_process_instances_status_id", "process_instances", ["status", "id"], unique=False)
    op.create_table(
        "history_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=50), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=True),
        sa.Column("human_task_id", sa.Integer(), nullable=True),
        sa.Column("principal", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instances.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_history_events_instance_id", "history_events", ["instance_id", "id"], unique=False)
    op.create_table(
        "human_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("task_guid", sa.String(length=36), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("process_key", sa.String(length=200), nullable=False),
        sa.Column("lane", sa.String(length=200), nullable=True),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("form_key", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instances.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_guid"),
    )
    op.create_index("ix_human_tasks_assignee_status", "human_tasks", ["assignee", "status"], unique=False)
    op.create_index("ix_human_tasks_instance_status", "human_tasks", ["instance_id", "status"], unique=False)
    op.create_index("ix_human_tasks_process_status", "human_tasks", ["process_key", "status"], unique=False)
    op.create_index("ix_human_tasks_status_id", "human_tasks", ["status", "id"], unique=False)
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("element_id", sa.String(length=200), nullable=True),
        sa.Column("element_name", sa.String(length=300), nullable=True),
        sa.Column("error_type", sa.String(length=100), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instances.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_incidents_instance_id"), "incidents", ["instance_id"], unique=False)
    op.create_index("ix_incidents_status_id", "incidents", ["status", "id"], unique=False)
    op.create_table(
        "human_task_candidates",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["human_tasks.id"],
        ),
        sa.PrimaryKeyConstraint("task_id", "kind", "name"),
    )
    op.create_index(
        "ix_human_task_candidates_kind_name",
        "human_task_candidates",
        ["kind", "name", "task_id"],
        unique=False,
    )


def downgrade() -> None:

    op.drop_index("ix_human_task_candidates_kind_name", table_name="human_task_candidates")
    op.drop_table("human_task_candidates")
    op.drop_index("ix_incidents_status_id", table_name="incidents")
    op.drop_index(op.f("ix_incidents_instance_id"), table_name="incidents")
    op.drop_table("incidents")
    op.drop_index("ix_human_tasks_status_id", table_name="human_tasks")
    op.drop_index("ix_human_tasks_process_status", table_name="human_tasks")
    op.drop_index("ix_human_tasks_instance_status", table_name="human_tasks")
    op.drop_index("ix_human_tasks_assignee_status", table_name="human_tasks")
    op.drop_table("human_tasks")
    op.drop_index("ix_history_events_instance_id", table_name="history_events")
    op.drop_table("history_events")
    op.drop_index("ix_process_instances_status_id", table_name="process_instances")
    op.drop_index("ix_process_instances_key_id", table_name="process_instances")
    op.drop_index(op.f("ix_process_instances_definition_id"), table_name="process_instances")
    op.drop_index(op.f("ix_process_instances_customer_id"), table_name="process_instances")
    op.drop_index(op.f("ix_process_instances_business_key"), table_name="process_instances")
    op.drop_table("process_instances")
    op.drop_index(op.f("ix_process_definitions_key"), table_name="process_definitions")
    op.drop_index(op.f("ix_process_definitions_deployment_id"), table_name="process_definitions")
    op.drop_table("process_definitions")
    op.drop_index(op.f("ix_deployment_resources_deployment_id"), table_name="deployment_resources")
    op.drop_table("deployment_resources")
    op.drop_table("idempotency_records")
    op.drop_table("deployments")
    op.drop_table("api_tokens")
