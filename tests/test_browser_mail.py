"""The admins' mail page in a real browser: failed mail retried, a mail downloaded; 390 and 1280 px with axe-core."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from process_library.store import Customer
from tests.browser import PASSWORD, check_page, sign_in, sync_api
from tests.conftest import make_engine, source
from tests.live_server import live_server

INTAKE_FILES = ("inquiry_intake.bpmn", "escalation.bpmn", "classify_inquiry.dmn", "inquiry_sla.dmn")


def raw(sender: str, subject: str, number: int) -> bytes:
    return (
        f"{sender}To: care@carecenter.example\r\nSubject: {subject}\r\n"
        f"Message-ID: <browser-{number}@customer.example>\r\n\r\nHello.\r\n"
    ).encode()


@pytest.fixture
def server(database_url):
    care = make_engine(database_url)
    care.identity.add_user("ada", "admin", password=PASSWORD, display_name="Ada Admin")
    care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    with care.db.write() as session:
        session.add(Customer(id="C-1", name="Ada Lovelace", email="ada@example.com", tier="premium", language="en"))
    try:
        for number, (sender, subject) in enumerate(
            [
                ("From: Ada Lovelace <ada@example.com>\r\n", "Printer broken since the update of Tuesday morning"),
                ("", "A mail without any sender"),
                ("From: Bert <bert.with.a.rather.long.address@customers-of-the-care-center.example>\r\n", "Invoice"),
            ]
        ):
            care.mail.store.receive(
                raw(sender, subject, number), source="smtp", envelope_from="x@example.com", recipients=["care@x"]
            )
        care.mail.process_due("test")
        with live_server(care) as base:
            yield base, care
    finally:
        care.close()


def test_failed_mail_is_listed_first_retried_and_downloaded(server, browser_page):
    base, care = server
    sign_in(browser_page, base, "ada")
    browser_page.get_by_role("link", name="Mail", exact=True).first.click()
    rows = browser_page.locator("#mails tbody tr")
    sync_api.expect(rows).to_have_count(3)
    assert "A mail without any sender" in rows.first.inner_text() and "no sender" in rows.first.inner_text()
    assert rows.nth(1).get_by_role("link", name="CC-").count() == 1  # the case the mail became
    check_page(browser_page, "admin-mail")
    with browser_page.expect_download() as download:
        rows.nth(1).get_by_role("link", name="Download").click()
    assert download.value.suggested_filename.endswith(".eml")
    rows.first.get_by_role("button", name="Retry").click()
    assert "processed again" in browser_page.get_by_role("status").inner_text()
    browser_page.get_by_label("Status").select_option("received")
    browser_page.get_by_role("button", name="Show").click()
    browser_page.wait_for_url(f"{base}/admin/mail?status=received")
    sync_api.expect(browser_page.locator("#mails tbody tr")).to_have_count(1)
    browser_page.set_viewport_size({"width": 1280, "height": 900})
    browser_page.goto(f"{base}/admin/mail")
    check_page(browser_page, "admin-mail-after-retry")


def test_the_files_a_customer_sent_are_listed_for_download(server, browser_page):
    base, care = server
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "Ada Lovelace <ada@example.com>", "care@x", "Scans"
    message["Message-ID"] = "<browser-files@customer.example>"
    message.set_content("The scans of the broken printer.")
    message.add_attachment(b"%PDF-1.4\n%%EOF\n", maintype="application", subtype="pdf", filename="scan 1.pdf")
    message.add_attachment(b"\x89PNG\r\n\x1a\n" + bytes(5000), maintype="image", subtype="png",
                           filename="photo-of-the-printer-display-with-the-error-message.png")  # fmt: skip
    care.mail.store.receive(message.as_bytes(), source="smtp", envelope_from="ada@example.com", recipients=["c@x"])
    care.mail.process_due("test")
    [row] = [m for m in care.mail.store.list().items if m["subject"] == "Scans"]
    sign_in(browser_page, base, "ada")
    browser_page.goto(f"{base}/instances/{row['instance_id']}/attachments")
    files = browser_page.locator(".attachments-table tbody tr")
    assert files.count() == 2 and "application/pdf" in files.first.inner_text()
    with browser_page.expect_download() as download:
        files.first.get_by_role("link", name="scan 1.pdf").click()
    assert download.value.suggested_filename == "scan 1.pdf"
    check_page(browser_page, "staff-case-attachments")


def test_a_mailed_inquiry_answered_on_the_task_page_reaches_the_customers_inbox_threaded(database_url, browser_page):
    from engine.mail_receiver import MailReceiver
    from engine.tasks import TaskFilter
    from tests.smtp_server import SmtpServer, free_port
    from tests.test_mail import engine_on, mail, send

    outgoing = SmtpServer().start()  # the customer's mail server: their inbox
    care = engine_on(database_url, outgoing.port)
    receiver = MailReceiver(care.mail.store, "127.0.0.1", free_port())
    receiver.start()
    try:
        care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
        with care.db.write() as session:
            session.add(Customer(id="C-1", name="Ada Lovelace", email="ada@example.com", tier="premium", language="en"))
        question = mail(subject="Printer broken", body="It prints nothing since this morning.")
        send(receiver, question)
        care.mail.process_due("test")
        [row] = care.mail.store.list().items
        care.jobs.run_due("test")  # the customer is looked up; the answer task waits for its team
        [task] = care.tasks.list(TaskFilter(instance_id=row["instance_id"]), 10, None).items
        care.identity.add_group(task["candidate_groups"][0])
        care.identity.add_user("sam", "staff", [task["candidate_groups"][0]], password=PASSWORD)
        with live_server(care) as base:
            sign_in(browser_page, base, "sam")
            browser_page.goto(f"{base}/tasks")
            browser_page.locator(f"tr[data-task-id='{task['id']}']").get_by_role("button", name="Claim").click()
            browser_page.get_by_role("textbox", name="Answer to the customer").fill("Switch it off and on again.")
            check_page(browser_page, "staff-task-answer-mailed-inquiry")
            browser_page.get_by_role("button", name="Complete", exact=True).click()
            browser_page.wait_for_url(f"{base}/instances/{row['instance_id']}")
        care.jobs.run_due("test")  # the worker sends the answer
        [answer] = outgoing.messages
        reference = care.runtime.get(row["instance_id"])["reference"]
        assert answer["To"] == "ada@example.com" and f"[{reference}]" in answer["Subject"]
        assert answer["In-Reply-To"] == question["Message-ID"] and question["Message-ID"] in answer["References"]
        assert "Switch it off and on again." in answer.get_content() and answer["Auto-Submitted"] is None
    finally:
        receiver.stop()
        outgoing.stop()
        care.close()


def test_reply_by_e_mail_from_the_task_page_reaches_the_customers_inbox_threaded(database_url, browser_page):
    from engine.mail_receiver import MailReceiver
    from engine.tasks import TaskFilter
    from tests.smtp_server import SmtpServer, free_port
    from tests.test_mail import engine_on, mail, send

    outgoing = SmtpServer().start()
    care = engine_on(database_url, outgoing.port)
    receiver = MailReceiver(care.mail.store, "127.0.0.1", free_port())
    receiver.start()
    try:
        care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
        with care.db.write() as session:
            session.add(Customer(id="C-1", name="Ada Lovelace", email="ada@example.com", tier="premium", language="en"))
        question = mail(subject="Printer broken", body="It prints nothing since this morning.")
        send(receiver, question)
        care.mail.process_due("test")
        [row] = care.mail.store.list().items
        care.jobs.run_due("test")
        [task] = care.tasks.list(TaskFilter(instance_id=row["instance_id"]), 10, None).items
        care.identity.add_group(task["candidate_groups"][0])
        care.identity.add_user("sam", "staff", [task["candidate_groups"][0]], password=PASSWORD, display_name="Sam")
        with live_server(care) as base:
            sign_in(browser_page, base, "sam")
            browser_page.goto(f"{base}/tasks/{task['id']}")
            assert browser_page.get_by_label("Subject of the e-mail").input_value() == "Re: Printer broken"
            browser_page.get_by_label("Your e-mail").fill("Which model is it? We look into it today.")
            check_page(browser_page, "staff-task-reply-by-mail")
            browser_page.get_by_role("button", name="Send e-mail").click()
            browser_page.wait_for_url(f"{base}/tasks/{task['id']}#conversation-title")
            assert "on its way" in browser_page.locator(".flash").inner_text()
            conversation = browser_page.locator("section[aria-labelledby='conversation-title']").inner_text()
            assert "Which model is it?" in conversation and "Sam" in conversation
            check_page(browser_page, "staff-task-reply-sent")
            care.jobs.run_due("test")
            from process_library.outbox_relay import relay_held_mail

            relay_held_mail(care.db, care.settings, care.clock)
        [answer] = [m for m in outgoing.messages if "Which model" in m.get_content()]
        reference = care.runtime.get(row["instance_id"])["reference"]
        assert answer["To"] == "ada@example.com" and answer["Subject"] == f"Re: Printer broken [{reference}]"
        assert answer["In-Reply-To"] == question["Message-ID"] and question["Message-ID"] in answer["References"]
    finally:
        receiver.stop()
        outgoing.stop()
        care.close()
