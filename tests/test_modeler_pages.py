"""The modeler pages through the Flask test client: access, CSRF, drafts, the live check and deploy.

The browser tests (tests/test_browser_modeler.py) drive the same pages in Chromium with bpmn-js;
here each endpoint is held to what it promises, with the diagram posted as the page posts it.
"""

from __future__ import annotations

import io
import json
import re

import pytest

from engine.process_drafts import NEW_PROCESS, ProcessDrafts
from engine.runtime import StartRequest
from tests.conftest import source
from tests.test_pages import csrf, sign_in

HELLO = source("hello_care.bpmn").content.decode()


@pytest.fixture
def site(care, anonymous):
    care.identity.add_group("support")
    care.identity.add_user("sam", "staff", ["support"], password="correct horse battery")
    care.identity.add_user("dana", "designer", password="correct horse battery")
    care.identity.add_user("dora", "designer", password="correct horse battery")
    care.repository.deploy(
        [source("hello_care.bpmn"), source("hello_care.de.po"), source("hello_care.cs.po")], "test", "test"
    )
    return anonymous


def page_data(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="modeler-data">(.*?)</script>', html, re.S)
    return json.loads(found.group(1))


def diagram(xml: str, token: str, name: str = "hello_care.bpmn", **fields) -> dict:
    return {"csrf_token": token, "files": [(io.BytesIO(xml.encode()), name)], **fields}


def renamed(xml: str, old: str, new: str) -> str:
    assert old in xml
    return xml.replace(old, new, 1)


def test_designers_open_the_latest_version_in_the_editor(site):
    sign_in(site, "dana")
    response = site.get("/processes/hello_care/edit")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    data = page_data(html)
    assert data["xml"] == HELLO and data["filename"] == "hello_care.bpmn" and data["base_version"] == 1
    assert data["groups"] == ["support"] and "answer_inquiry.json" in data["forms"]
    assert not any(name.endswith(".ui.json") for name in data["forms"])
    for label in ("Check", "Save draft", "Deploy", "Download XML"):
        assert f">{label}</button>" in html
    assert "/static/modeler/modeler.js" in html and "/static/modeler/editor.js" in html
    assert "https://" not in re.sub(r'<script type="application/json".*?</script>', "", html, flags=re.S)


def test_the_editor_is_for_designers_and_admins_only(site, care, app):
    sign_in(site, "sam")
    for path in ("/processes/hello_care/edit", "/processes/new"):
        assert site.get(path).status_code == 403
    token = csrf(site.get("/").data)
    assert site.post("/processes/hello_care/edit/draft", data=diagram(HELLO, token)).status_code == 403
    assert site.post("/processes/hello_care/edit/deploy", data=diagram(HELLO, token)).status_code == 403
    assert ProcessDrafts(care.db, care.clock, 10**6).get("hello_care", "sam") is None
    assert app.test_client().get("/processes/hello_care/edit").status_code in (302, 401)


def test_every_post_needs_the_csrf_token(site, care):
    sign_in(site, "dana")
    for action in ("draft", "check", "deploy", "discard"):
        response = site.post(f"/processes/hello_care/edit/{action}", data=diagram(HELLO, "forged"))
        assert response.status_code == 400, action
    assert ProcessDrafts(care.db, care.clock, 10**6).get("hello_care", "dana") is None
    assert len(care.repository.versions("hello_care")) == 1


def test_unknown_processes_and_versions_are_not_found(site):
    sign_in(site, "dana")
    assert site.get("/processes/nothing_here/edit").status_code == 404
    assert site.get("/processes/hello_care/edit?version=7").status_code == 404
    assert site.get("/processes/hello_care/edit?version=one").status_code == 400


def test_a_draft_is_kept_per_designer_and_changes_nothing_deployed(site, care, app):
    token = sign_in(site, "dana")
    edited = renamed(HELLO, 'name="Answer the inquiry"', 'name="Answer the question"')
    saved = site.post("/processes/hello_care/edit/draft", data=diagram(edited, token, base_version="1"))
    assert saved.status_code == 200 and 'data-saved="yes"' in saved.get_data(as_text=True)
    assert care.repository.xml("hello_care")[1].decode() == HELLO
    assert len(care.repository.versions("hello_care")) == 1
    html = site.get("/processes/hello_care/edit").get_data(as_text=True)
    assert page_data(html)["xml"] == edited and "Discard draft" in html
    original = site.get("/processes/hello_care/edit?version=1").get_data(as_text=True)
    assert page_data(original)["xml"] == HELLO and "Open the draft" in original

    other = app.test_client()
    sign_in(other, "dora")
    assert page_data(other.get("/processes/hello_care/edit").get_data(as_text=True))["xml"] == HELLO

    assert site.post("/processes/hello_care/edit/discard", data={"csrf_token": token}).status_code == 302
    assert page_data(site.get("/processes/hello_care/edit").get_data(as_text=True))["xml"] == HELLO


def test_a_draft_refuses_what_is_no_diagram(site, care):
    token = sign_in(site, "dana")
    not_bpmn = site.post("/processes/hello_care/edit/draft", data=diagram(HELLO, token, name="notes.txt"))
    assert not_bpmn.status_code == 422
    assert site.post("/processes/hello_care/edit/draft", data={"csrf_token": token}).status_code == 422
    assert ProcessDrafts(care.db, care.clock, 10**6).get("hello_care", "dana") is None


def test_the_check_lists_every_problem_with_its_element(site):
    token = sign_in(site, "dana")
    ok = site.post("/processes/hello_care/edit/check", data=diagram(HELLO, token, base_version="1"))
    assert ok.status_code == 200 and 'data-problems="0"' in ok.get_data(as_text=True)
    broken = renamed(HELLO, "answer_inquiry.json", "no_such_form.json")
    answer = site.post("/processes/hello_care/edit/check", data=diagram(broken, token)).get_data(as_text=True)
    assert 'data-problems="1"' in answer
    assert 'data-element-id="answer_inquiry"' in answer and "no_such_form.json" in answer


def test_the_check_parses_as_an_upload_does(site):
    token = sign_in(site, "dana")
    bomb = source("entity_bomb.bpmn").content.decode()
    answer = site.post("/processes/new/check", data=diagram(bomb, token, name="bomb.bpmn")).get_data(as_text=True)
    assert "DOCTYPE declarations are not allowed" in answer and "lollol" not in answer


def test_deploy_makes_a_new_version_with_the_catalogs_and_clears_the_draft(site, care):
    started = care.runtime.start(StartRequest("hello_care", {"subject": "v1 case"}), "test")[0]
    token = sign_in(site, "dana")
    edited = renamed(HELLO, 'name="Answer the inquiry"', 'name="Answer the question"')
    site.post("/processes/hello_care/edit/draft", data=diagram(edited, token, base_version="1"))
    response = site.post("/processes/hello_care/edit/deploy", data=diagram(edited, token, base_version="1"))
    assert response.status_code == 302 and response.headers["Location"].endswith("/processes/hello_care/edit")
    assert "Deployed hello_care version 2." in site.get(response.headers["Location"]).get_data(as_text=True)
    assert [v.version for v in care.repository.versions("hello_care")] == [2, 1]
    assert care.repository.xml("hello_care", 2)[1].decode() == edited
    assert care.repository.xml("hello_care", 1)[1].decode() == HELLO
    latest = care.repository.versions("hello_care")[0]
    assert sorted(latest.dependencies["catalogs"]) == ["hello_care.cs.po", "hello_care.de.po"]
    assert ProcessDrafts(care.db, care.clock, 10**6).get("hello_care", "dana") is None
    running = care.runtime.get(started["id"])
    assert running["version"] == 1 and [t["name"] for t in running["tasks"]] == ["Answer the inquiry"]


def test_a_deploys_warnings_are_counted_for_the_editors_check_to_list(site, care):
    token = sign_in(site, "dana")
    orphaned = HELLO.replace("</bpmn:process>", '<bpmn:task id="orphan" name="Never runs" /></bpmn:process>', 1)
    checked = site.post("/processes/hello_care/edit/check", data=diagram(orphaned, token, base_version="1"))
    listed = re.findall(r'<li class="modeler-warning" data-element-id="([^"]*)">', checked.get_data(as_text=True))
    assert "orphan" in listed  # with its element, which the page's script marks on the diagram
    response = site.post("/processes/hello_care/edit/deploy", data=diagram(orphaned, token, base_version="1"))
    assert response.status_code == 302 and care.repository.versions("hello_care")[0].version == 2
    html = site.get(response.headers["Location"]).get_data(as_text=True)
    assert "Deployed hello_care version 2." in html
    assert f"{len(listed)} warning(s): see Check below the diagram." in html  # the same the check lists
    assert "Warning: " not in html  # no flash of each, without its element


def test_a_refused_deploy_keeps_the_diagram_and_lists_its_problems(site, care):
    token = sign_in(site, "dana")
    broken = renamed(HELLO, "answer_inquiry.json", "no_such_form.json")
    response = site.post("/processes/hello_care/edit/deploy", data=diagram(broken, token, base_version="1"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    data = page_data(html)
    assert data["xml"] == broken and data["refused"] is True
    assert 'data-element-id="answer_inquiry"' in html and "no_such_form.json" in html
    assert len(care.repository.versions("hello_care")) == 1
    assert ProcessDrafts(care.db, care.clock, 10**6).get("hello_care", "dana").xml.decode() == broken


def test_new_process_from_an_empty_diagram_or_a_file(site, care):
    token = sign_in(site, "dana")
    blank = page_data(site.get("/processes/new").get_data(as_text=True))
    assert blank["key"] == "" and blank["filename"] is None and 'isExecutable="true"' in blank["xml"]
    opened = site.post(
        "/processes/new",
        data={"csrf_token": token, "file": (io.BytesIO(source("parallel_tasks.bpmn").content), "parallel_tasks.bpmn")},
    )
    data = page_data(opened.get_data(as_text=True))
    assert data["filename"] == "parallel_tasks.bpmn" and data["xml"] == source("parallel_tasks.bpmn").content.decode()
    bomb = site.post(
        "/processes/new",
        data={"csrf_token": token, "file": (io.BytesIO(source("entity_bomb.bpmn").content), "bomb.bpmn")},
    )
    assert bomb.status_code == 422 and "DOCTYPE declarations are not allowed" in bomb.get_data(as_text=True)

    site.post("/processes/new/draft", data=diagram(data["xml"], token, name="parallel_tasks.bpmn"))
    assert ProcessDrafts(care.db, care.clock, 10**6).get(NEW_PROCESS, "dana") is not None
    assert page_data(site.get("/processes/new").get_data(as_text=True))["filename"] == "parallel_tasks.bpmn"
    deployed = site.post("/processes/new/deploy", data=diagram(data["xml"], token, name="parallel_tasks.bpmn"))
    assert deployed.status_code == 302 and deployed.headers["Location"].endswith("/processes/parallel_tasks/edit")
    assert care.repository.versions("parallel_tasks")[0].version == 1
    assert ProcessDrafts(care.db, care.clock, 10**6).get(NEW_PROCESS, "dana") is None


def test_the_process_pages_link_the_editor(site):
    sign_in(site, "dana")
    html = site.get("/processes").get_data(as_text=True)
    assert 'href="/processes/new"' in html and 'href="/processes/hello_care/edit"' in html


def test_a_schema_error_names_the_element_it_is_in(site):
    token = sign_in(site, "dana")
    broken = renamed(
        HELLO,
        '<bpmn:userTask id="answer_inquiry" name="Answer the inquiry">',
        '<bpmn:userTask id="answer_inquiry" name="Answer the inquiry">\n      <bpmn:bogus />',
    )
    answer = site.post("/processes/hello_care/edit/check", data=diagram(broken, token)).get_data(as_text=True)
    assert 'data-problems="1"' in answer and 'data-element-id="answer_inquiry"' in answer and "bogus" in answer
