"""Human tasks (TaskService): list, read, claim, unclaim, complete."""

from flask import Blueprint

from api import policy
from api.auth import current_principal, current_scope
from api.requests import json_body, paged, query_args
from api.routes.common import care
from engine.tasks import TaskFilter

blueprint = Blueprint("tasks", __name__)


@blueprint.get("/api/tasks")
def list_tasks():
    args = query_args()
    filters = TaskFilter(
        status=args["status"],
        candidate_group=args["candidate_group"],
        assignee=args["assignee"],
        process_key=args["process_key"],
        instance_id=args["instance_id"],
        sort=args["sort"],
    )
    page = care().tasks.list(filters, args["limit"], args["after"], current_scope())
    return paged(page, "tasks.list_tasks")


@blueprint.get("/api/tasks/<id:task_id>")
def get(task_id: int):
    return care().tasks.get(task_id, current_scope())


@blueprint.post("/api/tasks/<id:task_id>/claim")
def claim(task_id: int):
    return care().tasks.claim(task_id, current_principal().name, current_scope())


@blueprint.post("/api/tasks/<id:task_id>/unclaim")
def unclaim(task_id: int):
    return care().tasks.unclaim(task_id, current_principal().name, current_scope())


@blueprint.post("/api/tasks/<id:task_id>/complete")
def complete(task_id: int):
    data = json_body().get("data", {})
    return care().tasks.complete(task_id, data, current_principal().name, current_scope())


@blueprint.post("/api/tasks/<id:task_id>/assign")
def assign(task_id: int):
    assignee = json_body()["assignee"]
    if assignee is not None:
        assignee = care().identity.by_name(assignee).username
    principal = current_principal()  # a team lead: only tasks of their teams, only to their members
    return care().tasks.assign(task_id, assignee, principal.name, policy.oversight_scope(principal))


@blueprint.get("/api/tasks/<id:task_id>/form")
def form(task_id: int):
    return care().tasks.form(task_id, current_scope())


@blueprint.post("/api/tasks/<id:task_id>/draft")
def draft(task_id: int):
    data = json_body().get("data", {})
    return care().tasks.save_draft(task_id, data, current_principal().name, current_scope())
