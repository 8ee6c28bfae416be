"""Comparing two versions of a process: the diff by element id (engine/process_compare.py) and its page.

The browser test (tests/test_browser_modeler_compare.py) looks at the coloured diagrams; here the
diff is held to what it promises, and the page to its access rules and tables.
"""

from __future__ import annotations

import html
import re

import pytest

from engine.bpmn import SourceFile
from engine.errors import DeploymentInvalid
from engine.process_compare import compare
from tests.conftest import DATA, source
from tests.test_pages import sign_in

HELLO = source("hello_care.bpmn").content.decode()
CAMUNDA = (DATA / "camunda_credit.bpmn").read_text()


def diff(before: str, after: str):
    return compare(SourceFile("a.bpmn", before.encode()), SourceFile("a.bpmn", after.encode()))


def changes_of(result, element_id: str) -> dict[str, tuple]:
    element = next(e for e in result.changed if e.id == element_id)
    return {c.name: (c.before, c.after) for c in element.changes}


def test_the_same_file_has_no_differences_even_reformatted():
    assert diff(HELLO, HELLO).unchanged
    reformatted = re.sub(r">\s+<", "><", HELLO)  # whitespace between elements only
    assert diff(HELLO, reformatted).unchanged


def test_a_renamed_task_with_another_form_is_changed_with_both_properties():
    after = HELLO.replace('name="Answer the inquiry"', 'name="Answer the question"').replace(
        "answer_inquiry.json", "other_form.json"
    )
    result = diff(HELLO, after)
    assert [e.id for e in result.changed] == ["answer_inquiry"] and not result.added and not result.removed
    element = result.changed[0]
    assert (element.type, element.name) == ("userTask", "Answer the question")
    assert changes_of(result, "answer_inquiry") == {
        "name": ("Answer the inquiry", "Answer the question"),
        "spiffworkflow:property[formJsonSchemaFilename]": ("answer_inquiry.json", "other_form.json"),
    }


def test_an_added_extension_property_and_a_moved_shape():
    after = HELLO.replace(
        '<spiffworkflow:property name="formJsonSchemaFilename"',
        '<spiffworkflow:property name="due" value="PT4H" />\n'
        '          <spiffworkflow:property name="formJsonSchemaFilename"',
    )
    moved = re.sub(r'(<bpmndi:BPMNShape id="answer_inquiry_di"[^>]*>\s*<dc:Bounds x=")(\d+)', r"\g<1>999", after)
    assert moved != after
    result = diff(HELLO, moved)
    assert changes_of(result, "answer_inquiry") == {"spiffworkflow:property[due]": (None, "PT4H")}
    assert [e.id for e in result.changed] == ["answer_inquiry"]  # the layout is not compared


def test_added_and_removed_elements_and_the_flows_that_changed_with_them():
    # a task between the inquiry task and the end: a new task and flow, the old flow retargeted
    flows = re.findall(r'<bpmn:sequenceFlow id="([^"]+)" sourceRef="answer_inquiry" targetRef="([^"]+)"', HELLO)
    assert len(flows) == 1, flows
    flow, end = flows[0]
    after = HELLO.replace(
        f'<bpmn:sequenceFlow id="{flow}" sourceRef="answer_inquiry" targetRef="{end}"',
        f'<bpmn:task id="follow_up" name="Follow up" />\n'
        f'    <bpmn:sequenceFlow id="to_follow_up" sourceRef="answer_inquiry" targetRef="follow_up" />\n'
        f'    <bpmn:sequenceFlow id="{flow}" sourceRef="follow_up" targetRef="{end}"',
    ).replace(
        "</bpmndi:BPMNPlane>",
        '<bpmndi:BPMNShape id="follow_up_di" bpmnElement="follow_up"><dc:Bounds x="1" y="1" width="100" height="80" />'
        '</bpmndi:BPMNShape><bpmndi:BPMNEdge id="to_follow_up_di" bpmnElement="to_follow_up">'
        '<di:waypoint x="1" y="1" /><di:waypoint x="2" y="2" /></bpmndi:BPMNEdge></bpmndi:BPMNPlane>',
    )
    if 'xmlns:di="' not in after:
        after = after.replace(
            "<bpmn:definitions ", '<bpmn:definitions xmlns:di="http://www.omg.org/spec/DD/20100524/DI" '
        )
    result = diff(HELLO, after)
    assert [(e.id, e.type, e.name) for e in result.added] == [
        ("follow_up", "task", "Follow up"),
        ("to_follow_up", "sequenceFlow", ""),
    ]
    assert result.removed == []
    assert changes_of(result, flow) == {"sourceRef": ("answer_inquiry", "follow_up")}
    # the other way round, they are removed
    back = diff(after, HELLO)
    assert [e.id for e in back.removed] == ["follow_up", "to_follow_up"] and back.added == []


def test_camunda_attributes_and_conditions_are_compared():
    condition = re.search(r"<bpmn:conditionExpression[^>]*>([^<]+)</bpmn:conditionExpression>", CAMUNDA)
    assert condition, "the Camunda test file has a condition"
    task = re.search(r'<bpmn:userTask id="([^"]+)"[^>]*camunda:candidateGroups="([^"]+)"', CAMUNDA)
    assert task, "the Camunda test file has a user task with candidate groups"
    after = CAMUNDA.replace(condition.group(0), condition.group(0).replace(condition.group(1), "amount &gt; 99"))
    after = after.replace(f'camunda:candidateGroups="{task.group(2)}"', 'camunda:candidateGroups="billing"', 1)
    result = diff(CAMUNDA, after)
    assert changes_of(result, task.group(1)) == {"camunda:candidateGroups": (task.group(2), "billing")}
    flows = [e for e in result.changed if e.type == "sequenceFlow"]
    assert len(flows) == 1
    assert changes_of(result, flows[0].id)["conditionExpression"] == (html.unescape(condition.group(1)), "amount > 99")


def test_what_is_not_xml_is_refused_as_a_deploy_refuses_it():
    with pytest.raises(DeploymentInvalid):
        diff(HELLO, "<!DOCTYPE x [<!ENTITY e 'boom'>]><x>&e;</x>")


# -- the page ------------------------------------------------------------------------------------


@pytest.fixture
def site(care, anonymous):
    care.identity.add_group("support")
    care.identity.add_user("sam", "staff", ["support"], password="correct horse battery")
    care.identity.add_user("dana", "designer", password="correct horse battery")
    care.repository.deploy([source("hello_care.bpmn")], "v1", "test")
    renamed = HELLO.replace('name="Answer the inquiry"', 'name="Answer the question"')
    care.repository.deploy([SourceFile("hello_care.bpmn", renamed.encode())], "v2", "test")
    return anonymous


def test_the_compare_page_lists_the_changed_task_with_its_values(site):
    sign_in(site, "dana")
    response = site.get("/processes/hello_care/compare?from=1&to=2")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "1 changed" in text and "0 added" in text and "0 removed" in text
    row = re.search(r'<tr class="compare-change" data-element-id="answer_inquiry">(.*?)</tr>', text, re.S)
    assert row and "Answer the inquiry" in row.group(1) and "Answer the question" in row.group(1)
    data = re.search(r'<script type="application/json" id="compare-data">(.*?)</script>', text, re.S)
    assert data and '"changed": ["answer_inquiry"]' in data.group(1)
    assert "/static/modeler/compare.js" in text
    # without versions: the latest and the one before it
    assert "1 changed" in site.get("/processes/hello_care/compare").get_data(as_text=True)


def test_the_same_version_twice_asks_for_two(site):
    sign_in(site, "dana")
    text = site.get("/processes/hello_care/compare?from=2&to=2").get_data(as_text=True)
    assert "Choose two different versions to compare." in text


def test_unknown_versions_and_bad_numbers(site):
    sign_in(site, "dana")
    assert site.get("/processes/hello_care/compare?from=1&to=7").status_code == 404
    assert site.get("/processes/nope/compare").status_code == 404
    assert site.get("/processes/hello_care/compare?from=x").status_code == 400


def test_the_compare_page_is_for_designers_and_linked_from_the_versions(site):
    sign_in(site, "sam")
    assert site.get("/processes/hello_care/compare?from=1&to=2").status_code == 403
    sign_in(site, "dana")
    page = site.get("/processes?key=hello_care").get_data(as_text=True)
    assert "/processes/hello_care/compare?from=1&amp;to=2" in page
    editor = site.get("/processes/hello_care/edit").get_data(as_text=True)
    assert 'href="/processes/hello_care/compare"' in editor


def test_camunda_8_settings_are_named_with_their_zeebe_prefix():
    from tests.test_zeebe import SUPPORT_CASE, model

    before = model("a.bpmn", SUPPORT_CASE).content.decode()
    after = before.replace('candidateGroups="support, billing"', 'candidateGroups="support"', 1)
    result = diff(before, after)
    assert [element.id for element in result.changed] == ["answer"]
    assert changes_of(result, "answer") == {
        "zeebe:assignmentDefinition@candidateGroups": ("support, billing", "support")
    }
