"""inbound mail: the durable store of arriving mail (also the queue of its processing), and bouncing addresses

Revision ID: 0019
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "inbound_mails",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("dedup_key", sa.String(64), nullable=False, unique=True),
        sa.Column("message_id", sa.String(500), nullable=True),
        sa.Column("reference_ids", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("envelope_from", sa.String(300), nullable=True),
        sa.Column("recipients", JSON, nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(20), nullable=True),
        sa.Column("sender", sa.String(300), nullable=True),
        sa.Column("subject", sa.String(300), nullable=True),
        sa.Column("auto_reply_allowed", sa.Boolean(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("instance_id", sa.Integer(), nullable=True),
    )
    op.create_index("ix_inbound_mails_status_due", "inbound_mails", ["status", "due_at", "id"])
    op.create_index("ix_inbound_mails_message_id", "inbound_mails", ["message_id"])
    op.create_index("ix_inbound_mails_sender", "inbound_mails", ["sender", "received_at"])
    op.create_index("ix_inbound_mails_instance", "inbound_mails", ["instance_id", "id"])
    op.create_table(
        "mail_bounces",
        sa.Column("address", sa.String(300), primary_key=True),
        sa.Column("bounces", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("diagnostic", sa.Text(), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("inbound_mail_id", sa.Integer(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("mail_bounces")
    op.drop_table("inbound_mails")
