"""The decision editor: DMN decision tables edited with dmn-js, checked, drafted and deployed like diagrams.

``/decisions`` lists the deployed DMN files, their decisions and the processes calling them;
``/decisions/<file>/edit`` opens one in dmn-js (api/static/modeler/dmn.js, the page's script
api/static/modeler/decisions.js), which posts the file, as an upload is sent and read
(:func:`api.routes.deployments.uploaded_sources`), to:

- ``…/draft``: the designer's draft (:class:`engine.process_drafts.ProcessDrafts`, key
  ``decision:<file>``; process keys are XML ids and hold no colon, so the two never meet);
- ``…/check``: the deploy checks of the file together with the processes calling its decisions;
- ``…/deploy``: one deployment of the file and the latest version of every process calling its
  decisions, with their catalogs (:mod:`engine.decision_sources`: processes are pinned to the DMN
  file they were deployed with, so only deploying them again makes the edited table count).
Registered on the modeler's blueprint (:mod:`api.pages.modeler`).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for

from api.auth import current_principal
from api.pages.locale import gettext, local_time
from api.routes.common import care
from api.routes.deployments import uploaded_sources
from engine.bpmn import SourceFile
from engine.decision_sources import current_dmn, decisions_of, dmn_files, dmn_name_problem, processes_calling
from engine.errors import DeploymentInvalid, DeploymentProblem, InvalidRequest, NotFound
from engine.model_sources import catalogs_of
from engine.process_drafts import ProcessDrafts

DRAFT_PREFIX = "decision:"
FRAGMENT = {"Content-Type": "text/html; charset=utf-8"}


def _drafts() -> ProcessDrafts:
    engine = care()
    return ProcessDrafts(engine.db, engine.clock, engine.settings.max_upload_bytes)


def _name(filename: str) -> str:
    problem = dmn_name_problem(filename)
    if problem:
        raise NotFound(f"no decision file '{filename}': {problem}")
    return filename


def _posted(filename: str) -> SourceFile:
    """The one .dmn file the page posted, under the name of the file edited."""
    sources = uploaded_sources()
    if len(sources) != 1 or sources[0].kind != "dmn":
        raise InvalidRequest("send the decisions as one .dmn file")
    return SourceFile(filename, sources[0].content)


def _with_callers(dmn: SourceFile) -> tuple[list[SourceFile], list]:
    """The file and the processes calling its decisions (those it defines now, or did when last deployed)."""
    engine = care()
    deployed = current_dmn(engine.db, dmn.filename) or b""
    ids = {d for d, _ in decisions_of(dmn.content, dmn.filename)} | {d for d, _ in decisions_of(deployed)}
    callers = processes_calling(engine.db, ids)
    sources: dict[str, SourceFile] = {dmn.filename: dmn}
    for caller in callers:
        sources.setdefault(caller.filename, SourceFile(caller.filename, caller.content))
        for catalog in catalogs_of(engine.db, caller.key, caller.version):
            sources.setdefault(catalog.filename, catalog)
    return list(sources.values()), callers


def decisions_page():
    engine = care()
    listed = [
        {"file": found, "callers": processes_calling(engine.db, {d for d, _ in found.decisions})}
        for found in dmn_files(engine.db)
    ]
    return render_template("designer/modeler_decisions.html", files=listed, principal=current_principal())


def edit_decision(filename: str):
    filename = _name(filename)
    draft = _drafts().get(DRAFT_PREFIX + filename, current_principal().name)
    notice = None
    if draft is not None:
        xml = draft.xml
        notice = {
            "text": gettext("Your draft of %(time)s is open.", time=local_time(draft.updated_at)),
            "discard": url_for("modeler.discard_decision", filename=filename),
        }
    else:
        xml = current_dmn(care().db, filename)
        if xml is None:
            raise NotFound(f"no decision file '{filename}' is deployed")
    return _page(filename, xml.decode("utf-8", errors="replace"), notice=notice)


def _page(filename: str, xml: str, *, notice=None, problems=None, status=200):
    _, callers = _with_callers(SourceFile(filename, xml.encode()))
    data = {
        "xml": xml,
        "filename": filename,
        "urls": {
            "draft": url_for("modeler.save_decision_draft", filename=filename),
            "check": url_for("modeler.check_decision", filename=filename),
        },
        "texts": {
            "saving": gettext("Saving the draft…"),
            "saved_failed": gettext("The draft could not be saved: %(reason)s", reason="{reason}"),
            "checking": gettext("Checking…"),
            "check_failed": gettext("The check could not run: %(reason)s", reason="{reason}"),
            "unsaved": gettext("Changes not saved yet"),
            "import_failed": gettext("The decisions cannot be shown: %(reason)s", reason="{reason}"),
            "drd": gettext("Decision requirements"),
        },
        "refused": problems is not None,
    }
    page = render_template(
        "designer/modeler_decision.html",
        filename=filename,
        callers=callers,
        data=data,
        notice=notice,
        problems=problems or [],
        warnings=[],
        checked=problems is not None,
        principal=current_principal(),
    )
    return page, status


def save_decision_draft(filename: str):
    filename = _name(filename)
    try:
        dmn = _posted(filename)
        draft = _drafts().save(DRAFT_PREFIX + filename, current_principal().name, filename, dmn.content, None)
    except (DeploymentInvalid, InvalidRequest) as error:
        reason = error.problems[0].message if isinstance(error, DeploymentInvalid) else error.detail
        text = gettext("The draft could not be saved: %(reason)s", reason=reason)
        return render_template("designer/modeler_saved.html", text=text, saved=False), 422, FRAGMENT
    text = gettext("Draft saved %(time)s.", time=local_time(draft.updated_at))
    return render_template("designer/modeler_saved.html", text=text, saved=True), 200, FRAGMENT


def check_decision(filename: str):
    filename = _name(filename)
    problems, warnings = [], []
    try:
        sources, _ = _with_callers(_posted(filename))
        warnings = [w.as_dict() for w in care().repository.check(sources).warnings]
    except DeploymentInvalid as invalid:
        problems = [p.as_dict() for p in invalid.problems]
    except InvalidRequest as error:
        problems = [DeploymentProblem("", None, None, error.detail).as_dict()]
    page = render_template("designer/modeler_check.html", problems=problems, warnings=warnings, checked=True)
    return page, 200, FRAGMENT


def deploy_decision(filename: str):
    filename = _name(filename)
    designer = current_principal().name
    try:
        dmn = _posted(filename)
    except (DeploymentInvalid, InvalidRequest) as error:
        found = (
            error.problems
            if isinstance(error, DeploymentInvalid)
            else [DeploymentProblem("", None, None, error.detail)]
        )
        xml = (current_dmn(care().db, filename) or b"").decode("utf-8", errors="replace")
        return _page(filename, xml, problems=[p.as_dict() for p in found], status=400)
    sources, _ = _with_callers(dmn)
    try:
        result = care().repository.deploy(sources, f"{filename} (decision editor, {designer})"[:200], designer)
    except DeploymentInvalid as invalid:
        _drafts().save(DRAFT_PREFIX + filename, designer, filename, dmn.content, None)
        xml = dmn.content.decode("utf-8", errors="replace")
        return _page(filename, xml, problems=[p.as_dict() for p in invalid.problems], status=422)
    _drafts().discard(DRAFT_PREFIX + filename, designer)
    created = [f"{o.key} {o.version}" for o in result.definitions if o.status == "created"]
    if created:
        listed = ", ".join(created)
        flash(
            gettext("Deployed %(file)s with the processes calling it: %(versions)s.", file=filename, versions=listed),
            "info",
        )
    elif result.changed:
        flash(gettext("Deployed %(file)s.", file=filename), "info")
    else:
        flash(gettext("Nothing changed: the decisions equal the deployed ones."), "info")
    return redirect(url_for("modeler.edit_decision", filename=filename))


def discard_decision(filename: str):
    filename = _name(filename)
    _drafts().discard(DRAFT_PREFIX + filename, current_principal().name)
    flash(gettext("Draft discarded."), "info")
    return redirect(url_for("modeler.edit_decision", filename=filename))
