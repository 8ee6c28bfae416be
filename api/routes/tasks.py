"""Human tasks (TaskService): list, read, claim, unclaim, complete."""

from flask import Blueprint, request

from api.auth import current_principal, current_scope
from api.requests import choice_arg, int_arg, json_object, limit_arg, optional_object, paged
from api.routes.common import care
from engine.errors import InvalidRequest
from engine.tasks import TASK_SORTS, TASK_STATUSES, TaskFilter

blueprint = Blueprint("tasks", __name__)


@blueprint.get("/api/tasks")
def list_tasks():
    filters = TaskFilter(
        status=choice_arg("status", TASK_STATUSES, default="open"),
        candidate_group=request.args.get("candidate_group"),
        assignee=request.args.get("assignee"),
        process_key=request.args.get("process_key"),
        instance_id=int_arg("instance_id"),
        sort=choice_arg("sort", TASK_SORTS, default="id"),
    )
    return paged(care().tasks.list(filters, limit_arg(), int_arg("after"), current_scope()), "tasks.list_tasks")


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
    body = json_object(optional=True)
    unknown = set(body) - {"data"}
    if unknown:
        raise InvalidRequest(f'unknown field(s): {", ".join(sorted(unknown))}; send {{"data": {{...}}}}')
    return care().tasks.complete(task_id, optional_object(body, "data"), current_principal().name, current_scope())


@blueprint.post("/api/tasks/<id:task_id>/assign")
def assign(task_id: int):
    body = json_object()
    unknown = set(body) - {"assignee"}
    if unknown or "assignee" not in body:
        raise InvalidRequest('send {"assignee": "<user name>"} (or null to give the task back to its groups)')
    assignee = body["assignee"]
    if assignee is not None:
        if not isinstance(assignee, str):
            raise InvalidRequest("'assignee' must be a user name or null")
        assignee = care().identity.by_name(assignee).username
    return care().tasks.assign(task_id, assignee, current_principal().name)


@blueprint.get("/api/tasks/<id:task_id>/form")
def form(task_id: int):
    return care().tasks.form(task_id, current_scope())


@blueprint.post("/api/tasks/<id:task_id>/draft")
def draft(task_id: int):
    body = json_object()
    unknown = set(body) - {"data"}
    if unknown:
        raise InvalidRequest(f'unknown field(s): {", ".join(sorted(unknown))}; send {{"data": {{...}}}}')
    return care().tasks.save_draft(task_id, optional_object(body, "data"), current_principal().name, current_scope())
