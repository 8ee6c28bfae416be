"""Webhook endpoints and their deliveries, for admins (the policy keeps everyone else out); see docs/events.md."""

from __future__ import annotations

from flask import Blueprint, make_response

from api.auth import current_principal
from api.requests import json_body, paged, query_args
from api.routes.common import care
from engine.pagination import clamp_limit

blueprint = Blueprint("webhooks", __name__)


@blueprint.get("/api/webhooks")
def list_endpoints():
    return {"items": care().webhooks.list(), "next": None}


@blueprint.post("/api/webhooks")
def register():
    """A new endpoint; the answer holds its signing secret, which is never shown again."""
    body = json_body()
    view, secret = care().webhooks.register(
        body.get("url"), body.get("events"), body.get("description"), current_principal().name
    )
    response = make_response({**view, "secret": secret}, 201)
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/api/webhooks/<id:endpoint_id>")
def get(endpoint_id: int):
    return care().webhooks.get(endpoint_id)


@blueprint.delete("/api/webhooks/<id:endpoint_id>")
def delete(endpoint_id: int):
    care().webhooks.delete(endpoint_id)
    return "", 204


@blueprint.post("/api/webhooks/<id:endpoint_id>/disable")
def disable(endpoint_id: int):
    return care().webhooks.disable(endpoint_id, f"disabled by {current_principal().name}")


@blueprint.post("/api/webhooks/<id:endpoint_id>/enable")
def enable(endpoint_id: int):
    return care().webhooks.enable(endpoint_id)


@blueprint.get("/api/webhooks/<id:endpoint_id>/deliveries")
def deliveries(endpoint_id: int):
    args = query_args()
    page = care().webhooks.deliveries(endpoint_id, args["status"], clamp_limit(args["limit"]), args["after"])
    return paged(page, "webhooks.deliveries", endpoint_id=endpoint_id)


@blueprint.get("/api/webhook-deliveries/<id:delivery_id>")
def delivery(delivery_id: int):
    return care().webhooks.delivery(delivery_id, care().settings.public.base)


@blueprint.post("/api/webhook-deliveries/<id:delivery_id>/resend")
def resend(delivery_id: int):
    return care().webhooks.resend(delivery_id)
