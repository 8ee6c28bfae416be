"""The instance list and a case page in a real browser: filter, sort, open a case, at 390 and 1280 px with axe."""

from __future__ import annotations

import pytest

from engine.runtime import StartRequest
from process_library.store import Customer
from tests.browser import PASSWORD, check_page, sign_in, sync_api
from tests.conftest import make_engine, source
from tests.live_server import live_server


@pytest.fixture
def server(database_url):
    care = make_engine(database_url)
    care.identity.add_group("support", display_name="First-line support")
    care.identity.add_group("billing")
    care.identity.add_user("sam", "staff", ["support"], password=PASSWORD, display_name="Sam Miller")
    care.identity.add_user("ada", "admin", password=PASSWORD, display_name="Ada Admin")
    with care.db.write() as session:
        session.add(Customer(id="C-1", name="Alice Example", email="alice@example.com", tier="standard", language="en"))
        session.add(Customer(id="C-2", name="Bruno Brown", email="bruno@example.com", tier="premium", language="en"))
    care.repository.deploy(
        [source("hello_care.bpmn"), source("camunda_billing.bpmn"), source("invoice_check.json")], "t", "t"
    )
    care.repository.deploy([source("script_failure.bpmn")], "t", "t")
    with live_server(care) as base:
        yield base, care
    care.close()


def start(care, key: str, customer: str | None, **variables) -> dict:
    return care.runtime.start(StartRequest(key, variables, customer_id=customer), "test")[0]


def test_staff_filter_the_list_and_open_a_case(server, browser_page):
    base, care = server
    router = start(care, "hello_care", "C-1", subject="Router")
    printer = start(care, "hello_care", "C-2", subject="Printer")
    care.tasks.claim(printer["tasks"][0]["id"], "sam")
    other_team = start(care, "camunda_billing", None)
    page = browser_page
    sign_in(page, base, "sam")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Instances").click()
    sync_api.expect(page.get_by_role("heading", name="Instances", exact=True)).to_be_visible()
    table = page.locator("table.stack")
    sync_api.expect(table.locator("tbody tr")).to_have_count(2)
    sync_api.expect(table).not_to_contain_text(other_team["reference"])
    check_page(page, "instances-staff")

    page.get_by_label("Waiting for").select_option(label="Sam Miller")
    page.get_by_role("button", name="Filter").click()
    sync_api.expect(table.locator("tbody tr")).to_have_count(1)
    sync_api.expect(table.locator("tbody tr")).to_contain_text("Bruno Brown")
    page.get_by_role("link", name="Clear filters").click()
    page.get_by_label("Customer", exact=True).fill("alice")
    page.get_by_role("button", name="Filter").click()
    row = table.locator("tbody tr")
    sync_api.expect(row).to_have_count(1)
    sync_api.expect(row).to_contain_text("Alice Example")
    sync_api.expect(row).to_contain_text("Answer the inquiry: First-line support")

    row.get_by_role("link", name=router["reference"]).click()
    sync_api.expect(page.locator("#reference")).to_have_text(router["reference"])
    sync_api.expect(page.get_by_role("link", name="Alice Example")).to_have_attribute("href", "/customers/C-1")
    sync_api.expect(page.locator("#timeline")).to_contain_text("Started the case")
    sync_api.expect(page.locator(".diagram svg")).to_be_visible()
    check_page(page, "instance-staff")

    care.identity.set_preferences(care.identity.by_name("sam").id, language="de", time_zone="Europe/Prague")
    page.goto(f"{base}/instances?customer=alice")
    sync_api.expect(page.get_by_role("button", name="Filtern")).to_be_visible()
    sync_api.expect(table).to_contain_text("Answer the inquiry: First-line support")
    sync_api.expect(table).to_contain_text("MEZ")  # the viewer's zone, named in German
    check_page(page, "instances-staff-de")


def test_admins_sort_see_incidents_and_the_tracking_code(server, browser_page):
    base, care = server
    start(care, "hello_care", "C-1", subject="Router")
    start(care, "camunda_billing", "C-2")
    failed = start(care, "script_failure", None, divisor=0)
    page = browser_page
    sign_in(page, base, "ada")
    page.goto(f"{base}/instances")
    page.get_by_role("link", name="Process", exact=True).click()
    first = page.locator("table.stack tbody tr").first
    sync_api.expect(first).to_contain_text("Billing question")
    sync_api.expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Process")
    page.get_by_label("Only cases with an open incident").check()
    page.get_by_role("button", name="Filter").click()
    sync_api.expect(page.locator("table.stack tbody tr")).to_have_count(1)
    sync_api.expect(page.locator("table.stack tbody tr")).to_contain_text("Open incident")
    check_page(page, "instances-admin-incidents")
    page.get_by_role("link", name=failed["reference"]).click()
    sync_api.expect(page.locator("#tracking-code")).to_have_text(failed["tracking_code"])
    sync_api.expect(page.get_by_role("button", name="Retry")).to_be_visible()
    check_page(page, "instance-admin-incident")
