"""The JSON API, one blueprint per engine service."""

from flask import Flask

from api.requests import refuse_nul_characters
from api.routes import (
    admin,
    analytics,
    answers,
    chats,
    cti,
    customers,
    definitions,
    deployments,
    engine_rest,
    health,
    incidents,
    instances,
    jobs,
    messages,
    notes,
    openapi,
    status,
    tasks,
    timers,
    webhooks,
)

MODULES = (
    health,
    openapi,
    deployments,
    definitions,
    instances,
    notes,
    answers,
    tasks,
    incidents,
    timers,
    customers,
    status,
    admin,
    jobs,
    messages,
    webhooks,
    cti,
    analytics,
    chats,
    engine_rest,
)
for module in MODULES:
    if module not in (health, openapi, engine_rest):  # no input; Camunda's answers (engine_rest checks its own)
        module.blueprint.before_request(refuse_nul_characters)


def register(app: Flask) -> None:
    for module in MODULES:
        app.register_blueprint(module.blueprint)
