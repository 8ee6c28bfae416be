"""groups.display_name: the name staff read for a team (the name stays the key models and scopes use)

Revision ID: 0060
Revises: 0055
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0060"
down_revision: str | None = "0055"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("groups", sa.Column("display_name", sa.String(100), nullable=False, server_default=""))
    # existing teams are read by their names until an admin names them otherwise
    op.execute("UPDATE groups SET display_name = name")


def downgrade() -> None:
    op.drop_column("groups", "display_name")
