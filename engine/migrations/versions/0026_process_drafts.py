"""process_drafts: the modeler's drafts, one per process and designer, kept until deployed or discarded

Revision ID: 0026
Revises: 0025
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "process_drafts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("process_key", sa.String(200), nullable=False),
        sa.Column("designer", sa.String(200), nullable=False),
        sa.Column("filename", sa.String(300), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("xml", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("process_key", "designer", name="uq_process_drafts_key_designer"),
    )


def downgrade() -> None:
    op.drop_table("process_drafts")
