"""The JSON API, one blueprint per engine service."""

from flask import Flask

from api.requests import refuse_nul_characters
from api.routes import (
    admin,
    customers,
    definitions,
    deployments,
    health,
    incidents,
    instances,
    jobs,
    messages,
    openapi,
    status,
    tasks,
    timers,
)

MODULES = (
    health,
    openapi,
    deployments,
    definitions,
    instances,
    tasks,
    incidents,
    timers,
    customers,
    status,
    admin,
    jobs,
    messages,
)
for module in MODULES:
    if module not in (health, openapi):  # the two that take no input
        module.blueprint.before_request(refuse_nul_characters)


def register(app: Flask) -> None:
    for module in MODULES:
        app.register_blueprint(module.blueprint)
