"""The Flask application factory."""

from __future__ import annotations

import secrets

from flask import Flask

from api import auth, foreground, metrics, problems, request_log, routes, security
from api.pages import (
    account,
    admin_webhooks,
    analytics,
    calls_admin,
    chat,
    customer,
    designer,
    dev_mailbox,
    insight,
    locale,
    model_words,
    modeler,
    navigation,
    portal,
    portal_services,
    portal_session,
    signin,
    team_names,
)
from api.pages import admin as admin_pages
from api.pages.staff import attachments, calls, chats, customers, instances, search, tasks
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
    foreground.configure(app, care.foreground)  # the analytics run gives way to requests in flight
    request_log.configure(app, care.settings)  # before authentication: refused requests are logged and timed too
    metrics.configure(app)
    auth.register(app)
    routes.register(app)
    signin.configure(app)
    locale.configure(app)
    model_words.configure(app)
    team_names.configure(app)
    navigation.configure(app)
    portal_session.configure(app)
    for pages in (account, tasks, instances, customers, search, designer, modeler, customer, portal, portal_services):
        app.register_blueprint(pages.blueprint)
    app.register_blueprint(analytics.blueprint)  # the dashboard and process reports (#23)
    app.register_blueprint(insight.blueprint)  # the customer lists for sales and care managers (#23)
    app.register_blueprint(admin_pages.blueprint)
    app.register_blueprint(admin_webhooks.blueprint)
    app.register_blueprint(calls_admin.blueprint)
    calls.configure(app)  # the caller log and the screen pop of every staff page
    app.register_blueprint(chat.blueprint)  # the customer's chat pages
    app.register_blueprint(chats.blueprint)  # the staff's chat queue and chats
    dev_mailbox.configure(app, care.settings)
    attachments.configure(app)
    security.configure(app, care.settings)
    return app
