"""Errors on pages are pages: a browser that hits a missing, forbidden or failed page gets HTML in the app's layout.

``/api/*``, ``/engine-rest/*``, ``/healthz``, ``/readyz`` and ``/metrics`` keep their machine-readable errors
(:mod:`api.problems`); everything else a person may type or follow (staff, designer and admin
pages, the customer's tracking pages and portal, unknown paths) gets a plain message in its
audience's layout and language, and a way back.
"""

from __future__ import annotations

from flask import g, render_template, request
from flask.globals import request_ctx
from markupsafe import escape

from api import i18n
from api.pages.locale import gettext

MACHINE_PREFIXES = ("/api/", "/engine-rest/", "/healthz", "/readyz", "/metrics")
CUSTOMER_PREFIXES = ("/track", "/portal", "/chat/")

TITLES = {
    400: "The request could not be used",
    401: "Please sign in",
    403: "Not allowed",
    404: "Page not found",
    405: "Not possible here",
    409: "Someone else was quicker",
    413: "Too large",
    415: "Not possible here",
    422: "This could not be done",
    429: "Too many requests",
    500: "Something went wrong",
}
MESSAGES = {
    400: "The form or address could not be used. Go back, reload the page and try again.",
    401: "This page is for signed-in staff.",
    403: "Your account may not open this page. Ask an administrator if you need it.",
    404: "There is no page at this address, or what it showed no longer exists.",
    405: "This address cannot be used that way.",
    409: "The case changed while you were working on it. Reload the page to see its current state.",
    413: "What you sent is larger than allowed.",
    415: "What you sent is not in a form this page takes.",
    422: "The request was understood but cannot be carried out.",
    429: "Please wait a minute and try again.",
    500: "An unexpected error occurred; it has been logged. Please try again later.",
}
HTML = {"Content-Type": "text/html; charset=utf-8"}
SHOWN_DETAIL = (400, 409, 422)  # our own explanations ("the form expired ..."); others are generic


def wants_page() -> bool:
    path = request.path
    return not (path == "/api" or path == "/engine-rest" or path.startswith(MACHINE_PREFIXES))


def page(status: int, detail: str | None = None):
    """The error page for ``status``: the customer's layout under /track and /portal, the staff layout elsewhere."""
    status = status if status in TITLES else (500 if status >= 500 else 400)
    if request_ctx.url_adapter is None:  # refused before routing (a forged Host): no links can be built
        return _bare(status)
    if request.path.startswith(CUSTOMER_PREFIXES):
        language = i18n.pick(request.args.get("lang"), request.accept_languages)
        texts = i18n.translations(language)
        body = render_template(
            "track/error.html",
            title=texts.gettext(TITLES[status]),
            message=texts.gettext(MESSAGES[status]),
            _=texts.gettext,
            lang=language,
            languages=i18n.LANGUAGES,
        )
    else:
        principal = g.get("principal")
        body = render_template(
            "error.html",
            title=gettext(TITLES[status]),
            message=gettext(MESSAGES[status]),
            detail=detail if status in SHOWN_DETAIL else None,
            principal=principal,
            signed_in=principal is not None,
        )
    return body, status, HTML


def _bare(status: int):
    text = escape(TITLES[status])
    return f"<!doctype html><html lang=en><title>{text}</title><h1>{text}</h1>", status, HTML
