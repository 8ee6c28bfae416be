"""Testing from the editor in a real browser: Run scenarios shows each step's pass or fail, and the customer view.

The scenarios are processes/tests/hello_care.yaml, run by the real runner against the diagram on
the page; renaming the task the scenarios complete makes their steps fail, on the page.
"""

from __future__ import annotations

import pytest

from tests.browser import check_page, sign_in
from tests.conftest import make_engine, source
from tests.live_server import live_server
from tests.test_browser_modeler import open_carecenter_group, ready, rename


@pytest.fixture
def server(database_url):
    care = make_engine(database_url)
    care.identity.add_user("dana", "designer", password="correct horse battery")
    care.repository.deploy(
        [source("hello_care.bpmn"), source("hello_care.de.po"), source("hello_care.cs.po")], "test", "test"
    )
    with live_server(care) as base:
        yield base, care
    care.close()


def step_outcomes(page) -> list[str]:
    return page.eval_on_selector_all(
        "#modeler-scenarios-slot li.scenario-step", "items => items.map(i => i.getAttribute('data-outcome'))"
    )


def run_scenarios(page) -> None:
    page.get_by_role("button", name="Run scenarios").click()
    page.wait_for_selector("#modeler-scenarios-result[data-ran=yes]", timeout=60_000)


def test_run_scenarios_from_the_page_shows_pass_and_fail(server, browser_page):
    base, care = server
    page = browser_page
    sign_in(page, base, "dana")
    page.goto(f"{base}/processes/hello_care/edit")
    ready(page)

    run_scenarios(page)
    assert page.locator("#modeler-scenarios-status").inner_text() == "2 scenario(s): 2 passed, 0 failed."
    assert step_outcomes(page) == ["passed"] * 7
    assert page.locator("details.scenario[data-passed=yes]").count() == 2

    rename(page, "answer_inquiry", "Answer it")
    run_scenarios(page)
    page.wait_for_selector("#modeler-scenarios-result[data-failed='2']")
    assert page.locator("#modeler-scenarios-status").inner_text() == "2 scenario(s): 0 passed, 2 failed."
    assert step_outcomes(page) == ["passed", "failed", "not run", "not run", "passed", "failed", "not run"]
    failed = page.locator("li.scenario-step[data-outcome=failed]").first
    assert "expected ['Answer the inquiry']" in failed.inner_text()
    assert failed.locator(".step-outcome").inner_text() == "✗ failed"
    check_page(page, "modeler-scenarios")
    assert [v.version for v in care.repository.versions("hello_care")] == [1]  # nothing deployed


def test_the_customer_view_follows_the_diagram(server, browser_page):
    base, _ = server
    page = browser_page
    sign_in(page, base, "dana")
    page.goto(f"{base}/processes/hello_care/edit")
    ready(page)
    row = page.locator('tr.customer-view-stage[data-stage="answering"]')
    row.wait_for()
    assert row.locator("td[lang=de]").inner_text() == "In Bearbeitung"
    assert row.locator("td[lang=cs]").inner_text() == "Zpracovává se"
    assert row.locator(".customer-view-message").inner_text() == "We are answering your inquiry “[Subject]”."

    # a stage renamed in the panel: the view follows, its translations are now missing
    page.locator('g.djs-element[data-element-id="answer_inquiry"]').click()
    open_carecenter_group(page)
    page.get_by_label("Customer stage").select_option("received")
    page.wait_for_selector('tr.customer-view-stage[data-stage="answering"] >> text=(no element enters it)')
    assert "answer_inquiry" in page.locator('tr.customer-view-stage[data-stage="received"] th').inner_text()
    page.locator('tr.customer-view-stage[data-stage="received"]').get_by_role("button", name="answer_inquiry").click()
    selected = page.evaluate("() => window.carecenterModeler.get('selection').get().map(e => e.id)")
    assert selected == ["answer_inquiry"]
    check_page(page, "modeler-customer-view")
