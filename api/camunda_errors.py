"""Errors under ``/engine-rest`` in Camunda 7's shape, because its clients read them that way.

carecenter's own API answers RFC 9457 problems; Camunda's REST API answers every error with
``{"type": "<exception class>", "message": "...", "code": ...}``, and its clients log or raise
``type`` and ``message``.  :func:`api.problems.problem` hands the errors of paths under
:data:`PREFIX` (also 401, 403, 404 and 405 that no view of the blueprint raised) to
:func:`response`.  The type follows the status, as Camunda's REST layer names it.
"""

from __future__ import annotations

from flask import Response, json

PREFIX = "/engine-rest/"
TYPES = {
    400: "InvalidRequestException",
    401: "AuthenticationException",
    403: "AuthorizationException",
    404: "InvalidRequestException",
    409: "OptimisticLockingException",
    413: "InvalidRequestException",
    415: "InvalidRequestException",
}


def applies(path: str) -> bool:
    """Whether a request path belongs to the Camunda REST subset."""
    return path.startswith(PREFIX) or path == PREFIX.rstrip("/")


def response(status: int, message: str) -> Response:
    body = {"type": TYPES.get(status, "RestException"), "message": message, "code": None}
    answer = Response(json.dumps(body), status=status, mimetype="application/json")
    if status == 401:
        answer.headers["WWW-Authenticate"] = 'Bearer realm="carecenter"'
    return answer
