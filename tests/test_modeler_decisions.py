"""The decision editor through the Flask test client: list, open, check, draft and deploy DMN files.

Processes are pinned to the DMN file they were deployed with, so deploying an edited decision table
deploys the processes calling its decisions again; their earlier versions keep the old table.
"""

from __future__ import annotations

import io
import re

import pytest

from engine.bpmn import SourceFile
from engine.decision_sources import called_decisions, decisions_of
from engine.models import DeploymentResource, ProcessDefinition
from engine.process_drafts import ProcessDrafts
from tests.conftest import PROJECT_ROOT
from tests.test_modeler_pages import page_data
from tests.test_pages import sign_in

PROCESSES = PROJECT_ROOT / "processes"
CLASSIFY = (PROCESSES / "classify_inquiry.dmn").read_text()
URGENT = '<outputEntry id="r_outage_premium_out1"><text>"urgent"</text></outputEntry>'
CHANGED = CLASSIFY.replace(URGENT, URGENT.replace('"urgent"', '"critical"'))


@pytest.fixture
def site(care, anonymous):
    care.identity.add_group("support")
    care.identity.add_user("sam", "staff", ["support"], password="correct horse battery")
    care.identity.add_user("dana", "designer", password="correct horse battery")
    files = [SourceFile(p.name, p.read_bytes()) for p in sorted(PROCESSES.iterdir()) if p.is_file()]
    care.repository.deploy(files, "all", "test")
    return anonymous


def dmn(xml: str, token: str, name: str = "classify_inquiry.dmn") -> dict:
    return {"csrf_token": token, "files": [(io.BytesIO(xml.encode()), name)]}


def dmn_of(care, key: str, version: int, name: str) -> bytes | None:
    """The DMN file a version of a process is pinned to: in its deployment, or among its pinned resources."""
    with care.db.read() as session:
        row = session.query(ProcessDefinition).filter_by(key=key, version=version).one()
        own = [r for r in row.resource.deployment.resources if r.filename == name]
        if own:
            return own[0].content
        pinned = [session.get(DeploymentResource, i) for i in row.dependencies.get("resources", [])]
        return next((r.content for r in pinned if r.filename == name), None)


def test_decisions_and_their_callers():
    assert decisions_of(CLASSIFY.encode()) == [("classify_inquiry", "Which team answers, how urgently")]
    intake = (PROCESSES / "inquiry_intake.bpmn").read_bytes()
    assert called_decisions(intake, "inquiry_intake.bpmn") == {"classify_inquiry", "inquiry_sla"}


def test_the_list_and_the_editor(site):
    sign_in(site, "dana")
    html = site.get("/decisions").get_data(as_text=True)
    assert "<code>classify_inquiry.dmn</code>" in html and "inquiry_intake</a> (v1)" in html
    page = site.get("/decisions/classify_inquiry.dmn/edit").get_data(as_text=True)
    data = page_data(page)
    assert data["xml"] == CLASSIFY and data["filename"] == "classify_inquiry.dmn"
    assert "/static/modeler/dmn.js" in page and "/static/modeler/modeler.js" not in page
    assert "Deploy deploys these processes again with the decisions:" in page


def test_the_check_runs_with_the_callers(site):
    token = sign_in(site, "dana")
    ok = site.post("/decisions/classify_inquiry.dmn/check", data=dmn(CHANGED, token)).get_data(as_text=True)
    assert 'data-problems="0"' in ok
    # a hit policy DMN does not have
    wrong = CLASSIFY.replace('hitPolicy="FIRST"', 'hitPolicy="SOMETIMES"')
    assert wrong != CLASSIFY
    html = site.post("/decisions/classify_inquiry.dmn/check", data=dmn(wrong, token)).get_data(as_text=True)
    assert re.search(r'data-problems="[1-9]', html) and "SOMETIMES" in html
    broken = site.post("/decisions/classify_inquiry.dmn/check", data=dmn("<x/>", token)).get_data(as_text=True)
    assert "a .dmn file must hold a DMN definitions element" in broken


def test_deploy_deploys_the_callers_again_and_keeps_version_1(site, care):
    token = sign_in(site, "dana")
    response = site.post("/decisions/classify_inquiry.dmn/deploy", data=dmn(CHANGED, token))
    assert response.status_code == 302
    assert [v.version for v in care.repository.versions("inquiry_intake")] == [2, 1]
    assert dmn_of(care, "inquiry_intake", 2, "classify_inquiry.dmn") == CHANGED.encode()
    assert dmn_of(care, "inquiry_intake", 1, "classify_inquiry.dmn") == CLASSIFY.encode()
    assert sorted(care.repository.versions("inquiry_intake")[0].dependencies["catalogs"]) == [
        "inquiry_intake.cs.po",
        "inquiry_intake.de.po",
    ]
    page = site.get("/decisions/classify_inquiry.dmn/edit").get_data(as_text=True)
    assert "Deployed classify_inquiry.dmn with the processes calling it: inquiry_intake 2." in page
    assert page_data(page)["xml"] == CHANGED


def test_a_refused_deploy_keeps_the_file_as_the_draft(site, care):
    token = sign_in(site, "dana")
    renamed = CLASSIFY.replace('hitPolicy="FIRST"', 'hitPolicy="SOMETIMES"')
    response = site.post("/decisions/classify_inquiry.dmn/deploy", data=dmn(renamed, token))
    assert response.status_code == 422
    assert page_data(response.get_data(as_text=True))["refused"] is True
    assert [v.version for v in care.repository.versions("inquiry_intake")] == [1]
    draft = ProcessDrafts(care.db, care.clock, 10**6).get("decision:classify_inquiry.dmn", "dana")
    assert draft.xml == renamed.encode()
    assert "Your draft of" in site.get("/decisions/classify_inquiry.dmn/edit").get_data(as_text=True)
    site.post("/decisions/classify_inquiry.dmn/discard", data={"csrf_token": token})
    assert "Your draft of" not in site.get("/decisions/classify_inquiry.dmn/edit").get_data(as_text=True)


def test_drafts_names_access_and_csrf(site, care):
    token = sign_in(site, "dana")
    saved = site.post("/decisions/classify_inquiry.dmn/draft", data=dmn(CHANGED, token))
    assert saved.status_code == 200 and 'data-saved="yes"' in saved.get_data(as_text=True)
    assert page_data(site.get("/decisions/classify_inquiry.dmn/edit").get_data(as_text=True))["xml"] == CHANGED
    not_dmn = site.post("/decisions/classify_inquiry.dmn/draft", data=dmn(CHANGED, token, name="x.bpmn"))
    assert not_dmn.status_code == 422
    for name in ("nothing.dmn", "classify_inquiry.bpmn", "..dmn"):
        assert site.get(f"/decisions/{name}/edit").status_code == 404, name
    assert site.post("/decisions/classify_inquiry.dmn/check", data=dmn(CHANGED, "forged")).status_code == 400
    token = sign_in(site, "sam")
    assert site.get("/decisions").status_code == 403
    assert site.post("/decisions/classify_inquiry.dmn/deploy", data=dmn(CHANGED, token)).status_code == 403
    assert [v.version for v in care.repository.versions("inquiry_intake")] == [1]
