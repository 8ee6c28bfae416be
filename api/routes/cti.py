"""The phone system's URL (Zammad's generic CTI API, unchanged), its integrations, blocked numbers, the caller log.

``POST /api/cti/{token}`` takes ``newCall``, ``answer`` and ``hangup`` as JSON or form fields and
answers as the generic CTI API does: ``{}``, or ``{"action": "reject", "reason": "busy"}`` for a
blocked caller. The token in the URL is the phone system's only credential (the policy lists the
endpoint as public; the view checks the token, 401 for an unknown or revoked one, storing nothing).
The URL is the secret, so nothing here logs it, and :mod:`api.problems` logs the route's rule, not
its path. The URL handed out is built from the configured public URL, never from request headers.
"""

from __future__ import annotations

import json

from flask import Blueprint, request

from api.auth import current_principal
from api.problems import problem
from api.requests import json_body, paged, query_args
from api.routes.common import care
from engine import cti
from engine.errors import InvalidRequest

blueprint = Blueprint("cti", __name__)


@blueprint.post("/api/cti/<token>")
def event(token: str):
    integration = care().cti.find(token)
    if integration is None:
        return problem(401, "/problems/unauthenticated", "Unauthenticated", "this CTI URL is unknown or revoked")
    return care().calls.receive(integration, _event())


def _event() -> cti.CtiEvent:
    """The event in the body: a JSON object, or form fields (url-encoded or multipart) with ``user[]`` repeated."""
    if request.is_json:
        try:
            body = json.loads(request.get_data(), parse_constant=_no_constant)
        except ValueError:
            raise InvalidRequest("the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise InvalidRequest("the body must be a JSON object with the event's fields")
        users = body.get("user", body.get("user[]"))
        return cti.read_event(body, users if isinstance(users, list) else None)
    form = request.form
    users = form.getlist("user[]") + form.getlist("user")
    return cti.read_event(form.to_dict(), users)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


@blueprint.get("/api/cti/integrations")
def list_integrations():
    return {"items": care().cti.list(), "next": None}


@blueprint.post("/api/cti/integrations")
def create_integration():
    body = json_body()
    view, token = care().cti.create(body["name"], current_principal().name)
    return {**view, "token": token, "url": cti_url(token)}, 201


def cti_url(token: str) -> str:
    """The URL to give the phone system: on the configured public address (``CARECENTER_PUBLIC_URL``)."""
    return care().settings.public.link(f"/api/cti/{token}")


@blueprint.post("/api/cti/integrations/<id:integration_id>/revoke")
def revoke_integration(integration_id: int):
    return care().cti.revoke(integration_id)


@blueprint.get("/api/cti/blocked-numbers")
def list_blocked():
    return {"items": care().cti.blocked(), "next": None}


@blueprint.post("/api/cti/blocked-numbers")
def block_number():
    body = json_body()
    return care().cti.block(body["number"], body.get("note"), current_principal().name), 201


@blueprint.delete("/api/cti/blocked-numbers/<id:blocked_id>")
def unblock_number(blocked_id: int):
    care().cti.unblock(blocked_id)
    return "", 204


@blueprint.get("/api/calls")
def list_calls():
    args = query_args()
    page = care().calls.list(
        args["limit"],
        args["after"],
        status=args["status"],
        customer_id=args["customer_id"],
        number=args["number"],
    )
    return paged(page, "cti.list_calls")


@blueprint.get("/api/calls/<id:call_id>")
def get_call(call_id: int):
    return care().calls.get(call_id)
