"""Portal sessions: a mailed single-use link signs a customer in; the session survives restarts and language switches.

Through the Flask test client on the real database (SQLite, or PostgreSQL with
CARECENTER_TEST_DATABASE_URL); the engine's virtual clock expires links and sessions.
"""

from __future__ import annotations

import dataclasses
import re
import stat
import threading
import time
from datetime import timedelta

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from api.app import create_app
from api.pages import portal
from engine import portal_access, secret_key
from engine.models import PortalLink, PortalSession
from process_library.store import Customer, OutboxMessage

SIGNIN_LINK = re.compile(r"http://127\.0\.0\.1:8000(/portal/signin\?token=[^\s&]+&lang=\w+)")


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def portal_mails(care, recipient: str | None = None) -> list[OutboxMessage]:
    with care.db.read() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [m for m in rows if m.payload.get("purpose") == "portal_link" and recipient in (None, m.recipient)]


def ask_for_link(client, email: str, lang: str = "en", next_path: str | None = None):
    token = csrf(client.get(f"/portal?lang={lang}").text)
    data = {"email": email, "csrf_token": token} | ({"next": next_path} if next_path else {})
    return client.post(f"/portal/link?lang={lang}", data=data)


def mailed_link(care, email: str) -> str:
    """The path (with query) of the newest sign-in link mailed to ``email``."""
    return SIGNIN_LINK.search(portal_mails(care, email)[-1].body)[1]


def use_link(client, path: str):
    """Open a sign-in link and press its button; the answer to the button."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text)[1]
    return client.post("/portal/signin", data={"token": token, "csrf_token": csrf(page.text)})


def sign_in_to_portal(client, care, email: str):
    """The whole sign-in as a customer does it: ask for a link, open the mailed link, press *Sign in*."""
    assert ask_for_link(client, email).status_code == 200
    return use_link(client, mailed_link(care, email))


@pytest.fixture
def customers(care):
    with care.db.write() as session:
        session.add(Customer(id="C-1", name="Alice Example", email="alice@example.com", tier="standard", language="en"))
        session.add(Customer(id="C-2", name="Bruno Beispiel", email="bruno@example.de", tier="premium", language="de"))


def test_a_known_address_gets_a_link_in_its_language_and_an_unknown_one_the_same_answer(care, anonymous, customers):
    started = time.monotonic()
    known = ask_for_link(anonymous, "Bruno@Example.DE")
    known_took = time.monotonic() - started
    started = time.monotonic()
    unknown = ask_for_link(anonymous, "nobody@example.com")
    unknown_took = time.monotonic() - started
    assert known.status_code == unknown.status_code == 200
    strip = lambda page: re.sub(r'name="csrf_token" value="[^"]+"', "", page)  # noqa: E731
    assert strip(known.text) == strip(unknown.text)
    assert "If we know this address, we have sent it a sign-in link" in known.text
    assert min(known_took, unknown_took) >= portal.LINK_REQUEST_SECONDS  # both padded to the same floor
    [mail] = portal_mails(care)
    assert (mail.recipient, mail.status, mail.kind) == ("bruno@example.de", "held", "mail")
    assert mail.subject == "Ihr Anmeldelink" and mail.body.startswith("Hallo Bruno Beispiel,")  # his language on file
    assert "&lang=de" in SIGNIN_LINK.search(mail.body)[1]
    with care.db.read() as session:
        [link] = session.scalars(select(PortalLink)).all()
    assert link.customer_id == "C-2" and link.used_at is None
    assert link.expires_at - link.created_at == portal_access.LINK_LIFETIME
    assert link.nonce_hash not in mail.body  # only the hash is stored, only the nonce is mailed


def test_opening_the_link_uses_nothing_and_the_button_signs_in(care, anonymous, customers):
    ask_for_link(anonymous, "alice@example.com")
    path = mailed_link(care, "alice@example.com")
    for _ in range(2):  # a mail scanner opening the link first changes nothing
        page = anonymous.get(path)
        assert page.status_code == 200 and "Welcome, Alice Example." in page.text
    assert anonymous.get("/portal/account").status_code == 302  # not signed in by opening it
    czech = re.search(r'href="(\?token=[^"]+&amp;lang=cs)"', page.text)[1].replace("&amp;", "&")
    assert "Vítejte, Alice Example." in anonymous.get("/portal/signin" + czech).text  # the switch keeps the token
    token = re.search(r'name="token" value="([^"]+)"', page.text)[1]
    assert anonymous.post("/portal/signin", data={"token": token}).status_code == 400  # no CSRF token: nothing
    signed_in = anonymous.post("/portal/signin", data={"token": token, "csrf_token": csrf(page.text)})
    assert signed_in.status_code == 303 and signed_in.headers["Location"].startswith("/portal/account")
    account = anonymous.get("/portal/account")
    assert account.status_code == 200 and "Alice Example" in account.text and "Sign out" in account.text
    assert anonymous.get("/portal").headers["Location"].startswith("/portal/account")  # signed in: the account


def test_the_language_switch_keeps_the_customer_signed_in(care, anonymous, customers):
    sign_in_to_portal(anonymous, care, "alice@example.com")
    for lang, heading in (("de", "Mein Konto"), ("cs", "Můj účet"), ("en", "My account")):
        page = anonymous.get(f"/portal/account?lang={lang}")
        assert page.status_code == 200 and f"<h1>{heading}</h1>" in page.text
        assert f'<html lang="{lang}">' in page.text
    assert 'href="?lang=de"' in page.text  # the switch stays on the page, the session in the cookie


def test_the_customers_language_on_file_is_the_default(care, anonymous, customers):
    sign_in_to_portal(anonymous, care, "bruno@example.de")
    assert "<h1>Mein Konto</h1>" in anonymous.get("/portal/account", headers={"Accept-Language": "en"}).text


def test_a_used_link_and_an_expired_link_answer_a_clear_page_in_the_customers_language(care, anonymous, customers):
    ask_for_link(anonymous, "bruno@example.de")
    path = mailed_link(care, "bruno@example.de")
    assert use_link(anonymous, path).status_code == 303
    again = anonymous.get(path)
    assert again.status_code == 410 and "wurde bereits benutzt" in again.text  # German: his link says lang=de
    assert 'name="token"' not in again.text and 'action="/portal/link' in again.text  # a new one is one step away
    token = re.search(r"token=([^&]+)", path)[1]
    reused = anonymous.post("/portal/signin", data={"token": token, "csrf_token": csrf(again.text)})
    assert reused.status_code == 410

    other = anonymous.application.test_client()
    ask_for_link(other, "bruno@example.de")
    late = mailed_link(care, "bruno@example.de")
    care.clock.advance(portal_access.LINK_LIFETIME + timedelta(seconds=1))
    expired = other.get(late.replace("&lang=de", ""))  # without ?lang= the page takes his language on file
    assert expired.status_code == 410 and "ist abgelaufen" in expired.text
    late_token = re.search(r"token=([^&]+)", late)[1]
    refused = other.post("/portal/signin", data={"token": late_token, "csrf_token": csrf(expired.text)})
    assert refused.status_code == 410 and other.get("/portal/account").status_code == 302


def test_forged_and_garbage_links_sign_nobody_in(app, care, anonymous, customers):
    ask_for_link(anonymous, "alice@example.com")
    page = anonymous.get(mailed_link(care, "alice@example.com"))
    nonce = URLSafeSerializer(app.config["SECRET_KEY"], salt=portal.SALT).loads(
        re.search(r'name="token" value="([^"]+)"', page.text)[1]
    )["n"]
    forged = URLSafeSerializer("not-the-secret", salt=portal.SALT).dumps({"c": "C-1", "n": nonce})
    guessed = URLSafeSerializer(app.config["SECRET_KEY"], salt=portal.SALT).dumps({"c": "C-1", "n": "guess"})
    for token in (forged, guessed, "garbage", ""):
        shown = anonymous.get("/portal/signin", query_string={"token": token})
        assert shown.status_code == 403 and "not valid" in shown.text and "Alice" not in shown.text
        posted = anonymous.post("/portal/signin", data={"token": token, "csrf_token": csrf(shown.text)})
        assert posted.status_code == 403
    assert anonymous.get("/portal/account").status_code == 302
    assert use_link(anonymous, mailed_link(care, "alice@example.com")).status_code == 303  # the real one still works


def test_two_clicks_racing_on_one_link_open_one_session(care, customers):
    with care.db.write() as session:
        nonce = portal_access.issue_link(session, "C-1", care.clock.now())
    results: list[str] = []

    def click() -> None:
        with care.db.write() as session:
            results.append(portal_access.use_link(session, nonce, care.clock.now()).state)

    clicks = [threading.Thread(target=click) for _ in range(4)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()
    assert sorted(results) == ["used", "used", "used", "valid"]


def test_sign_out_ends_the_session_also_for_a_copied_cookie(app, care, customers):
    browser = app.test_client()
    sign_in_to_portal(browser, care, "alice@example.com")
    copy = app.test_client()
    copy.set_cookie("cc_session", browser.get_cookie("cc_session").value)
    assert copy.get("/portal/account").status_code == 200
    page = browser.get("/portal/account?lang=de")
    assert browser.post("/portal/signout?lang=de", data={}).status_code == 400  # CSRF: stays signed in
    assert browser.get("/portal/account").status_code == 200
    out = browser.post("/portal/signout?lang=de", data={"csrf_token": csrf(page.text)})
    assert out.status_code == 303 and out.headers["Location"] == "/portal?lang=de&signed_out=1"
    assert "Sie sind abgemeldet." in browser.get(out.headers["Location"]).text
    for client in (browser, copy):
        gone = client.get("/portal/account")
        assert gone.status_code == 302 and gone.headers["Location"].startswith("/portal?next=/portal/account")
    with care.db.read() as session:
        [row] = session.scalars(select(PortalSession)).all()
    assert row.ended_at is not None and row.customer_id == "C-1"


def test_the_session_survives_a_restart_and_ends_after_the_session_hours(care, customers):
    care.settings = dataclasses.replace(care.settings, secret_key="k" * 64)
    before = create_app(care).test_client()
    sign_in_to_portal(before, care, "alice@example.com")
    after = create_app(care).test_client()  # a new process with the same (lasting) key
    after.set_cookie("cc_session", before.get_cookie("cc_session").value)
    assert "Alice Example" in after.get("/portal/account").text
    care.clock.advance(timedelta(hours=care.settings.session_max_hours, seconds=1))
    assert after.get("/portal/account").status_code == 302


def test_without_a_configured_key_serve_keeps_one_in_var(tmp_path):
    path = tmp_path / "var" / "secret-key"
    settings = secret_key.with_lasting_key(dataclasses.replace(_settings(), secret_key=""), path)
    assert len(settings.secret_key) == 64 and path.read_text().strip() == settings.secret_key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = secret_key.with_lasting_key(dataclasses.replace(_settings(), secret_key=""), path)
    assert again.secret_key == settings.secret_key  # the next start reads the same key
    configured = secret_key.with_lasting_key(dataclasses.replace(_settings(), secret_key="configured"), path)
    assert configured.secret_key == "configured"


def _settings():
    from engine.config import Settings

    return Settings.from_env()


def test_after_signing_in_the_customer_lands_on_the_page_that_asked(care, anonymous, customers):
    asked = anonymous.get("/portal/account?lang=cs")
    assert asked.status_code == 302
    sign_in_page = anonymous.get(asked.headers["Location"])
    assert 'name="next" value="/portal/account?lang=cs"' in sign_in_page.text
    ask_for_link(anonymous, "alice@example.com", next_path="/portal/account?lang=cs")
    landed = use_link(anonymous, mailed_link(care, "alice@example.com"))
    assert landed.headers["Location"] == "/portal/account?lang=cs"
    for elsewhere in ("https://evil.example/", "//evil.example/portal/", "/admin/users", "/portal/signout"):
        fresh = anonymous.application.test_client()
        care.clock.advance(timedelta(hours=1))  # out of the per-address limit
        ask_for_link(fresh, "alice@example.com", next_path=elsewhere)
        assert use_link(fresh, mailed_link(care, "alice@example.com")).headers["Location"] == "/portal/account"


def test_one_address_gets_a_few_links_an_hour_however_often_someone_asks(care, anonymous, customers):
    for _ in range(portal_access.LINKS_PER_HOUR + 2):
        assert "If we know this address" in ask_for_link(anonymous, "alice@example.com").text
    assert len(portal_mails(care)) == portal_access.LINKS_PER_HOUR
    care.clock.advance(timedelta(hours=1, seconds=1))
    ask_for_link(anonymous, "alice@example.com")
    assert len(portal_mails(care)) == portal_access.LINKS_PER_HOUR + 1


def test_link_requests_and_sign_ins_are_rate_limited_per_client(care, customers):
    care.settings = dataclasses.replace(care.settings, public_rate_limit_per_minute=3)
    client = create_app(care).test_client()
    token = csrf(client.get("/portal").text)
    answers = [client.post("/portal/link", data={"email": "x@example.com", "csrf_token": token}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [client.get("/portal/signin?token=x").status_code for _ in range(4)] == [403, 403, 403, 429]


def test_forms_without_the_csrf_token_change_nothing(care, anonymous, customers):
    assert anonymous.post("/portal/link", data={"email": "alice@example.com"}).status_code == 400
    assert portal_mails(care) == []
    assert anonymous.post("/portal/signout").status_code == 400


def test_the_old_request_list_leads_to_my_account(care, anonymous, customers):
    old = anonymous.get("/portal/requests?token=anything&lang=de")
    assert old.status_code == 301 and old.headers["Location"] == "/portal/account?lang=de"
    assert anonymous.get(old.headers["Location"]).status_code == 302  # and from there to signing in
