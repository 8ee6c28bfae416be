"""The words of the models in a real browser: a German status page with translated stages, task and form.

The care processes are deployed from processes/ with their shipped catalogs; a customer opens the
status of an inquiry in German, and of a repair (tests/test_model_translations.py) at its customer
task in German and Czech, at 390 and 1280 px.
"""

from __future__ import annotations

import pytest

from engine.bpmn import SourceFile
from engine.config import PROJECT_ROOT
from engine.runtime import StartRequest
from tests.browser import check_page, sync_api
from tests.conftest import make_engine
from tests.live_server import live_server
from tests.test_model_translations import CZECH, FORM, FORM_UI, GERMAN, REPAIR, at_customer_task, po

PROCESSES = PROJECT_ROOT / "processes"


@pytest.fixture
def server(database_url):
    care = make_engine(database_url)
    shipped = [
        SourceFile(p.name, p.read_bytes()) for p in sorted(PROCESSES.iterdir()) if p.suffix in (".bpmn", ".dmn", ".po")
    ]
    assert care.repository.deploy(shipped, "shipped", "test").warnings == []
    repair = {
        "repair.bpmn": REPAIR.encode(),
        "repair_delivery.json": FORM,
        "repair_delivery.ui.json": FORM_UI,
        "repair.de.po": po(GERMAN),
        "repair.cs.po": po(CZECH, "cs"),
    }
    care.repository.deploy([SourceFile(name, content) for name, content in repair.items()], "repair", "test")
    with live_server(care) as base:
        yield base, care
    care.close()


def test_a_german_status_page_shows_the_models_words_in_german(server, browser_page):
    base, care = server
    started, _ = care.runtime.start(
        StartRequest("inquiry_intake", {"channel": "web", "customer": {"id": "C-1", "name": "Ada"}, "subject": "Help"}),
        "portal",
    )
    browser_page.goto(f"{base}/track/{started['tracking_code']}?lang=de")
    assert browser_page.locator("h1").inner_text() == "Anfrage"
    stages = browser_page.locator("ol.stages li").all_inner_texts()
    assert [label.split("\n")[0] for label in stages] == ["Eingegangen", "In Prüfung", "Beantwortet", "Abgeschlossen"]
    check_page(browser_page, "model-words-inquiry-de")


def test_the_customer_task_and_its_form_in_german_and_czech(server, browser_page):
    base, care = server
    code = at_customer_task(care)
    browser_page.goto(f"{base}/track/{code}?lang=de")
    assert browser_page.locator("h1").inner_text() == "Reparaturauftrag"
    assert browser_page.locator("[aria-current=step]").inner_text().startswith("In Reparatur")
    sync_api.expect(browser_page.get_by_role("heading", name="Rückgabe wählen")).to_be_visible()
    sync_api.expect(browser_page.get_by_role("radio", name="Per Kurier")).to_be_visible()
    sync_api.expect(browser_page.get_by_label("Notiz für die Werkstatt")).to_be_visible()
    check_page(browser_page, "model-words-task-de")
    browser_page.get_by_role("link", name="CS", exact=True).click()
    assert browser_page.locator("h1").inner_text() == "Požadavek na opravu"
    sync_api.expect(browser_page.get_by_role("radio", name="Kurýrem")).to_be_visible()
    check_page(browser_page, "model-words-task-cs")
    browser_page.get_by_role("radio", name="Kurýrem").check()
    browser_page.get_by_role("button", name="Odeslat").click()
    browser_page.wait_for_url(f"{base}/track/{code}*")
    assert browser_page.locator("ol.stages li").last.inner_text().startswith("Dokončeno")
