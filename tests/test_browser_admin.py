"""The admin pages in a real browser, as an admin uses them, at 390 and 1280 px with axe-core."""

from __future__ import annotations

import pytest

from engine.runtime import StartRequest
from tests.browser import PASSWORD, check_page, sign_in, sync_api
from tests.conftest import make_engine, source
from tests.live_server import live_server


@pytest.fixture
def server(database_url):
    care = make_engine(database_url)
    care.identity.add_group("support", "First line: phone, mail and chat")
    care.identity.add_group("technical", "Second line")
    care.identity.add_user("ada", "admin", password=PASSWORD, display_name="Ada Admin")
    care.identity.add_user("sam", "staff", ["support"], password=PASSWORD, display_name="Sam Support")
    care.identity.add_user("mailgw", "integration", display_name="Mail gateway")
    care.repository.deploy([source("script_failure.bpmn")], "test", "test")
    for _ in range(2):
        care.runtime.start(StartRequest("script_failure", {"divisor": 0}), "test")
    with live_server(care) as base:
        yield base, care
    care.close()


def test_incidents_are_retried_from_the_list(server, browser_page):
    base, care = server
    sign_in(browser_page, base, "ada")
    browser_page.get_by_role("link", name="Incidents").first.click()
    rows = browser_page.locator("#incidents tbody tr")
    sync_api.expect(rows).to_have_count(2)
    assert "Divide by divisor" in rows.first.inner_text() and "division by zero" in rows.first.inner_text()
    check_page(browser_page, "admin-incidents")
    reference = rows.first.get_by_role("link").inner_text()
    rows.first.get_by_role("button", name="Retry").click()
    status = browser_page.get_by_role("status").inner_text()
    assert status.startswith(f"Retried “Divide by divisor” of {reference}, but it failed again")
    browser_page.get_by_label("Status").select_option("resolved")
    browser_page.get_by_role("button", name="Show").click()
    assert "by ada" in browser_page.locator("#incidents").inner_text()
    check_page(browser_page, "admin-incidents-resolved")


def test_users_are_created_edited_and_disabled(server, browser_page):
    base, care = server
    sign_in(browser_page, base, "ada")
    browser_page.goto(f"{base}/admin/users")
    assert browser_page.locator("#users tbody tr").count() == 3
    check_page(browser_page, "admin-users")
    browser_page.get_by_role("link", name="New user").click()
    browser_page.get_by_label("User name").fill("Nora Novak")
    browser_page.get_by_label("Initial password").fill("short")
    browser_page.get_by_role("button", name="Create user").click()
    assert browser_page.locator("#username-error").inner_text().startswith("Use 1 to 100 characters")
    assert browser_page.locator("#password-error").inner_text() == "A password needs at least 10 characters."
    check_page(browser_page, "admin-user-new-errors")
    browser_page.get_by_label("User name").fill("nora")
    browser_page.get_by_label("Display name").fill("Nora Novak")
    browser_page.get_by_label("technical").check()
    browser_page.get_by_label("Initial password").fill("a long enough secret")
    browser_page.get_by_role("button", name="Create user").click()
    assert browser_page.get_by_role("status").inner_text() == "User nora created."
    check_page(browser_page, "admin-user")
    browser_page.get_by_role("button", name="Disable").click()
    assert care.identity.by_name("nora").disabled
    sync_api.expect(browser_page.get_by_role("button", name="Enable")).to_be_visible()
    browser_page.goto(f"{base}/admin/groups")
    check_page(browser_page, "admin-groups")


def test_a_token_is_shown_once(server, browser_page):
    base, care = server
    sign_in(browser_page, base, "ada")
    browser_page.goto(f"{base}/admin/tokens")
    browser_page.get_by_role("textbox", name="Name", exact=True).fill("Mail gateway in production")
    browser_page.get_by_label("Acts as").select_option("mailgw")
    browser_page.get_by_label("Valid for (days)").fill("90")
    browser_page.get_by_role("button", name="Create token").click()
    value = browser_page.get_by_label("The token").input_value()
    assert value.startswith("cc_") and care.tokens.authenticate(value).name == "mailgw"
    check_page(browser_page, "admin-token-created")
    browser_page.get_by_role("link", name="Done").click()
    assert value not in browser_page.content()
    check_page(browser_page, "admin-tokens")
    revoke = browser_page.get_by_role("button", name="Revoke Mail gateway in production", exact=True)
    assert not revoke.is_visible()  # one click does not revoke: the button is behind "Revoke…"
    browser_page.locator('summary[aria-label="Revoke Mail gateway in production…"]').click()
    check_page(browser_page, "admin-token-revoke")
    revoke.click()
    assert browser_page.get_by_role("status").inner_text().startswith("Token Mail gateway in production revoked")
    assert care.tokens.authenticate(value) is None


def test_a_team_is_named_for_the_people_who_read_it(server, browser_page):
    base, care = server
    sign_in(browser_page, base, "ada")
    browser_page.goto(f"{base}/admin/groups")
    browser_page.locator("#groups").get_by_role("link", name="support", exact=True).click()
    sync_api.expect(browser_page.locator("#members")).to_have_text("Sam Support")
    browser_page.get_by_label("Display name").fill("x" * 101)  # the field allows 100: typed past it is cut
    assert browser_page.get_by_label("Display name").input_value() == "x" * 100
    browser_page.get_by_label("Display name").fill("First-line support")
    browser_page.get_by_role("button", name="Save changes").click()
    assert browser_page.get_by_role("status").inner_text() == "Group First-line support saved."
    row = browser_page.locator('#groups tr[data-group="support"]')
    sync_api.expect(row).to_contain_text("First-line support support")
    sync_api.expect(row).to_contain_text("Sam Support")  # members by the names people know them by
    check_page(browser_page, "admin-groups-named")
    assert care.identity.team_names()["support"] == "First-line support"
    care.identity.set_preferences(care.identity.by_name("ada").id, language="de", time_zone=None)
    browser_page.goto(f"{base}/admin/groups/support")
    sync_api.expect(browser_page.get_by_role("button", name="Änderungen speichern")).to_be_visible()
    check_page(browser_page, "admin-group-de")
