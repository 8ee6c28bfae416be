"""candidate rows say whether their task is open, so team task lists skip finished tasks

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("human_task_candidates") as batch:
        batch.add_column(sa.Column("task_open", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.drop_index("ix_human_task_candidates_kind_name")
        batch.create_index("ix_human_task_candidates_open", ["kind", "name", "task_open", "task_id"])
    op.execute(
        "UPDATE human_task_candidates SET task_open = false"
        " WHERE task_id IN (SELECT id FROM human_tasks WHERE status <> 'open')"
    )


def downgrade() -> None:
    with op.batch_alter_table("human_task_candidates") as batch:
        batch.drop_index("ix_human_task_candidates_open")
        batch.create_index("ix_human_task_candidates_kind_name", ["kind", "name", "task_id"])
        batch.drop_column("task_open")
