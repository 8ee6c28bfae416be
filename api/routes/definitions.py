"""Process definitions (RepositoryService): versions, XML, and starting instances (RuntimeService)."""

from flask import Blueprint, Response

from api.auth import current_principal
from api.requests import header_args, json_body, query_args
from api.routes.common import care
from engine.runtime import StartRequest
from engine.views import definition_view

blueprint = Blueprint("definitions", __name__)


@blueprint.get("/api/process-definitions")
def list_latest():
    return {"items": [definition_view(d) for d in care().repository.latest_definitions()], "next": None}


@blueprint.get("/api/process-definitions/<key>")
def versions(key: str):
    rows = care().repository.versions(key)
    return {"key": key, "name": rows[0].name, "versions": [definition_view(d) for d in rows]}


@blueprint.get("/api/process-definitions/<key>/xml")
def xml(key: str):
    filename, content = care().repository.xml(key, query_args()["version"])
    response = Response(content, mimetype="application/xml")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@blueprint.post("/api/process-definitions/<key>/instances")
def start(key: str):
    body = json_body()
    start_request = StartRequest(
        process_key=key,
        variables=body.get("variables", {}),
        business_key=body.get("business_key"),
        customer_id=body.get("customer_id"),
    )
    idempotency_key = header_args()["Idempotency-Key"]
    principal = current_principal()
    view, created = care().runtime.start(start_request, principal.name, f"start:{principal.token_id}", idempotency_key)
    headers = {"Location": f"/api/instances/{view['id']}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return view, 201, headers
