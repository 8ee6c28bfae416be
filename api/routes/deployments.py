"""Deployments (RepositoryService): upload one or more BPMN/DMN files as a unit."""

from flask import Blueprint, request

from api.auth import current_principal
from api.requests import paged, query_args
from api.routes.common import care
from engine.bpmn import DEPLOYABLE_SUFFIXES, SourceFile
from engine.errors import DeploymentInvalid, DeploymentProblem, InvalidRequest
from engine.pagination import page_of
from engine.views import deployment_view

blueprint = Blueprint("deployments", __name__)


def uploaded_sources() -> list[SourceFile]:
    files = [f for key in request.files for f in request.files.getlist(key) if f.filename]
    if not files:
        raise InvalidRequest("send one or more .bpmn or .dmn files as multipart/form-data (field 'files')")
    sources, problems = [], []
    for storage in files:
        name = storage.filename.replace("\\", "/").rsplit("/", 1)[-1]
        if not name.lower().endswith(DEPLOYABLE_SUFFIXES):
            problems.append(DeploymentProblem(name, None, None, "not a .bpmn, .bpmn20.xml or .dmn file"))
        sources.append(SourceFile(name, storage.read()))
    if problems:
        raise DeploymentInvalid(problems)
    return sources


MAX_NAME = 200


@blueprint.post("/api/deployments")
def create():
    name = request.form.get("name", "").strip()
    if len(name) > MAX_NAME:
        raise InvalidRequest(f"'name' must have at most {MAX_NAME} characters")
    result = care().repository.deploy(uploaded_sources(), name, current_principal().name)
    body = {
        "deployment_id": result.deployment_id,
        "changed": result.changed,
        "message": "deployed"
        if result.changed
        else "nothing changed: every process is identical to its latest version",
        "definitions": [
            {"key": o.key, "name": o.name, "version": o.version, "executable": o.executable, "status": o.status}
            for o in result.definitions
        ],
        "warnings": [warning.as_dict() for warning in result.warnings],
    }
    return body, 201 if result.changed else 200


@blueprint.post("/api/deployments/check")
def check():
    result = care().repository.check(uploaded_sources())
    return {
        "valid": True,
        "definitions": [{"key": o.key, "name": o.name, "executable": o.executable} for o in result.definitions],
        "warnings": [warning.as_dict() for warning in result.warnings],
    }


@blueprint.get("/api/deployments")
def list_deployments():
    args = query_args()
    limit = args["limit"]
    rows = care().repository.deployments(limit + 1, args["after"])
    page = page_of(rows, limit)
    definitions = care().repository.definitions_of([d.id for d in page.items])
    page.items = [deployment_view(d, definitions[d.id]) for d in page.items]
    return paged(page, "deployments.list_deployments")
