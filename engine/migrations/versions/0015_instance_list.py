"""instance list: indexes for sorting instances by start or last change, and filtering by version and stage

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_process_instances_started", "process_instances", ["started_at", "id"])
    op.create_index("ix_process_instances_updated", "process_instances", ["updated_at", "id"])
    op.create_index(
        "ix_process_instances_key_version", "process_instances", ["process_key", "definition_version", "id"]
    )
    op.create_index("ix_customer_status_stage", "customer_status", ["stage", "instance_id"])


def downgrade() -> None:
    op.drop_index("ix_customer_status_stage", table_name="customer_status")
    op.drop_index("ix_process_instances_key_version", table_name="process_instances")
    op.drop_index("ix_process_instances_updated", table_name="process_instances")
    op.drop_index("ix_process_instances_started", table_name="process_instances")
