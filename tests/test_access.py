"""The role x endpoint matrix: 401 without credentials, 403 for the wrong role or team, success for the right one."""

from __future__ import annotations

import re

import pytest

from api import policy
from engine.tokens import Principal
from tests.conftest import upload

ROLES = ("designer", "staff", "integration")
PAGE_OR_PUBLIC = {"static"}


@pytest.fixture
def people(care):
    """One token per role; staff 'sam' is in support, 'tina' in technical and team_lead."""
    for group in ("support", "technical", "team_lead", "billing"):
        care.identity.add_group(group)
    care.identity.add_user("dana", "designer")
    care.identity.add_user("sam", "staff", ["support"])
    care.identity.add_user("tina", "staff", ["technical", "team_lead"])
    care.identity.add_user("mailgw", "integration")
    tokens = {"admin": care.tokens.create("root")[1]}
    for role, user in (("designer", "dana"), ("staff", "sam"), ("integration", "mailgw"), ("lead", "tina")):
        tokens[role] = care.tokens.create(f"{user}-token", username=user)[1]
    return tokens


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def api_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PAGE_OR_PUBLIC or policy.is_public(rule.endpoint) or policy.is_page(rule.endpoint):
            continue
        path = re.sub(r"<(?:id|int):\w+>", "999999", rule.rule).replace("<key>", "hello_care")
        path = re.sub(r"<\w+>", "999999", path)  # the string ids of the Camunda subset (/engine-rest)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, path


def error_type(path: str, status: int) -> tuple[str, str]:
    """(content type, error type) of a 401 or 403: RFC 9457 problems, or Camunda's errors under /engine-rest."""
    if path.startswith("/engine-rest/"):
        return "application/json", {401: "AuthenticationException", 403: "AuthorizationException"}[status]
    return "application/problem+json", {401: "/problems/unauthenticated", 403: "/problems/forbidden"}[status]


def test_every_api_route_is_401_without_credentials(app, anonymous):
    for endpoint, method, path in api_rules(app):
        response = anonymous.open(path, method=method)
        assert response.status_code == 401, (endpoint, method, path)
        assert (response.content_type, response.json["type"]) == error_type(path, 401)


def test_every_api_route_is_403_for_roles_the_policy_leaves_out(app, anonymous, people):
    checked = 0
    for endpoint, method, path in api_rules(app):
        for role in ROLES:
            allowed = role in policy.ALLOWED_ROLES.get(endpoint, frozenset())
            response = anonymous.open(path, method=method, headers=auth(people[role]), json={})
            if allowed:
                assert response.status_code not in (401, 403), (role, endpoint, response.json)
            else:
                assert response.status_code == 403, (role, endpoint, response.status_code)
                assert (response.content_type, response.json["type"]) == error_type(path, 403)
            checked += 1
    assert checked >= 3 * 25


def test_admin_passes_every_route(app, anonymous, people):
    for endpoint, method, path in api_rules(app):
        response = anonymous.open(path, method=method, headers=auth(people["admin"]), json={})
        assert response.status_code not in (401, 403), (endpoint, response.status_code)


def test_designer_deploys_and_checks_but_cannot_work_tasks(anonymous, people):
    designer = auth(people["designer"])
    assert anonymous.post("/api/deployments", data=upload("hello_care.bpmn"), headers=designer).status_code == 201
    checked = anonymous.post("/api/deployments/check", data=upload("bad_script.bpmn"), headers=designer)
    assert checked.status_code == 422 and checked.json["errors"][0]["element_id"] == "compute"
    assert anonymous.get("/api/process-definitions/hello_care/xml", headers=designer).status_code == 200
    started = anonymous.post("/api/process-definitions/hello_care/instances", json={}, headers=auth(people["admin"]))
    task_id = started.json["tasks"][0]["id"]
    assert anonymous.post(f"/api/tasks/{task_id}/complete", json={}, headers=designer).status_code == 403
    assert anonymous.get("/api/tasks", headers=designer).status_code == 403


def test_integration_starts_instances_and_nothing_else(anonymous, people):
    anonymous.post("/api/deployments", data=upload("hello_care.bpmn"), headers=auth(people["admin"]))
    integration = auth(people["integration"])
    started = anonymous.post("/api/process-definitions/hello_care/instances", json={}, headers=integration)
    assert started.status_code == 201
    assert started.json["started_by"] == "mailgw"
    for path in ("/api/tasks", "/api/instances", "/api/process-definitions", "/api/users"):
        assert anonymous.get(path, headers=integration).status_code == 403
    assert anonymous.post("/api/deployments", data=upload("hello_care.bpmn"), headers=integration).status_code == 403


def test_staff_see_and_work_only_their_teams_tasks(anonymous, people):
    admin = auth(people["admin"])
    anonymous.post(
        "/api/deployments", data=upload("hello_care.bpmn", "call_parent.bpmn", "call_child.bpmn"), headers=admin
    )
    support_case = anonymous.post("/api/process-definitions/hello_care/instances", json={}, headers=admin).json
    technical_case = anonymous.post("/api/process-definitions/call_parent/instances", json={}, headers=admin).json
    sam, tina = auth(people["staff"]), auth(people["lead"])

    sam_tasks = anonymous.get("/api/tasks", headers=sam).json["items"]
    assert [t["instance_id"] for t in sam_tasks] == [support_case["id"]]
    tina_tasks = anonymous.get("/api/tasks", headers=tina).json["items"]
    assert [t["instance_id"] for t in tina_tasks] == [technical_case["id"]]

    other = technical_case["tasks"][0]["id"]
    for method, path in (("get", f"/api/tasks/{other}"), ("post", f"/api/tasks/{other}/claim")):
        assert getattr(anonymous, method)(path, headers=sam).status_code == 403
    assert anonymous.post(f"/api/tasks/{other}/complete", json={"data": {}}, headers=sam).status_code == 403
    assert anonymous.get(f"/api/instances/{technical_case['id']}", headers=sam).status_code == 403
    assert [i["id"] for i in anonymous.get("/api/instances", headers=sam).json["items"]] == [support_case["id"]]

    mine = sam_tasks[0]["id"]
    assert anonymous.post(f"/api/tasks/{mine}/claim", headers=sam).json["assignee"] == "sam"
    done = anonymous.post(f"/api/tasks/{mine}/complete", json={"data": {"answer": "ok"}}, headers=sam)
    assert done.status_code == 200 and done.json["instance"]["status"] == "completed"
    history = anonymous.get(f"/api/instances/{support_case['id']}/history", headers=sam).json["items"]
    assert [(e["event_type"], e["principal"]) for e in history if e["event_type"].startswith("task_c")] == [
        ("task_created", "token:root"),
        ("task_claimed", "sam"),
        ("task_completed", "sam"),
    ]


def test_a_claimed_task_is_visible_only_to_its_assignee_and_admins(care, anonymous, people):
    care.identity.add_user("sue", "staff", ["support"])
    sue = auth(care.tokens.create("sue-token", username="sue")[1])
    admin = auth(people["admin"])
    anonymous.post("/api/deployments", data=upload("hello_care.bpmn"), headers=admin)
    task_id = anonymous.post("/api/process-definitions/hello_care/instances", json={}, headers=admin).json["tasks"][0][
        "id"
    ]
    anonymous.post(f"/api/tasks/{task_id}/claim", headers=auth(people["staff"]))
    assert anonymous.get("/api/tasks", headers=sue).json["items"] == []
    assert anonymous.get(f"/api/tasks/{task_id}", headers=sue).status_code == 403
    assert anonymous.post(f"/api/tasks/{task_id}/unclaim", headers=sue).status_code == 403
    assert anonymous.get(f"/api/tasks/{task_id}", headers=admin).status_code == 200
    anonymous.post(f"/api/tasks/{task_id}/unclaim", headers=auth(people["staff"]))
    assert [t["id"] for t in anonymous.get("/api/tasks", headers=sue).json["items"]] == [task_id]


def test_team_leads_reassign_within_their_teams_and_admins_anywhere(care, anonymous, people):
    admin = auth(people["admin"])
    anonymous.post("/api/deployments", data=upload("hello_care.bpmn"), headers=admin)
    task_id = anonymous.post("/api/process-definitions/hello_care/instances", json={}, headers=admin).json["tasks"][0][
        "id"
    ]
    assert (
        anonymous.post(
            f"/api/tasks/{task_id}/assign", json={"assignee": "tina"}, headers=auth(people["staff"])
        ).status_code
        == 403
    )
    # tina leads technical, not support: the support task is not hers to hand on
    refused = anonymous.post(f"/api/tasks/{task_id}/assign", json={"assignee": "sam"}, headers=auth(people["lead"]))
    assert refused.status_code == 403
    care.identity.add_user("lea", "staff", ["support", "team_lead"])
    support_lead = auth(care.tokens.create("lea-token", username="lea")[1])
    outsider = anonymous.post(f"/api/tasks/{task_id}/assign", json={"assignee": "tina"}, headers=support_lead)
    assert outsider.status_code == 422 and "not an active member" in outsider.json["detail"]
    moved = anonymous.post(f"/api/tasks/{task_id}/assign", json={"assignee": "sam"}, headers=support_lead)
    assert moved.status_code == 200 and moved.json["assignee"] == "sam"
    assert anonymous.post(f"/api/tasks/{task_id}/assign", json={"assignee": "nobody"}, headers=admin).status_code == 404
    back = anonymous.post(f"/api/tasks/{task_id}/assign", json={"assignee": None}, headers=admin)
    assert back.json["assignee"] is None


def test_team_leads_and_care_managers_read_analytics_other_staff_do_not(app, care, anonymous, people):
    """Analytics (#23) is granted by group, whatever the role: ``team_lead`` or ``care_manager``."""
    care.identity.add_group("care_manager")
    care.identity.add_user("mia", "staff", ["care_manager"])
    people["manager"] = care.tokens.create("mia-token", username="mia")[1]
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("analytics")}
    assert endpoints and endpoints <= set(policy.ALLOWED_GROUPS)
    for path in ("/api/analytics/dashboard", "/api/analytics/processes/hello_care"):
        for who, status in (("lead", 200), ("manager", 200), ("staff", 403), ("designer", 403)):
            answer = anonymous.get(path, headers=auth(people[who]))
            assert answer.status_code == (404 if status == 200 and "processes" in path else status), (who, path)


def test_disabled_users_tokens_stop_working(care, anonymous, people):
    assert anonymous.get("/api/tasks", headers=auth(people["staff"])).status_code == 200
    care.identity.update_user(care.identity.by_name("sam").id, disabled=True)
    assert anonymous.get("/api/tasks", headers=auth(people["staff"])).status_code == 401


def test_assignment_and_candidates_can_be_expressions_over_task_data(client):
    client.post("/api/deployments", data=upload("expression_assignment.bpmn"))
    started = client.post(
        "/api/process-definitions/expression_assignment/instances",
        json={"variables": {"account_manager": "sam", "team": "billing", "backups": ["tina", "sue"]}},
    ).json
    [task] = started["tasks"]
    assert task["assignee"] == "sam"
    assert task["candidate_groups"] == ["billing", "sales"]
    assert task["candidate_users"] == ["sue", "tina"]
    unassigned = client.post("/api/process-definitions/expression_assignment/instances", json={}).json["tasks"][0]
    assert (unassigned["assignee"], unassigned["candidate_groups"]) == (None, ["sales"])


def test_every_staff_member_reads_customer_records_but_only_admins_and_integrations_tracking_codes(
    care, anonymous, people
):
    """The care center is one point of contact: whoever answers sees the whole customer, but never the
    secret that opens the customer's status page (staff work with the case reference)."""
    from process_library.store import Customer

    with care.db.write() as session:
        session.add(Customer(id="C-9", name="Nora Nine", email="nora@example.com", tier="gold", language="en"))
    admin = auth(people["admin"])
    anonymous.post("/api/deployments", data=upload("call_parent.bpmn", "call_child.bpmn"), headers=admin)
    started = anonymous.post(
        "/api/process-definitions/call_parent/instances", json={"customer_id": "C-9"}, headers=admin
    ).json
    assert started["tracking_code"]  # technical team's case: sam (support) has no task in it
    sam, tina = auth(people["staff"]), auth(people["lead"])
    assert anonymous.get("/api/customers/C-9", headers=sam).status_code == 200
    [entry] = anonymous.get("/api/customers/C-9/timeline", headers=sam).json["items"]
    assert entry["instance_id"] == started["id"] and entry["tracking_code"] is None
    [entry] = anonymous.get("/api/customers/C-9/timeline", headers=admin).json["items"]
    assert entry["tracking_code"] == started["tracking_code"]
    instance = anonymous.get(f"/api/instances/{started['id']}", headers=tina).json
    assert instance["id"] == started["id"] and instance["tracking_code"] is None
    assert all(i["tracking_code"] is None for i in anonymous.get("/api/instances", headers=tina).json["items"])
    for role in ("designer", "integration"):
        assert anonymous.get("/api/customers/C-9", headers=auth(people[role])).status_code == 403
        assert anonymous.get("/api/customers/C-9/timeline", headers=auth(people[role])).status_code == 403
    staff, integration = Principal("sam", "staff"), Principal("mailgw", "integration")
    assert not policy.may_read_tracking_codes(staff) and policy.may_read_tracking_codes(integration)


def page_rules(app):
    """(endpoint, method, path) of every page that needs a session, ids filled in."""
    for rule in app.url_map.iter_rules():
        if not policy.is_page(rule.endpoint) or policy.is_public(rule.endpoint):
            continue
        path = re.sub(r"<(?:id|int):\w+>", "999999", rule.rule)
        path = re.sub(r"<any\(([^,)]+)[^)]*\):\w+>", r"\1", path)  # the first of the names it allows
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, path


def signed_in(app, care, username: str, role: str):
    """A test client with a page session of a new user ``username`` in ``role``."""
    care.identity.add_user(username, role, password="correct horse battery")
    client = app.test_client()
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    client.post("/login", data={"username": username, "password": "correct horse battery", "csrf_token": token})
    return client


def test_every_page_sends_strangers_to_the_login_and_refuses_roles_the_policy_leaves_out(app, care):
    """The pages' half of the matrix: the 403 page (HTML, in the layout) before any view or CSRF check runs;
    admins pass everywhere (a POST without its CSRF token is then 400, a missing row 404)."""
    stranger = app.test_client()
    checked = 0
    for endpoint, method, path in page_rules(app):
        answer = stranger.open(path, method=method)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/login"), (endpoint, method)
    for role in ("designer", "staff"):
        client = signed_in(app, care, f"page-{role}", role)
        for endpoint, method, path in page_rules(app):
            if role in policy.ALLOWED_ROLES.get(endpoint, frozenset()):
                continue
            answer = client.open(path, method=method)
            assert answer.status_code == 403 and answer.mimetype == "text/html", (role, endpoint, method)
            assert "<h1>Not allowed</h1>" in answer.get_data(as_text=True)
            checked += 1
    admin = signed_in(app, care, "page-admin", "admin")
    for endpoint, method, path in page_rules(app):
        answer = admin.open(path, method=method)
        assert answer.status_code not in (401, 403) and "/login" not in answer.headers.get("Location", ""), endpoint
    assert checked >= 2 * 14  # the admin pages alone are 15 endpoints
