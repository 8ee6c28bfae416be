"""the process library's store: customers, systems, licenses, dispatches, outbox

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.String(50), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(300), nullable=False),
        sa.Column("tier", sa.String(20), nullable=False),
        sa.Column("language", sa.String(10), nullable=False),
    )
    op.create_table(
        "systems",
        sa.Column("id", sa.String(50), primary_key=True),
        sa.Column("customer_id", sa.String(50), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("product", sa.String(100), nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("hostname", sa.String(300), nullable=False),
    )
    op.create_index("ix_systems_customer_id", "systems", ["customer_id"])
    op.create_index("ix_systems_product_customer", "systems", ["product", "customer_id"])
    op.create_table(
        "licenses",
        sa.Column("id", sa.String(50), primary_key=True),
        sa.Column("customer_id", sa.String(50), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("product", sa.String(100), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
    )
    op.create_index("ix_licenses_customer_product", "licenses", ["customer_id", "product"])
    op.create_index("ix_licenses_status_valid_until", "licenses", ["status", "valid_until"])
    op.create_table(
        "dispatches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        sa.UniqueConstraint("idempotency_key"),
        sa.Column("system_id", sa.String(50), sa.ForeignKey("systems.id"), nullable=False),
        sa.Column("customer_id", sa.String(50), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("product", sa.String(100), nullable=False),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_dispatches_system_id", "dispatches", ["system_id", "id"])
    op.create_index("ix_dispatches_customer_id", "dispatches", ["customer_id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        sa.UniqueConstraint("idempotency_key"),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("recipient", sa.String(300), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_outbox_status_id", "outbox", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_status_id", "outbox")
    op.drop_table("outbox")
    op.drop_index("ix_dispatches_customer_id", "dispatches")
    op.drop_index("ix_dispatches_system_id", "dispatches")
    op.drop_table("dispatches")
    op.drop_index("ix_licenses_status_valid_until", "licenses")
    op.drop_index("ix_licenses_customer_product", "licenses")
    op.drop_table("licenses")
    op.drop_index("ix_systems_product_customer", "systems")
    op.drop_index("ix_systems_customer_id", "systems")
    op.drop_table("systems")
    op.drop_table("customers")
