"""Testing from the editor through the Flask test client: scenarios run against the posted diagram, the customer view.

The scenarios are processes/tests/*.yaml, run by the real ``carecenter test`` runner on scratch
databases; the browser test (tests/test_browser_modeler_testing.py) presses the button.
"""

from __future__ import annotations

import re

import pytest

from engine.bpmn import SourceFile
from engine.config import Settings
from engine.draft_scenarios import FAILED, NOT_RUN, PASSED, is_about, run, with_diagram
from engine.scenarios import load
from tests.conftest import PROJECT_ROOT, source
from tests.test_modeler_pages import diagram
from tests.test_pages import csrf, sign_in

HELLO = source("hello_care.bpmn").content.decode()
RENAMED = HELLO.replace('name="Answer the inquiry"', 'name="Answer it"')
TESTS = PROJECT_ROOT / "processes" / "tests"


@pytest.fixture
def site(care, anonymous):
    care.identity.add_group("support")
    care.identity.add_user("sam", "staff", ["support"], password="correct horse battery")
    care.identity.add_user("dana", "designer", password="correct horse battery")
    care.repository.deploy(
        [source("hello_care.bpmn"), source("hello_care.de.po"), source("hello_care.cs.po")], "test", "test"
    )
    return anonymous


def outcomes(html: str) -> list[str]:
    return re.findall(r'<li class="scenario-step" data-outcome="([^"]+)"', html)


# -- the engine side -------------------------------------------------------------------------------


def test_the_scenario_files_about_a_diagram_and_the_diagram_in_place_of_its_file():
    hello = SourceFile("hello_care.bpmn", HELLO.encode())
    escalation = load(TESTS / "escalation.yaml")
    assert is_about(load(TESTS / "hello_care.yaml"), hello, {"hello_care"})
    assert not is_about(escalation, hello, {"hello_care"})  # it deploys hello_care.bpmn, but tests escalation
    assert is_about(load(TESTS / "update_dispatch.yaml"), hello, {"update_release"})  # named in a use step
    # the diagram under another name still replaces the file defining its process
    sources = with_diagram(load(TESTS / "hello_care.yaml"), SourceFile("mine.bpmn", RENAMED.encode()), {"hello_care"})
    assert [(s.filename, s.content) for s in sources] == [("hello_care.bpmn", RENAMED.encode())]


def test_a_renamed_task_fails_the_steps_that_name_it(tmp_path):
    settings = Settings.from_env(database_url=f"sqlite:///{tmp_path / 'unused.db'}")
    [found] = run(settings, SourceFile("hello_care.bpmn", RENAMED.encode()))
    assert found.name == "hello_care.yaml" and not found.passed
    first, second = found.scenarios
    assert [s.outcome for s in first.steps] == [PASSED, FAILED, NOT_RUN, NOT_RUN]
    assert "open tasks are ['Answer it'], expected ['Answer the inquiry']" in first.steps[1].failure
    assert first.state and "Answer it" in first.state
    assert [(s.kind, s.summary, s.outcome) for s in second.steps] == [
        ("start", "", PASSED),
        ("complete", "Answer the inquiry", FAILED),
        ("expect", "status, tasks", NOT_RUN),
    ]


# -- the pages -------------------------------------------------------------------------------------


def test_the_scenarios_pass_for_the_deployed_diagram_and_fail_for_a_renamed_task(site, care):
    token = sign_in(site, "dana")
    response = site.post("/processes/hello_care/edit/scenarios", data=diagram(HELLO, token))
    assert response.status_code == 200 and response.content_type.startswith("text/html")
    html = response.get_data(as_text=True)
    assert 'data-passed="2" data-failed="0"' in html
    assert "2 scenario(s): 2 passed, 0 failed." in html
    assert outcomes(html) == [PASSED] * 7

    html = site.post("/processes/hello_care/edit/scenarios", data=diagram(RENAMED, token)).get_data(as_text=True)
    assert 'data-passed="0" data-failed="2"' in html
    assert outcomes(html) == [PASSED, FAILED, NOT_RUN, NOT_RUN, PASSED, FAILED, NOT_RUN]
    assert "expected [&#39;Answer the inquiry&#39;]" in html
    assert [v.version for v in care.repository.versions("hello_care")] == [1]  # nothing deployed


def test_a_process_without_scenarios_says_so_and_bad_input_is_refused(site):
    token = sign_in(site, "dana")
    lonely = HELLO.replace('id="hello_care"', 'id="no_scenarios_here"')
    response = site.post("/processes/new/scenarios", data=diagram(lonely, token, name="lonely.bpmn"))
    assert response.status_code == 200
    assert "No scenario file in the processes&#39; tests folder tests this process." in response.get_data(as_text=True)
    refused = site.post("/processes/new/scenarios", data=diagram("not xml", token, name="x.bpmn"))
    assert refused.status_code == 422
    assert "The scenarios could not run: " in refused.get_data(as_text=True)


def test_the_customer_view_shows_stages_in_three_languages(site):
    token = sign_in(site, "dana")
    html = site.post("/processes/hello_care/edit/customer-view", data=diagram(HELLO, token, base_version="1")).get_data(
        as_text=True
    )
    row = re.search(r'<tr class="customer-view-stage" data-stage="answering">(.*?)</tr>', html, re.S).group(1)
    assert 'data-select="answer_inquiry"' in row
    labels = re.findall(r'<td lang="(en|de|cs)"[^>]*>([^<]+)', row)
    assert [(lang, text.strip()) for lang, text in labels] == [
        ("en", "answering"),
        ("de", "In Bearbeitung"),
        ("cs", "Zpracovává se"),
    ]
    assert "We are answering your inquiry “[Subject]”." in row

    # a stage added in the editor: German from its property, Czech not translated yet
    assert "received, answering, answered" in HELLO
    answering = (
        '<spiffworkflow:property name="customer_stage" value="answering" />\n'
        '          <spiffworkflow:property name="customer_stage_de" value="In Bearbeitung" />\n'
        '          <spiffworkflow:property name="customer_stage_cs" value="Zpracovává se" />'
    )
    assert answering in HELLO
    added = HELLO.replace("received, answering, answered", "received, answering, checking, answered").replace(
        answering,
        '<spiffworkflow:property name="customer_stage" value="checking" />\n'
        '          <spiffworkflow:property name="customer_stage_de" value="Wird geprüft" />',
    )
    html = site.post("/processes/hello_care/edit/customer-view", data=diagram(added, token, base_version="1")).get_data(
        as_text=True
    )
    row = re.search(r'<tr class="customer-view-stage" data-stage="checking">(.*?)</tr>', html, re.S).group(1)
    assert "Wird geprüft" in row and "(from customer_stage_de)" in row
    assert 'class="customer-view-label untranslated">checking <span class="help" lang="en">(not translated)' in row
    answering = re.search(r'data-stage="answering">(.*?)</tr>', html, re.S).group(1)
    assert "(no element enters it)" in answering
    # without catalogs (a new process), the labels come from the properties
    html = site.post("/processes/new/customer-view", data=diagram(HELLO, token)).get_data(as_text=True)
    stages = html.split("</table>")[0]
    assert stages.count("(from customer_stage_de)") == 3 and "(not translated)" not in stages
    fields = re.search(r'<ul class="customer-view-fields">(.*?)</ul>', html, re.S).group(1)
    assert '<code>subject</code>: <span lang="en">Subject</span>' in fields  # no catalog: German shows English


def test_testing_is_for_designers_with_the_csrf_token(site):
    token = sign_in(site, "sam")
    for action in ("scenarios", "customer-view"):
        assert site.post(f"/processes/hello_care/edit/{action}", data=diagram(HELLO, token)).status_code == 403
    sign_in(site, "dana")
    for action in ("scenarios", "customer-view"):
        assert site.post(f"/processes/hello_care/edit/{action}", data=diagram(HELLO, "forged")).status_code == 400
    assert csrf(site.get("/processes/hello_care/edit").data)
