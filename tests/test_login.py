"""Staff sign-in: argon2 passwords, a signed HttpOnly SameSite=Lax cookie, CSRF on every form, lock-out."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import identity
from engine.config import Settings
from engine.core import CareEngine
from engine.models import User


@pytest.fixture
def staff(care):
    care.identity.add_group("support")
    return care.identity.add_user("sam", "staff", ["support"], password="correct horse battery")


def csrf(page: bytes) -> str:
    return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()


def sign_in(client, username="sam", password="correct horse battery", token=None):
    token = token or csrf(client.get("/login").data)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token, "next": "/"})


def test_pages_redirect_to_login_without_a_session(anonymous):
    response = anonymous.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_sign_in_sets_a_safe_cookie_and_shows_the_landing_page(anonymous, staff):
    response = sign_in(anonymous)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "cc_session=" in cookie
    page = anonymous.get("/").get_data(as_text=True)
    assert "Welcome, sam" in page and "support" in page and "staff" in page


def test_cookie_is_secure_over_tls(anonymous, staff):
    token = csrf(anonymous.get("/login", base_url="https://localhost").data)
    response = anonymous.post(
        "/login",
        data={"username": "sam", "password": "correct horse battery", "csrf_token": token},
        base_url="https://localhost",
    )
    assert "Secure" in response.headers["Set-Cookie"]


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(anonymous, staff):
    wrong = sign_in(anonymous, password="wrong password!")
    unknown = sign_in(anonymous, username="nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert b"Wrong user name or password" in wrong.data and b"Wrong user name or password" in unknown.data
    assert anonymous.get("/").status_code == 302


def test_forms_without_the_csrf_token_are_refused(anonymous, staff):
    anonymous.get("/login")
    forged = anonymous.post("/login", data={"username": "sam", "password": "correct horse battery", "csrf_token": "x"})
    assert forged.status_code == 400
    sign_in(anonymous)
    assert anonymous.post("/logout", data={}).status_code == 400
    assert anonymous.get("/").status_code == 200


def test_logout_ends_the_session(anonymous, staff):
    sign_in(anonymous)
    token = csrf(anonymous.get("/").data)
    assert anonymous.post("/logout", data={"csrf_token": token}).status_code == 302
    assert anonymous.get("/").status_code == 302


def test_repeated_failures_lock_the_account(care, anonymous, staff, clock):
    for _ in range(identity.MAX_FAILED_LOGINS):
        assert sign_in(anonymous, password="not the password").status_code == 401
    assert sign_in(anonymous).status_code == 401  # locked, even with the right password
    clock.advance(identity.LOCKOUT + timedelta(seconds=1))
    assert sign_in(anonymous).status_code == 302


def test_disabled_user_cannot_sign_in_and_loses_the_session(care, anonymous, staff):
    sign_in(anonymous)
    care.identity.update_user(staff.id, disabled=True)
    assert anonymous.get("/").status_code == 302
    assert sign_in(anonymous).status_code == 401


def test_next_only_goes_to_this_site(anonymous, staff):
    token = csrf(anonymous.get("/login").data)
    response = anonymous.post(
        "/login",
        data={"username": "sam", "password": "correct horse battery", "csrf_token": token, "next": "//evil.example/"},
    )
    assert response.headers["Location"] == "/"


def test_login_is_rate_limited_per_address(app, anonymous, staff):
    app.config["PUBLIC_RATE_LIMIT_PER_MINUTE"] = 3
    token = csrf(anonymous.get("/login").data)
    statuses = [sign_in(anonymous, password="nope nope nope", token=token).status_code for _ in range(4)]
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3] == 429
    limited = sign_in(anonymous, token=token)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1


def test_passwords_are_hashed_with_rfc_9106_by_default_and_verify_across_settings(database_url, monkeypatch):
    """Production's default is argon2id with RFC 9106's low-memory profile (the suite runs cheaper, conftest.py);
    a hash names its parameters, so a password set under one setting signs in under another."""
    monkeypatch.delenv("CARECENTER_PASSWORD_HASHING")
    production = CareEngine(Settings.from_env(database_url=database_url))
    assert production.settings.password_hashing == "low-memory"
    production.identity.add_user("ada", "staff", password="correct horse battery")
    cheap = CareEngine(Settings.from_env(database_url=database_url, password_hashing="cheapest-for-tests"))
    cheap.identity.add_user("bob", "staff", password="correct horse battery")
    with production.db.read() as session:
        hashes = dict(session.execute(select(User.username, User.password_hash)).all())
    assert hashes["ada"].startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert hashes["bob"].startswith("$argon2id$v=19$m=8,t=1,p=1$")
    for care in (production, cheap):
        for name in ("ada", "bob"):
            assert care.identity.login(name, "correct horse battery").username == name
    production.close()
    cheap.close()


def test_an_unknown_password_hashing_setting_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("CARECENTER_PASSWORD_HASHING", "md5")
    with pytest.raises(ValueError, match="CARECENTER_PASSWORD_HASHING must be one of low-memory, high-memory"):
        Settings.from_env()
