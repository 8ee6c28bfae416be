"""The header's search box in a real browser: type, see the results grouped, follow one; at 390 and 1280 px."""

from __future__ import annotations

import pytest

from engine.runtime import StartRequest
from process_library.csv_import import import_csv
from tests.browser import PASSWORD, check_page, sign_in
from tests.conftest import make_engine, source
from tests.live_server import live_server

CUSTOMERS = """id,name,email,phone
C-1001,Ada Lovelace,ada.lovelace@analytical-engines.example,+44 20 7946 0018
C-1002,Adam Ant,adam@example.com,
C-1003,Jiří Dvořák,jiri.dvorak@example.cz,+420 601 234 567
"""


@pytest.fixture
def server(database_url):
    care = make_engine(database_url)
    care.identity.add_group("support")
    care.identity.add_user("sam", "staff", ["support"], password=PASSWORD)
    care.repository.deploy([source("hello_care.bpmn")], "test", "test")
    import_csv(care.db, "customers", CUSTOMERS)
    for subject, customer in (
        ("Router keeps rebooting after the firmware update of last week", "C-1001"),
        ("Invoice address wrong", "C-1001"),
        ("Printer jam", "C-1002"),
    ):
        care.runtime.start(StartRequest("hello_care", {"subject": subject}, customer_id=customer), "test")
    with live_server(care) as base:
        yield base, care
    care.close()


def test_search_from_the_header_box_and_follow_a_result(server, browser_page):
    base, _ = server
    page = browser_page
    sign_in(page, base, "sam")
    page.get_by_label("Search cases, customers and tasks").fill("ada")
    page.get_by_label("Search cases, customers and tasks").press("Enter")
    page.wait_for_url(f"{base}/search?q=ada")
    assert page.locator("h1").inner_text() == "Search for “ada”"
    groups = page.locator("main h2").all_inner_texts()
    assert [group.split()[0] for group in groups] == ["Cases", "Customers"]
    customers = page.get_by_role("region", name="Customers").get_by_role("link").all_inner_texts()
    assert customers == ["Ada Lovelace", "Adam Ant"]
    cases = page.get_by_role("region", name="Cases")
    assert cases.get_by_role("listitem").count() == 3
    assert "Router keeps rebooting" in cases.inner_text() and "Ada Lovelace" in cases.inner_text()
    assert page.get_by_label("Search cases, customers and tasks").input_value() == "ada"
    check_page(page, "search-results")
    first = cases.get_by_role("link").first
    shown = first.inner_text()
    first.click()
    page.wait_for_url(f"{base}/instances/*")
    assert page.locator("#reference").inner_text() in shown  # the case the result named


def test_the_help_and_a_search_that_finds_nothing(server, browser_page):
    base, _ = server
    page = browser_page
    sign_in(page, base, "sam")
    page.goto(f"{base}/search")
    assert "It finds:" in page.locator("main").inner_text()
    check_page(page, "search-help")
    page.get_by_label("Search cases, customers and tasks").fill('<b>zz</b> "quoted"')
    page.get_by_label("Search cases, customers and tasks").press("Enter")
    page.wait_for_load_state()
    assert "Nothing found" in page.locator("main").inner_text()
    assert page.locator("main b").count() == 0  # shown as text, not markup
    check_page(page, "search-nothing")
    page.goto(f"{base}/search?q=answer")
    tasks = page.get_by_role("region", name="Tasks")
    assert tasks.get_by_role("link").count() == 3
    check_page(page, "search-tasks")
