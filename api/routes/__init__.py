"""The JSON API, one blueprint per engine service."""

from flask import Flask

from api.routes import (
    admin,
    customers,
    definitions,
    deployments,
    engine_rest,
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


def register(app: Flask) -> None:
    for module in (
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
        engine_rest,
    ):
        app.register_blueprint(module.blueprint)
