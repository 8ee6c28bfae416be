"""Authentication: a bearer token on every non-public request, then the policy check.

Runs as one ``before_request`` hook for the whole application, so no route can forget it.
"""

from __future__ import annotations

from flask import Flask, g, request

from api import policy
from api.problems import problem
from engine.tokens import Principal


def current_principal() -> Principal:
    return g.principal


def register(app: Flask) -> None:
    @app.before_request
    def _authenticate():
        endpoint = request.endpoint
        if endpoint is None or policy.is_public(endpoint):
            return None  # unknown routes fall through to 404/405
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return problem(401, "/problems/unauthenticated", "Unauthenticated", "send Authorization: Bearer <token>")
        principal = app.extensions["carecenter"].tokens.authenticate(value.strip())
        if principal is None:
            return problem(
                401, "/problems/unauthenticated", "Unauthenticated", "the token is unknown, revoked or expired"
            )
        if not policy.authorize(principal, endpoint):
            return problem(403, "/problems/forbidden", "Forbidden", f"role '{principal.role}' may not do this")
        g.principal = principal
        return None
