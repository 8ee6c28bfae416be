"""The customer pages in a real browser: a new caller's phone call logged, its reference read out, found again.

At 390 and 1280 px with axe-core: the list, the log-a-contact form for a new caller and the customer page.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from process_library.store import Customer, License, System
from tests.browser import PASSWORD, check_page, sign_in, sync_api
from tests.conftest import make_engine, source
from tests.live_server import live_server

INTAKE_FILES = ("inquiry_intake.bpmn", "escalation.bpmn", "classify_inquiry.dmn", "inquiry_sla.dmn")


@pytest.fixture
def server(database_url):
    care = make_engine(database_url)
    care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    care.identity.add_group("support")
    care.identity.add_user("sam", "staff", ["support"], password=PASSWORD)
    now = care.clock.now()
    with care.db.write() as session:
        session.add(
            Customer(
                id="C-1001",
                name="Acme Logistics GmbH",
                email="it@acme-logistics.example",
                tier="premium",
                language="de",
                phone="+49 40 1234 5678",
            )
        )
        session.add(
            Customer(
                id="C-1002", name="Borealis Dental", email="office@borealis.example", tier="standard", language="en"
            )
        )
        session.flush()
        session.add(
            System(id="S-1", customer_id="C-1001", product="carestation", version="4.1", hostname="cs1.acme.example")
        )
        session.add(
            License(
                id="L-1",
                customer_id="C-1001",
                product="carestation",
                level="pro",
                valid_until=now + timedelta(days=200),
                status="active",
            )
        )
        session.add(
            License(
                id="L-2",
                customer_id="C-1001",
                product="till",
                level="basic",
                valid_until=now - timedelta(days=2),
                status="expired",
            )
        )
    with live_server(care) as base:
        yield base, care
    care.close()


def test_a_new_callers_phone_call_is_logged_read_out_and_found_again(server, browser_page):
    base, care = server
    page = browser_page
    sign_in(page, base, "sam")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers").click()
    page.wait_for_url(f"{base}/customers")
    assert page.locator("table.customer-table tbody tr").count() == 2
    check_page(page, "customers-list")

    page.get_by_label("Name, e-mail address or customer number begins with").fill("Nordlicht")
    page.get_by_role("button", name="Find").click()
    sync_api.expect(
        page.get_by_text("No customer’s name, e-mail address or number begins with “Nordlicht”.")
    ).to_be_visible()
    page.get_by_role("link", name="Log a contact for a new caller").click()
    assert page.get_by_label("Name").input_value() == "Nordlicht"
    page.get_by_label("Name").fill("Nordlicht Pflege")
    page.get_by_label("E-mail address").fill("kontakt@nordlicht.example")
    page.get_by_label("Phone (optional)").fill("+49 30 555 0101")
    page.get_by_label("Phone", exact=True).check()  # the channel
    page.get_by_label("Subject", exact=True).fill("Printer jams")
    page.get_by_label("What they said").fill("The label printer at the front desk jams\nsince this morning.")
    check_page(page, "customers-new-caller")
    page.get_by_role("button", name="File the customer and log the contact").click()

    page.wait_for_url(re.compile(r".*/customers/C-[0-9A-Z]{8}\?.*"))
    reference = page.locator("#logged-reference").inner_text()
    assert re.fullmatch(r"CC-[0-9A-Z]{4}-[0-9A-Z]{4}", reference)
    started_heading = page.get_by_role("heading", name="New inquiry started. Read out the case reference:")
    sync_api.expect(started_heading).to_be_visible()
    assert page.locator("h1").inner_text() == "Nordlicht Pflege"
    confirmation, contact = page.locator("li.contact").nth(0), page.locator("li.contact").nth(1)
    assert "E-mail, to the customer" in confirmation.inner_text() and reference in confirmation.inner_text()
    assert "recorded by sam" not in confirmation.inner_text()  # sent by the process, not by the one who took the call
    assert "Phone" in contact.inner_text() and "recorded by sam" in contact.inner_text()
    assert "since this morning." in contact.inner_text()
    check_page(page, "customers-customer-logged")

    care.jobs.run_due("test")  # the worker looks the customer up; the inquiry reaches the support team
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers").click()
    page.get_by_label("Name, e-mail address or customer number begins with").fill("nordlicht")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name="Nordlicht Pflege").click()
    sync_api.expect(page.get_by_role("heading", name="Nordlicht Pflege", level=1)).to_be_visible()
    assert page.locator("#logged-reference").count() == 0
    requests = page.locator("section", has=page.get_by_role("heading", name="Requests"))
    assert "Answer the inquiry" in requests.inner_text()
    check_page(page, "customers-customer")
    requests.get_by_role("link", name=reference).click()
    page.wait_for_url(re.compile(r".*/instances/\d+$"))
    assert reference in page.locator("main").inner_text()


def test_a_known_customers_page_and_a_contact_on_an_open_request(server, browser_page):
    base, care = server
    started = care.intake.submit(
        channel="email",
        customer={"id": "C-1001"},
        subject="Printer jams",
        body="Since Monday.",
        reference=None,
        principal="mailer",
    )
    care.jobs.run_due("test")
    page = browser_page
    sign_in(page, base, "sam")
    page.goto(f"{base}/customers?q=c-1001")
    page.get_by_role("link", name="Acme Logistics GmbH").click()
    licenses = page.locator("tr.expired")
    sync_api.expect(licenses).to_have_count(1)
    assert "till" in licenses.inner_text() and "expired" in licenses.inner_text()
    page.get_by_label("Letter").check()
    page.get_by_label("Subject", exact=True).fill("Still jams")
    page.get_by_label("What they said").fill("Wrote to say it still jams.")
    page.get_by_label("About").select_option(str(started.instance_id))
    page.get_by_role("button", name="Log the contact").click()
    assert page.locator("#logged-reference").inner_text() == started.reference
    sync_api.expect(page.get_by_role("heading", name="Added to the request. Its case reference:")).to_be_visible()
    page.get_by_label("New note").fill("Prefers letters; call only after 2 pm.")
    page.get_by_role("button", name="Add the note").click()
    assert page.get_by_role("status").first.inner_text() == "Note added."
    check_page(page, "customers-customer-known")
