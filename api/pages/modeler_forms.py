"""The form editor: JSON-Schema forms (``forms/*.json`` and their ``.ui.json`` layouts) edited with a live preview.

``/forms`` lists the forms, with the processes that use them; ``/forms/<name>/edit`` edits one: its
schema and layout as JSON text, the fields rendered beside them as staff will see them (the task
page's own rendering, :func:`api.pages.form_fields.fields_for` and ``_field.html``), the problems a
deploy would find, and:

- **Save draft**: kept as the designer's draft (:class:`engine.process_drafts.ProcessDrafts`, key
  ``form:<name>``; process keys are XML ids and hold no colon, so the two never meet);
- **Deploy**: a form is pinned to each process version deployed with it, so deploying an edited form
  deploys the latest version of every process using it again, with the form and their catalogs
  (:mod:`engine.form_sources`), as one deployment through :meth:`engine.repository.Repository.deploy`.

The page is a plain form (it works without JavaScript: Check renders the preview); its script
(api/static/modeler/forms.js) previews and saves the draft while the designer types.
Registered on the modeler's blueprint (:mod:`api.pages.modeler`).
"""

from __future__ import annotations

import json

from flask import flash, redirect, render_template, request, url_for

from api.auth import current_principal
from api.pages.form_fields import fields_for
from api.pages.locale import gettext, local_time
from api.routes.common import care
from engine import forms
from engine.bpmn import SourceFile
from engine.errors import DeploymentInvalid, InvalidRequest, NotFound
from engine.form_sources import current_form, form_name_problem, form_names, processes_using
from engine.model_sources import catalogs_of
from engine.process_drafts import ProcessDrafts

DRAFT_PREFIX = "form:"
FRAGMENT = {"Content-Type": "text/html; charset=utf-8"}


def _drafts() -> ProcessDrafts:
    engine = care()
    return ProcessDrafts(engine.db, engine.clock, engine.settings.max_upload_bytes)


def _name(name: str) -> str:
    problem = form_name_problem(name)
    if problem:
        raise NotFound(f"no form '{name}': {problem}")
    return name


def forms_page():
    engine = care()
    listed = [
        {"name": name, "users": processes_using(engine.db, name)}
        for name in form_names(engine.db, engine.settings.forms_dir)
    ]
    return render_template("designer/modeler_forms.html", forms=listed, principal=current_principal())


def edit_form(name: str):
    name = _name(name)
    engine = care()
    draft = _drafts().get(DRAFT_PREFIX + name, current_principal().name)
    notice = None
    if draft is not None:
        texts = json.loads(draft.xml)
        schema, ui = texts.get("schema", ""), texts.get("ui", "")
        notice = gettext("Your draft of %(time)s is open.", time=local_time(draft.updated_at))
    else:
        content = current_form(engine.db, engine.settings.forms_dir, name)
        if content is None:
            raise NotFound(f"no form '{name}' is deployed or in the forms folder")
        layout = current_form(engine.db, engine.settings.forms_dir, forms.ui_name_for(name))
        schema = content.decode("utf-8", errors="replace")
        ui = layout.decode("utf-8", errors="replace") if layout is not None else ""
    return _page(name, schema, ui, notice=notice, has_draft=draft is not None)


def _texts() -> tuple[str, str]:
    return request.form.get("schema", ""), request.form.get("ui", "")


def form_post(name: str):
    """The page's buttons without JavaScript: check (and preview), save the draft, deploy, discard the draft."""
    name = _name(name)
    action = request.form.get("action", "check")
    designer = current_principal().name
    schema, ui = _texts()
    if action == "discard":
        _drafts().discard(DRAFT_PREFIX + name, designer)
        flash(gettext("Draft discarded."), "info")
        return redirect(url_for("modeler.edit_form", name=name))
    if action == "draft":
        _save_draft(name, schema, ui)
        return _page(name, schema, ui, notice=gettext("Draft saved."), has_draft=True)
    if action == "deploy":
        return _deploy(name, schema, ui)
    return _page(name, schema, ui, has_draft=_drafts().get(DRAFT_PREFIX + name, designer) is not None)


def form_preview(name: str):
    """For the page's script: the preview and the problems of the texts posted, as an HTML fragment."""
    name = _name(name)
    schema, ui = _texts()
    return render_template("designer/modeler_form_result.html", **_result(name, schema, ui)), 200, FRAGMENT


def form_draft(name: str):
    name = _name(name)
    schema, ui = _texts()
    try:
        draft = _save_draft(name, schema, ui)
    except InvalidRequest as error:
        text = gettext("The draft could not be saved: %(reason)s", reason=error.detail)
        return render_template("designer/modeler_saved.html", text=text, saved=False), 422, FRAGMENT
    text = gettext("Draft saved %(time)s.", time=local_time(draft.updated_at))
    return render_template("designer/modeler_saved.html", text=text, saved=True), 200, FRAGMENT


def _save_draft(name: str, schema: str, ui: str):
    content = json.dumps({"schema": schema, "ui": ui}).encode()
    return _drafts().save(DRAFT_PREFIX + name, current_principal().name, name, content, None)


def _sources(name: str, schema: str, ui: str) -> tuple[list[SourceFile], list]:
    """The form's files, and the files of the processes using it with their catalogs, deployed together."""
    engine = care()
    users = processes_using(engine.db, name)
    sources: dict[str, SourceFile] = {}
    for user in users:
        sources.setdefault(user.filename, SourceFile(user.filename, user.content))
        for catalog in catalogs_of(engine.db, user.key, user.version):
            sources.setdefault(catalog.filename, catalog)
    sources[name] = SourceFile(name, schema.encode())
    if ui.strip():
        sources[forms.ui_name_for(name)] = SourceFile(forms.ui_name_for(name), ui.encode())
    return list(sources.values()), users


def _result(name: str, schema_text: str, ui_text: str) -> dict:
    """The preview's fields and every problem: the form's own, then what a deploy with its processes finds."""
    problems: list[dict] = []
    schema = ui = None
    try:
        schema = forms.parse_form(name, schema_text.encode())
    except ValueError as error:
        problems.append({"file": name, "message": str(error)})
    if ui_text.strip():
        try:
            ui = forms.parse_form(forms.ui_name_for(name), ui_text.encode())
        except ValueError as error:
            problems.append({"file": forms.ui_name_for(name), "message": str(error)})
    warnings: list[dict] = []
    sources, users = _sources(name, schema_text, ui_text)
    if not problems and users:
        try:
            warnings = [w.as_dict() for w in care().repository.check(sources).warnings]
        except DeploymentInvalid as invalid:
            problems = [p.as_dict() for p in invalid.problems]
    fields = []
    if schema is not None:
        try:
            fields = fields_for(schema, ui, {}, {})
        except (TypeError, AttributeError, ValueError) as error:  # a layout of the wrong shape
            problems.append({"file": name, "message": f"the form cannot be shown: {error}"})
    return {"fields": fields, "problems": problems, "warnings": warnings, "users": users, "checked": True}


def _deploy(name: str, schema: str, ui: str):
    designer = current_principal().name
    sources, users = _sources(name, schema, ui)
    if not users:
        result = _result(name, schema, ui)
        result["problems"] = result["problems"] + [
            {"file": name, "message": gettext("No deployed process uses this form, so there is nothing to deploy.")}
        ]
        return _page(name, schema, ui, result=result, status=422, has_draft=True)
    try:
        deployed = care().repository.deploy(sources, f"{name} (form editor, {designer})"[:200], designer)
    except DeploymentInvalid as invalid:
        _save_draft(name, schema, ui)
        result = _result(name, schema, ui)
        result["problems"] = [p.as_dict() for p in invalid.problems]
        return _page(name, schema, ui, result=result, status=422, has_draft=True)
    _drafts().discard(DRAFT_PREFIX + name, designer)
    shown = ", ".join(f"{o.key} {o.version}" for o in deployed.definitions if o.executable or o.status == "created")
    flash(gettext("Deployed with the processes using it: %(versions)s.", versions=shown), "info")
    return redirect(url_for("modeler.edit_form", name=name))


def _page(name, schema, ui, *, notice=None, has_draft=False, result=None, status=200):
    result = result or _result(name, schema, ui)
    data = {
        "urls": {
            "preview": url_for("modeler.form_preview", name=name),
            "draft": url_for("modeler.form_draft", name=name),
        },
        "texts": {"saving": gettext("Saving the draft…"), "unsaved": gettext("Changes not saved yet")},
    }
    page = render_template(
        "designer/modeler_form.html",
        name=name,
        ui_name=forms.ui_name_for(name),
        schema=schema,
        ui=ui,
        notice=notice,
        has_draft=has_draft,
        data=data,
        principal=current_principal(),
        **result,
    )
    return page, status
