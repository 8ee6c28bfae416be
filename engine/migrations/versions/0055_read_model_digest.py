"""process_instances.read_model_digest: what the read models held after an instance's last step

Revision ID: 0055
Revises: 0050
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0055"
down_revision: str | None = "0050"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # empty for existing instances: their next step reads every read model their definition can have
    json_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    op.add_column("process_instances", sa.Column("read_model_digest", json_type, nullable=True))


def downgrade() -> None:
    # a plain DROP COLUMN (SQLite 3.35+): rebuilding the table would break the keys that point at it
    op.drop_column("process_instances", "read_model_digest")
