"""The "Done when" walks of self-service (#19) in a real browser (Debian's Chromium), as customers and staff walk them.

- A customer's e-mail reaches the real SMTP receiver, becomes a case, and the confirmation goes out
  through the relay to a real SMTP server on loopback; the link in that mail opens the tracking page.
- Without a mail server (``make run``): an admin reads the sign-in link in the development mailbox
  and follows it; *My account*; a new billing address (waits for approval); a support colleague
  approves it on the workspace task page; the customer sees it done on *My account* and the
  tracking page.
- Two orders from the catalog: a small one confirmed at once, a large one approved by sales.

Each page at 390 and 1280 px with axe-core (``tests.browser.check_page``); screenshots in
``test-artifacts/``. The worker's part runs when the test calls ``care.jobs.run_due``.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import process_library
from engine.mail_receiver import MailReceiver
from process_library.csv_import import import_csv
from process_library.outbox_relay import relay_held_mail
from process_library.store import Customer, License
from tests.browser import PASSWORD, check_page, sign_in, sync_api
from tests.conftest import make_engine, source
from tests.live_server import live_server
from tests.smtp_server import SmtpServer, free_port
from tests.test_mail import INTAKE_FILES, engine_on, mail, send

SAMPLE = Path(process_library.__file__).resolve().parent / "sample"
SELF_SERVICE_FILES = (
    "account_change.bpmn",
    "account_change.de.po",
    "account_change.cs.po",
    "product_order.bpmn",
    "product_order.de.po",
    "product_order.cs.po",
    "order_approval.dmn",
)
ACME = "it@acme-logistics.example"  # sample customer C-1001: German, premium, carestation enterprise
BOREALIS = "office@borealis-dental.example"  # sample customer C-1002: English, standard, carestation basic
TRACK_LINK = re.compile(r"(http://127\.0\.0\.1:\d+/track/[A-Za-z0-9_-]+)")


def test_a_mailed_inquiry_is_confirmed_by_mail_and_its_link_opens_the_tracking_page(database_url, browser_page):
    outgoing = SmtpServer().start()  # the customer's mail server: their inbox
    care = engine_on(database_url, outgoing.port)
    receiver = MailReceiver(care.mail.store, "127.0.0.1", free_port())
    receiver.start()
    try:
        care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
        with care.db.write() as session:
            session.add(Customer(id="C-1", name="Ada Lovelace", email="ada@example.com", tier="premium", language="en"))
        with live_server(care) as base:
            care.settings = dataclasses.replace(care.settings, public_url=base)  # the mail's links point here
            care.mail.settings = care.settings
            question = mail(subject="Printer broken", body="It prints nothing since this morning.")
            assert send(receiver, question).startswith("250")
            care.mail.process_due("test")  # the worker turns the stored mail into a case ...
            assert relay_held_mail(care.db, care.settings, care.clock) == 1  # ... and relays the confirmation
            [confirmation] = outgoing.messages
            assert confirmation["To"] == "ada@example.com" and confirmation["In-Reply-To"] == question["Message-ID"]
            body = confirmation.get_content()
            reference = re.search(r"CC-[0-9A-Z]{4}-[0-9A-Z]{4}", confirmation["Subject"])[0]
            assert reference in body
            link = TRACK_LINK.search(body)[1]
            assert link.startswith(base + "/track/")

            page = browser_page
            page.goto(link)
            assert page.locator("#reference").inner_text() == reference
            assert page.locator("h1").inner_text()  # the request's title
            assert page.locator("#status").inner_text() in ("Received", "In progress")
            check_page(page, "walk-mail-confirmation-tracking")
    finally:
        receiver.stop()
        outgoing.stop()
        care.close()


@pytest.fixture
def demo(database_url):
    """A carecenter as ``make run`` has it: no mail server, the sample data, the self-service processes, staff."""
    care = make_engine(database_url)
    assert not care.settings.smtp_host
    care.identity.add_user("ada", "admin", password=PASSWORD, display_name="Ada Admin")
    care.identity.add_group("support")
    care.identity.add_group("sales")
    care.identity.add_user("lea", "staff", ["support"], password=PASSWORD, display_name="Lea Support")
    care.identity.add_user("sam", "staff", ["sales"], password=PASSWORD, display_name="Sam Sales")
    for kind in ("customers", "systems", "licenses", "catalog"):
        import_csv(care.db, kind, (SAMPLE / f"{kind}.csv").read_text(encoding="utf-8"))
    care.repository.deploy([source(name) for name in SELF_SERVICE_FILES], "test", "test")
    with live_server(care) as base:
        care.settings = dataclasses.replace(care.settings, public_url=base)  # mailed links point at this server
        yield base, care
    care.close()


def portal_sign_in_through_the_dev_mailbox(page, base: str, email: str) -> None:
    """Ask for a link as the customer, read it in the development mailbox as an admin, follow it, press Sign in."""
    page.goto(f"{base}/portal?lang=en")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_role("button", name="Send me a link").click()
    assert "If we know this address" in page.get_by_role("status").inner_text()
    sign_in(page, base, "ada")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dev mailbox").click()
    page.wait_for_url(f"{base}/admin/dev-mailbox")
    newest = page.locator("#mails li").first
    assert email in newest.inner_text()
    newest.get_by_role("link", name=re.compile(r"portal.signin.token=")).click()
    page.wait_for_url(re.compile(r".*/portal/signin\?token=.*"))
    page.get_by_role("button").filter(has_text=re.compile("^(Sign in|Anmelden|Přihlásit)")).click()
    page.wait_for_url(re.compile(r".*/portal/account.*"))


def staff_page(page, base: str, user: str):
    """A second browser (its own cookies) with a staff member signed in."""
    context = page.context.browser.new_context(viewport={"width": 1280, "height": 900})
    staff = context.new_page()
    sign_in(staff, base, user)
    return staff


def test_a_billing_address_change_is_approved_by_support_and_the_customer_sees_it_done(demo, browser_page):
    base, care = demo
    page = browser_page
    portal_sign_in_through_the_dev_mailbox(page, base, ACME)
    assert page.locator("h1").inner_text() == "Mein Konto"  # Acme reads German
    page.get_by_role("link", name="EN", exact=True).click()
    page.wait_for_url(re.compile(r".*/portal/account\?lang=en$"))
    assert "No changes waiting." in page.locator("#pending-changes").inner_text()

    page.locator("#change-details").click()
    page.wait_for_url(re.compile(r".*/portal/account/change\?lang=en$"))
    assert page.locator("#email").input_value() == ACME  # prefilled from the store
    assert page.get_by_role("combobox", name="Language").input_value() == "de"
    check_page(page, "walk-change-form")
    page.locator("#email").fill("it at acme-logistics")  # a typo: refused at the field, nothing started
    page.get_by_role("button", name="Send the changes").click()
    assert page.locator("#email-error").inner_text() == "Please enter a valid e-mail address."
    assert page.locator("#email").get_attribute("aria-invalid") == "true"
    check_page(page, "walk-change-refused")
    page.locator("#email").fill(ACME)
    page.get_by_label("Billing address").fill("Acme Logistics GmbH\nBuchhaltung\nPostfach 11 22\n20001 Hamburg")
    page.get_by_label("Contact person").fill("Jana Novak")
    page.get_by_role("button", name="Send the changes").click()
    page.wait_for_url(re.compile(r".*/portal/account/changes/CC-.*"))
    reference = re.search(r"CC-[0-9A-Z]{4}-[0-9A-Z]{4}", page.url)[0]
    answer = page.locator("#change-answer").inner_text()
    assert "Changes at once: Contact person" in answer
    assert "Waits for a colleague's approval: Billing address" in answer
    check_page(page, "walk-change-received")

    care.jobs.run_due("test")  # the worker: checked, the contact person written, the billing address waits
    page.reload()
    assert "Jana Novak" in page.locator("#changed-now").inner_text()
    waiting = page.locator("#changed-after-approval").inner_text()
    assert "Billing address: — → Acme Logistics GmbH, Buchhaltung, Postfach 11 22, 20001 Hamburg" in waiting
    assert "Waiting for approval" in waiting
    check_page(page, "walk-change-waiting")
    page.get_by_role("link", name="Back to My account").click()
    assert "Postfach 11 22" in page.locator("#pending-changes").inner_text()
    assert "Jana Novak" in page.locator("#done-changes").inner_text()
    check_page(page, "walk-account-change-pending")

    staff = staff_page(page, base, "lea")  # a colleague; the customer asked, so anyone of support may decide
    staff.goto(f"{base}/tasks")
    staff.get_by_role("link", name="Approve the account change").click()
    task = staff.locator("main").inner_text()
    assert "Postfach 11 22" in task and reference in task
    check_page(staff, "walk-change-approve")
    staff.get_by_label("Approve: make the change now").check()
    staff.get_by_role("button", name="Complete", exact=True).click()
    staff.wait_for_url(re.compile(r".*/instances/\d+$"))
    staff.context.close()
    care.jobs.run_due("test")  # the worker writes the approved billing address and tells the customer

    page.reload()
    assert "No changes waiting." in page.locator("#pending-changes").inner_text()
    done = page.locator("#done-changes").inner_text()
    assert "Postfach 11 22" in done and "Done" in done and "lea" not in page.content()
    assert "Postfach 11 22" in page.locator("#profile").inner_text()
    check_page(page, "walk-account-change-done")
    page.locator("#done-changes").get_by_role("link", name=reference).first.click()
    page.wait_for_url(re.compile(r".*/track/.*"))
    assert page.locator("#status").inner_text() == "Completed"
    history = page.locator("#history").inner_text()  # the stages it went through
    assert "Waiting for approval:" in history and "Done:" in history
    check_page(page, "walk-change-tracking-done")
    with care.db.read() as session:
        assert session.get(Customer, "C-1001").billing_address.endswith("Postfach 11 22\n20001 Hamburg")


def test_a_small_order_is_confirmed_at_once_and_a_large_one_after_sales_approve(demo, browser_page):
    base, care = demo
    page = browser_page
    portal_sign_in_through_the_dev_mailbox(page, base, BOREALIS)
    assert page.locator("h1").inner_text() == "My account"
    page.locator("#order-online").click()
    page.wait_for_url(re.compile(r".*/portal/order\?lang=en$"))
    assert page.get_by_label(re.compile("^Carestation basic license")).is_disabled()  # held already
    check_page(page, "walk-order-form")
    page.get_by_role("button", name="Place the order").click()  # nothing chosen
    assert page.locator("#item-error").inner_text() == "Choose one of the options."
    check_page(page, "walk-order-refused")

    page.get_by_label(re.compile("^Till basic license")).check()  # 290 EUR: within a standard customer's limit
    page.get_by_role("button", name="Place the order").click()
    page.wait_for_url(re.compile(r".*/portal/orders/CC-.*"))
    assert "checking it now" in page.locator("#order-outcome").inner_text()
    care.jobs.run_due("test")
    page.reload()
    assert page.locator("#order-outcome").inner_text() == "Your order is confirmed."
    assert "till, level basic" in page.locator("#order-license").inner_text()
    check_page(page, "walk-order-confirmed")

    page.get_by_role("link", name="Back to My account").click()
    page.locator("#order-online").click()
    page.get_by_label(re.compile("^Upgrade carestation to enterprise")).check()  # 2400 EUR: sales decide
    page.get_by_role("button", name="Place the order").click()
    page.wait_for_url(re.compile(r".*/portal/orders/CC-.*"))
    reference = re.search(r"CC-[0-9A-Z]{4}-[0-9A-Z]{4}", page.url)[0]
    care.jobs.run_due("test")
    page.reload()
    assert "waits for approval by our sales team" in page.locator("#order-outcome").inner_text()
    check_page(page, "walk-order-waiting")
    page.get_by_role("link", name="Back to My account").click()
    orders = page.locator("#orders li")
    sync_api.expect(orders).to_have_count(2)
    assert "Waiting for approval" in orders.nth(0).inner_text() and "Confirmed" in orders.nth(1).inner_text()
    check_page(page, "walk-account-orders")

    staff = staff_page(page, base, "sam")
    staff.goto(f"{base}/tasks")
    staff.get_by_role("link", name="Approve the order").click()
    assert "2400.00 EUR" in staff.locator("main").inner_text() and reference in staff.locator("main").inner_text()
    staff.get_by_label("Approve: create or upgrade the license now").check()
    staff.get_by_role("button", name="Complete", exact=True).click()
    staff.wait_for_url(re.compile(r".*/instances/\d+$"))
    staff.context.close()
    care.jobs.run_due("test")

    page.reload()
    assert "Confirmed" in page.locator("#orders li").nth(0).inner_text()
    licenses = page.locator("#licenses").inner_text()
    assert "carestation (enterprise)" in licenses and "till (basic)" in licenses
    check_page(page, "walk-account-orders-done")
    with care.db.read() as session:
        assert session.get(License, "L-3002").level == "enterprise"
