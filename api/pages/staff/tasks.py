"""Staff task pages: the task list with its tabs and filters, and the task page, rendered on the server.

The task page shows the case first (customer, reference, process, stage, due time, the conversation
and the internal notes), then the form. *Complete and next* opens the next open task of the same
team; team leads and admins hand a task to a member of its teams from the page.

They call the same engine services as the JSON API with the same policy scope, so a page can
never show or do more than the API allows; a team lead's page view reaches every task of the
teams they lead (:func:`api.policy.oversight_scope`), to see and hand on work.
"""

from __future__ import annotations

import re
from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from api import policy
from api.auth import current_principal, current_scope
from api.pages.case_data import case_data
from api.pages.feedback import act, answer_refusal
from api.pages.form_fields import fields_for, read_form, validation_messages
from api.pages.locale import gettext, local_time, page_language
from api.pages.model_words import task_name, translate_fields
from api.pages.signin import check_csrf, safe_next
from api.pages.team_names import team_name
from api.requests import numbers_up_to
from api.routes.common import care
from engine import forms
from engine.errors import CareError, TaskNotOpen
from engine.forms import FormDataInvalid
from engine.models import MAX_ID
from engine.notes import MAX_NOTE
from engine.pagination import clamp_limit
from engine.tasks import TaskFilter

blueprint = Blueprint("staff_tasks", __name__)
blueprint.before_request(check_csrf)
TABS = ("mine", "teams", "all")
PAGE_SIZE = 25
ROW_ID = re.compile(numbers_up_to(MAX_ID))
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:\d\d|Z)")
REASSIGN = "staff_tasks.reassign"
NOT_OPEN = "This task is no longer open: it was completed or cancelled meanwhile."


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
    names = care().cases.customer_names([c for c in customers.values() if c])
    titles = care().cases.process_titles()
    people = care().cases.people_names([t["assignee"] for t in page.items])
    teams = principal.groups if not principal.is_admin else [g["name"] for g in care().identity.groups()]
    teams = sorted(teams, key=lambda name: team_name(name).casefold())  # as the viewer reads them
    next_url = None
    if page.next_after is not None:
        next_url = url_for("staff_tasks.task_list", **{**request.args.to_dict(), "after": page.next_after})
    return render_template(
        "staff/tasks.html",
        tasks=page.items,
        customers={i: names.get(c, c) for i, c in customers.items() if c},
        titles=titles,
        people=people,
        tab=tab,
        team=team,
        teams=teams,
        process=request.args.get("process", ""),
        processes=sorted(titles.items(), key=lambda item: item[1].lower()),
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


@blueprint.post("/tasks/<id:task_id>/assign")
def reassign(task_id: int):
    """Team leads and admins give the task to a member of its teams, or back to the teams (no one)."""
    principal = current_principal()
    assignee = request.form.get("assignee", "").strip() or None
    _load_form(task_id)  # 403/404 for a task outside the lead's teams
    members = {p["username"]: p["display_name"] for p in care().tasks.assignable(task_id)}
    if assignee is not None and assignee not in members:
        flash(gettext("Only an active member of the task's teams can be given the task."), "error")
        return redirect(url_for("staff_tasks.task", task_id=task_id))
    message = (
        gettext("Task given to %(name)s.", name=members[assignee])
        if assignee
        else gettext("Task given back to its team.")
    )
    try:
        care().tasks.assign(task_id, assignee, principal.name, policy.oversight_scope(principal))
    except TaskNotOpen:
        flash(gettext(NOT_OPEN), "error")
    except CareError as error:
        if error.status in (403, 404):
            abort(error.status)
        flash(error.detail, "error")
    else:
        flash(message, "info")
    return redirect(url_for("staff_tasks.task", task_id=task_id))


@blueprint.post("/tasks/<id:task_id>/notes")
def add_note(task_id: int):
    """A note on the task's case, for staff only."""
    form = _load_form(task_id)
    text = request.form.get("text", "")
    if not text.strip() or len(text.strip()) > MAX_NOTE:
        error = gettext("Write a note of 1 to %(limit)s characters.", limit=MAX_NOTE)
        return _task_page(task_id, note=text, note_error=error, status=422)
    scope = policy.oversight_scope(current_principal())
    act(lambda: care().notes.add(form["task"]["instance_id"], text, current_principal().name, scope), "Note added.")
    return redirect(url_for("staff_tasks.task", task_id=task_id) + "#notes-title")


@blueprint.post("/tasks/<id:task_id>/reply")
def reply(task_id: int):
    """An e-mail to the case's customer, threaded under their last mail (engine/mail_answers.py)."""
    form = _load_form(task_id)
    typed = {"subject": request.form.get("subject", ""), "body": request.form.get("body", "")}
    try:
        sent = care().answers.send(
            form["task"]["instance_id"],
            subject=typed["subject"],
            body=typed["body"],
            request_key=request.form.get("request_key", ""),
            author=current_principal().name,
            scope=policy.oversight_scope(current_principal()),
        )
    except CareError as refused:
        if refused.status in (403, 404):
            abort(refused.status)
        return _task_page(task_id, reply=typed, reply_error=answer_refusal(refused), status=refused.status)
    flash(gettext("Your e-mail to %(address)s is on its way.", address=sent["recipient"]), "info")
    return redirect(url_for("staff_tasks.task", task_id=task_id, _anchor="conversation-title"))


@blueprint.get("/tasks/<id:task_id>")
def task(task_id: int):
    return _task_page(task_id)


@blueprint.post("/tasks/<id:task_id>")
def task_submit(task_id: int):
    form = _load_form(task_id)
    data, problems = read_form(form["schema"], request.form)
    problems = {name: gettext(message) for name, message in problems.items()}
    action = request.form.get("action")
    if action == "draft":
        care().tasks.save_draft(task_id, data, current_principal().name, current_scope())
        flash(gettext("Draft saved."), "info")
        return redirect(url_for("staff_tasks.task", task_id=task_id))
    if form["schema"]:
        try:
            forms.validate(form["schema"], data)
        except FormDataInvalid as invalid:
            problems = validation_messages(invalid, page_language()) | problems
    if problems:
        typed_in = {name: request.form.get(name) for name in problems if "." not in name and request.form.get(name)}
        return _task_page(task_id, values={**data, **typed_in}, errors=problems, status=422)
    principal = current_principal()
    try:
        result = care().tasks.complete(task_id, data, principal.name, current_scope())
    except FormDataInvalid as invalid:
        return _task_page(task_id, values=data, errors=validation_messages(invalid, page_language()), status=422)
    except TaskNotOpen:
        flash(gettext(NOT_OPEN), "error")
        return redirect(url_for("staff_tasks.task", task_id=task_id))
    except CareError as error:
        if error.status in (403, 404):
            abort(error.status)
        flash(error.detail, "error")
        return redirect(url_for("staff_tasks.task", task_id=task_id))
    done = result["task"]
    if action != "next":
        flash(gettext("Task “%(name)s” completed.", name=task_name(done)), "info")
        return redirect(url_for("staff_instances.instance", instance_id=result["instance"]["id"]))
    following = care().tasks.next_open(done, principal.name, current_scope())
    if following is None:
        flash(gettext("Task “%(name)s” completed. Your team has no more open tasks.", name=task_name(done)), "info")
        return redirect(url_for("staff_tasks.task_list"))
    message = gettext("Task “%(name)s” completed. Next: “%(next)s”.", name=task_name(done), next=task_name(following))
    flash(message, "info")
    return redirect(url_for("staff_tasks.task", task_id=following["id"]))


def _load_form(task_id: int) -> dict:
    try:
        return care().tasks.form(task_id, policy.oversight_scope(current_principal()))
    except CareError as error:
        abort(error.status if error.status in (403, 404) else 400)


def _may_work_on(task_id: int) -> bool:
    """Whether the viewer may fill in and complete the task (a team lead may see more than that)."""
    try:
        care().tasks.get(task_id, current_scope())
    except CareError:
        return False
    return True


def _task_page(
    task_id: int,
    values: dict | None = None,
    errors: dict | None = None,
    status: int = 200,
    note: str = "",
    note_error: str = "",
    reply: dict | None = None,
    reply_error: str = "",
):
    principal = current_principal()
    form = _load_form(task_id)
    prefill = {**form["data"], **(form["draft"] or {})} if values is None else values
    scope = policy.oversight_scope(principal)
    case = care().cases.summary(form["task"]["instance_id"], scope, page_language())
    fields = fields_for(form["schema"], form["ui"], prefill, errors or {})
    translate_fields(fields, case["instance"]["process_key"], case["instance"]["version"])
    may_reassign = policy.authorize(principal, REASSIGN) and form["task"]["status"] == "open"
    page = render_template(
        "staff/task.html",
        task=form["task"],
        fields=fields,
        case=case,
        conversation=[
            {**turn, "answers": [{**a, "value": _readable(a["value"])} for a in turn["answers"]]}
            for turn in case["conversation"]
        ],
        details=_case_data(case, principal),
        notes=care().notes.of_instance(form["task"]["instance_id"], scope),
        incidents=care().incidents.list("open", form["task"]["instance_id"], 10, None).items,
        answer=care().answers.draft(form["task"]["instance_id"], scope),
        reply=reply or {},
        reply_error=reply_error,
        note=note,
        note_error=note_error,
        note_limit=MAX_NOTE,
        may_work=_may_work_on(task_id),
        people=care().cases.people_names([form["task"]["assignee"], form["task"]["completed_by"]]),
        assignable=care().tasks.assignable(task_id) if may_reassign else None,
        errors=errors or {},
        principal=principal,
    )
    return page, status


def _case_data(case: dict, principal) -> dict:
    """The case's data under the labels its process gives them, as the case page shows it (api.pages.case_data)."""
    instance = case["instance"]
    secret = None if policy.may_read_tracking_codes(principal) else instance["tracking_code"]
    definition = care().repository.load(instance["definition_id"])  # cached per version
    return case_data({detail["name"]: detail["value"] for detail in case["details"]}, definition, secret)


def _label(name: str) -> str:
    return name.replace("_", " ").strip().capitalize() or name


def _readable(value: object) -> object:
    """Plain data made for reading: times in the viewer's zone, object keys as words; lists and objects kept."""
    if isinstance(value, str) and ISO_TIME.fullmatch(value):
        try:
            return local_time(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return value
    if isinstance(value, dict):
        return {_label(str(k)): _readable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_readable(v) for v in value]
    return value
