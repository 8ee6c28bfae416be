"""Authentication: one ``before_request`` hook for the whole application, so no route can forget it.

API routes take a bearer token; pages take the signed session cookie set at login.  Either way
the principal then passes :func:`api.policy.authorize`.  Both lookups are
:mod:`engine.principals`: one statement when the process has not seen the token or user within
the last second, none otherwise.
"""

from __future__ import annotations

from flask import Flask, g, redirect, request, session, url_for

from api import policy, ratelimit
from api.pages import errors as error_pages
from api.problems import problem
from engine.tokens import Principal


def current_principal() -> Principal:
    return g.principal


def current_scope():
    return policy.task_scope(g.principal)


def _session_principal(app: Flask) -> Principal | None:
    """The signed-in user of this session, unless it was ended (logout, password change, ...) or is too old."""
    user_id, generation, signed_in_at = (session.get(k) for k in ("user_id", "generation", "signed_in_at"))
    if user_id is None or generation is None or signed_in_at is None:
        return None
    care = app.extensions["carecenter"]
    if care.clock.now().timestamp() - signed_in_at > care.settings.session_max_hours * 3600:
        return None
    user = care.tokens.principals.session_user(user_id, generation)
    if user is None:
        return None
    g.user_language, g.user_time_zone = user.language, user.time_zone  # the pages' settings (api.pages.locale)
    return user.principal


def register(app: Flask) -> None:
    @app.before_request
    def _authenticate():
        endpoint = request.endpoint
        if endpoint in policy.RATE_LIMITED_ENDPOINTS:  # every method: HEAD answers the same status as GET
            limited = ratelimit.check(app, endpoint)
            if limited is not None:
                return limited
        if endpoint is None and error_pages.wants_page():
            g.principal = _session_principal(app)  # the 404 page shows who is signed in, in their language
            return None
        if endpoint is None or policy.is_public(endpoint):
            return None  # unknown routes fall through to 404/405
        if policy.is_page(endpoint):
            principal = _session_principal(app)
            if principal is None:
                return redirect(url_for("signin.login", next=_return_path()))
        else:
            principal = _bearer_principal(app)
            if not isinstance(principal, Principal):
                return principal
        if not policy.authorize(principal, endpoint):
            g.principal = principal if policy.is_page(endpoint) else None  # the error page's header shows who it is
            g.refused_principal = principal  # who tried, for the request and audit lines (api.request_log)
            if policy.is_page(endpoint):
                return error_pages.page(403)
            return problem(403, "/problems/forbidden", "Forbidden", f"role '{principal.role}' may not do this")
        g.principal = principal
        return None


def _return_path() -> str | None:
    """Where the login sends the user back to: this page with its query, for GET; the form's page is unknown."""
    if request.method != "GET":
        return None
    query = request.query_string.decode("latin-1")
    return f"{request.path}?{query}" if query else request.path


def _bearer_principal(app: Flask):
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return problem(401, "/problems/unauthenticated", "Unauthenticated", "send Authorization: Bearer <token>")
    principal = app.extensions["carecenter"].tokens.authenticate(value.strip())
    if principal is None:
        return problem(401, "/problems/unauthenticated", "Unauthenticated", "the token is unknown, revoked or expired")
    return principal
