"""A customer follows a request in a real browser (Chromium via Playwright): stages, a customer task, languages.

Also the leak test in the browser: nothing internal of a process full of sensitive variables is on the page;
and the /track form (case reference with e-mail address or postcode) at phone and desktop widths, checked
with axe-core.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from engine.runtime import StartRequest
from process_library.store import Customer
from tests.browser import sync_api
from tests.conftest import make_engine, source
from tests.live_server import live_server
from tests.test_browser import page, shot  # noqa: F401  (the browser fixture and screenshots)
from tests.test_status import SENSITIVE


@pytest.fixture
def server(database_url):
    care = make_engine(database_url)
    care.repository.deploy([source("customer_tracking.bpmn"), source("confirm_address.json")], "test", "test")
    with live_server(care) as base:
        yield base, care
    care.close()


def staff_completes_open_task(care) -> None:
    [task] = care.tasks.list(_filter(), 10, None).items
    care.tasks.complete(task["id"], {}, "sam")


def _filter():
    from engine.tasks import TaskFilter

    return TaskFilter()


def test_customer_follows_answers_and_switches_language(server, page):  # noqa: F811
    base, care = server
    view, _ = care.runtime.start(StartRequest("customer_tracking", dict(SENSITIVE, divisor=2)), "portal")
    code = view["tracking_code"]
    page.goto(f"{base}/track/{code}")  # the secret link of a mail
    shot(page, "track-review")
    assert page.locator("[aria-current=step]").inner_text().startswith("review")
    assert "we are looking at your Router X1" in page.content()

    staff_completes_open_task(care)
    page.reload()
    assert page.locator("[aria-current=step]").inner_text().startswith("your_input")
    assert page.locator("#status").inner_text() == "Waiting for you"
    page.get_by_label("Delivery address").fill("x")
    page.get_by_role("button", name="Send").click()
    sync_api.expect(page.locator("[role=alert]").first).to_be_attached()  # refused on the server, nothing changed
    page.get_by_label("Delivery address").fill("Main street 1, Springfield")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(f"{base}/track/{code}*")
    shot(page, "track-after-customer-task")
    assert page.locator("[aria-current=step]").inner_text().startswith("resolution")

    page.get_by_role("link", name="DE", exact=True).click()
    assert page.locator("#status").inner_text() == "In Bearbeitung"
    assert page.locator("[aria-current=step]").inner_text().startswith("Reparatur")
    page.get_by_role("link", name="CS", exact=True).click()
    assert page.locator("#status").inner_text() == "Zpracovává se"
    shot(page, "track-cs")


def test_nothing_internal_in_the_browser(server, page):  # noqa: F811
    base, care = server
    view, _ = care.runtime.start(StartRequest("customer_tracking", dict(SENSITIVE)), "portal")
    staff_completes_open_task(care)
    [task] = care.tasks.list(_filter().__class__(instance_id=view["id"]), 10, None).items
    care.tasks.complete(task["id"], {"address": "Main street 1"}, "customer")  # the script then fails
    for url in (f"{base}/track/{view['tracking_code']}", f"{base}/api/status/{view['tracking_code']}"):
        page.goto(url)
        text = page.content()
        for forbidden in ("troublemaker", "secret_note", "4711", "divisor", "ZeroDivision", "sam", "Main street"):
            assert forbidden not in text, (url, forbidden)
        for element_id in ("triage", "confirm", "compute", "lane_support"):
            assert f'"{element_id}"' not in text and f">{element_id}<" not in text, (url, element_id)


def assert_accessible(browser_page) -> None:
    results = Axe().run(browser_page)
    assert results.violations_count == 0, results.generate_report()


@pytest.mark.parametrize("width", [390, 1280])
def test_customer_finds_the_case_by_reference_and_email(server, page, width):  # noqa: F811
    base, care = server
    with care.db.write() as session:
        session.add(Customer(id="C-1", name="Alice", email="alice@example.com", tier="standard", language="en"))
    view, _ = care.runtime.start(StartRequest("customer_tracking", dict(SENSITIVE, divisor=2), None, "C-1"), "portal")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{base}/track")
    assert_accessible(page)
    shot(page, f"track-form-en-{width}")
    typed = view["reference"].removeprefix("CC-").replace("-", "").lower()
    page.get_by_label("Case reference").fill(typed)
    page.get_by_label("E-mail address or postcode").fill("mallory@example.com")
    page.get_by_role("button", name="Show status").click()
    assert "We found no request" in page.get_by_role("alert").inner_text()
    assert_accessible(page)
    shot(page, f"track-form-miss-en-{width}")
    page.get_by_label("Case reference").fill(typed)
    page.get_by_label("E-mail address or postcode").fill("Alice@Example.com")
    page.get_by_role("button", name="Show status").click()
    page.wait_for_url(f"{base}/track/{view['tracking_code']}*")
    assert page.locator("#reference").inner_text() == view["reference"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert_accessible(page)
    shot(page, f"track-status-en-{width}")
    page.get_by_role("link", name="DE", exact=True).click()
    assert page.locator("#status").inner_text() == "In Bearbeitung"
    assert_accessible(page)
    shot(page, f"track-status-de-{width}")
    page.goto(f"{base}/track?lang=de")
    sync_api.expect(page.get_by_label("Fallnummer")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert_accessible(page)
    shot(page, f"track-form-de-{width}")
