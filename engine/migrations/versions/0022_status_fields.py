"""customer_status.fields: the whitelisted customer_fields and their values, shown on the status page

Revision ID: 0022
Revises: 0020
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0022"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows stay empty until their instance takes its next step: filling them would mean
    # loading every workflow, which no read of the status does.
    with op.batch_alter_table("customer_status") as batch:
        batch.add_column(
            sa.Column(
                "fields",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("customer_status") as batch:
        batch.drop_column("fields")
