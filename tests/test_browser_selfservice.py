"""Staff approve self-service requests in a real browser: an account change and an order, before and after shown.

At 390 and 1280 px with axe-core: the approval task of an e-mail change (its requester is turned
away with a message, a colleague approves), the customer page with the account history, and the
sales approval of an order.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from process_library.self_service import place_order, request_account_change
from process_library.store import CatalogItem, Customer, License
from tests.browser import PASSWORD, check_page, sign_in
from tests.conftest import make_engine, source
from tests.live_server import live_server

FILES = (
    "account_change.bpmn",
    "account_change.de.po",
    "account_change.cs.po",
    "product_order.bpmn",
    "product_order.de.po",
    "product_order.cs.po",
    "order_approval.dmn",
)


@pytest.fixture
def server(database_url):
    care = make_engine(database_url)
    care.repository.deploy([source(name) for name in FILES], "test", "test")
    care.identity.add_group("support")
    care.identity.add_group("sales")
    care.identity.add_user("ana", "staff", ["support"], password=PASSWORD)
    care.identity.add_user("lea", "staff", ["support"], password=PASSWORD)
    care.identity.add_user("sam", "staff", ["sales"], password=PASSWORD)
    now = care.clock.now()
    with care.db.write() as session:
        session.add(
            Customer(
                id="C-1001",
                name="Acme Logistics GmbH",
                email="it@acme-logistics.example",
                tier="standard",
                language="de",
                billing_address="Acme Logistics GmbH\nBuchhaltung\nHafenstr. 1\n20095 Hamburg",
                authorized_contacts=[{"name": "Jana Novak", "email": "jana@acme-logistics.example"}],
            )
        )
        session.flush()
        session.add(
            License(
                id="L-1",
                customer_id="C-1001",
                product="carestation",
                level="basic",
                valid_until=now + timedelta(days=200),
                status="active",
            )
        )
        session.add(
            CatalogItem(
                id="U-CS-ENTERPRISE",
                name="Upgrade carestation to enterprise",
                kind="upgrade",
                product="carestation",
                level="enterprise",
                price=Decimal("2400.00"),
                currency="EUR",
                term_months=0,
            )
        )
    with live_server(care) as base:
        yield base, care
    care.close()


def test_an_email_change_is_approved_by_a_colleague_and_shows_in_the_history(server, browser_page):
    base, care = server
    started = request_account_change(
        care,
        "C-1001",
        {
            "email": "service@acme-logistics.example",
            "billing_address": "Acme Logistics GmbH\nPostfach 11 22\n20001 Hamburg",
            "phone": "+49 40 9999 0000",
        },
        "phone",
        requested_by="ana",
    )
    care.jobs.run_due("test")
    page = browser_page

    sign_in(page, base, "ana")
    page.goto(f"{base}/tasks")
    page.get_by_role("link", name="Approve the account change").click()
    assert "it@acme-logistics.example → service@acme-logistics.example" in page.locator("main").inner_text()
    page.get_by_label("Approve: make the change now").check()
    page.get_by_role("button", name="Complete", exact=True).click()
    assert "not for ana" in page.locator("main").inner_text()  # ana typed the request in: someone else decides
    page.context.clear_cookies()

    sign_in(page, base, "lea")
    page.goto(f"{base}/tasks")
    page.get_by_role("link", name="Approve the account change").click()
    main = page.locator("main").inner_text()
    assert "E-mail address: now → requested" in main and "Requested by" in main
    assert "Hafenstr. 1, 20095 Hamburg → Acme Logistics GmbH, Postfach 11 22, 20001 Hamburg" in main
    check_page(page, "selfservice-approve-account-change")
    page.get_by_label("Approve: make the change now").check()
    page.get_by_role("button", name="Complete", exact=True).click()
    page.wait_for_url(f"{base}/instances/{started.instance_id}")
    care.jobs.run_due("test")

    page.goto(f"{base}/customers/C-1001")
    history = page.locator("#account-history")
    assert history.locator("tbody tr").count() == 3
    assert "approved by lea" in history.inner_text() and "service@acme-logistics.example" in history.inner_text()
    profile = page.locator("section", has=page.get_by_role("heading", name="Who they are")).inner_text()
    assert "Postfach 11 22" in profile and "Jana Novak" in profile
    check_page(page, "selfservice-customer-history")


def test_sales_approve_an_order_that_shows_the_license_before_and_after(server, browser_page):
    base, care = server
    place_order(care, "C-1001", "U-CS-ENTERPRISE", 1)
    care.jobs.run_due("test")
    page = browser_page
    sign_in(page, base, "sam")
    page.goto(f"{base}/tasks")
    page.get_by_role("link", name="Approve the order").click()
    main = page.locator("main").inner_text()
    assert "2400.00 EUR" in main and "carestation basic" in main and "→ carestation enterprise" in main
    check_page(page, "selfservice-approve-order")
    page.get_by_label("Approve: create or upgrade the license now").check()
    page.get_by_role("button", name="Complete", exact=True).click()
    care.jobs.run_due("test")
    with care.db.read() as session:
        assert session.get(License, "L-1").level == "enterprise"
