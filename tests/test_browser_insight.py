"""Customer insight in a real browser: a customer list, and a customer page with its insight and suggestion (axe)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.clock import VirtualClock
from tests.browser import ARTIFACTS, PASSWORD, check_page, sign_in, sync_api
from tests.conftest import make_engine, source
from tests.insight_story import START, tell
from tests.live_server import live_server

SHOTS = Path("/tmp/shots-insight")


@pytest.fixture
def server(database_url):
    clock = VirtualClock(START)
    care = make_engine(database_url, clock)
    tell(care, clock)
    care.repository.deploy([source("next_best_action.dmn")], "nba", "test")
    care.identity.add_group("care_manager")
    care.identity.add_user("max", "staff", ["care_manager"], password=PASSWORD)
    with live_server(care) as base:
        yield base
    care.close()


def keep(name: str) -> None:
    """Copy the check's screenshots where the lead looks at them (when that folder exists)."""
    if SHOTS.is_dir():
        for width in (390, 1280):
            shutil.copy(ARTIFACTS / f"{name}-{width}.png", SHOTS / f"{name}-{width}.png")


def test_a_care_manager_reads_a_customer_list_and_the_insight_of_a_customer(server, browser_page):
    page = browser_page
    sign_in(page, server, "max")
    page.goto(f"{server}/analytics")
    page.get_by_role("link", name="Repeated problems on one system").click()
    row = page.locator("#insight-list tbody tr").first
    assert row.locator("th a").inner_text() == "Ada Lovelace" and "S-1" in row.inner_text()
    here = page.get_by_role("navigation", name="Main").get_by_role("link", name="Analytics")
    sync_api.expect(here).to_have_attribute("aria-current", "page")  # the header as on every staff page
    check_page(page, "insight-list")
    keep("insight-list")
    row.locator("th a").click()
    insight = page.locator("#insight")
    assert "1 open, 2 resolved" in insight.inner_text()
    assert insight.locator("#suggestion h3").inner_text() == "Suggested next: Offer the upgrade to enterprise"
    check_page(page, "insight-customer")
    keep("insight-customer")
