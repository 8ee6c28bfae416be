"""Forms as JSON Schema files: checked at deploy, versioned with the process, enforced on the server."""

import io
import json

from tests.conftest import source, upload


def deploy(client, *names):
    return client.post("/api/deployments", data=upload(*names))


def billing_task(client):
    assert deploy(client, "camunda_billing.bpmn", "invoice_check.json").status_code == 201
    return client.post("/api/process-definitions/camunda_billing/instances", json={}).json["tasks"][0]


def test_form_missing_from_deployment_and_folder_is_refused_at_the_task(client):
    response = deploy(client, "camunda_billing.bpmn")
    assert response.status_code == 422
    [error] = response.json["errors"]
    assert (error["file"], error["element_id"], error["line"]) == ("camunda_billing.bpmn", "check_invoice", 5)
    assert "invoice_check.json" in error["message"]


def test_invalid_schema_is_refused(client):
    bad = json.dumps({"type": "object", "properties": {"amount": {"type": "money"}}}).encode()
    files = upload("camunda_billing.bpmn")["files"] + [(io.BytesIO(bad), "invoice_check.json")]
    response = client.post("/api/deployments", data={"files": files})
    assert response.status_code == 422
    assert "not a valid JSON Schema at properties/amount/type" in response.json["errors"][0]["message"]
    broken = upload("camunda_billing.bpmn")["files"] + [(io.BytesIO(b"{nope"), "invoice_check.json")]
    assert "not valid JSON" in client.post("/api/deployments", data={"files": broken}).json["errors"][0]["message"]


def test_forms_folder_supplies_referenced_forms(client):
    response = deploy(client, "hello_care.bpmn")
    assert response.status_code == 201
    [deployment] = client.get("/api/deployments").json["items"]
    assert {f["filename"]: f["kind"] for f in deployment["files"]} == {
        "hello_care.bpmn": "bpmn",
        "answer_inquiry.json": "form",
        "answer_inquiry.ui.json": "form",
    }


def test_completion_is_validated_with_per_field_messages_and_changes_nothing(client):
    task = billing_task(client)
    bad = {"amount": -3, "reason": "bored", "contact": "not-an-email", "refund_date": "31.12.2026"}
    response = client.post(f"/api/tasks/{task['id']}/complete", json={"data": bad})
    assert response.status_code == 422
    assert response.json["type"] == "/problems/invalid-form-data"
    messages = {e["field"]: e["message"] for e in response.json["errors"]}
    assert messages == {
        "invoice_ok": "This field is required.",
        "amount": "Must be at least 0.",
        "reason": "Choose one of: wrong_price, duplicate, other.",
        "contact": "Not a valid email.",
        "refund_date": "Not a valid date.",
    }
    assert client.get(f"/api/tasks/{task['id']}").json["status"] == "open"
    wrong_type = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"invoice_ok": "yes"}})
    assert wrong_type.json["errors"] == [{"field": "invoice_ok", "message": "Expected boolean."}]
    good = {"invoice_ok": False, "amount": 12.5, "contact": "anna@example.com", "refund_date": "2026-12-31"}
    assert client.post(f"/api/tasks/{task['id']}/complete", json={"data": good}).status_code == 200


def test_running_instances_keep_the_form_of_their_version(client):
    task = billing_task(client)
    stricter = json.loads(source("invoice_check.json").content)
    stricter["required"] = ["invoice_ok", "reason"]
    files = upload("camunda_billing.bpmn")["files"] + [
        (io.BytesIO(json.dumps(stricter).encode()), "invoice_check.json")
    ]
    changed = client.post("/api/deployments", data={"files": files})
    assert changed.status_code == 201 and changed.json["definitions"][0]["version"] == 2
    assert client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"invoice_ok": True}}).status_code == 200
    newer = client.post("/api/process-definitions/camunda_billing/instances", json={}).json["tasks"][0]
    response = client.post(f"/api/tasks/{newer['id']}/complete", json={"data": {"invoice_ok": True}})
    assert response.status_code == 422 and response.json["errors"][0]["field"] == "reason"


def test_form_endpoint_and_drafts(client):
    deploy(client, "hello_care.bpmn")
    instance = client.post(
        "/api/process-definitions/hello_care/instances", json={"variables": {"subject": "Wi-Fi"}}
    ).json
    task_id = instance["tasks"][0]["id"]
    form = client.get(f"/api/tasks/{task_id}/form").json
    assert form["schema"]["required"] == ["answer"]
    assert form["ui"]["ui:order"][0] == "answer"
    assert form["data"] == {"subject": "Wi-Fi"} and form["draft"] is None
    assert client.post(f"/api/tasks/{task_id}/draft", json={"data": {"answer": "Half"}}).status_code == 200
    assert client.get(f"/api/tasks/{task_id}/form").json["draft"] == {"answer": "Half"}
    client.post(f"/api/tasks/{task_id}/complete", json={"data": {"answer": "Whole"}})
    assert client.post(f"/api/tasks/{task_id}/draft", json={"data": {}}).status_code == 409
