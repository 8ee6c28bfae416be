"""What every route module needs: the engine of this application and the caller."""

from __future__ import annotations

from flask import current_app

from engine.core import CareEngine


def care() -> CareEngine:
    return current_app.extensions["carecenter"]
