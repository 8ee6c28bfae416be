"""The Flask application factory."""

from __future__ import annotations

import secrets

from flask import Flask

from api import auth, problems, routes, security
from api.pages import (
    account,
    admin_webhooks,
    calls_admin,
    customer,
    designer,
    dev_mailbox,
    locale,
    model_words,
    modeler,
    navigation,
    portal,
    portal_services,
    portal_session,
    signin,
)
from api.pages import admin as admin_pages
from api.pages.staff import attachments, calls, customers, instances, search, tasks
from api.requests import DatabaseId
from engine.config import Settings
from engine.core import CareEngine


def create_app(care: CareEngine | None = None, settings: Settings | None = None) -> Flask:
    """An application serving ``care`` (or a new engine built from ``settings`` / the environment)."""
    care = care or CareEngine(settings or Settings.from_env())
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=care.settings.secret_key or secrets.token_hex(32),
        MAX_CONTENT_LENGTH=care.settings.max_upload_bytes,
        PUBLIC_RATE_LIMIT_PER_MINUTE=care.settings.public_rate_limit_per_minute,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False
    app.url_map.converters["id"] = DatabaseId  # <id:...> in routes and pages: row ids, never past the column's range
    app.extensions["carecenter"] = care
    problems.register(app)
    auth.register(app)
    routes.register(app)
    signin.configure(app)
    locale.configure(app)
    model_words.configure(app)
    navigation.configure(app)
    portal_session.configure(app)
    for pages in (account, tasks, instances, customers, search, designer, modeler, customer, portal, portal_services):
        app.register_blueprint(pages.blueprint)
    app.register_blueprint(admin_pages.blueprint)
    app.register_blueprint(admin_webhooks.blueprint)
    app.register_blueprint(calls_admin.blueprint)
    calls.configure(app)  # the caller log and the screen pop of every staff page
    dev_mailbox.configure(app, care.settings)
    attachments.configure(app)
    security.configure(app, care.settings)
    return app
