"""One log line per request, an audit line per admin action, and the request id that ties them together.

- **Request id**: a caller's ``X-Request-ID`` is kept when it is a plain token of at most 128
  characters (a proxy's or client's id, so their logs and ours line up), else a new one is made;
  the answer carries it back, and every line logged while the request is served has it.
- **Request line** (``carecenter.requests``, INFO): method, path, status, duration, request id,
  user and the client's address. The path leaves out the query string (portal sign-in links carry
  their token there), and a route whose path holds a secret (a tracking code, a phone system's
  token) is logged by its rule, ``/track/<code>``. ``CARECENTER_REQUEST_LOG=0`` turns these lines
  off (``make run`` does).
- **Audit line** (``carecenter.audit``, INFO, always on): every request that would change something
  through an endpoint only admins may call (users, groups, tokens, incidents, webhooks, telephony,
  timers; :func:`api.policy.is_admin_action`), and every deployment, whatever its outcome: who,
  what, on which ids, the status, and the id and name of what was made. Never a request or answer
  body: the answer of ``POST /api/tokens`` holds the new token.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import MethodNotAllowed

from api import policy
from api.logs import REQUEST_ID
from engine.config import Settings

requests_log = logging.getLogger("carecenter.requests")
audit_log = logging.getLogger("carecenter.audit")

HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"[A-Za-z0-9._:@+=/-]{1,128}")
# Endpoints whose path holds a secret: logged by their rule, never their path.
SECRET_PATH_ENDPOINTS = frozenset(
    {"cti.event", "status.get", "track.show", "chat.show", "chat.send", "chat.leave", "chat.close", "chat.stream"}
)
# What an audit line takes from a JSON answer: what was made, never what it holds (a token, a webhook's secret).
RESULT_FIELDS = ("id", "name", "username", "role")


def loggable_path() -> str:
    """The request's path as a log may show it: no query string, no secret."""
    endpoint, rule = request.endpoint, request.url_rule
    if rule is None and isinstance(request.routing_exception, MethodNotAllowed):
        endpoint, rule = _rule_for_another_method()  # e.g. a GET on the phone systems' POST-only URL
    if endpoint in SECRET_PATH_ENDPOINTS and rule is not None:
        return rule.rule
    return request.path


def _rule_for_another_method():
    adapter = current_app.url_map.bind_to_environ(request.environ)
    for method in request.routing_exception.valid_methods or ():
        try:
            rule, _args = adapter.match(method=method, return_rule=True)
            return rule.endpoint, rule
        except Exception:
            continue
    return None, None


def _user() -> str:
    """Who made the request: the principal, also when authorization refused it; ``-`` when unknown."""
    principal = g.get("principal") or g.get("refused_principal")
    return principal.name if principal is not None else "-"


def configure(app: Flask, settings: Settings) -> None:
    """Install the hooks; call before :func:`api.auth.register` so refused requests are logged too."""

    @app.before_request
    def _begin() -> None:
        g.log_started = time.perf_counter()
        offered = request.headers.get(HEADER, "")
        g.request_id = offered if _VALID_ID.fullmatch(offered) else uuid.uuid4().hex
        g.request_id_token = REQUEST_ID.set(g.request_id)

    @app.after_request
    def _log(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id is None:
            return response
        response.headers[HEADER] = request_id
        started = g.get("log_started")
        milliseconds = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
        path = loggable_path()
        if settings.request_log:
            fields = {
                "method": request.method,
                "path": path,
                "status": response.status_code,
                "duration_ms": milliseconds,
                "user": _user(),
                "client": request.remote_addr,
            }
            requests_log.info(
                "%s %s %s %sms user=%s client=%s id=%s",
                request.method,
                path,
                response.status_code,
                milliseconds,
                fields["user"],
                fields["client"],
                request_id,
                extra={"fields": fields},
            )
        if policy.is_admin_action(request.endpoint, request.method):
            _audit(response, path)
        return response

    @app.teardown_request
    def _end(_error: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            REQUEST_ID.reset(token)


def _audit(response: Response, path: str) -> None:
    target = {name: value for name, value in (request.view_args or {}).items() if isinstance(value, int)}
    result = {}
    if response.is_json and response.status_code < 400:
        body = response.get_json(silent=True)
        if isinstance(body, dict):
            result = {name: body[name] for name in RESULT_FIELDS if isinstance(body.get(name), str | int)}
    fields = {
        "audit": True,
        "actor": _user(),
        "action": request.endpoint,
        "method": request.method,
        "path": path,
        "status": response.status_code,
        "target": target,
        "result": result,
    }
    described = " ".join(f"{name}={value}" for name, value in {**target, **result}.items())
    audit_log.info(
        "%s %s (%s %s) -> %s %s",
        fields["actor"],
        request.endpoint,
        request.method,
        path,
        response.status_code,
        described,
        extra={"fields": fields},
    )
