"""messages: subscriptions of waiting catches, published and buffered messages, the channel of an instance

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("process_instances", sa.Column("channel", sa.String(20), nullable=True))
    op.create_table(
        "message_subscriptions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("instance_id", sa.Integer, sa.ForeignKey("process_instances.id"), nullable=False),
        sa.Column("task_guid", sa.String(36), nullable=False),
        sa.Column("element_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("correlation", JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_message_subscriptions_instance_id", "message_subscriptions", ["instance_id"])
    op.create_index("ix_message_subscriptions_kind_name", "message_subscriptions", ["kind", "name", "id"])
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("message_id", sa.String(200), nullable=True, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("business_key", sa.String(200), nullable=True),
        sa.Column("correlation", JSON, nullable=False),
        sa.Column("target_instance_id", sa.Integer, nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("result", JSON, nullable=True),
        sa.Column("published_by", sa.String(200), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("delivered_at", WHEN, nullable=True),
    )
    op.create_index("ix_messages_status_name", "messages", ["status", "name", "id"])


def downgrade() -> None:
    op.drop_table("messages")
    op.drop_table("message_subscriptions")
    op.drop_column("process_instances", "channel")
