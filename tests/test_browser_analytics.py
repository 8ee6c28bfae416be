"""The analytics pages in a real browser: the dashboard, its charts and tables, a heat map (axe, 390 and 1280 px)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.clock import VirtualClock
from tests.analytics_story import T0, tell
from tests.browser import ARTIFACTS, PASSWORD, check_page, sign_in, sync_api
from tests.conftest import make_engine
from tests.live_server import live_server

SHOTS = Path("/tmp/shots-analytics")


@pytest.fixture
def server(database_url):
    clock = VirtualClock(T0)
    care = make_engine(database_url, clock)
    tell(care, clock)
    care.analytics.refresh()
    care.identity.add_group("team_lead")
    care.identity.add_user("lea", "staff", ["team_lead"], password=PASSWORD)
    with live_server(care) as base:
        yield base, care
    care.close()


def keep(name: str) -> None:
    """Copy the check's screenshots where the lead looks at them (when that folder exists)."""
    if SHOTS.is_dir():
        for width in (390, 1280):
            shutil.copy(ARTIFACTS / f"{name}-{width}.png", SHOTS / f"{name}-{width}.png")


def test_a_team_lead_reads_the_dashboard_and_a_heat_map(server, browser_page):
    base, care = server
    page = browser_page
    sign_in(page, base, "lea")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Analytics").click()
    assert page.locator("h1").inner_text() == "Care-center analytics"
    here = page.get_by_role("navigation", name="Main").get_by_role("link", name="Analytics")
    sync_api.expect(here).to_have_attribute("aria-current", "page")  # the header as on every staff page
    page.wait_for_load_state("load")
    charts = page.locator(".analytics-chart img")
    assert charts.count() == 5
    assert all(page.evaluate("(img) => img.complete && img.naturalWidth > 0", i) for i in charts.element_handles())
    sla = page.locator("#table-sla tbody tr").first
    assert sla.locator("th").inner_text() == "support" and "66.7 %" in sla.inner_text()
    check_page(page, "analytics-dashboard")
    keep("analytics-dashboard")
    page.get_by_role("link", name="Review a request").click()  # the process by its name
    diagram = page.locator(".analytics-heat svg")
    assert diagram.locator('[data-element-id="review"] title').text_content().endswith("\u2300 53 min")
    assert diagram.locator('.bpmn-heat-note[data-for="f_start"] text').text_content() == "100 %"
    assert page.locator("#table-elements tbody tr").first.locator("th").inner_text() == "Review the request"
    check_page(page, "analytics-heatmap")
    keep("analytics-heatmap")
    page.get_by_role("link", name="How often entered").click()
    assert diagram.locator('.bpmn-heat-note[data-for="review"] text').text_content() == "5\u00d7"
    care.identity.set_preferences(care.identity.by_name("lea").id, language="de", time_zone=None)
    page.goto(page.url.replace("heat=count&", ""))  # time again: durations with the units of the reader's language
    assert diagram.locator('[data-element-id="review"] title').text_content().endswith("\u2300 53 Min.")
