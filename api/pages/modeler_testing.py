"""Testing from the editor (docs/modeler.md): the process's scenarios run against the diagram, and the customer view.

Both take the diagram the page posts (as an upload is read, :func:`posted_diagram`) and answer an
HTML fragment the page's script shows:

- ``…/scenarios``: every scenario file about the diagram's processes, run against it by the
  ``carecenter test`` runner on scratch databases (:mod:`engine.draft_scenarios`), each step passed,
  failed or not run; nothing deployed changes;
- ``…/customer-view``: the stages, their labels in English, German and Czech (the catalogs of the
  version edited, :func:`engine.model_sources.catalogs_of`), messages and whitelisted fields
  (:mod:`engine.customer_preview`).

Registered on the modeler's blueprint (:mod:`api.pages.modeler`), endpoints ``modeler.scenarios``
and ``modeler.customer_view``.
"""

from __future__ import annotations

from flask import render_template, request

from api.pages.modeler_requests import posted_diagram, version_number
from api.routes.common import care
from engine import draft_scenarios
from engine.bpmn import read_xml
from engine.customer_preview import preview
from engine.errors import DeploymentInvalid, InvalidRequest
from engine.model_sources import catalogs_of

FRAGMENT = {"Content-Type": "text/html; charset=utf-8"}


def _posted():
    """The posted diagram, read as a deploy reads it (no entities, no DTD), or why it cannot be."""
    try:
        diagram = posted_diagram()
        read_xml(diagram)
        return diagram, None
    except (DeploymentInvalid, InvalidRequest) as error:
        return None, error.problems[0].message if isinstance(error, DeploymentInvalid) else error.detail


def run_scenarios(key: str | None):
    diagram, error = _posted()
    if diagram is None:
        page = render_template("designer/modeler_scenarios.html", files=[], error=error, passed=0, failed=0, invalid=0)
        return page, 422, FRAGMENT
    files = draft_scenarios.run(care().settings, diagram)
    scenarios = [scenario for found in files for scenario in found.scenarios]
    passed = sum(1 for scenario in scenarios if scenario.passed)
    page = render_template(
        "designer/modeler_scenarios.html",
        files=files,
        error=None,
        passed=passed,
        failed=len(scenarios) - passed,
        invalid=sum(1 for found in files if found.problems),
    )
    return page, 200, FRAGMENT


def customer_view(key: str | None):
    diagram, error = _posted()
    if diagram is None:
        page = render_template("designer/modeler_customer_view.html", processes=[], error=error)
        return page, 422, FRAGMENT
    catalogs = catalogs_of(care().db, key, version_number(request.form.get("base_version"))) if key else []
    page = render_template("designer/modeler_customer_view.html", processes=preview(diagram, catalogs), error=None)
    return page, 200, FRAGMENT
