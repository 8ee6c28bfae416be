"""The admin pages through the Flask test client, on SQLite and PostgreSQL: incidents with Retry, users, groups, tokens.

The browser test (tests/test_browser_admin.py) looks at the same pages at 390 and 1280 px.
"""

from __future__ import annotations

import logging
import re
import threading

import pytest
from sqlalchemy import select

from api.pages import admin as admin_pages
from engine.bpmn import SourceFile
from engine.identity import LastAdmin
from engine.models import User
from engine.runtime import StartRequest
from process_library.registry import REGISTRY, TransientError
from tests.conftest import make_engine, source

PASSWORD = "correct horse battery"
NEW_TOKEN = r'<textarea id="new-token" class="token-value"[^>]*>(cc_[^<]+)</textarea>'
BILLING = {"up": False}  # whether the billing system of test_admin_billing answers


def ask_billing(context) -> dict:
    """Test operation: the billing system is down until a test brings it up."""
    if not BILLING["up"]:
        raise TransientError("billing system unreachable")
    return {"balance": 0}


if REGISTRY.get("test_admin_billing") is None:
    REGISTRY.register(ask_billing, name="test_admin_billing")

BILLING_PROCESS = SourceFile(
    "admin_billing.bpmn",
    b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" targetNamespace="http://carecenter.example/test">
  <bpmn:process id="admin_billing" name="Check the balance" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="ask_billing" name="Ask the billing system">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="test_admin_billing" resultVariable="answer">
          <spiffworkflow:parameters />
        </spiffworkflow:serviceTaskOperator>
        <spiffworkflow:properties><spiffworkflow:property name="retries" value="0" /></spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ask_billing" />
    <bpmn:sequenceFlow id="f2" sourceRef="ask_billing" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
""",
)


@pytest.fixture
def care(any_database_url, clock):
    engine = make_engine(any_database_url, clock)
    engine.identity.add_group("support", "First line")
    engine.identity.add_group("billing")
    engine.identity.add_user("ada", "admin", password=PASSWORD, display_name="Ada Admin")
    engine.identity.add_user("sam", "staff", ["support"], password=PASSWORD)
    engine.identity.add_user("dana", "designer", password=PASSWORD)
    yield engine
    engine.close()


@pytest.fixture
def app(care):
    from api.app import create_app

    return create_app(care)


@pytest.fixture
def site(app):
    return app.test_client()


def csrf(page: bytes) -> str:
    return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()


def sign_in(client, username: str, password: str = PASSWORD) -> str:
    """Sign in through the login form; the CSRF token of the new session, or "" when refused."""
    token = csrf(client.get("/login").data)
    answer = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    if answer.status_code != 302:
        return ""
    return csrf(client.get("/").data)


def text(response) -> str:
    return response.get_data(as_text=True)


def flashes(page: str) -> list[str]:
    return re.findall(r'<p class="flash \w+" role="status">([^<]*)</p>', page)


def field_error(page: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="{name}-error" data-field="{name}">([^<]*)</p>', page)
    return found.group(1) if found else ""


def test_staff_and_designers_get_the_403_page_and_strangers_the_login(app, site):
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("admin_pages.")]
    assert len(rules) >= 14
    paths = [(re.sub(r"<id:\w+>", "1", r.rule), method) for r in rules for method in r.methods - {"HEAD", "OPTIONS"}]
    for path, method in paths:
        answer = site.open(path, method=method)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/login"), (path, method)
    for username in ("sam", "dana"):
        token = sign_in(site, username)
        for path, method in paths:
            answer = site.open(path, method=method, data={"csrf_token": token, "name": "x", "password": "y" * 20})
            assert answer.status_code == 403 and "<h1>Not allowed</h1>" in text(answer), (username, path, method)
        assert 'href="/admin/users"' not in text(site.get("/"))  # nor in their menu
    assert [g["name"] for g in app.extensions["carecenter"].identity.groups()] == ["billing", "support"]


def test_admin_creates_edits_and_disables_a_user_who_then_cannot_sign_in(care, site, app):
    token = sign_in(site, "ada")
    form = site.get("/admin/users/new")
    assert 'name="groups" value="support"' in text(form) and 'name="password"' in text(form)
    created = site.post(
        "/admin/users/new",
        data={
            "csrf_token": token,
            "username": "Nora",
            "display_name": "Nora Novak",
            "role": "staff",
            "groups": ["support", "billing"],
            "password": "a long enough secret",
        },
    )
    nora = care.identity.by_name("nora")
    assert created.status_code == 302 and created.headers["Location"] == f"/admin/users/{nora.id}"
    assert (nora.display_name, nora.role, nora.groups, nora.disabled) == (
        "Nora Novak",
        "staff",
        ("billing", "support"),
        False,
    )
    assert flashes(text(site.get(created.headers["Location"]))) == ["User nora created."]
    listing = text(site.get("/admin/users"))
    row = re.search(r'<tr data-user="nora">.*?</tr>', listing, re.S).group(0)
    assert "Nora Novak" in row and "billing, support" in row and "never" in row and "Enabled" in row

    nora_site = app.test_client()
    assert sign_in(nora_site, "nora", "a long enough secret")
    assert nora_site.get("/tasks").status_code == 200
    assert "UTC" in re.search(r'<tr data-user="nora">.*?</tr>', text(site.get("/admin/users")), re.S).group(0)

    edited = site.post(
        f"/admin/users/{nora.id}",
        data={"csrf_token": token, "display_name": "Nora N.", "role": "designer", "groups": ["billing"]},
    )
    assert edited.status_code == 302
    nora = care.identity.by_name("nora")
    assert (nora.display_name, nora.role, nora.groups) == ("Nora N.", "designer", ("billing",))
    assert nora_site.get("/processes").status_code == 200  # the new role counts at once

    disabled = site.post(f"/admin/users/{nora.id}/disable", data={"csrf_token": token})
    assert disabled.status_code == 302 and care.identity.by_name("nora").disabled
    assert "Disabled" in text(site.get(f"/admin/users/{nora.id}"))
    assert nora_site.get("/processes").headers["Location"].startswith("/login")  # her session is over
    assert sign_in(app.test_client(), "nora", "a long enough secret") == ""  # and she cannot sign in again
    site.post(f"/admin/users/{nora.id}/enable", data={"csrf_token": token})
    assert sign_in(app.test_client(), "nora", "a long enough secret")


def test_bad_input_shows_messages_next_to_the_fields_and_changes_nothing(care, site):
    token = sign_in(site, "ada")
    before = care.identity.users()
    bad = site.post(
        "/admin/users/new",
        data={"csrf_token": token, "username": "no spaces!", "role": "root", "groups": ["nobody"], "password": "short"},
    )
    page = text(bad)
    assert bad.status_code == 422
    assert field_error(page, "username") == "Use 1 to 100 characters: small letters a-z, digits and _ . @ -"
    assert field_error(page, "role") == "Choose a role."
    assert field_error(page, "groups") == "Choose teams from the list."
    assert 'value="no spaces!"' in page and "short" not in page  # what was typed stays, except the password
    short = site.post(
        "/admin/users/new", data={"csrf_token": token, "username": "olga", "role": "staff", "password": "short"}
    )
    assert short.status_code == 422
    assert field_error(text(short), "password") == "A password needs at least 10 characters."
    integration = {"csrf_token": token, "username": "mailgw", "role": "integration", "password": "long enough secret"}
    answer = site.post("/admin/users/new", data=integration)
    assert field_error(text(answer), "password") == "Integration accounts use API tokens, not passwords."
    taken = site.post("/admin/users/new", data={"csrf_token": token, "username": "SAM", "role": "staff"})
    assert taken.status_code == 422 and field_error(text(taken), "username") == "A user with this name exists already."
    sam = care.identity.by_name("sam")
    edit = site.post(
        f"/admin/users/{sam.id}",
        data={"csrf_token": token, "display_name": "x" * 201, "role": "staff", "groups": ["billing"]},
    )
    assert edit.status_code == 422 and field_error(text(edit), "display_name") == "At most 200 characters."
    short_password = site.post(f"/admin/users/{sam.id}/password", data={"csrf_token": token, "password": "123"})
    assert short_password.status_code == 422
    assert field_error(text(short_password), "password") == "A password needs at least 10 characters."
    assert care.identity.users() == before
    assert sign_in(site, "sam")  # the old password still works


def test_a_new_password_and_sign_out_everywhere_end_the_users_sessions(care, site, app):
    token = sign_in(site, "ada")
    sam = care.identity.by_name("sam")
    sam_site = app.test_client()
    sign_in(sam_site, "sam")
    signed_out = site.post(f"/admin/users/{sam.id}/sign-out", data={"csrf_token": token})
    assert flashes(text(site.get(signed_out.headers["Location"]))) == ["sam is signed out everywhere."]
    assert sam_site.get("/tasks").status_code == 302
    sign_in(sam_site, "sam")
    answer = site.post(f"/admin/users/{sam.id}/password", data={"csrf_token": token, "password": "a brand new secret"})
    assert answer.status_code == 302 and "a brand new secret" not in answer.headers["Location"]
    assert sam_site.get("/tasks").status_code == 302
    assert sign_in(app.test_client(), "sam") == ""
    assert sign_in(app.test_client(), "sam", "a brand new secret")


def test_groups_are_listed_with_members_and_created(care, site):
    token = sign_in(site, "ada")
    page = text(site.get("/admin/groups"))
    assert re.search(r'<tr data-group="support">.*First line.*sam.*</tr>', page, re.S)
    created = site.post("/admin/groups", data={"csrf_token": token, "name": "Technical", "description": "Second line"})
    assert created.status_code == 302
    assert {
        "id": care.identity.groups()[2]["id"],
        "name": "technical",
        "display_name": "technical",  # none given: the name
        "description": "Second line",
    } in care.identity.groups()
    again = site.post("/admin/groups", data={"csrf_token": token, "name": "technical"})
    assert again.status_code == 422 and field_error(text(again), "name") == "A group with this name exists already."
    empty = site.post("/admin/groups", data={"csrf_token": token, "name": ""})
    assert empty.status_code == 422 and field_error(text(empty), "name") == "Please fill in this field."
    assert len(care.identity.groups()) == 3
    form = text(site.get(f"/admin/users/{care.identity.by_name('sam').id}"))
    assert 'name="groups" value="technical"' in form  # the new team can be chosen at once


def test_a_token_is_shown_once_works_as_bearer_and_stops_when_revoked(care, site, app, caplog):
    caplog.set_level(logging.DEBUG)
    token = sign_in(site, "ada")
    created = site.post("/admin/tokens", data={"csrf_token": token, "name": "Mail gateway", "owner": "", "days": "30"})
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    assert "Location" not in created.headers
    value = re.search(NEW_TOKEN, text(created)).group(1)
    api = app.test_client()
    assert api.get("/api/users", headers={"Authorization": f"Bearer {value}"}).status_code == 200
    listing = text(site.get("/admin/tokens"))
    assert value not in listing and "Mail gateway" in listing and "nobody (admin token)" in listing
    assert re.search(r'<tr data-token="Mail gateway">.*?Active.*?</tr>', listing, re.S)
    [row] = [t for t in care.tokens.list() if t.name == "Mail gateway"]
    assert row.expires_at is not None and row.last_used_at is not None

    staff_token = site.post("/admin/tokens", data={"csrf_token": token, "name": "sam's script", "owner": "sam"})
    sam_value = re.search(NEW_TOKEN, text(staff_token)).group(1)
    sam_auth = {"Authorization": f"Bearer {sam_value}"}
    assert api.get("/api/tasks", headers=sam_auth).status_code == 200
    assert api.get("/api/users", headers=sam_auth).status_code == 403  # acts as sam, a staff member

    revoked = site.post(f"/admin/tokens/{row.id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 302
    assert flashes(text(site.get("/admin/tokens"))) == ["Token Mail gateway revoked: it no longer works."]
    assert api.get("/api/users", headers={"Authorization": f"Bearer {value}"}).status_code == 401
    assert api.get("/api/tasks", headers=sam_auth).status_code == 200
    assert all(value not in r.getMessage() and sam_value not in r.getMessage() for r in caplog.records)


def test_bad_token_input_is_422_and_creates_nothing(care, site):
    token = sign_in(site, "ada")
    before = len(care.tokens.list())
    bad = site.post("/admin/tokens", data={"csrf_token": token, "name": " ", "owner": "ghost", "days": "0"})
    page = text(bad)
    assert bad.status_code == 422 and 'id="new-token"' not in page
    assert field_error(page, "name") == "Please fill in this field."
    assert field_error(page, "owner") == "Choose an owner from the list."
    assert field_error(page, "days") == "Enter a whole number of days from 1 to 3650."
    assert len(care.tokens.list()) == before


def test_incidents_are_listed_by_name_with_case_and_retried_from_the_list(care, site, monkeypatch):
    care.repository.deploy([source("script_failure.bpmn"), BILLING_PROCESS], "test", "test")
    BILLING["up"] = False
    billing, _ = care.runtime.start(StartRequest("admin_billing", {}), "test")
    care.jobs.run_due("w1")
    divide, _ = care.runtime.start(StartRequest("script_failure", {"divisor": 0}), "test")
    token = sign_in(site, "ada")
    page = text(site.get("/admin/incidents"))
    rows = re.findall(r'<tr data-incident-id="(\d+)">(.*?)</tr>', page, re.S)
    assert len(rows) == 2
    newest = rows[0][1]
    assert f'<a href="/instances/{divide["id"]}">{divide["reference"]}</a>' in newest
    assert "Divide</td>" in newest and "Divide by divisor" in newest and "Element id: divide" in newest
    assert "<code>result = 10 / divisor</code>" in newest and "UTC</time>" in newest
    assert "Ask the billing system" in rows[1][1] and "billing system unreachable" in rows[1][1]

    only_billing = text(site.get("/admin/incidents?process=admin_billing"))
    [(billing_incident, _)] = re.findall(r'<tr data-incident-id="(\d+)">(.*?)</tr>', only_billing, re.S)

    again = site.post(
        f"/admin/incidents/{rows[0][0]}/retry", data={"csrf_token": token, "back": "/admin/incidents?status=open"}
    )
    assert again.status_code == 302 and again.headers["Location"] == "/admin/incidents?status=open"
    page = text(site.get(again.headers["Location"]))
    assert flashes(page) == [
        f"Retried “Divide by divisor” of {divide['reference']}, but it failed again: see the new incident."
    ]
    newest_id, newest = re.findall(r'<tr data-incident-id="(\d+)">(.*?)</tr>', page, re.S)[0]
    assert newest_id != rows[0][0] and re.search(r'data-label="Retries">1</td>', newest)
    resolved = text(site.get("/admin/incidents?status=resolved"))
    assert f'data-incident-id="{rows[0][0]}"' in resolved and "Retried" in resolved and "by ada" in resolved
    assert "<button" not in resolved.split('id="incidents"')[1]  # nothing to retry there

    BILLING["up"] = True
    fixed = site.post(f"/admin/incidents/{billing_incident}/retry", data={"csrf_token": token})
    assert fixed.headers["Location"] == "/admin/incidents"
    assert flashes(text(site.get("/admin/incidents"))) == [
        f"Retried “Ask the billing system” of {billing['reference']}: the case runs again."
    ]
    care.jobs.run_due("w1")
    assert care.runtime.get(billing["id"], with_data=False)["status"] == "completed"
    twice = site.post(f"/admin/incidents/{billing_incident}/retry", data={"csrf_token": token})
    assert flashes(text(site.get(twice.headers["Location"])))[0].startswith("Not retried: ")
    assert site.post("/admin/incidents/999999/retry", data={"csrf_token": token}).status_code == 404

    monkeypatch.setattr(admin_pages, "PAGE_SIZE", 1)
    first = text(site.get("/admin/incidents?status=resolved"))
    next_url = (
        re.search(r'<a class="button secondary" href="([^"]+)">Next page</a>', first).group(1).replace("&amp;", "&")
    )
    second = text(site.get(next_url))
    first_ids = re.findall(r'data-incident-id="(\d+)"', first)
    second_ids = re.findall(r'data-incident-id="(\d+)"', second)
    assert len(first_ids) == len(second_ids) == 1 and first_ids != second_ids and "First page" in second


def test_the_last_admin_who_can_sign_in_cannot_be_demoted_or_disabled(care, site, app):
    token = sign_in(site, "ada")
    ada = care.identity.by_name("ada")
    care.identity.add_user("root", "admin")  # an admin without a password cannot sign in: it does not count
    demoted = site.post(f"/admin/users/{ada.id}", data={"csrf_token": token, "display_name": "Ada", "role": "staff"})
    assert demoted.status_code == 422
    assert field_error(text(demoted), "role").startswith("This would leave no administrator who can sign in.")
    disabled = site.post(f"/admin/users/{ada.id}/disable", data={"csrf_token": token})
    assert flashes(text(site.get(disabled.headers["Location"])))[0].startswith("This would leave no administrator")
    ada_now = care.identity.by_name("ada")
    assert (ada_now.role, ada_now.disabled, ada_now.display_name) == ("admin", False, "Ada Admin")

    care.identity.add_user("bob", "admin", password=PASSWORD)
    bob = care.identity.by_name("bob")
    bob_site = app.test_client()
    bob_token = sign_in(bob_site, "bob")
    assert site.post(f"/admin/users/{bob.id}/disable", data={"csrf_token": token}).status_code == 302
    assert care.identity.by_name("bob").disabled
    assert bob_site.get("/admin/users").status_code == 302  # bob's session ended
    site.post(f"/admin/users/{bob.id}/enable", data={"csrf_token": token})
    bob_token = sign_in(bob_site, "bob")
    away = site.post(f"/admin/users/{ada.id}", data={"csrf_token": token, "display_name": "Ada", "role": "staff"})
    assert away.headers["Location"] == "/"  # no longer an admin: off to the start page
    assert site.get("/admin/users").status_code == 403
    refused = bob_site.post(f"/admin/users/{bob.id}/disable", data={"csrf_token": bob_token})
    assert flashes(text(bob_site.get(refused.headers["Location"])))[0].startswith("This would leave no administrator")
    assert not care.identity.by_name("bob").disabled


def test_two_admins_disabling_each_other_at_once_leave_one_who_can_sign_in(care):
    """The second change waits for the first (the admin rows are locked), then sees it and is refused."""
    care.identity.add_user("bob", "admin", password=PASSWORD)
    ada, bob = care.identity.by_name("ada"), care.identity.by_name("bob")
    outcome: dict = {}

    def disable_bob() -> None:
        try:
            care.identity.update_user(bob.id, disabled=True, keep_an_admin=True)
            outcome["done"] = True
        except LastAdmin as refused:
            outcome["refused"] = refused

    with care.db.write() as session:  # the first change, as update_user makes it, not yet committed
        session.execute(select(User).where(User.role == "admin").order_by(User.id).with_for_update()).all()
        session.get(User, ada.id).disabled = True
        session.flush()
        second = threading.Thread(target=disable_bob)
        second.start()
        second.join(timeout=1)
        assert second.is_alive()  # waiting for the first
    second.join(timeout=30)
    assert "refused" in outcome and not care.identity.by_name("bob").disabled
    assert care.identity.by_name("ada").disabled
