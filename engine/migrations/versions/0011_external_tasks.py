"""external tasks: service-task jobs that outside workers fetch and lock over /engine-rest

A Camunda external service task whose topic names no registered operation is an *external task*:
its ``service_jobs`` row has ``kind = 'external'``; Camunda-style workers fetch and lock it (the
lease columns ``claimed_by`` / ``claimed_until`` are the worker id and lock expiration) and report
back.  ``retries`` is what the last failure report left (null until the first one),
``error_details`` its details, and ``priority`` the element's ``camunda:taskPriority``.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("service_jobs", sa.Column("kind", sa.String(20), nullable=False, server_default="operation"))
    op.add_column("service_jobs", sa.Column("retries", sa.Integer(), nullable=True))
    op.add_column("service_jobs", sa.Column("error_details", sa.Text(), nullable=True))
    op.add_column("service_jobs", sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_service_jobs_kind_topic", "service_jobs", ["kind", "operation", "status"])


def downgrade() -> None:
    op.drop_index("ix_service_jobs_kind_topic", "service_jobs")
    with op.batch_alter_table("service_jobs") as batch:
        for column in ("priority", "error_details", "retries", "kind"):
            batch.drop_column(column)
