"""Process definitions (RepositoryService): versions, XML, and starting instances (RuntimeService)."""

from flask import Blueprint, Response, request

from api.auth import current_principal
from api.requests import int_arg, json_object, optional_object, optional_str
from api.routes.common import care
from engine.errors import InvalidRequest
from engine.runtime import StartRequest
from engine.views import definition_view

blueprint = Blueprint("definitions", __name__)
MAX_IDEMPOTENCY_KEY = 200


@blueprint.get("/api/process-definitions")
def list_latest():
    return {"items": [definition_view(d) for d in care().repository.latest_definitions()], "next": None}


@blueprint.get("/api/process-definitions/<key>")
def versions(key: str):
    rows = care().repository.versions(key)
    return {"key": key, "name": rows[0].name, "versions": [definition_view(d) for d in rows]}


@blueprint.get("/api/process-definitions/<key>/xml")
def xml(key: str):
    filename, content = care().repository.xml(key, int_arg("version"))
    response = Response(content, mimetype="application/xml")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@blueprint.post("/api/process-definitions/<key>/instances")
def start(key: str):
    body = json_object(optional=True)
    unknown = set(body) - {"business_key", "customer_id", "variables"}
    if unknown:
        raise InvalidRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
    start_request = StartRequest(
        process_key=key,
        variables=optional_object(body, "variables"),
        business_key=optional_str(body, "business_key"),
        customer_id=optional_str(body, "customer_id"),
    )
    idempotency_key = request.headers.get("Idempotency-Key")
    if idempotency_key is not None and not (0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY):
        raise InvalidRequest(f"Idempotency-Key must have 1 to {MAX_IDEMPOTENCY_KEY} characters")
    principal = current_principal()
    view, created = care().runtime.start(start_request, principal.name, f"start:{principal.token_id}", idempotency_key)
    headers = {"Location": f"/api/instances/{view['id']}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return view, 201, headers
