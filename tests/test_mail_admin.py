"""The admins' mail page (/admin/mail) through the Flask test client, on SQLite and PostgreSQL.

Failed mail comes first, each mail says what became of it and links its case, Retry processes a failed
mail again (a CSRF-checked POST), and Download gives the raw mail as a file the browser never renders.
"""

from __future__ import annotations

import re

import pytest

from engine.clock import VirtualClock
from engine.config import PROJECT_ROOT, Settings
from engine.core import CareEngine
from process_library.store import Customer
from tests.conftest import source
from tests.test_pages import csrf

PASSWORD = "correct horse battery"
INTAKE_FILES = ("inquiry_intake.bpmn", "escalation.bpmn", "classify_inquiry.dmn", "inquiry_sla.dmn")
GOOD = (
    b"From: Ada Lovelace <ada@example.com>\r\nTo: care@carecenter.example\r\nSubject: Printer broken\r\n"
    b"Message-ID: <good-1@customer.example>\r\n\r\nIt prints nothing.\r\n"
)
NO_SENDER = b"To: care@carecenter.example\r\nSubject: who am I <script>\r\n\r\nno sender at all\r\n"


@pytest.fixture
def care(any_database_url):
    settings = Settings.from_env(database_url=any_database_url, processes_dir=PROJECT_ROOT / "processes")
    engine = CareEngine(settings, clock=VirtualClock())
    engine.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    with engine.db.write() as session:
        session.add(Customer(id="C-1", name="Ada Lovelace", email="ada@example.com", tier="premium", language="en"))
    engine.identity.add_user("ada", "admin", password=PASSWORD)
    engine.identity.add_user("sam", "staff", password=PASSWORD)
    yield engine
    engine.close()


@pytest.fixture
def client(care):
    from api.app import create_app

    return create_app(care).test_client()


def sign_in(client, username: str) -> str:
    token = csrf(client.get("/login").data)
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    return csrf(client.get("/").data)


def stored(care, raw: bytes) -> int:
    return care.mail.store.receive(raw, source="smtp", envelope_from="ada@example.com", recipients=["care@x"]).id


def rows_of(page: str) -> list[str]:
    return re.findall(r'data-mail-id="(\d+)"', page)


def test_admins_see_failed_mail_first_with_its_error_and_the_case_a_mail_became(care, client):
    good = stored(care, GOOD)
    bad = stored(care, NO_SENDER)
    waiting = stored(care, GOOD.replace(b"good-1", b"good-2").replace(b"Printer broken", b"Later"))
    care.mail.process_due("test")  # all three are processed: the good ones become cases, the bad one fails
    later = stored(care, GOOD.replace(b"good-1", b"good-3").replace(b"Printer broken", b"Still waiting"))
    sign_in(client, "ada")
    page = client.get("/admin/mail").get_data(as_text=True)
    assert rows_of(page) == [str(bad), str(later), str(waiting), str(good)]
    assert "who am I &lt;script&gt;" in page and "<script>" not in page
    assert "the mail names no sender address" in page
    reference = care.runtime.get(care.mail.store.get(good)["instance_id"])["reference"]
    case_href = f"/instances/{care.mail.store.get(good)['instance_id']}"
    assert f'<a href="{case_href}">{reference}</a>' in page
    assert "ada@example.com" in page and "Waiting" in page and "Failed" in page and "new case" in page
    assert f'action="/admin/mail/{bad}/retry"' in page and f'action="/admin/mail/{good}/retry"' not in page
    assert f'href="/admin/mail/{good}.eml"' in page
    assert rows_of(client.get("/admin/mail?status=failed").get_data(as_text=True)) == [str(bad)]
    assert rows_of(client.get("/admin/mail?status=received").get_data(as_text=True)) == [str(later)]
    assert rows_of(client.get("/admin/mail?status=nonsense").get_data(as_text=True)) == rows_of(page)
    assert 'aria-current="page"' in page and 'href="/admin/mail"' in page  # the header's "Mail" entry
    german = client.get("/admin/mail", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Fehlgeschlagen" in german and "Fehler oder Hinweis" in german
    assert "<h1>Incoming mail</h1>" in page and "<h1>Eingehende E-Mail</h1>" in german  # what it lists, not all mail


def test_retry_processes_a_failed_mail_again_and_needs_the_form_token(care, client):
    bad = stored(care, NO_SENDER)
    care.mail.process_due("test")
    token = sign_in(client, "ada")
    assert client.post(f"/admin/mail/{bad}/retry").status_code == 400  # no CSRF token: nothing happens
    assert care.mail.store.get(bad)["status"] == "failed"
    answer = client.post(f"/admin/mail/{bad}/retry", data={"csrf_token": token, "back": "/admin/mail?status=failed"})
    assert (answer.status_code, answer.headers["Location"]) == (302, "/admin/mail?status=failed")
    assert care.mail.store.get(bad)["status"] == "received"
    assert "processed again" in client.get("/admin/mail").get_data(as_text=True)
    again = client.post(f"/admin/mail/{bad}/retry", data={"csrf_token": token})  # not failed any more
    assert again.status_code == 302
    assert "only a failed mail" in client.get("/admin/mail").get_data(as_text=True)
    assert client.post("/admin/mail/999999/retry", data={"csrf_token": token}).status_code == 404


def test_download_gives_the_raw_mail_as_an_attachment_never_rendered(care, client):
    bad = stored(care, NO_SENDER)
    sign_in(client, "ada")
    answer = client.get(f"/admin/mail/{bad}.eml")
    assert answer.status_code == 200 and answer.data == NO_SENDER
    assert answer.headers["Content-Type"] == "message/rfc822"
    assert answer.headers["Content-Disposition"] == f'attachment; filename="mail-{bad}.eml"'
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/admin/mail/999999.eml").status_code == 404


def test_the_mail_page_is_for_admins_only(care, client):
    bad = stored(care, NO_SENDER)
    assert client.get("/admin/mail").status_code in (302, 401)  # signed out: to the sign-in page
    sign_in(client, "sam")
    assert client.get("/admin/mail").status_code == 403
    assert client.get(f"/admin/mail/{bad}.eml").status_code == 403
    assert 'href="/admin/mail"' not in client.get("/tasks").get_data(as_text=True)
