"""Designer pages: the deployed processes with their diagrams, and deploying new versions from the browser."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from api.auth import current_principal
from api.pages.diagrams import diagram
from api.pages.locale import gettext
from api.pages.signin import check_csrf
from api.routes.common import care
from api.routes.deployments import uploaded_sources
from engine.errors import DeploymentInvalid, InvalidRequest

blueprint = Blueprint("designer", __name__)
blueprint.before_request(check_csrf)


@blueprint.get("/processes")
def processes():
    return _processes_page()


@blueprint.post("/processes")
def deploy():
    try:
        result = care().repository.deploy(
            uploaded_sources(), request.form.get("name", "").strip()[:200], current_principal().name
        )
    except DeploymentInvalid as invalid:
        return _processes_page(problems=[p.as_dict() for p in invalid.problems], status=422)
    except InvalidRequest as error:
        return _processes_page(
            problems=[{"file": "", "line": None, "element_id": None, "message": error.detail}], status=400
        )
    changed = ", ".join(f"{o.key} v{o.version}" for o in result.definitions if o.status == "created")
    if changed:
        flash(gettext("Deployed %(processes)s.", processes=changed), "info")
    else:
        flash(gettext("Nothing changed: every process equals its latest version."), "info")
    for warning in result.warnings:
        flash(gettext("Warning: %(warning)s", warning=warning), "warning")
    return redirect(url_for("designer.processes"))


def _processes_page(problems: list | None = None, status: int = 200):
    selected = request.args.get("key")
    definitions = care().repository.latest_definitions()
    detail = None
    if selected or definitions:
        key = selected or definitions[0].key
        versions = care().repository.versions(key)
        _, xml = care().repository.xml(key)
        drawn = diagram(xml, key, None, counts=care().runtime.waiting_counts(key))  # the latest, in its words
        detail = {"key": key, "versions": versions, "diagram": drawn}
    page = render_template(
        "designer/processes.html",
        definitions=definitions,
        detail=detail,
        problems=problems or [],
        principal=current_principal(),
    )
    return page, status
