"""What an attacker tried against a running server, each against a real waitress server on 127.0.0.1.

Poisoned links (a forged Host), sessions that outlive logout, missing security headers, forwarded
headers from anyone, open redirects, HEAD past the rate limit.  Raw ``http.client`` requests, so
the Host and X-Forwarded-* headers are exactly what an attacker sends.
"""

from __future__ import annotations

import http.client
import json
import re
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from api.commands import main as cli
from engine.config import PROJECT_ROOT, Settings
from engine.core import CareEngine
from engine.public_url import PublicUrl
from engine.runtime import StartRequest
from engine.tasks import TaskFilter
from process_library.store import Customer, OutboxMessage
from tests.conftest import source
from tests.live_server import live_server

PASSWORD = "correct horse battery"
PUBLIC = "https://care.example.com"


class Site:
    """A running carecenter and a tiny browser: cookies by name, raw headers as sent."""

    def __init__(self, care: CareEngine, port: int) -> None:
        self.care = care
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        sent = {"Host": "care.example.com", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urlencode(body)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        response.text = response.read().decode()
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        connection.close()
        return response

    def csrf(self, path: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', self.request("GET", path).text)[1]

    def sign_in(self, username: str = "sam") -> None:
        body = {"username": username, "password": PASSWORD, "csrf_token": self.csrf("/login"), "next": "/"}
        assert self.request("POST", "/login", body).status == 302


@contextmanager
def running(database_url: str, clock=None, **settings):
    care = CareEngine(
        Settings.from_env(database_url=database_url, processes_dir=PROJECT_ROOT / "processes", **settings), clock
    )
    if not care.identity.users():  # a second server on the same database finds them there
        care.identity.add_group("support")
        care.identity.add_user("sam", "staff", ["support"], password=PASSWORD)
    try:
        with live_server(care) as base:
            yield Site(care, int(base.rsplit(":", 1)[1]))
    finally:
        care.close()


@pytest.fixture
def site(database_url):
    with running(database_url, public_url=PUBLIC, allowed_hosts=("internal.example",)) as running_site:
        yield running_site


def _outbox(care) -> list[OutboxMessage]:
    with care.db.read() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


# -- poisoned links ----------------------------------------------------------------------------


def test_a_forged_host_is_refused_and_mails_nothing(site):
    with site.care.db.write() as session:
        session.add(Customer(id="C-1", name="Vic Tim", email="victim@example.com", tier="gold", language="en"))
    token = site.csrf("/portal")
    forged = site.request(
        "POST", "/portal/link", {"email": "victim@example.com", "csrf_token": token}, {"Host": "evil.example"}
    )
    assert forged.status == 400 and "evil.example" not in forged.getheader("Location", "")
    assert _outbox(site.care) == []
    assert site.request("GET", "/healthz", headers={"Host": "evil.example"}).status == 400
    assert site.request("GET", "/healthz", headers={"Host": "internal.example:8000"}).status == 200


def test_links_in_mails_come_from_the_public_url_whatever_the_host(database_url):
    """Even where no public URL is set (no host check), a mailed link never takes the request's Host."""
    with running(database_url) as open_site:
        with open_site.care.db.write() as session:
            session.add(Customer(id="C-1", name="Vic Tim", email="victim@example.com", tier="gold", language="en"))
        token = open_site.csrf("/portal")
        body = {"email": "victim@example.com", "csrf_token": token}
        assert open_site.request("POST", "/portal/link", body, {"Host": "evil.example"}).status == 200
        [mail] = _outbox(open_site.care)
        assert "evil.example" not in mail.body
        assert re.search(r"http://127\.0\.0\.1:8000/portal/signin\?token=\S+", mail.body)


def test_the_portal_link_points_to_the_public_url(site):
    with site.care.db.write() as session:
        session.add(Customer(id="C-1", name="Vic Tim", email="victim@example.com", tier="gold", language="en"))
    token = site.csrf("/portal")
    assert site.request("POST", "/portal/link", {"email": "victim@example.com", "csrf_token": token}).status == 200
    [mail] = _outbox(site.care)
    link = re.search(r"https://care\.example\.com(/portal/signin\?token=\S+)", mail.body)[1]
    assert site.request("GET", link).status == 200


def test_public_urls_are_checked_when_read():
    assert PublicUrl.parse("https://care.example.com/").link("/track/x", lang="de") == (
        "https://care.example.com/track/x?lang=de"
    )
    for wrong in ("care.example.com", "ftp://care.example.com", "https://", "https://a@b.example", "https://x/?q=1"):
        with pytest.raises(ValueError):
            Settings.from_env(public_url=wrong)


# -- sessions ------------------------------------------------------------------------------------


def _signed_in(site) -> dict[str, str]:
    site.sign_in()
    assert site.request("GET", "/").status == 200
    return dict(site.cookies)


def _opens_staff_pages(site, cookies: dict[str, str]) -> bool:
    site.cookies = dict(cookies)
    response = site.request("GET", "/tasks")
    return response.status == 200


def test_a_cookie_copied_before_logout_is_dead_after_it(site):
    copied = _signed_in(site)
    assert site.request("POST", "/logout", {"csrf_token": site.csrf("/")}).status == 302
    assert not _opens_staff_pages(site, copied)
    location = site.request("GET", "/tasks").getheader("Location")
    assert location.startswith("/login")


def test_password_change_disabling_and_sign_out_everywhere_end_sessions(site, database_url):
    sam = site.care.identity.by_name("sam")
    for end in (
        lambda: site.care.identity.update_user(sam.id, password="another long password"),
        lambda: site.care.identity.end_sessions(sam.id),
        lambda: CliRunner().invoke(
            cli, ["user", "sign-out", "sam"], env={"CARECENTER_DATABASE_URL": database_url}, catch_exceptions=False
        ),
    ):
        site.care.identity.update_user(sam.id, password=PASSWORD)
        copied = _signed_in(site)
        end()
        assert not _opens_staff_pages(site, copied)
    copied = _signed_in(site)
    site.care.identity.update_user(sam.id, disabled=True)
    site.care.identity.update_user(sam.id, disabled=False)
    assert not _opens_staff_pages(site, copied)


def test_admins_sign_a_user_out_everywhere_over_the_api(site):
    copied = _signed_in(site)
    _, admin_token = site.care.tokens.create("admin")
    sam = site.care.identity.by_name("sam")
    answer = site.request("POST", f"/api/users/{sam.id}/sign-out", headers={"Authorization": f"Bearer {admin_token}"})
    assert answer.status == 200 and json.loads(answer.text)["username"] == "sam"
    assert not _opens_staff_pages(site, copied)
    _, staff_token = site.care.tokens.create("sam's", username="sam")
    refused = site.request("POST", f"/api/users/{sam.id}/sign-out", headers={"Authorization": f"Bearer {staff_token}"})
    assert refused.status == 403


def test_sessions_end_after_their_lifetime(database_url, clock):
    with running(database_url, clock, session_max_hours=12) as site:
        copied = _signed_in(site)
        clock.advance("PT11H59M")
        assert _opens_staff_pages(site, copied)
        clock.advance("PT2M")
        assert not _opens_staff_pages(site, copied)


def test_the_cookie_of_another_installation_is_refused(database_url):
    with running(database_url, secret_key="one secret") as first, running(database_url, secret_key="other") as second:
        copied = _signed_in(first)
        assert not _opens_staff_pages(second, copied)


# -- headers and proxies ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/track", "/portal", "/portal/inquiry", "/tasks"])
def test_every_page_carries_the_security_headers(site, path):
    site.sign_in()
    response = site.request("GET", path)
    assert response.status == 200
    policy = response.getheader("Content-Security-Policy")
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert response.getheader("X-Frame-Options") == "DENY"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("Referrer-Policy") == "same-origin"
    assert response.getheader("Cache-Control") == "no-store"
    assert response.getheader("Strict-Transport-Security") is None  # plain HTTP, no proxy configured
    # The policy forbids inline code, so the pages must not carry any.
    assert not re.search(r"<style|\sstyle=|<script(?![^>]*\ssrc=)|\son[a-z]+=", response.text)


def test_api_answers_carry_the_headers_too(site):
    for response in (site.request("GET", "/api/openapi.json"), site.request("GET", "/api/tasks")):
        assert response.getheader("Content-Security-Policy").startswith("default-src 'none'")
        assert response.getheader("X-Content-Type-Options") == "nosniff"
        assert response.getheader("X-Frame-Options") == "DENY"


def test_an_https_public_url_makes_cookies_secure_even_without_a_proxy_header(site):
    body = {"username": "sam", "password": PASSWORD, "csrf_token": site.csrf("/login")}
    assert "Secure" in site.request("POST", "/login", body).getheader("Set-Cookie")


def test_cookies_are_secure_behind_a_tls_proxy_only_when_it_is_trusted(database_url):
    proto = {"X-Forwarded-Proto": "https"}
    with running(database_url) as direct:
        body = {"username": "sam", "password": PASSWORD, "csrf_token": direct.csrf("/login")}
        answer = direct.request("POST", "/login", body, proto)
        assert "Secure" not in answer.getheader("Set-Cookie")
        assert answer.getheader("Strict-Transport-Security") is None
    with running(database_url, trusted_proxies=1) as proxied:
        body = {"username": "sam", "password": PASSWORD, "csrf_token": proxied.csrf("/login")}
        answer = proxied.request("POST", "/login", body, proto)
        assert "Secure" in answer.getheader("Set-Cookie")
        assert answer.getheader("Strict-Transport-Security").startswith("max-age=")


def test_the_rate_limit_sees_the_client_behind_a_trusted_proxy(database_url):
    with running(database_url, trusted_proxies=1, public_rate_limit_per_minute=2) as proxied:
        first = {"X-Forwarded-For": "198.51.100.1"}
        assert [proxied.request("GET", "/track/nope", headers=first).status for _ in range(3)] == [404, 404, 429]
        assert proxied.request("GET", "/track/nope", headers={"X-Forwarded-For": "198.51.100.2"}).status == 404


# -- redirects and HEAD ----------------------------------------------------------------------------


def test_forms_redirect_only_to_paths_of_this_site(site):
    site.care.repository.deploy([source("hello_care.bpmn")], "test", "test")
    site.care.runtime.start(StartRequest("hello_care", {"subject": "x"}), "test")
    [task] = site.care.tasks.list(TaskFilter(), 10, None).items
    site.sign_in()
    token = site.csrf("/tasks")
    for back in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "/\t/evil.example", "javascript:x"):
        site.request("POST", f"/tasks/{task['id']}/claim", {"csrf_token": token})
        answer = site.request("POST", f"/tasks/{task['id']}/unclaim", {"csrf_token": token, "back": back})
        assert answer.status == 302 and answer.getheader("Location") == "/tasks", back
    answer = site.request("POST", f"/tasks/{task['id']}/claim", {"csrf_token": token, "back": "/tasks?tab=mine"})
    assert answer.getheader("Location") == "/tasks?tab=mine"
    login = {"username": "sam", "password": PASSWORD, "csrf_token": site.csrf("/login"), "next": "//evil.example"}
    assert site.request("POST", "/login", login).getheader("Location") == "/"


def test_head_is_rate_limited_like_get(database_url):
    with running(database_url, public_rate_limit_per_minute=3) as limited:
        statuses = [limited.request("HEAD", "/track/unknown-code").status for _ in range(4)]
        assert statuses == [404, 404, 404, 429]
        statuses = [limited.request("HEAD", "/api/status/unknown-code").status for _ in range(4)]
        assert statuses == [404, 404, 404, 429]
