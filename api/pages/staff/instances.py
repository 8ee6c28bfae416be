"""Staff instance pages: the list of cases with its filters, and one case with who did what when.

The same engine services and policy scope as ``GET /api/instances``: staff see the cases they have
(or had) a task in, admins every case. Both pages show names where the engine stores ids: the case
reference, the process's and the customer's names, task names and people's display names; the
tracking code only to those the policy lets read it.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from urllib.parse import quote

from flask import Blueprint, abort, redirect, render_template, request, url_for

from api import policy
from api.auth import current_principal, current_scope
from api.pages.case_data import case_data
from api.pages.diagrams import diagram
from api.pages.feedback import act
from api.pages.locale import gettext, page_language, page_zone
from api.pages.model_words import model_text
from api.pages.signin import check_csrf
from api.pages.staff import case_words
from api.requests import numbers_up_to
from api.routes.common import care
from engine import case_history, instance_list
from engine.errors import CareError
from engine.instance_list import InstanceListFilter
from engine.models import MAX_ID
from engine.runtime import STATUSES
from engine.status import stage_label

blueprint = Blueprint("staff_instances", __name__)
blueprint.before_request(check_csrf)
PAGE_SIZE = 25
NUMBER = re.compile(numbers_up_to(MAX_ID))
MAX_TEXT = 200
DEFAULT_DIRECTION = {"started": "desc", "updated": "desc", "process": "asc", "status": "asc"}


class FilterForm:
    """The list's query string read as filters; bad choices are dropped, bad dates are reported."""

    def __init__(self, args, processes: dict[str, str]) -> None:
        self.values = {name: args.get(name, "").strip()[:MAX_TEXT] for name in FIELDS}
        self.errors: dict[str, str] = {}
        process = self.values["process"] if self.values["process"] in processes else ""
        version = self.values["version"]
        status = self.values["status"] if self.values["status"] in STATUSES else ""
        kind, _, name = self.values["waiting"].partition(":")
        if kind not in ("group", "user") or not name:
            kind = name = ""
        sort = self.values["sort"] if self.values["sort"] in instance_list.SORTS else "started"
        direction = self.values["dir"] if self.values["dir"] in ("asc", "desc") else DEFAULT_DIRECTION[sort]
        self.values.update(process=process, status=status, sort=sort, dir=direction)
        self.values["waiting"] = f"{kind}:{name}" if kind else ""
        self.values["version"] = version if NUMBER.fullmatch(version) and int(version) > 0 else ""
        started_from = self._day("from")
        started_to = self._day("to")
        if started_from and started_to and started_to < started_from:
            self.errors["to"] = gettext("The end date is before the start date.")
        self.filters = InstanceListFilter(
            process_key=process or None,
            version=int(self.values["version"]) if self.values["version"] else None,
            status=status or None,
            stage=self.values["stage"] or None,
            waiting_group=name if kind == "group" else None,
            waiting_user=name if kind == "user" else None,
            started_from=_start_of(started_from) if started_from else None,
            started_before=_start_of(started_to + timedelta(days=1)) if started_to else None,
            open_incident=self.values["incident"] == "1",
            customer=self.values["customer"] or None,
            sort=sort,
            descending=direction == "desc",
        )

    def _day(self, name: str) -> date | None:
        text = self.values[name]
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            self.errors[name] = gettext("Enter a date like 2026-03-31.")
            return None

    def query(self, **changes: str | None) -> dict[str, str]:
        """The filled-in fields as query arguments, with ``changes`` (None removes one)."""
        merged = {**{k: v for k, v in self.values.items() if v}, **changes}
        return {k: v for k, v in merged.items() if v}


FIELDS = ("process", "version", "status", "stage", "waiting", "from", "to", "incident", "customer", "sort", "dir")


def _start_of(day: date) -> datetime:
    """Midnight at the start of ``day`` in the viewer's time zone."""
    return datetime.combine(day, time(0), tzinfo=page_zone())


class StageLabels:
    """Stage keys to labels in the viewer's language, as customers read them: the process's catalogs, else the
    model's ``customer_stage_<language>``, else the key (:func:`engine.status.stage_label`)."""

    def __init__(self) -> None:
        self.language = page_language()

    def label(self, definition_id: int, key: str | None) -> str | None:
        return stage_label(care().repository, definition_id, key, self.language)


@blueprint.get("/instances")
def index():
    principal = current_principal()
    definitions = care().repository.latest_definitions()
    processes = {d.key: d.name or d.key for d in definitions}
    form = FilterForm(request.args, processes)
    users = [u for u in care().identity.users() if not u.disabled]
    people = {u.username: u.display_name or u.username for u in users}
    page, rows = None, []
    if not form.errors:
        with care().db.read() as session:
            page = instance_list.find(
                session,
                form.filters,
                PAGE_SIZE,
                after=request.args.get("after"),
                before=request.args.get("before"),
                scope=current_scope(),
            )
        labels = StageLabels()
        rows = [_row(item, labels, people) for item in page.items]
    return render_template(
        "staff/instances.html",
        form=form,
        rows=rows,
        next_url=url_for("staff_instances.index", **form.query(after=page.next)) if page and page.next else None,
        previous_url=(
            url_for("staff_instances.index", **form.query(before=page.previous)) if page and page.previous else None
        ),
        paged=bool(request.args.get("after") or request.args.get("before")),
        columns=_columns(form),
        processes=sorted(processes.items(), key=lambda item: item[1].lower()),
        versions=_versions(form.filters.process_key, definitions),
        statuses=[(s, case_words.status_label(s)) for s in STATUSES],
        stages=_stages(form.filters.process_key, definitions),
        groups=[g["name"] for g in sorted(care().identity.groups(), key=lambda g: g["display_name"].casefold())],
        staff=[(u.username, people[u.username]) for u in users if u.role in ("staff", "admin")],
        principal=principal,
    ), (422 if form.errors else 200)


def _row(item: dict, labels: StageLabels, people: dict[str, str]) -> dict:
    return {
        **item,
        "stage_label": labels.label(item["definition_id"], item["stage"]),
        "status_label": case_words.status_label(item["status"]),
        "customer_label": case_words.customer_label(item["customer_id"], item["customer_name"]),
        "waiting": [{**task, "who": case_words.waiting_label(task, people)} for task in item["waiting"]],
    }


def _columns(form: FilterForm) -> dict[str, dict]:
    """The sortable column headers by sort: label, link (toggling the direction of the current sort), aria-sort."""
    columns = {}
    labels = {
        "process": gettext("Process"),
        "status": gettext("Status"),
        "started": gettext("Started"),
        "updated": gettext("Last change"),
    }
    for sort, label in labels.items():
        current = form.values["sort"] == sort
        direction = form.values["dir"] if current else None
        toggled = ("asc" if direction == "desc" else "desc") if current else DEFAULT_DIRECTION[sort]
        columns[sort] = {
            "label": label,
            "url": url_for("staff_instances.index", **form.query(sort=sort, dir=toggled)),
            "aria_sort": {"asc": "ascending", "desc": "descending"}.get(direction or "", "none"),
        }
    return columns


def _versions(process_key: str | None, definitions) -> list[int]:
    if process_key is not None:
        return [d.version for d in care().repository.versions(process_key)]
    newest = max((d.version for d in definitions), default=0)
    return list(range(newest, 0, -1))


def _stages(process_key: str | None, definitions) -> list[tuple[str, str]]:
    """(key, label) of the stages the chosen process (else every process) names, each key once."""
    labels = StageLabels()
    found: dict[str, str] = {}
    for definition in definitions:
        if process_key is None or definition.key == process_key:
            for stage in care().repository.load(definition.id).customer.stages:
                found.setdefault(stage.key, labels.label(definition.id, stage.key))
    return list(found.items())


@blueprint.get("/instances/<id:instance_id>")
def instance(instance_id: int):
    scope = current_scope()
    principal = current_principal()
    try:
        view = care().runtime.get(instance_id, with_data=True, scope=scope)
    except CareError as error:
        abort(error.status if error.status in (403, 404) else 400)
    with care().db.read() as session:
        summary = instance_list.summary(session, instance_id)
        definition = care().repository.load(summary["definition_id"])
        story = case_history.case_history(session, instance_id, definition)
        named = {t["assignee"] for t in summary["waiting"] if t["assignee"]}
        named |= {user for t in summary["waiting"] for user in t["users"]}
        people = case_history.display_names(session, named)
    incidents = [
        {
            **incident,
            "step": model_text(
                view["process_key"], view["version"], case_history.step_name(definition, incident["element_id"])
            ),
            "status_label": case_words.incident_status_label(incident["status"]),
        }
        for incident in care().incidents.list(None, instance_id, 50, None).items
    ]
    timeline = [
        {
            "at": entry["at"],
            "who": case_words.actor_label(entry["actor"]),
            "what": case_words.event_label(entry),
            "step": model_text(view["process_key"], view["version"], entry["step"]),  # the model's name, translated
        }
        for entry in reversed(story)
    ]
    _, xml = care().repository.xml(view["process_key"], view["version"])
    drawn = diagram(xml, view["process_key"], view["version"], states=care().runtime.states(instance_id, scope))
    secret = summary["tracking_code"]
    return render_template(
        "staff/instance.html",
        case=summary,
        # the customer page (staff_customers) lives in its own blueprint; its address is fixed by the issue
        customer_href=f"/customers/{quote(summary['customer_id'], safe='')}" if summary["customer_name"] else None,
        stage_label=StageLabels().label(summary["definition_id"], summary["stage"]),
        customer_label=case_words.customer_label(summary["customer_id"], summary["customer_name"]),
        status_label=case_words.status_label(summary["status"]),
        tracking_code=secret if policy.may_read_tracking_codes(principal) else None,
        tasks=[{**task, "who": case_words.waiting_label(task, people)} for task in summary["waiting"]],
        timeline=timeline,
        incidents=incidents,
        data=case_data(
            view.get("data") or {}, definition, None if policy.may_read_tracking_codes(principal) else secret
        ),
        diagram=drawn,
        can_retry=principal.is_admin,
        principal=principal,
    )


@blueprint.post("/instances/<id:instance_id>/incidents/<id:incident_id>/retry")
def retry(instance_id: int, incident_id: int):
    act(lambda: care().incidents.retry(incident_id, current_principal().name), "Retried.")
    return redirect(url_for("staff_instances.instance", instance_id=instance_id))
