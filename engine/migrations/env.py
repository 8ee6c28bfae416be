"""Alembic environment: runs migrations on the connection that :mod:`engine.schema` hands in."""

from alembic import context

from engine.models import Base
from engine.schema import include_name

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True, include_name=include_name)
with context.begin_transaction():
    context.run_migrations()
