"""The decision editor in a real browser: a decision table cell edited in dmn-js, checked, drafted and deployed."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.bpmn import SourceFile
from tests.browser import check_page, sign_in
from tests.conftest import PROJECT_ROOT, make_engine
from tests.live_server import live_server
from tests.test_modeler_decisions import dmn_of

PROCESSES = PROJECT_ROOT / "processes"


@pytest.fixture
def server(database_url):
    care = make_engine(database_url)
    care.identity.add_user("dana", "designer", password="correct horse battery")
    files = [SourceFile(p.name, p.read_bytes()) for p in sorted(PROCESSES.iterdir()) if p.is_file()]
    care.repository.deploy(files, "all", "test")
    with live_server(care) as base:
        yield base, care
    care.close()


def test_a_decision_table_cell_edited_and_deployed(server, browser_page):
    base, care = server
    page = browser_page
    sign_in(page, base, "dana")
    page.goto(f"{base}/processes")
    check_page(page, "designer-processes")  # the lists stack their rows on a phone: nothing wider than 390 px
    page.get_by_role("link", name="Decisions").click()
    check_page(page, "designer-decisions")
    page.get_by_role("link", name="Edit classify_inquiry.dmn").click()
    page.wait_for_selector("body[data-modeler-ready=yes]")
    page.wait_for_selector('#modeler-check-result[data-checked=yes][data-problems="0"]')
    cell = page.locator('td[data-element-id="r_outage_premium_out1"]')
    assert cell.inner_text().strip() == '"urgent"'
    check_page(page, "modeler-decision")

    cell.locator("[contenteditable]").click()
    page.keyboard.press("Control+A")
    page.keyboard.type('"critical"')
    page.locator("h1").click()  # leave the cell
    page.locator("#modeler-status", has_text="Draft saved").wait_for()
    xml = page.evaluate("async () => (await window.carecenterDmn.saveXML()).xml")
    assert '<text>"critical"</text>' in xml
    assert care.repository.versions("inquiry_intake")[0].version == 1  # a draft changes nothing deployed
    with page.expect_download() as download:
        page.get_by_role("button", name="Download XML").click()
    assert download.value.suggested_filename == "classify_inquiry.dmn"
    assert '<text>"critical"</text>' in Path(download.value.path()).read_text()

    with page.expect_navigation():  # the form goes once the file is read: after the click returns
        page.get_by_role("button", name="Deploy").click()
    page.wait_for_selector("body[data-modeler-ready=yes]")
    assert page.get_by_role("status").first.inner_text() == (
        "Deployed classify_inquiry.dmn with the processes calling it: inquiry_intake 2."
    )
    assert b'<text>"critical"</text>' in dmn_of(care, "inquiry_intake", 2, "classify_inquiry.dmn")
    assert b'<text>"urgent"</text>' in dmn_of(care, "inquiry_intake", 1, "classify_inquiry.dmn")
