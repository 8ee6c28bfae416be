"""calls: phone systems that report calls (CTI integrations), blocked numbers, the caller log and its events

Revision ID: 0030
Revises: 0026
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0030"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cti_integrations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("revoked_at", WHEN, nullable=True),
        sa.Column("last_event_at", WHEN, nullable=True),
    )
    op.create_table(
        "blocked_numbers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("number", sa.String(16), nullable=False, unique=True),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("integration_id", sa.Integer(), sa.ForeignKey("cti_integrations.id"), nullable=False),
        sa.Column("call_id", sa.String(250), nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("from_number", sa.String(100), nullable=False),
        sa.Column("to_number", sa.String(100), nullable=False),
        sa.Column("number", sa.String(16), nullable=True),
        sa.Column("customer_id", sa.String(50), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("cause", sa.String(30), nullable=True),
        sa.Column("queue", sa.String(200), nullable=True),
        sa.Column("users", JSON, nullable=False),
        sa.Column("agent", sa.String(100), nullable=True),
        sa.Column("answered_by", sa.String(200), nullable=True),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("answered_at", WHEN, nullable=True),
        sa.Column("ended_at", WHEN, nullable=True),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(300), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("chosen_by", sa.String(100), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.UniqueConstraint("integration_id", "call_id", name="uq_calls_integration_call"),
    )
    op.create_index("ix_calls_number", "calls", ["number", "id"])
    op.create_index("ix_calls_customer", "calls", ["customer_id", "id"])
    op.create_index("ix_calls_status", "calls", ["status", "id"])
    op.create_table(
        "call_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("call", sa.Integer(), sa.ForeignKey("calls.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
    )
    op.create_index("ix_call_events_call", "call_events", ["call", "id"])


def downgrade() -> None:
    op.drop_table("call_events")
    op.drop_table("calls")
    op.drop_table("blocked_numbers")
    op.drop_table("cti_integrations")
