"""The portal in a real browser, as someone trying ``make run`` walks it: no SMTP server, so the sign-in link is read
in the development mailbox as an admin; then *My account*, a request's status with its whitelisted fields, the
language switch (still signed in) and signing out. Screenshots at 390 and 1280 px, axe-core on every page.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import process_library
from engine.runtime import StartRequest
from engine.tasks import TaskFilter
from process_library.csv_import import import_csv
from tests.browser import PASSWORD, check_page, sign_in
from tests.conftest import make_engine, source
from tests.live_server import live_server

SAMPLE = Path(process_library.__file__).resolve().parent / "sample"
ACME = "it@acme-logistics.example"  # sample customer C-1001, language German


@pytest.fixture
def server(database_url):
    care = make_engine(database_url)
    care.identity.add_user("ada", "admin", password=PASSWORD, display_name="Ada Admin")
    for kind in ("customers", "systems", "licenses"):
        import_csv(care.db, kind, (SAMPLE / f"{kind}.csv").read_text(encoding="utf-8"))
    care.repository.deploy([source("customer_tracking.bpmn"), source("confirm_address.json")], "test", "test")
    variables = {"customer_name": "Acme Logistics", "product": "carestation 4.2", "divisor": 1}
    running, _ = care.runtime.start(StartRequest("customer_tracking", variables, None, "C-1001"), "portal")
    [task] = care.tasks.list(TaskFilter(instance_id=running["id"]), 10, None).items
    care.tasks.complete(task["id"], {}, "sam")  # now waiting for the customer
    closed, _ = care.runtime.start(StartRequest("customer_tracking", variables, None, "C-1001"), "portal")
    care.runtime.cancel(closed["id"], "sam")
    with live_server(care) as base:
        care.settings = dataclasses.replace(care.settings, public_url=base)  # mailed links point at this server
        yield base, care, running
    care.close()


def test_sign_in_through_the_dev_mailbox_then_my_account_and_the_language_switch(server, browser_page):
    base, care, running = server
    page = browser_page
    page.goto(f"{base}/portal?lang=en")
    check_page(page, "portal-ask")
    page.get_by_label("E-mail address").fill(ACME)
    page.get_by_role("button", name="Send me a link").click()
    assert "If we know this address" in page.get_by_role("status").inner_text()

    sign_in(page, base, "ada")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dev mailbox").click()
    page.wait_for_url(f"{base}/admin/dev-mailbox")
    assert "No mail server is configured" in page.locator("#dev-banner").inner_text()
    mail = page.locator("#mails li").first
    assert "Ihr Anmeldelink" in mail.inner_text() and ACME in mail.inner_text()  # Acme's language is German
    check_page(page, "dev-mailbox")
    mail.get_by_role("link", name=re.compile(r"portal.signin.token=")).click()

    page.wait_for_url(re.compile(r".*/portal/signin\?token=.*&lang=de$"))
    assert "Willkommen, Acme Logistics GmbH." in page.content()
    check_page(page, "portal-signin")
    page.get_by_role("link", name="CS", exact=True).click()  # the language switch keeps the link's token
    assert "Vítejte, Acme Logistics GmbH." in page.content()
    page.get_by_role("link", name="DE", exact=True).click()
    page.get_by_role("button", name="Anmelden").click()

    page.wait_for_url(re.compile(r".*/portal/account.*"))
    assert page.locator("h1").inner_text() == "Mein Konto"
    assert "Acme Logistics GmbH" in page.locator("#profile").inner_text()
    assert page.locator("#systems li").count() == 2 and page.locator("#licenses li").count() == 1
    open_requests = page.locator("#open-requests").inner_text()
    assert running["reference"] in open_requests and "Ihre Angaben" in open_requests  # the stage, in German
    assert page.locator("#closed-requests li").count() == 1
    check_page(page, "portal-account-de")

    page.get_by_role("link", name="EN", exact=True).click()
    page.wait_for_url(re.compile(r".*/portal/account\?lang=en$"))
    assert page.locator("h1").inner_text() == "My account"  # still signed in
    assert "Your details" in page.content() and "Acme Logistics GmbH" in page.locator("#profile").inner_text()
    check_page(page, "portal-account-en")

    page.locator("#open-requests").get_by_role("link").first.click()
    page.wait_for_url(re.compile(rf".*/track/{running['tracking_code']}.*"))
    fields = page.locator("#fields").inner_text()
    assert "Customer name" in fields and "Acme Logistics" in fields and "carestation 4.2" in fields
    assert "divisor" not in page.content().lower()
    check_page(page, "portal-status-fields")
    page.get_by_role("link", name="My account").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/portal\?lang=en&signed_out=1$"))
    assert page.locator("#signed-out").inner_text() == "You are signed out."
    page.goto(f"{base}/portal/account")
    assert "/portal?next=" in page.url  # signed out for good
