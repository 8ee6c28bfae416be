"""The modeler in a real browser: bpmn-js on the page, as a designer uses it, at 390 and 1280 px with axe-core.

Changes are made through ``window.carecenterModeler`` (the page's bpmn-js Modeler) or the
properties panel; everything else (Check, Save draft, Deploy, opening files) through the page.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from lxml import etree

from engine.process_drafts import NEW_PROCESS, ProcessDrafts
from engine.runtime import StartRequest
from tests.browser import check_page, sign_in, sync_api
from tests.conftest import DATA, make_engine, source
from tests.live_server import live_server

PROJECT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("CARECENTER_CORPUS_DIR") or PROJECT.parent / "shared" / "corpus" / "spiffworkflow-tests")
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
HELLO = source("hello_care.bpmn").content.decode()


@pytest.fixture
def server(database_url):
    care = make_engine(database_url)
    care.identity.add_group("support", "First line")
    care.identity.add_group("billing", "Invoices")
    care.identity.add_user("dana", "designer", password="correct horse battery")
    care.identity.add_user("sam", "staff", ["support"], password="correct horse battery")
    care.repository.deploy(
        [source("hello_care.bpmn"), source("hello_care.de.po"), source("hello_care.cs.po")], "test", "test"
    )
    with live_server(care) as base:
        yield base, care
    care.close()


def ready(page) -> None:
    """The diagram is imported and its first check (or the refused deploy's problems) is shown."""
    page.wait_for_selector("body[data-modeler-ready=yes]")
    page.wait_for_selector("#modeler-check-result[data-checked=yes]")


def checked(page, problems: int) -> None:
    page.wait_for_selector(f'#modeler-check-result[data-checked=yes][data-problems="{problems}"]')


def exported(page) -> str:
    return page.evaluate("async () => (await window.carecenterModeler.saveXML({ format: true })).xml")


def element_name(page, element_id: str) -> str:
    return page.evaluate(
        "id => window.carecenterModeler.get('elementRegistry').get(id).businessObject.name", element_id
    )


def rename(page, element_id: str, name: str) -> None:
    page.evaluate(
        """([id, name]) => {
            const modeler = window.carecenterModeler;
            modeler.get('modeling').updateProperties(modeler.get('elementRegistry').get(id), { name });
        }""",
        [element_id, name],
    )


def open_carecenter_group(page) -> None:
    page.get_by_role("region", name="Properties").get_by_text("carecenter", exact=True).click()


def open_file(page, base: str, path: Path) -> None:
    page.goto(f"{base}/processes/new")
    page.wait_for_selector("body[data-modeler-ready=yes]")
    page.locator("#modeler-open-file").set_input_files(str(path))
    page.get_by_role("button", name="Open file").click()
    page.wait_for_selector("body[data-modeler-ready]")


def normalized(xml: bytes) -> tuple:
    """A file's elements as (tag, attributes, text, children), namespace prefixes, order of attributes,
    formatting whitespace, the order of diagram shapes and empty label layouts left out: what a program
    reading the file sees."""

    def walk(node):
        attributes = tuple(sorted(node.attrib.items()))
        children = tuple(walk(child) for child in node if isinstance(child.tag, str) and not _empty_label(child))
        if etree.QName(node).localname == "BPMNPlane":
            children = tuple(sorted(children))  # bpmn-js writes shapes in drawing order: the same picture
        return (node.tag, attributes, (node.text or "").strip(), children)

    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
    return walk(etree.fromstring(xml, parser))


def _empty_label(node) -> bool:
    """bpmn-js gives a renamed element's shape an empty ``bpmndi:BPMNLabel``: layout, the same as none."""
    return etree.QName(node).localname == "BPMNLabel" and len(node) == 0 and not node.attrib


def extensions(xml: bytes) -> dict[str, list]:
    """Per element id: its camunda: and spiffworkflow: attributes and its extension elements, normalized."""
    root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    found: dict[str, list] = {}
    for node in root.iter():
        if not isinstance(node.tag, str) or not node.get("id"):
            continue
        attributes = sorted(
            (k, v) for k, v in node.attrib.items() if k.startswith((f"{{{CAMUNDA_NS}}}", f"{{{SPIFF_NS}}}"))
        )
        elements = [normalized(etree.tostring(e)) for e in node if etree.QName(e).localname == "extensionElements"]
        if attributes or elements:
            found[node.get("id")] = [attributes, elements]
    return found


def test_a_task_renamed_in_the_editor_is_deployed_as_version_2_and_version_1_keeps_running(server, browser_page):
    base, care = server
    page = browser_page
    running = care.runtime.start(StartRequest("hello_care", {"subject": "Printer offline"}), "test")[0]
    sign_in(page, base, "dana")
    page.goto(f"{base}/processes")
    page.get_by_role("link", name="Edit hello_care").click()
    ready(page)
    assert page.locator("#modeler-check-result").inner_text().startswith("No problems")
    page.locator('g.djs-element[data-element-id="answer_inquiry"]').click()
    open_carecenter_group(page)
    groups = page.get_by_label("Candidate group")
    assert groups.input_value() == ""  # hello_care names its team by the lane
    assert groups.locator("option").all_inner_texts() == ["(none)", "billing", "support"]
    assert page.get_by_label("Form").input_value() == "answer_inquiry.json"
    check_page(page, "modeler-edit")

    rename(page, "answer_inquiry", "Answer the question")
    with page.expect_download() as download:  # the file as it stands in the editor, before it is deployed
        page.get_by_role("button", name="Download XML").click()
    assert download.value.suggested_filename == "hello_care.bpmn"
    assert 'name="Answer the question"' in Path(download.value.path()).read_text()
    with page.expect_navigation():  # the form goes once the file is read: after the click returns
        page.get_by_role("button", name="Deploy").click()
    page.wait_for_url(f"{base}/processes/hello_care/edit")
    assert page.get_by_role("status").first.inner_text() == "Deployed hello_care version 2."
    ready(page)
    assert element_name(page, "answer_inquiry") == "Answer the question"
    # the catalogs do not translate the new name yet: the deploy went ahead, and Check says what shows in English
    warnings = page.locator("#modeler-check-result .modeler-warning")
    sync_api.expect(warnings.filter(has_text="no German translation")).to_contain_text("Answer the question")
    check_page(page, "modeler-deployed-warnings")

    versions = care.repository.versions("hello_care")
    assert [v.version for v in versions] == [2, 1]
    assert sorted(versions[0].dependencies["catalogs"]) == ["hello_care.cs.po", "hello_care.de.po"]
    v1, v2 = care.repository.xml("hello_care", 1)[1], care.repository.xml("hello_care", 2)[1]
    assert v1.decode() == HELLO
    # the one change made, and nothing else a program reading the file would see
    assert normalized(v2) == normalized(v1.replace(b'name="Answer the inquiry"', b'name="Answer the question"'))

    task = care.runtime.get(running["id"])["tasks"][0]
    assert task["name"] == "Answer the inquiry"
    care.tasks.claim(task["id"], "sam")
    care.tasks.complete(task["id"], {"answer": "Restarted"}, "sam")
    finished = care.runtime.get(running["id"])
    assert finished["version"] == 1 and finished["status"] == "completed"
    new = care.runtime.start(StartRequest("hello_care", {"subject": "Scanner"}), "test")[0]
    assert new["version"] == 2 and [t["name"] for t in new["tasks"]] == ["Answer the question"]


def test_a_process_built_from_new_is_deployed_and_started(server, browser_page):
    base, care = server
    page = browser_page
    sign_in(page, base, "dana")
    page.goto(f"{base}/processes")
    page.get_by_role("link", name="New process").click()
    ready(page)
    check_page(page, "modeler-new")
    page.evaluate(
        """() => {
            const modeler = window.carecenterModeler;
            const modeling = modeler.get('modeling');
            const registry = modeler.get('elementRegistry');
            const start = registry.filter(e => e.type === 'bpmn:StartEvent')[0];
            const task = modeling.appendShape(start, { type: 'bpmn:UserTask' });
            modeling.updateProperties(task, { id: 'call_customer', name: 'Call the customer' });
            modeling.appendShape(task, { type: 'bpmn:EndEvent' });
            const root = modeler.get('canvas').getRootElement();
            modeling.updateProperties(root, { id: 'built_in_browser', name: 'Built in the browser' });
        }"""
    )
    page.locator('g.djs-element[data-element-id="call_customer"]').click()
    open_carecenter_group(page)
    page.get_by_label("Candidate group").select_option("support")
    checked(page, 0)
    with page.expect_navigation():  # the form goes once the file is read: after the click returns
        page.get_by_role("button", name="Deploy").click()
    page.wait_for_url(f"{base}/processes/built_in_browser/edit")
    assert page.get_by_role("status").first.inner_text() == "Deployed built_in_browser version 1."
    ready(page)

    _, xml = care.repository.xml("built_in_browser")
    assert b'<spiffworkflow:property name="candidate_groups" value="support" />' in xml
    started = care.runtime.start(StartRequest("built_in_browser", {}), "test")[0]
    assert [(t["name"], t["candidate_groups"]) for t in started["tasks"]] == [("Call the customer", ["support"])]
    page.goto(f"{base}/processes/new")
    ready(page)
    assert "Your draft" not in page.content()  # the new process's draft went with the deploy


def test_a_missing_form_is_marked_on_its_element_and_a_refused_deploy_shows_the_same(server, browser_page, tmp_path):
    base, care = server
    page = browser_page
    broken = tmp_path / "hello_care.bpmn"
    broken.write_text(HELLO.replace("answer_inquiry.json", "no_such_form.json"))
    sign_in(page, base, "dana")
    open_file(page, base, broken)
    checked(page, 1)
    problem = page.locator("li.modeler-problem")
    assert "form 'no_such_form.json' is neither uploaded nor in the forms folder" in problem.inner_text()
    marked = page.locator('g.djs-element.cc-problem[data-element-id="answer_inquiry"]')
    assert marked.count() == 1
    sync_api.expect(page.locator('.cc-problem-badge[data-problem-for="answer_inquiry"]')).to_be_visible()
    problem.get_by_role("button", name="answer_inquiry").click()
    selected = page.evaluate("() => window.carecenterModeler.get('selection').get().map(e => e.id)")
    assert selected == ["answer_inquiry"]
    check_page(page, "modeler-problem")

    with page.expect_navigation():  # the form goes once the file is read: after the click returns
        page.get_by_role("button", name="Deploy").click()
    page.wait_for_selector("body[data-modeler-ready=yes]")
    assert "no_such_form.json" in page.locator("#modeler-check-slot[role=alert]").inner_text()
    assert page.locator('g.djs-element.cc-problem[data-element-id="answer_inquiry"]').count() == 1
    assert care.repository.versions("hello_care")[0].version == 1

    # chosen from the forms folder in the panel, the problem and its mark are gone
    page.locator('g.djs-element[data-element-id="answer_inquiry"]').click()
    open_carecenter_group(page)
    page.get_by_label("Form").select_option("answer_inquiry.json")
    checked(page, 0)
    assert page.locator("g.djs-element.cc-problem").count() == 0


def test_a_draft_survives_a_reload_and_can_be_discarded(server, browser_page):
    base, care = server
    page = browser_page
    sign_in(page, base, "dana")
    page.goto(f"{base}/processes/hello_care/edit")
    ready(page)
    rename(page, "answer_inquiry", "Answer within the hour")
    page.locator("#modeler-status", has_text="Draft saved").wait_for()
    page.reload()
    ready(page)
    assert element_name(page, "answer_inquiry") == "Answer within the hour"
    sync_api.expect(page.get_by_text("Your draft of")).to_be_visible()
    check_page(page, "modeler-draft")
    assert care.repository.xml("hello_care")[1].decode() == HELLO  # deployed: unchanged

    # changed and left at once: the page sends the draft as it goes
    rename(page, "answer_inquiry", "Answer at once")
    page.goto(f"{base}/processes")
    # the beacon travels beside the next page's requests: wait until the server has stored it
    drafts = ProcessDrafts(care.db, care.clock, 10**6)
    deadline = time.monotonic() + 15
    while b'name="Answer at once"' not in drafts.get("hello_care", "dana").xml:
        assert time.monotonic() < deadline, "the draft sent on leaving the page never arrived"
        time.sleep(0.05)
    page.goto(f"{base}/processes/hello_care/edit")
    ready(page)
    assert element_name(page, "answer_inquiry") == "Answer at once"

    page.get_by_role("button", name="Discard draft").click()
    ready(page)
    assert page.get_by_role("status").first.inner_text() == "Draft discarded."
    assert element_name(page, "answer_inquiry") == "Answer the inquiry"


def test_staff_get_403(server, browser_page):
    base, _ = server
    page = browser_page
    sign_in(page, base, "sam")
    for path in ("/processes/hello_care/edit", "/processes/new"):
        response = page.goto(f"{base}{path}")
        assert response.status == 403
        sync_api.expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()


ROUND_TRIP = [
    PROJECT / "processes" / "inquiry_intake.bpmn",
    PROJECT / "processes" / "license_sweep.bpmn",
    DATA / "camunda_credit.bpmn",
]
CORPUS_ROUND_TRIP = [
    "camunda/data/token_trial_parallel_simple.bpmn",
    "camunda/data/random_fact.bpmn",
    "spiff/data/service_task.bpmn",
    "spiff/data/script_task_with_unit_tests.bpmn",
    "spiff/data/human_task_metadata.bpmn",
    "spiff/data/receive_correlations.bpmn",
]


def test_camunda_and_spiffworkflow_extensions_survive_a_load_and_save(server, browser_page):
    base, _ = server
    page = browser_page
    files = list(ROUND_TRIP)
    if CORPUS.is_dir():
        files += [CORPUS / name for name in CORPUS_ROUND_TRIP]
    sign_in(page, base, "dana")
    for path in files:
        open_file(page, base, path)
        assert page.get_attribute("body", "data-modeler-ready") == "yes", path
        original, saved = path.read_bytes(), exported(page).encode()
        assert extensions(saved) == extensions(original), path.name
        assert normalized(saved) == normalized(original), path.name


def test_the_panel_writes_a_camunda_file_in_its_own_dialect(server, browser_page):
    base, _ = server
    page = browser_page
    sign_in(page, base, "dana")
    open_file(page, base, DATA / "camunda_credit.bpmn")
    ready(page)
    task = page.evaluate(
        "() => window.carecenterModeler.get('elementRegistry').filter(e => e.type === 'bpmn:UserTask')[0].id"
    )
    page.locator(f'g.djs-element[data-element-id="{task}"]').click()
    open_carecenter_group(page)
    page.get_by_label("Candidate group").select_option("billing")
    xml = exported(page)
    root = etree.fromstring(xml.encode())
    node = root.xpath("//*[@id=$id]", id=task)[0]
    assert node.get(f"{{{CAMUNDA_NS}}}candidateGroups") == "billing"
    assert SPIFF_NS not in xml
    assert re.search(r'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"', xml)


def test_a_file_the_editor_cannot_fully_read_is_not_saved_over(server, browser_page, tmp_path):
    base, care = server
    page = browser_page
    unknown = tmp_path / "hello_care.bpmn"
    unknown.write_text(
        HELLO.replace(
            '<spiffworkflow:property name="formJsonSchemaFilename"',
            '<spiffworkflow:futureExtension level="3" />\n'
            '          <spiffworkflow:property name="formJsonSchemaFilename"',
        )
    )
    sign_in(page, base, "dana")
    open_file(page, base, unknown)
    assert page.get_attribute("body", "data-modeler-ready") == "yes"
    assert "cannot read" in page.locator("#modeler-status").inner_text()
    for label in ("Check", "Save draft", "Deploy", "Download XML"):
        assert page.get_by_role("button", name=label, exact=True).is_disabled()
    rename(page, "answer_inquiry", "Changed anyway")
    page.wait_for_timeout(2000)  # longer than the draft's delay: nothing may have been saved
    assert ProcessDrafts(care.db, care.clock, 10**6).get(NEW_PROCESS, "dana") is None


def test_a_file_without_a_diagram_says_so(server, browser_page):
    base, _ = server
    page = browser_page
    sign_in(page, base, "dana")
    open_file(page, base, DATA / "camunda_billing.bpmn")
    assert page.get_attribute("body", "data-modeler-ready") == "failed"
    assert page.locator("#modeler-status .error").inner_text().startswith("The diagram cannot be shown: ")
    assert page.get_by_role("button", name="Deploy").is_disabled()


def test_a_wide_diagram_opens_whole_and_beside_the_palette(server, browser_page):
    base, _ = server
    page = browser_page
    sign_in(page, base, "dana")
    open_file(page, base, PROJECT / "processes" / "inquiry_intake.bpmn")
    page.wait_for_selector("body[data-modeler-ready=yes]")
    palette, canvas = page.locator(".djs-palette").bounding_box(), page.locator("#modeler-canvas").bounding_box()
    pool = page.locator('g.djs-element[data-element-id="inquiry_intake_participant"]').bounding_box()
    assert palette["x"] + palette["width"] < pool["x"]  # none of it under the palette over the canvas's left edge
    assert pool["x"] + pool["width"] <= canvas["x"] + canvas["width"]
    check_page(page, "modeler-wide")
