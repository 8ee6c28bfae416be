"""Incidents: failed elements of instances, and retrying them."""

from flask import Blueprint

from api.auth import current_principal
from api.requests import choice_arg, int_arg, json_object, limit_arg, optional_object, paged
from api.routes.common import care
from engine.errors import InvalidRequest

blueprint = Blueprint("incidents", __name__)


@blueprint.get("/api/incidents")
def list_incidents():
    status = choice_arg("status", ("open", "resolved"), default="open")
    page = care().incidents.list(status, int_arg("instance_id"), limit_arg(), int_arg("after"))
    return paged(page, "incidents.list_incidents")


@blueprint.get("/api/incidents/<id:incident_id>")
def get(incident_id: int):
    return care().incidents.get(incident_id)


@blueprint.post("/api/incidents/<id:incident_id>/retry")
def retry(incident_id: int):
    body = json_object(optional=True)
    unknown = set(body) - {"data", "latest_version"}
    if unknown:
        raise InvalidRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
    latest = body.get("latest_version", False)
    if not isinstance(latest, bool):
        raise InvalidRequest("'latest_version' must be true or false")
    return care().incidents.retry(incident_id, current_principal().name, optional_object(body, "data") or None, latest)
