"""GET /api/customers/{id}: the customer store as staff see it, documented in the OpenAPI document."""

from __future__ import annotations

import json
from pathlib import Path

from process_library.csv_import import import_csv
from tests.test_openapi import DOCUMENT, assert_documented

SAMPLE = Path(__file__).resolve().parent.parent / "process_library" / "sample"
PATH = "/api/customers/{customer_id}"


def load_sample(care) -> None:
    for kind in ("customers", "systems", "licenses"):
        import_csv(care.db, kind, (SAMPLE / f"{kind}.csv").read_text())


def test_a_customer_with_systems_and_licenses(care, client):
    load_sample(care)
    response = client.get("/api/customers/C-1004")
    assert response.status_code == 200, response.json
    body = response.json
    assert {k: body[k] for k in ("id", "name", "email", "tier", "language")} == {
        "id": "C-1004",
        "name": "Delta Freight Ltd",
        "email": "ops@delta-freight.example",
        "tier": "premium",
        "language": "en",
    }
    assert [s["id"] for s in body["systems"]] == ["S-2005", "S-2006"]
    assert body["systems"][0] == {
        "id": "S-2005",
        "customer_id": "C-1004",
        "product": "carestation",
        "version": "3.9.8",
        "hostname": "cs.delta-freight.example",
    }
    assert [(lic["id"], lic["status"]) for lic in body["licenses"]] == [
        ("L-3004", "renewed"),
        ("L-3005", "active"),
        ("L-3006", "active"),
    ]
    assert body["licenses"][1]["valid_until"] == "2028-12-31T23:59:59+00:00"
    assert_documented(json.loads(DOCUMENT.read_text()), response, PATH, "get")


def test_an_unknown_customer_is_404_problem_json(care, client):
    response = client.get("/api/customers/C-404")
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    assert "C-404" in response.json["detail"]
    assert_documented(json.loads(DOCUMENT.read_text()), response, PATH, "get")


def test_staff_may_read_customers_designers_may_not(care, anonymous):
    load_sample(care)
    care.identity.add_user("sam", "staff")
    care.identity.add_user("dana", "designer")
    staff = care.tokens.create("sam-token", username="sam")[1]
    designer = care.tokens.create("dana-token", username="dana")[1]
    assert anonymous.get("/api/customers/C-1001", headers={"Authorization": f"Bearer {staff}"}).status_code == 200
    assert anonymous.get("/api/customers/C-1001", headers={"Authorization": f"Bearer {designer}"}).status_code == 403
    assert anonymous.get("/api/customers/C-1001").status_code == 401


def test_the_timeline_lists_a_customers_requests_across_processes_newest_first(care, client):
    from tests.conftest import source

    files = ("inquiry_intake.bpmn", "escalation.bpmn", "classify_inquiry.dmn", "inquiry_sla.dmn", "hello_care.bpmn")
    care.repository.deploy([source(name) for name in files], "test", "test")
    customer = {"id": "C-77", "name": "Tia", "email": "tia@example.com"}
    first = care.intake.submit(
        channel="phone", customer=customer, subject="Invoice", body="Wrong.", reference=None, principal="t"
    )
    client.post("/api/process-definitions/hello_care/instances", json={"customer_id": "C-77", "variables": {}})
    client.post("/api/process-definitions/hello_care/instances", json={"customer_id": "C-other", "variables": {}})
    page = client.get("/api/customers/C-77/timeline?limit=1").get_json()
    [newest] = page["items"]
    assert newest["process_key"] == "hello_care" and page["next"]
    [oldest] = client.get(page["next"]).get_json()["items"]
    assert (oldest["instance_id"], oldest["channel"], oldest["title"]) == (first.instance_id, "phone", "Inquiry")
    assert "instance_started" in [e["type"] for e in oldest["events"]]
    assert client.get("/api/customers/nobody/timeline").get_json() == {"items": [], "next": None}
