"""The customer's tracking pages: ``/track`` (enter a code) and ``/track/<code>`` (the status).

Public and rate-limited, rendered on the server without JavaScript, printable, in en/de/cs
(``?lang=`` or ``Accept-Language``).  They show exactly the JSON of ``GET /api/status/<code>``
(:func:`engine.status.view`), nothing more.
"""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, render_template, request, url_for

from api import i18n
from api.routes.common import care
from engine import status

blueprint = Blueprint("track", __name__)
STATUS_TEXTS = {
    "received": "Received",
    "in_progress": "In progress",
    "waiting_for_you": "Waiting for you",
    "completed": "Completed",
    "cancelled": "Cancelled",
}
STATE_TEXTS = {"done": "Done", "current": "Current", "upcoming": "Upcoming"}


def _context(language: str) -> dict:
    texts = i18n.translations(language)
    return {
        "_": texts.gettext,
        "lang": language,
        "languages": i18n.LANGUAGES,
        "status_texts": STATUS_TEXTS,
        "state_texts": STATE_TEXTS,
    }


def _language() -> str:
    return i18n.pick(request.args.get("lang"), request.accept_languages)


@blueprint.get("/track")
def index():
    language = _language()
    code = request.args.get("code", "").strip()
    if code:
        return redirect(url_for("track.show", code=code, lang=language))
    return render_template("track/index.html", **_context(language))


@blueprint.get("/track/<code>")
def show(code: str):
    language = _language()
    with care().db.read() as session:
        view = status.view(session, care().repository, code, language)
    if view is None:
        return render_template("track/index.html", unknown=True, **_context(language)), 404
    return render_template("track/status.html", view=view, code=code, **_context(language))


def register(app: Flask) -> None:
    app.register_blueprint(blueprint)
