"""case references: a short reference per instance (and in the customer status), customers' postcodes

Every instance and its customer status row get a ``reference`` (see engine/case_reference.py),
existing rows a fresh random one; instances record the address the customer wrote from
(``contact_email``, filled for portal customers from their ``web:<e-mail>`` id); customers may
have a ``postcode``. Reference and e-mail or postcode together open the status page.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from engine import case_reference

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000


def upgrade() -> None:
    # NOT NULL needs a default for the rows there are; SQLite cannot drop it again without rebuilding
    # process_instances (which other tables reference), so it keeps it there. Every insert sets a reference.
    for table in ("process_instances", "customer_status"):
        op.add_column(table, sa.Column("reference", sa.String(16), nullable=False, server_default=""))
    op.add_column("process_instances", sa.Column("contact_email", sa.String(300), nullable=True))
    op.add_column("customers", sa.Column("postcode", sa.String(20), nullable=True))
    _backfill()
    op.create_index("ix_process_instances_reference", "process_instances", ["reference"], unique=True)
    op.create_index("ix_customer_status_reference", "customer_status", ["reference"], unique=True)
    if op.get_bind().dialect.name != "sqlite":
        for table in ("process_instances", "customer_status"):
            op.alter_column(table, "reference", server_default=None)


def _backfill() -> None:
    connection = op.get_bind()
    instances = sa.table(
        "process_instances",
        sa.column("id", sa.Integer),
        sa.column("reference", sa.String),
        sa.column("customer_id", sa.String),
        sa.column("contact_email", sa.String),
    )
    status = sa.table("customer_status", sa.column("instance_id", sa.Integer), sa.column("reference", sa.String))
    ids = list(connection.scalars(sa.select(instances.c.id).order_by(instances.c.id)))
    drawn: set[str] = set()
    for start in range(0, len(ids), BATCH):
        rows = [
            {"row_id": row_id, "new": case_reference.unused(drawn.__contains__)}
            for row_id in ids[start : start + BATCH]
        ]
        drawn.update(row["new"] for row in rows)
        connection.execute(
            instances.update().where(instances.c.id == sa.bindparam("row_id")).values(reference=sa.bindparam("new")),
            rows,
        )
    connection.execute(
        status.update().values(
            reference=sa.select(instances.c.reference).where(instances.c.id == status.c.instance_id).scalar_subquery()
        )
    )
    connection.execute(
        instances.update()
        .where(instances.c.customer_id.like("web:%"))
        .values(contact_email=sa.func.substr(instances.c.customer_id, 5))
    )


def downgrade() -> None:
    op.drop_index("ix_customer_status_reference", "customer_status")
    op.drop_index("ix_process_instances_reference", "process_instances")
    op.drop_column("customers", "postcode")
    op.drop_column("process_instances", "contact_email")
    for table in ("process_instances", "customer_status"):
        op.drop_column(table, "reference")
