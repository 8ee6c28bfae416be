"""The customer's status, public and rate-limited: the tracking code is the only key.

Only the customer read model is read (see :mod:`engine.status`): no variables beyond the
process's ``customer_fields``, no staff names, element ids or incident messages.
"""

from flask import Blueprint, request

from api import i18n
from api.requests import query_args
from api.routes.common import care
from api.uniform_time import uniform_duration
from engine import status
from engine.errors import NotFound

blueprint = Blueprint("status", __name__)


@blueprint.get("/api/status/<tracking_code>")
def get(tracking_code: str):
    language = i18n.pick(query_args()["lang"], request.accept_languages)
    with uniform_duration(), care().db.read() as session:
        view = status.view(session, care().repository, tracking_code, language)
    if view is None:
        raise NotFound("no request with this tracking code")
    return view
