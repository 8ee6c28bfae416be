"""The HTML pages, one module per audience: sign-in, staff, designer, customer tracking and portal.

The JSON API lives in :mod:`api.routes`; pages call the same engine services with the same
policy scope, so a page never shows or does more than the API allows.
"""

from __future__ import annotations

from flask import Flask

from api.pages import customer, designer, portal, signin, staff


def register(app: Flask) -> None:
    signin.configure(app)
    for module in (staff, designer, customer, portal):
        app.register_blueprint(module.blueprint)
