"""Every API error leaves as ``application/problem+json`` (RFC 9457) with a stable ``type``; never a stack trace.

Under ``/engine-rest`` (Camunda's REST subset) errors take Camunda's shape instead (:mod:`api.camunda_errors`);
outside the API, errors are HTML pages (:mod:`api.pages.errors`).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from api import camunda_errors
from api.pages import errors as error_pages
from api.request_log import loggable_path
from engine.errors import CareError

log = logging.getLogger(__name__)

HTTP_TYPES = {
    400: "/problems/bad-request",
    401: "/problems/unauthenticated",
    403: "/problems/forbidden",
    404: "/problems/not-found",
    405: "/problems/method-not-allowed",
    413: "/problems/too-large",
    415: "/problems/unsupported-media-type",
    422: "/problems/invalid-request",
}


def problem(status: int, type_: str, title: str, detail: str, **extra: object) -> Response:
    if camunda_errors.applies(request.path):
        return camunda_errors.response(status, detail)
    body = {"type": type_, "title": title, "status": status, "detail": detail, "instance": request.path, **extra}
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="carecenter"'
    return response


def _extra(error: CareError) -> dict:
    extra = {}
    for name, value in error.extra.items():
        extra[name] = (
            [item.as_dict() if hasattr(item, "as_dict") else item for item in value]
            if isinstance(value, list)
            else value
        )
    return extra


def register(app: Flask) -> None:
    @app.errorhandler(CareError)
    def _care_error(error: CareError):
        if error_pages.wants_page():
            return error_pages.page(error.status, error.detail)
        return problem(error.status, error.problem_type, error.title, error.detail, **_extra(error))

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        status = error.code or 500
        if error_pages.wants_page():
            return error_pages.page(status, error.description)
        return problem(status, HTTP_TYPES.get(status, "about:blank"), error.name, error.description or error.name)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, loggable_path())
        if error_pages.wants_page():
            return error_pages.page(500)
        return problem(500, "/problems/internal", "Internal error", "An unexpected error occurred; it has been logged.")
