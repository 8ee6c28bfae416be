"""The development mailbox: without SMTP, admins read held mails with clickable links; with SMTP it does not exist.

Through the Flask test client on the real database; signing in to the portal from a link read
there is the whole point (the browser walk is tests/test_browser_portal.py).
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from api.app import create_app
from process_library.store import Customer, OutboxMessage
from tests.test_admin_pages import PASSWORD, sign_in
from tests.test_portal_session import ask_for_link, csrf

MAILBOX = "/admin/dev-mailbox"


@pytest.fixture
def people(care):
    care.identity.add_group("support")
    care.identity.add_user("ada", "admin", password=PASSWORD)
    care.identity.add_user("sam", "staff", ["support"], password=PASSWORD)
    care.identity.add_user("dana", "designer", password=PASSWORD)
    with care.db.write() as session:
        session.add(Customer(id="C-1", name="Alice Example", email="alice@example.com", tier="standard", language="en"))


def test_admins_read_held_mails_and_sign_in_to_the_portal_from_one(app, care, people):
    site = app.test_client()
    ask_for_link(site, "alice@example.com")
    sign_in(site, "ada")
    page = site.get(MAILBOX)
    assert page.status_code == 200
    assert 'id="dev-banner"' in page.text and "No mail server is configured" in page.text
    assert "Your sign-in link" in page.text and "alice@example.com" in page.text
    [href] = re.findall(r'<a href="(http://127\.0\.0\.1:8000/portal/signin\?token=[^"]+)">', page.text)
    assert f">{href}</a>" in page.text  # the link as text, clickable
    assert f'href="{MAILBOX}" aria-current="page"' in page.text  # in the admin's menu
    path = href.removeprefix("http://127.0.0.1:8000").replace("&amp;", "&")
    shown = site.get(path)
    token = re.search(r'name="token" value="([^"]+)"', shown.text)[1]
    signed_in = site.post("/portal/signin", data={"token": token, "csrf_token": csrf(shown.text)})
    assert signed_in.status_code == 303 and "Alice Example" in site.get("/portal/account").text
    assert site.get("/").status_code == 200  # and still the admin on the staff pages


def test_mail_text_is_shown_as_text_never_as_html(app, care, people):
    with care.db.write() as session:
        session.add(
            OutboxMessage(
                idempotency_key="x-1",
                kind="mail",
                recipient="eve@example.com",
                subject="<script>alert(1)</script>",
                body='Look: <img src=x onerror=alert(1)> https://example.com/a?b=1&c="2" and javascript:alert(1).',
                payload={},
                status="held",
                attempts=0,
                created_at=care.clock.now(),
            )
        )
    site = app.test_client()
    sign_in(site, "ada")
    page = site.get(MAILBOX).text
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert '<a href="https://example.com/a?b=1&amp;c=">' in page  # the quote ends the link
    assert 'href="javascript' not in page


def test_sent_mails_and_dispatches_are_not_listed_and_many_mails_page(app, care, people):
    now = care.clock.now()
    with care.db.write() as session:
        for number in range(25):
            session.add(
                OutboxMessage(
                    idempotency_key=f"held-{number}",
                    kind="mail",
                    recipient="alice@example.com",
                    subject=f"Held number {number:02}",
                    body="…",
                    payload={},
                    status="held",
                    attempts=0,
                    created_at=now,
                )
            )
        session.add(
            OutboxMessage(
                idempotency_key="sent",
                kind="mail",
                recipient="a@example.com",
                subject="Sent already",
                body="",
                payload={},
                status="sent",
                attempts=1,
                created_at=now,
            )
        )
        session.add(
            OutboxMessage(
                idempotency_key="dispatch",
                kind="dispatch",
                recipient="S-1",
                subject="Update",
                body="",
                payload={},
                status="held",
                attempts=0,
                created_at=now,
            )
        )
    site = app.test_client()
    sign_in(site, "ada")
    first = site.get(MAILBOX).text
    assert "Held number 24" in first and "Held number 05" in first and "Held number 04" not in first
    assert "Sent already" not in first and ">Update<" not in first
    next_url = re.search(r'href="(/admin/dev-mailbox\?before=\d+)"', first)[1]
    second = site.get(next_url).text
    assert "Held number 04" in second and "Held number 00" in second and "Held number 05" not in second
    assert "Held number 24" in site.get(f"{MAILBOX}?before=garbage").text  # a bad cursor: the first page


def test_only_admins_open_it(app, people):
    site = app.test_client()
    answer = site.get(MAILBOX)
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")
    for username in ("sam", "dana"):
        sign_in(site, username)
        denied = site.get(MAILBOX)
        assert denied.status_code == 403 and "alice@example.com" not in denied.text
        assert MAILBOX not in site.get("/").text  # nor in their menu
        site.post("/logout", data={"csrf_token": csrf(site.get("/").text)})


def test_with_smtp_configured_it_does_not_exist(care, people):
    care.settings = dataclasses.replace(care.settings, smtp_host="127.0.0.1", smtp_port=2525)
    site = create_app(care).test_client()
    sign_in(site, "ada")
    assert site.get(MAILBOX).status_code == 404
    assert MAILBOX not in site.get("/").text and "Dev mailbox" not in site.get("/").text
