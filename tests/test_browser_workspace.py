"""The workspace's shared frame in a real browser: navigation by role, settings, error pages, at 390 and 1280 px."""

from __future__ import annotations

import pytest

from tests.browser import PASSWORD, check_page, sign_in
from tests.conftest import make_engine
from tests.live_server import live_server


@pytest.fixture
def server(database_url):
    care = make_engine(database_url)
    care.identity.add_group("support")
    care.identity.add_user("sam", "staff", ["support"], password=PASSWORD)
    care.identity.add_user("dana", "designer", password=PASSWORD)
    care.identity.add_user("ada", "admin", password=PASSWORD)
    with live_server(care) as base:
        yield base, care
    care.close()


def nav_labels(page) -> list[str]:
    return page.locator("header nav a").all_inner_texts()


def test_each_role_sees_its_own_navigation(server, browser_page):
    base, _ = server
    sign_in(browser_page, base, "sam")
    assert "Tasks" in nav_labels(browser_page) and "Processes" not in nav_labels(browser_page)
    check_page(browser_page, "home-staff")
    browser_page.goto(f"{base}/processes")
    assert browser_page.locator("h1").inner_text() == "Not allowed"
    check_page(browser_page, "error-403")
    browser_page.context.clear_cookies()
    sign_in(browser_page, base, "dana")
    assert nav_labels(browser_page) == ["Processes"]
    browser_page.context.clear_cookies()
    sign_in(browser_page, base, "ada")
    assert {"Tasks", "Processes"} <= set(nav_labels(browser_page))


def test_settings_switch_language_and_time_zone(server, browser_page):
    base, care = server
    sign_in(browser_page, base, "sam")
    browser_page.goto(f"{base}/settings")
    check_page(browser_page, "settings")
    browser_page.get_by_label("Language of the pages").select_option("de")
    browser_page.get_by_label("Time zone").select_option("Europe/Prague")
    browser_page.get_by_role("button", name="Save").click()
    assert browser_page.get_by_role("status").inner_text() == "Einstellungen gespeichert."
    assert browser_page.locator("html").get_attribute("lang") == "de"
    assert browser_page.get_by_label("Zeitzone").input_value() == "Europe/Prague"
    user = care.identity.by_name("sam")
    with care.db.read() as session:
        from engine.models import User

        stored = session.get(User, user.id)
        assert (stored.language, stored.time_zone) == ("de", "Europe/Prague")
    browser_page.goto(f"{base}/no-such-page")
    assert browser_page.locator("h1").inner_text() == "Seite nicht gefunden"
    check_page(browser_page, "error-404-de")
