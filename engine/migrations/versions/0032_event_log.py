"""event log: every event for the care center's other systems, written with the change it reports

Revision ID: 0032
Revises: 0031
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(200), nullable=True),
        sa.Column("ordering_key", sa.String(250), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("dispatched", sa.Boolean(), nullable=False, server_default=sa.text("false")),
    )
    op.create_index("ix_events_time", "events", ["time", "id"])
    op.create_index(
        "ix_events_undispatched",
        "events",
        ["id"],
        postgresql_where=sa.text("NOT dispatched"),
        sqlite_where=sa.text("dispatched = 0"),
    )


def downgrade() -> None:
    op.drop_table("events")
