"""Staff task pages: the task list with its tabs and filters, and the task form, rendered on the server.

They call the same engine services as the JSON API with the same policy scope, so a page can
never show or do more than the API allows.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from api import policy
from api.auth import current_principal, current_scope
from api.pages.feedback import act
from api.pages.form_fields import fields_for, read_form
from api.pages.signin import check_csrf, safe_next
from api.requests import numbers_up_to
from api.routes.common import care
from engine import forms
from engine.errors import CareError
from engine.forms import FormDataInvalid
from engine.models import MAX_ID
from engine.pagination import clamp_limit
from engine.tasks import TaskFilter

blueprint = Blueprint("staff_tasks", __name__)
blueprint.before_request(check_csrf)
TABS = ("mine", "teams", "all")
PAGE_SIZE = 25
ROW_ID = re.compile(numbers_up_to(MAX_ID))


def _id(name: str) -> int | None:
    """A row id from the query (the task list's ``after``); anything else (``²``, 10**20) is as if left out."""
    value = request.args.get(name, "")
    return int(value) if ROW_ID.fullmatch(value) else None


@blueprint.get("/tasks")
def task_list():
    principal = current_principal()
    tab = request.args.get("tab", "teams" if not principal.is_admin else "all")
    if tab not in TABS or (tab == "all" and not principal.is_admin):
        tab = "teams"
    team = request.args.get("team") or None
    filters = TaskFilter(
        assignee=principal.name if tab == "mine" else None,
        candidate_group=team,
        process_key=request.args.get("process") or None,
        sort="due" if request.args.get("sort") == "due" else "id",
    )
    scope = None if tab == "all" else policy.team_scope(principal)
    page = care().tasks.list(filters, clamp_limit(PAGE_SIZE), _id("after"), scope)
    customers = care().runtime.customers_of([t["instance_id"] for t in page.items])
    processes = [d.key for d in care().repository.latest_definitions()]
    teams = sorted(principal.groups) if not principal.is_admin else [g["name"] for g in care().identity.groups()]
    next_url = None
    if page.next_after is not None:
        next_url = url_for("staff_tasks.task_list", **{**request.args.to_dict(), "after": page.next_after})
    return render_template(
        "staff/tasks.html",
        tasks=page.items,
        customers=customers,
        tab=tab,
        team=team,
        teams=teams,
        process=request.args.get("process", ""),
        processes=processes,
        sort=filters.sort,
        next_url=next_url,
        principal=principal,
    )


@blueprint.post("/tasks/<id:task_id>/claim")
def claim(task_id: int):
    act(lambda: care().tasks.claim(task_id, current_principal().name, current_scope()), "Task claimed.")
    return redirect(safe_next(request.form.get("back"), url_for("staff_tasks.task", task_id=task_id)))


@blueprint.post("/tasks/<id:task_id>/unclaim")
def unclaim(task_id: int):
    act(lambda: care().tasks.unclaim(task_id, current_principal().name, current_scope()), "Task released.")
    return redirect(safe_next(request.form.get("back"), url_for("staff_tasks.task_list")))


@blueprint.get("/tasks/<id:task_id>")
def task(task_id: int):
    return _task_page(task_id)


@blueprint.post("/tasks/<id:task_id>")
def task_submit(task_id: int):
    form = _load_form(task_id)
    data, problems = read_form(form["schema"], request.form)
    if request.form.get("action") == "draft":
        care().tasks.save_draft(task_id, data, current_principal().name, current_scope())
        flash("Draft saved.", "info")
        return redirect(url_for("staff_tasks.task", task_id=task_id))
    if form["schema"]:
        try:
            forms.validate(form["schema"], data)
        except FormDataInvalid as invalid:
            problems = {e["field"]: e["message"] for e in invalid.errors} | problems
    if problems:
        typed_in = {name: request.form.get(name) for name in problems if "." not in name and request.form.get(name)}
        return _task_page(task_id, values={**data, **typed_in}, errors=problems, status=422)
    try:
        result = care().tasks.complete(task_id, data, current_principal().name, current_scope())
    except FormDataInvalid as invalid:
        errors = {e["field"]: e["message"] for e in invalid.errors}
        return _task_page(task_id, values=data, errors=errors, status=422)
    except CareError as error:
        flash(error.detail, "error")
        return redirect(url_for("staff_tasks.task", task_id=task_id))
    flash(f"Task “{result['task']['name']}” completed.", "info")
    return redirect(url_for("staff_instances.instance", instance_id=result["instance"]["id"]))


def _load_form(task_id: int) -> dict:
    try:
        return care().tasks.form(task_id, current_scope())
    except CareError as error:
        abort(error.status if error.status in (403, 404) else 400)


def _task_page(task_id: int, values: dict | None = None, errors: dict | None = None, status: int = 200):
    form = _load_form(task_id)
    prefill = {**form["data"], **(form["draft"] or {})} if values is None else values
    fields = fields_for(form["schema"], form["ui"], prefill, errors or {})
    instance = care().runtime.get(form["task"]["instance_id"], with_data=True, scope=current_scope())
    page = render_template(
        "staff/task.html",
        task=form["task"],
        fields=fields,
        instance=instance,
        errors=errors or {},
        principal=current_principal(),
    )
    return page, status
