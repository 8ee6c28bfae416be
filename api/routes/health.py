"""Probes for load balancers and service managers: ``/healthz`` (the process lives), ``/readyz`` (it can work).

``/healthz`` touches nothing: a web process that answers it is alive, and restarting it would not
bring a lost database back (a liveness probe that checked the database would restart every web
process whenever the database blinks). ``/readyz`` says whether requests can be served now: the
database answers and is migrated to the schema this code needs; otherwise 503, and a load
balancer sends the requests elsewhere. A database migrated past this code by a newer release's
``db upgrade`` counts as ready: during a rolling upgrade old and new processes serve side by side
(docs/operations.md, "Upgrades").
"""

from flask import Blueprint, jsonify

from api.problems import problem
from api.routes.common import care
from engine import schema

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@blueprint.get("/readyz")
def readyz():
    try:
        current, head = schema.revisions(care().db)
    except Exception:
        return problem(503, "/problems/not-ready", "Not ready", "the database does not answer")
    if schema.compatibility(current) == schema.BEHIND:
        found = f"at schema revision {current}" if current else "not set up"
        return problem(
            503,
            "/problems/not-ready",
            "Not ready",
            f"the database is {found}; this version needs revision {head} (carecenter db upgrade)",
        )
    return jsonify({"status": "ready", "schema": current})
