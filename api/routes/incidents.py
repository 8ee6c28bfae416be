"""Incidents: failed elements of instances, and retrying them."""

from flask import Blueprint

from api.auth import current_principal
from api.requests import json_body, paged, query_args
from api.routes.common import care

blueprint = Blueprint("incidents", __name__)


@blueprint.get("/api/incidents")
def list_incidents():
    args = query_args()
    page = care().incidents.list(args["status"], args["instance_id"], args["limit"], args["after"])
    return paged(page, "incidents.list_incidents")


@blueprint.get("/api/incidents/<id:incident_id>")
def get(incident_id: int):
    return care().incidents.get(incident_id)


@blueprint.post("/api/incidents/<id:incident_id>/retry")
def retry(incident_id: int):
    body = json_body()
    latest = body.get("latest_version", False)
    return care().incidents.retry(incident_id, current_principal().name, body.get("data") or None, latest)
