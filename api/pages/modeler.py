"""The modeler pages: designers draw, check and deploy processes in the browser (bpmn-js, see docs/modeler.md).

``/processes/{key}/edit`` opens the latest version (``?version=N`` another, the designer's draft
first if there is one); ``/processes/new`` an empty diagram or an opened file. The page's script
(api/static/modeler/editor.js) posts the diagram as a file, exactly as an upload sends it, to:

- ``…/draft``: kept as the designer's draft (:mod:`engine.process_drafts`), nothing else changes;
- ``…/check``: the deploy checks, answered as an HTML fragment listing every problem with its element;
- ``…/deploy``: a deployment like any other (:func:`api.routes.deployments.uploaded_sources`, then
  :meth:`engine.repository.Repository.deploy`), with the translation catalogs of the version edited;
  the draft is discarded once deployed, and kept when the deploy is refused.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from api.auth import current_principal
from api.pages.locale import gettext, local_time
from api.pages.modeler_compare import compare_page
from api.pages.modeler_decisions import (
    check_decision,
    decisions_page,
    deploy_decision,
    discard_decision,
    edit_decision,
    save_decision_draft,
)
from api.pages.modeler_files import blank_diagram, form_names, opened_file
from api.pages.modeler_forms import edit_form, form_draft, form_post, form_preview, forms_page
from api.pages.modeler_panel import check_value
from api.pages.modeler_requests import posted_diagram, process_key, version_number
from api.pages.modeler_testing import customer_view, run_scenarios
from api.pages.signin import check_csrf
from api.routes.common import care
from engine.bpmn import SourceFile
from engine.errors import DeploymentInvalid, DeploymentProblem, InvalidRequest
from engine.model_sources import catalogs_of
from engine.process_drafts import NEW_PROCESS, Draft, ProcessDrafts

blueprint = Blueprint("modeler", __name__)
blueprint.before_request(check_csrf)
blueprint.add_url_rule("/processes/<key>/compare", "compare", compare_page, methods=["GET"])
blueprint.add_url_rule("/processes/check-value", "check_value", check_value, methods=["POST"])
# the decision editor (api/pages/modeler_decisions.py)
blueprint.add_url_rule("/decisions", "decisions", decisions_page, methods=["GET"])
blueprint.add_url_rule("/decisions/<filename>/edit", "edit_decision", edit_decision, methods=["GET"])
blueprint.add_url_rule("/decisions/<filename>/draft", "save_decision_draft", save_decision_draft, methods=["POST"])
blueprint.add_url_rule("/decisions/<filename>/check", "check_decision", check_decision, methods=["POST"])
blueprint.add_url_rule("/decisions/<filename>/deploy", "deploy_decision", deploy_decision, methods=["POST"])
blueprint.add_url_rule("/decisions/<filename>/discard", "discard_decision", discard_decision, methods=["POST"])
# the form editor (api/pages/modeler_forms.py)
blueprint.add_url_rule("/forms", "forms", forms_page, methods=["GET"])
blueprint.add_url_rule("/forms/<name>/edit", "edit_form", edit_form, methods=["GET"])
blueprint.add_url_rule("/forms/<name>/edit", "form_post", form_post, methods=["POST"])
blueprint.add_url_rule("/forms/<name>/preview", "form_preview", form_preview, methods=["POST"])
blueprint.add_url_rule("/forms/<name>/draft", "form_draft", form_draft, methods=["POST"])
# testing from the editor (api/pages/modeler_testing.py): posts of the diagram, like check
NEW = {"key": None}
blueprint.add_url_rule("/processes/new/scenarios", "scenarios", run_scenarios, methods=["POST"], defaults=NEW)
blueprint.add_url_rule("/processes/<key>/edit/scenarios", "scenarios", run_scenarios, methods=["POST"])
blueprint.add_url_rule("/processes/new/customer-view", "customer_view", customer_view, methods=["POST"], defaults=NEW)
blueprint.add_url_rule("/processes/<key>/edit/customer-view", "customer_view", customer_view, methods=["POST"])

FRAGMENT = {"Content-Type": "text/html; charset=utf-8"}


def _drafts() -> ProcessDrafts:
    engine = care()
    return ProcessDrafts(engine.db, engine.clock, engine.settings.max_upload_bytes)


# -- the pages -------------------------------------------------------------------------------


@blueprint.get("/processes/new")
def new_process():
    draft = _drafts().get(NEW_PROCESS, current_principal().name)
    if draft is not None:
        return _editor(None, draft.xml.decode("utf-8"), draft.filename, None, notice=_draft_notice(draft))
    return _editor(None, blank_diagram(), None, None)


@blueprint.post("/processes/new")
def open_file():
    """A .bpmn file opened from the designer's disk: shown in the editor, saved nowhere until edited or deployed."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _editor(
            None, blank_diagram(), None, None, open_error=gettext("Choose a .bpmn file to open."), status=400
        )
    xml, error = opened_file(upload.filename, upload.read())
    if error:
        message = gettext("The file could not be opened: %(reason)s", reason=error)
        return _editor(None, blank_diagram(), None, None, open_error=message, status=422)
    filename = upload.filename.replace("\\", "/").rsplit("/", 1)[-1]
    return _editor(None, xml, filename, None)


@blueprint.get("/processes/<key>/edit")
def edit(key: str):
    key = process_key(key)
    versions = care().repository.versions(key)  # 404 for an unknown key
    requested = version_number(request.args.get("version"))
    draft = _drafts().get(key, current_principal().name)
    if requested is None and draft is not None:
        return _editor(key, draft.xml.decode("utf-8"), draft.filename, draft.base_version, notice=_draft_notice(draft))
    filename, content = care().repository.xml(key, requested)
    version = requested or versions[0].version
    notice = None
    if draft is not None:
        notice = {
            "text": gettext(
                "You have a draft of this process, saved %(time)s. Editing this version replaces it.",
                time=local_time(draft.updated_at),
            ),
            "link": url_for("modeler.edit", key=key),
            "link_text": gettext("Open the draft"),
        }
    return _editor(key, content.decode("utf-8"), filename, version, notice=notice)


def _draft_notice(draft: Draft) -> dict:
    started = (
        gettext("started from version %(version)s", version=draft.base_version)
        if draft.base_version
        else gettext("not deployed yet")
    )
    return {
        "text": gettext(
            "Your draft of %(time)s is open (%(started)s).", time=local_time(draft.updated_at), started=started
        ),
        "discard": url_for("modeler.discard", key=draft.process_key or None),
    }


def _editor(
    key: str | None,
    xml: str,
    filename: str | None,
    base_version: int | None,
    *,
    notice: dict | None = None,
    problems: list[dict] | None = None,
    warnings: list[dict] | None = None,
    open_error: str | None = None,
    status: int = 200,
):
    engine = care()
    data = {
        "xml": xml,
        "filename": filename,
        "key": key or "",
        "base_version": base_version,
        "urls": {
            "draft": url_for("modeler.save_draft", key=key),
            "check": url_for("modeler.check", key=key),
            "scenarios": url_for("modeler.scenarios", key=key),
            "customer_view": url_for("modeler.customer_view", key=key),
            "check_value": url_for("modeler.check_value"),
        },
        "groups": [group["name"] for group in engine.identity.groups()],
        "forms": form_names(engine.settings.forms_dir),
        "operations": [operation.as_dict() for operation in engine.jobs.registry.all()],
        "texts": _script_texts(),
        "refused": problems is not None,
    }
    versions = engine.repository.versions(key) if key else []
    page = render_template(
        "designer/modeler.html",
        key=key,
        versions=versions,
        base_version=base_version,
        data=data,
        notice=notice,
        problems=problems or [],
        warnings=warnings or [],
        checked=problems is not None,
        open_error=open_error,
        principal=current_principal(),
    )
    return page, status


def _script_texts() -> dict[str, str]:
    """What the page's script and the properties panel show, in the viewer's language."""
    return {
        "saving": gettext("Saving the draft…"),
        "saved_failed": gettext("The draft could not be saved: %(reason)s", reason="{reason}"),
        "checking": gettext("Checking…"),
        "check_failed": gettext("The check could not run: %(reason)s", reason="{reason}"),
        "lost": gettext(
            "This file holds content the editor cannot read, so saving it here would lose it: %(what)s. "
            "Edit it in another modeler and upload it on the Processes page.",
            what="{what}",
        ),
        "unsaved": gettext("Changes not saved yet"),
        "import_failed": gettext("The diagram cannot be shown: %(reason)s", reason="{reason}"),
        "group": gettext("carecenter"),
        "none": gettext("(none)"),
        "candidate_groups": gettext("Candidate group"),
        "candidate_groups_help": gettext("The team whose members may claim the task."),
        "form": gettext("Form"),
        "customer_stage": gettext("Customer stage"),
        "customer_stage_help": gettext("Name the process's customer stages first (select the process)."),
        "customer_stages": gettext("Customer stages"),
        "customer_stages_help": gettext("What the customer sees, in order, separated by commas."),
        "canvas": gettext("Diagram"),
        "problem_badge": gettext("Problem"),
        "scenarios_running": gettext("Running the scenarios…"),
        "value_works": gettext("Works."),
        "value_checking": gettext("Checking…"),
        "customer_fields": gettext("Fields the customer sees"),
        "customer_fields_help": gettext(
            "Variables shown on the customer's status page and usable in messages, separated by commas."
        ),
        "customer_variable": gettext("Variable naming the customer"),
        "customer_variable_help": gettext(
            "For a process started by a message, signal or timer: once a step sets this variable to a"
            " customer's id, the case is filed under that customer."
        ),
        "lane_group": gettext("Team of the lane"),
        "lane_group_help": gettext("The lane's name is the candidate group of the tasks in it."),
        "due": gettext("Due"),
        "due_help": gettext("A duration such as PT4H or P2D, a date, or an expression."),
        "operation": gettext("Operation"),
        "operation_help": gettext("The operation of the process library the task calls."),
        "operation_unknown": gettext("No operation of that name is registered; outside workers may take it."),
        "required": gettext("required"),
        "parameter_unknown": gettext("The operation takes no parameter of this name."),
        "result_variable": gettext("Result variable"),
        "result_variable_help": gettext("The variable that receives the operation's result."),
        "condition": gettext("Condition"),
        "condition_help": gettext("Python, or JUEL such as ${amount > 100}; the flow is taken when it is true."),
        "script": gettext("Script"),
        "script_help": gettext("Python, run in the script sandbox."),
        "correlation_key": gettext("Correlation key"),
        "correlation_key_help": gettext(
            "The variables a message must match to reach this instance, separated by commas."
        ),
        "customer_stage_de": gettext("Stage label in German"),
        "customer_stage_cs": gettext("Stage label in Czech"),
        "customer_message": gettext("Customer message"),
        "customer_message_help": gettext(
            "Shown to the customer while the stage is current; may use the fields the customer sees, as {{ name }}."
        ),
        "scenarios_failed": gettext("The scenarios could not run: %(reason)s", reason="{reason}"),
    }


# -- what the page's script posts -------------------------------------------------------------


def _with_catalogs(key: str | None, base_version: int | None, diagram: SourceFile) -> list[SourceFile]:
    return [diagram, *catalogs_of(care().db, key, base_version)] if key else [diagram]


@blueprint.post("/processes/new/draft", defaults={"key": None}, endpoint="save_draft")
@blueprint.post("/processes/<key>/edit/draft", endpoint="save_draft")
def save_draft(key: str | None):
    try:
        diagram = posted_diagram()
        draft = _drafts().save(
            process_key(key),
            current_principal().name,
            diagram.filename,
            diagram.content,
            version_number(request.form.get("base_version")),
        )
    except (DeploymentInvalid, InvalidRequest) as error:
        reason = error.problems[0].message if isinstance(error, DeploymentInvalid) else error.detail
        text = gettext("The draft could not be saved: %(reason)s", reason=reason)
        return render_template("designer/modeler_saved.html", text=text, saved=False), 422, FRAGMENT
    text = gettext("Draft saved %(time)s.", time=local_time(draft.updated_at))
    return render_template("designer/modeler_saved.html", text=text, saved=True), 200, FRAGMENT


@blueprint.post("/processes/new/check", defaults={"key": None}, endpoint="check")
@blueprint.post("/processes/<key>/edit/check", endpoint="check")
def check(key: str | None):
    problems, warnings = [], []
    try:
        diagram = posted_diagram()
        result = care().repository.check(_with_catalogs(key, version_number(request.form.get("base_version")), diagram))
        warnings = [w.as_dict() for w in result.warnings]
    except DeploymentInvalid as invalid:
        problems = [p.as_dict() for p in invalid.problems]
    except InvalidRequest as error:
        problems = [DeploymentProblem("", None, None, error.detail).as_dict()]
    page = render_template("designer/modeler_check.html", problems=problems, warnings=warnings, checked=True)
    return page, 200, FRAGMENT


@blueprint.post("/processes/new/deploy", defaults={"key": None}, endpoint="deploy")
@blueprint.post("/processes/<key>/edit/deploy", endpoint="deploy")
def deploy(key: str | None):
    draft_key = process_key(key)
    designer = current_principal().name
    base_version = version_number(request.form.get("base_version"))
    try:
        diagram = posted_diagram()
    except (DeploymentInvalid, InvalidRequest) as error:
        found = (
            error.problems
            if isinstance(error, DeploymentInvalid)
            else [DeploymentProblem("", None, None, error.detail)]
        )
        return _refused(key, base_version, None, [p.as_dict() for p in found], 400)
    name = (request.form.get("name") or "").strip()[:200] or f"{diagram.filename} (modeler, {designer})"[:200]
    try:
        result = care().repository.deploy(_with_catalogs(key, base_version, diagram), name, designer)
    except DeploymentInvalid as invalid:
        _drafts().save(draft_key, designer, diagram.filename, diagram.content, base_version)
        return _refused(key, base_version, diagram, [p.as_dict() for p in invalid.problems], 422)
    _drafts().discard(draft_key, designer)
    outcomes = [o for o in result.definitions if o.key == key] or result.definitions
    shown = next((o for o in outcomes if o.executable), outcomes[0])
    if shown.status == "created":
        flash(gettext("Deployed %(key)s version %(version)s.", key=shown.key, version=shown.version), "info")
    else:
        flash(gettext("Nothing changed: the diagram equals version %(version)s.", version=shown.version), "info")
    if result.warnings:  # the editor's check lists them under the diagram, each with its element, marked on it
        flash(gettext("%(count)s warning(s): see Check below the diagram.", count=len(result.warnings)), "warning")
    return redirect(url_for("modeler.edit", key=shown.key))


def _refused(key: str | None, base_version: int | None, diagram: SourceFile | None, problems: list[dict], status: int):
    """The editor again, with what was sent, every problem listed and marked on its element."""
    if diagram is not None:
        xml, filename = diagram.content.decode("utf-8", errors="replace"), diagram.filename
    elif key:
        filename, content = care().repository.xml(key, base_version)
        xml = content.decode("utf-8")
    else:
        xml, filename = blank_diagram(), None
    return _editor(key, xml, filename, base_version, problems=problems, status=status)


@blueprint.post("/processes/new/discard", defaults={"key": None}, endpoint="discard")
@blueprint.post("/processes/<key>/edit/discard", endpoint="discard")
def discard(key: str | None):
    _drafts().discard(process_key(key), current_principal().name)
    flash(gettext("Draft discarded."), "info")
    return redirect(url_for("modeler.edit", key=key) if key else url_for("modeler.new_process"))
