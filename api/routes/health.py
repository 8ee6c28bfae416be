"""``/healthz``: is the database reachable?"""

from flask import Blueprint, jsonify

from api.routes.common import care

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    reachable = care().db.ping()
    body = {"status": "ok" if reachable else "unavailable", "database": "reachable" if reachable else "unreachable"}
    return jsonify(body), 200 if reachable else 503
