"""Authorization in one place: which principals may call which endpoint.

Every request passes :func:`authorize` before its view runs (see :mod:`api.auth`); views
never check roles themselves.
"""

from __future__ import annotations

from engine.tokens import Principal

PUBLIC_ENDPOINTS = frozenset({"health.healthz", "openapi.document", "static"})

# endpoint -> roles allowed; endpoints not listed are for admins only.
ALLOWED_ROLES: dict[str, frozenset[str]] = {}


def is_public(endpoint: str | None) -> bool:
    return endpoint in PUBLIC_ENDPOINTS


def authorize(principal: Principal, endpoint: str) -> bool:
    if principal.role == "admin":
        return True
    return principal.role in ALLOWED_ROLES.get(endpoint, frozenset())
