"""Comparing versions in a real browser: from the process page's versions to two coloured diagrams.

Version 2 of hello_care renames the inquiry task and adds a follow-up task; the page must colour the
task as changed on both diagrams, the new task as added on the newer one, and list the rename.
"""

from __future__ import annotations

import re

import pytest

from engine.bpmn import SourceFile
from tests.browser import check_page, sign_in
from tests.conftest import make_engine, source
from tests.live_server import live_server

HELLO = source("hello_care.bpmn").content.decode()


def version_2() -> str:
    flow, end = re.findall(r'<bpmn:sequenceFlow id="([^"]+)" sourceRef="answer_inquiry" targetRef="([^"]+)"', HELLO)[0]
    xml = HELLO.replace('name="Answer the inquiry"', 'name="Answer the question"')
    xml = xml.replace(
        f'<bpmn:sequenceFlow id="{flow}" sourceRef="answer_inquiry" targetRef="{end}"',
        f'<bpmn:task id="follow_up" name="Follow up" />\n'
        f'    <bpmn:sequenceFlow id="to_follow_up" sourceRef="answer_inquiry" targetRef="follow_up" />\n'
        f'    <bpmn:sequenceFlow id="{flow}" sourceRef="follow_up" targetRef="{end}"',
    )
    return xml.replace(
        "</bpmndi:BPMNPlane>",
        '<bpmndi:BPMNShape id="follow_up_di" bpmnElement="follow_up">'
        '<dc:Bounds x="300" y="240" width="120" height="80" /></bpmndi:BPMNShape></bpmndi:BPMNPlane>',
    )


@pytest.fixture
def server(database_url):
    care = make_engine(database_url)
    care.identity.add_user("dana", "designer", password="correct horse battery")
    care.repository.deploy([source("hello_care.bpmn")], "v1", "test")
    care.repository.deploy([SourceFile("hello_care.bpmn", version_2().encode())], "v2", "test")
    with live_server(care) as base:
        yield base, care
    care.close()


def marked(page, which: str, kind: str) -> list[str]:
    return page.eval_on_selector_all(
        f"#compare-{which} g.djs-element.cc-{kind}", "nodes => nodes.map(n => n.getAttribute('data-element-id'))"
    )


def test_compare_v1_and_v2_shows_the_changed_task(server, browser_page):
    base, _ = server
    page = browser_page
    sign_in(page, base, "dana")
    page.goto(f"{base}/processes?key=hello_care")
    page.get_by_role("link", name="Compare with v1").click()
    page.wait_for_url(f"{base}/processes/hello_care/compare?from=1&to=2")
    page.wait_for_selector("body[data-compare-ready=yes]")

    assert page.get_by_role("status").inner_text().strip() == (
        "From version 1 to version 2: 2 added, 0 removed, 2 changed."
    )
    assert "answer_inquiry" in marked(page, "before", "changed")
    assert "answer_inquiry" in marked(page, "after", "changed")
    assert marked(page, "after", "added") == ["follow_up"]  # the new flow has no diagram edge: listed only
    assert marked(page, "before", "added") == [] and marked(page, "after", "removed") == []
    badge = page.locator('#compare-after .compare-mark[data-mark-for="follow_up"]')
    assert badge.inner_text() == "+" and badge.get_attribute("aria-label") == "added"

    row = page.locator('tr.compare-change[data-element-id="answer_inquiry"]')
    assert row.locator("td").all_inner_texts() == ["name", "Answer the inquiry", "Answer the question"]
    added = page.locator(".compare-added-list li").all_inner_texts()
    assert [text.split()[0] for text in added] == ["follow_up", "to_follow_up"]
    check_page(page, "modeler-compare")

    # an element in the lists selects it on both diagrams
    page.locator(".compare-changes").get_by_role("button", name="answer_inquiry").click()
    selected = page.evaluate(
        "() => ['before', 'after'].map(w => window.carecenterCompare[w].get('selection').get().map(e => e.id))"
    )
    assert selected == [["answer_inquiry"], ["answer_inquiry"]]

    # another pair through the form
    page.locator("#compare-from").select_option("2")
    page.get_by_role("button", name="Compare", exact=True).click()
    page.wait_for_selector("body[data-compare-ready=yes]")
    assert page.get_by_role("status").inner_text().strip() == "Choose two different versions to compare."
