"""Alembic migrations of carecenter's schema; run them with ``carecenter db upgrade``."""
