"""The customer's status, public and rate-limited: the tracking code is the only key.

Only the customer read model is read (see :mod:`engine.status`): no variables beyond the
process's ``customer_fields``, no staff names, element ids or incident messages.
"""

from flask import Blueprint, request

from api.routes.common import care
from engine import status
from engine.errors import NotFound

blueprint = Blueprint("status", __name__)
LANGUAGES = ("en", "de", "cs")


def language() -> str:
    """``?lang=`` if it names a supported language, else the best match of ``Accept-Language``."""
    wanted = request.args.get("lang", "")
    if wanted in LANGUAGES:
        return wanted
    return request.accept_languages.best_match(LANGUAGES) or "en"


@blueprint.get("/api/status/<tracking_code>")
def get(tracking_code: str):
    with care().db.read() as session:
        view = status.view(session, care().repository, tracking_code, language())
    if view is None:
        raise NotFound("no request with this tracking code")
    return view
