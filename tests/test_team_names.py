"""Teams have a display name staff read, beside the name models use: engine, API, admin pages, staff pages."""

from __future__ import annotations

import re

import pytest

from api.app import create_app
from engine.errors import InvalidRequest, NotFound
from process_library.store import Customer
from tests.conftest import make_engine, source
from tests.test_admin_pages import csrf, field_error, flashes, text
from tests.test_customer_pages import INTAKE_FILES, PASSWORD
from tests.test_pages import sign_in


@pytest.fixture
def care(any_database_url, clock):
    engine = make_engine(any_database_url, clock)
    engine.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    for group in ("support", "billing", "technical", "sales"):
        engine.identity.add_group(group)
    engine.identity.add_user("ada", "admin", password=PASSWORD)
    engine.identity.add_user("sam", "staff", ["support", "billing"], password=PASSWORD)
    with engine.db.write() as session:
        session.add(Customer(id="C-1", name="Ada Lovelace", email="ada@example.com", tier="standard", language="en"))
    yield engine
    engine.close()


@pytest.fixture
def site(care):
    return create_app(care).test_client()


def test_a_group_is_read_by_its_name_until_an_admin_names_it(care):
    assert care.identity.add_group("care_manager")["display_name"] == "care_manager"
    named = care.identity.add_group("team_lead", "Escalations", " Team leads ")
    assert (named["name"], named["display_name"], named["description"]) == ("team_lead", "Team leads", "Escalations")
    changed = care.identity.update_group("care_manager", display_name="Care managers")
    assert changed["display_name"] == "Care managers" and changed["name"] == "care_manager"
    assert care.identity.update_group("care_manager", description="Second level")["display_name"] == "Care managers"
    assert care.identity.update_group("care_manager", display_name="  ")["display_name"] == "care_manager"
    with pytest.raises(InvalidRequest, match="at most 100"):
        care.identity.update_group("support", display_name="x" * 101)
    with pytest.raises(NotFound):
        care.identity.update_group("nobody", display_name="Nobody")
    assert care.identity.team_names()["team_lead"] == "Team leads"
    assert care.identity.team_names()["support"] == "support"  # unchanged by the refused change


def test_the_api_sets_and_changes_a_display_name(client, anonymous):
    created = client.post("/api/groups", json={"name": "helpdesk", "display_name": "First-line support"})
    assert created.status_code == 201
    assert created.json == {
        "id": created.json["id"],
        "name": "helpdesk",
        "display_name": "First-line support",
        "description": "",
    }
    changed = client.patch("/api/groups/helpdesk", json={"display_name": "Support desk", "description": "All channels"})
    assert changed.status_code == 200
    assert (changed.json["display_name"], changed.json["description"]) == ("Support desk", "All channels")
    assert [g for g in client.get("/api/groups").json["items"] if g["name"] == "helpdesk"][0][
        "display_name"
    ] == "Support desk"
    assert client.patch("/api/groups/nobody", json={"display_name": "X"}).status_code == 404
    too_long = client.patch("/api/groups/helpdesk", json={"display_name": "x" * 101})
    assert too_long.status_code in (400, 422) and too_long.content_type == "application/problem+json"
    assert client.patch("/api/groups/helpdesk", json={}).status_code in (400, 422)  # nothing to change
    assert client.patch("/api/groups/helpdesk", json={"name": "desk"}).status_code in (400, 422)  # the key stays
    assert anonymous.patch("/api/groups/helpdesk", json={"display_name": "X"}).status_code == 401
    assert [g for g in client.get("/api/groups").json["items"] if g["name"] == "helpdesk"][0] == {**changed.json}


def test_staff_may_not_rename_a_team(care, app):
    token = care.tokens.create("sam", username="sam")[1]
    answer = app.test_client().patch(
        "/api/groups/support", json={"display_name": "Mine"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 403 and care.identity.team_names()["support"] == "support"


def test_an_admin_renames_a_team_on_its_page_and_bad_input_changes_nothing(care, site):
    sign_in(site, "ada")
    listing = text(site.get("/admin/groups"))
    assert re.search(r'<tr data-group="support">\s*<td[^>]*><a href="/admin/groups/support">support</a></td>', listing)
    page = site.get("/admin/groups/support")
    assert page.status_code == 200 and "sam" in text(page)
    token = csrf(page.data)
    too_long = site.post("/admin/groups/support", data={"csrf_token": token, "display_name": "x" * 101})
    assert too_long.status_code == 422 and field_error(text(too_long), "display_name") == "At most 100 characters."
    assert care.identity.team_names()["support"] == "support"
    saved = site.post(
        "/admin/groups/support",
        data={"csrf_token": token, "display_name": "First-line support", "description": "All channels"},
    )
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/admin/groups")
    listing = text(site.get("/admin/groups"))
    assert flashes(listing) == ["Group First-line support saved."]
    assert re.search(r">First-line support</a> <code>support</code></td>\s*<td[^>]*>All channels</td>", listing)
    assert site.get("/admin/groups/nobody").status_code == 404
    assert site.post("/admin/groups/support", data={"display_name": "No token"}).status_code == 400
    new = site.post(
        "/admin/groups",
        data={"csrf_token": token, "name": "team_lead", "display_name": "Team leads", "description": ""},
    )
    assert new.status_code == 302 and care.identity.team_names()["team_lead"] == "Team leads"
    user_form = text(site.get(f"/admin/users/{care.identity.by_name('sam').id}"))
    assert re.search(r'value="support"[^>]*>\s*First-line support <code>support</code>', user_form)


def test_staff_pages_show_teams_by_their_display_names(care, site):
    result = care.intake.submit(
        channel="email",
        customer={"id": "C-1"},
        subject="Printer jams",
        body="It jams.",
        reference=None,
        principal="mailer",
    )
    care.jobs.run_due("test")
    care.identity.update_group("support", display_name="First-line support")
    care.identity.update_group("billing", display_name="Accounts")
    sign_in(site, "sam")
    home = text(site.get("/"))
    assert "Accounts, First-line support" in home and "billing" not in home
    tasks = text(site.get("/tasks"))
    options = re.findall(
        r'<option value="(\w+)" ?>([^<]+)</option>', tasks.split('id="filter-team"')[1].split("</select>")[0]
    )
    assert options == [("billing", "Accounts"), ("support", "First-line support")]  # by what staff read
    case = text(site.get(f"/instances/{result.instance_id}"))
    assert "</a> — waiting for First-line support" in case
    customer = text(site.get("/customers/C-1"))
    assert "waiting for First-line support" in customer
    sign_in(site, "ada")
    instances = text(site.get("/instances"))
    assert '<option value="group:support">First-line support</option>' in instances
