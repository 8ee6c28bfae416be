"""The form editor through the Flask test client: list, edit, preview, draft and deploy with the processes using it.

A form is pinned to each process version deployed with it, so deploying an edited form deploys the
latest version of every process that names it again; version 1 keeps its form.
"""

from __future__ import annotations

import json

import pytest

from engine.form_sources import processes_using
from engine.models import ProcessDefinition
from engine.process_drafts import ProcessDrafts
from tests.conftest import PROJECT_ROOT, source
from tests.test_pages import csrf, sign_in

SCHEMA = (PROJECT_ROOT / "forms" / "answer_inquiry.json").read_text()
LAYOUT = (PROJECT_ROOT / "forms" / "answer_inquiry.ui.json").read_text()
RETITLED = SCHEMA.replace('"title": "Answer to the customer"', '"title": "Your answer"')


@pytest.fixture
def site(care, anonymous):
    care.identity.add_group("support")
    care.identity.add_user("sam", "staff", ["support"], password="correct horse battery")
    care.identity.add_user("dana", "designer", password="correct horse battery")
    care.repository.deploy(
        [source("hello_care.bpmn"), source("hello_care.de.po"), source("hello_care.cs.po")], "test", "test"
    )
    return anonymous


def form_of(care, key: str, version: int, name: str) -> bytes:
    """The form file deployed with a version of a process."""
    with care.db.read() as session:
        row = session.query(ProcessDefinition).filter_by(key=key, version=version).one()
        return next(r.content for r in row.resource.deployment.resources if r.filename == name)


def test_the_list_names_the_processes_using_each_form(site, care):
    sign_in(site, "dana")
    html = site.get("/forms").get_data(as_text=True)
    assert "<code>answer_inquiry.json</code>" in html and "hello_care</a> (v1)" in html
    assert "answer_inquiry.ui.json" not in html  # layouts are edited with their form
    assert [u.key for u in processes_using(care.db, "answer_inquiry.json")] == ["hello_care"]


def test_the_editor_shows_schema_layout_and_the_preview(site):
    sign_in(site, "dana")
    html = site.get("/forms/answer_inquiry.json/edit").get_data(as_text=True)
    assert "&#34;Answer to the customer&#34;" in html or "&quot;Answer to the customer&quot;" in html
    assert 'data-fields="4"' in html
    assert '<label for="field-answer">Answer to the customer' in html
    assert "Deploy deploys these processes again with the form:" in html


def test_the_preview_follows_the_text_and_names_problems(site):
    token = sign_in(site, "dana")
    url = "/forms/answer_inquiry.json/preview"
    html = site.post(url, data={"csrf_token": token, "schema": RETITLED, "ui": LAYOUT}).get_data(as_text=True)
    assert '<label for="field-answer">Your answer' in html and 'data-problems="0"' in html
    broken = site.post(url, data={"csrf_token": token, "schema": SCHEMA[:-5], "ui": LAYOUT}).get_data(as_text=True)
    assert 'data-problems="1"' in broken and "is not valid JSON" in broken
    wrong = SCHEMA.replace('"type": "integer"', '"type": "whole number"')
    html = site.post(url, data={"csrf_token": token, "schema": wrong, "ui": ""}).get_data(as_text=True)
    assert "is not a valid JSON Schema" in html


def test_deploy_deploys_the_processes_using_the_form_again_with_it(site, care):
    token = sign_in(site, "dana")
    response = site.post(
        "/forms/answer_inquiry.json/edit",
        data={"csrf_token": token, "action": "deploy", "schema": RETITLED, "ui": LAYOUT},
    )
    assert response.status_code == 302
    assert [v.version for v in care.repository.versions("hello_care")] == [2, 1]
    assert form_of(care, "hello_care", 2, "answer_inquiry.json") == RETITLED.encode()
    assert form_of(care, "hello_care", 1, "answer_inquiry.json") == SCHEMA.encode()
    assert sorted(care.repository.versions("hello_care")[0].dependencies["catalogs"]) == [
        "hello_care.cs.po",
        "hello_care.de.po",
    ]
    page = site.get("/forms/answer_inquiry.json/edit").get_data(as_text=True)
    assert "Deployed with the processes using it: hello_care 2." in page
    assert "Your answer" in page  # the editor opens what runs now


def test_a_refused_deploy_changes_nothing_and_keeps_the_draft(site, care):
    token = sign_in(site, "dana")
    response = site.post(
        "/forms/answer_inquiry.json/edit",
        data={"csrf_token": token, "action": "deploy", "schema": "[1, 2]", "ui": LAYOUT},
    )
    assert response.status_code == 422 and "must hold a JSON object" in response.get_data(as_text=True)
    assert [v.version for v in care.repository.versions("hello_care")] == [1]
    draft = ProcessDrafts(care.db, care.clock, 10**6).get("form:answer_inquiry.json", "dana")
    assert json.loads(draft.xml)["schema"] == "[1, 2]"


def test_drafts_are_kept_opened_and_discarded(site, care):
    token = sign_in(site, "dana")
    saved = site.post("/forms/answer_inquiry.json/draft", data={"csrf_token": token, "schema": RETITLED, "ui": LAYOUT})
    assert saved.status_code == 200 and 'data-saved="yes"' in saved.get_data(as_text=True)
    page = site.get("/forms/answer_inquiry.json/edit").get_data(as_text=True)
    assert "Your draft of" in page and "Your answer" in page
    assert [v.version for v in care.repository.versions("hello_care")] == [1]
    site.post("/forms/answer_inquiry.json/edit", data={"csrf_token": token, "action": "discard"})
    assert "Your draft of" not in site.get("/forms/answer_inquiry.json/edit").get_data(as_text=True)


def test_a_form_no_process_uses_cannot_be_deployed(site, care):
    token = sign_in(site, "dana")
    name = "escalation_review.json"
    html = site.get(f"/forms/{name}/edit").get_data(as_text=True)
    assert "No deployed process uses this form yet" in html and 'id="form-deploy" disabled' in html
    schema = (PROJECT_ROOT / "forms" / name).read_text()
    response = site.post(f"/forms/{name}/edit", data={"csrf_token": token, "action": "deploy", "schema": schema})
    assert response.status_code == 422 and "nothing to deploy" in response.get_data(as_text=True)


def test_names_access_and_csrf(site):
    token = sign_in(site, "dana")
    for name in ("answer_inquiry.ui.json", "..json", "nothing_here.json"):
        assert site.get(f"/forms/{name}/edit").status_code == 404, name
    assert site.post("/forms/answer_inquiry.json/draft", data={"csrf_token": "forged"}).status_code == 400
    token = sign_in(site, "sam")
    assert site.get("/forms").status_code == 403
    assert site.get("/forms/answer_inquiry.json/edit").status_code == 403
    assert site.post("/forms/answer_inquiry.json/preview", data={"csrf_token": token}).status_code == 403
    assert csrf(site.get("/").data)
