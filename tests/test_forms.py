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


def _form_data_file(field_xml: str) -> dict:
    text = source("camunda_form_data.bpmn").content.decode()
    start, end = text.index("<camunda:formData>"), text.index("</camunda:formData>")
    changed = text[: start + len("<camunda:formData>")] + field_xml + text[end:]
    return {"files": [(io.BytesIO(changed.encode()), "camunda_form_data.bpmn")]}


def test_camunda_generated_forms_become_json_schema_forms(client):
    assert deploy(client, "camunda_form_data.bpmn").status_code == 201
    [task] = client.post("/api/process-definitions/camunda_form_data/instances", json={}).json["tasks"]
    form = client.get(f"/api/tasks/{task['id']}/form").json
    schema = form["schema"]
    assert schema["required"] == ["phone"]
    assert schema["properties"]["phone"] == {
        "type": "string",
        "title": "Phone number",
        "description": "With country code, e.g. +49 30 1234567",
        "minLength": 6,
        "maxLength": 30,
    }
    assert schema["properties"]["attempts"] == {
        "type": "integer",
        "title": "Attempts",
        "default": 1,
        "minimum": 1,
        "maximum": 5,
    }
    assert schema["properties"]["slot"]["enum"] == ["morning", "afternoon"]
    assert schema["properties"]["on"]["format"] == "date" and schema["properties"]["urgent"]["type"] == "boolean"
    refused = client.post(
        f"/api/tasks/{task['id']}/complete", json={"data": {"phone": "12", "attempts": 9, "slot": "night"}}
    )
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json["errors"]} == {"phone", "attempts", "slot"}
    data = {"phone": "+49 30 1234567", "attempts": 2, "slot": "afternoon", "urgent": True, "on": "2030-01-08"}
    done = client.post(f"/api/tasks/{task['id']}/complete", json={"data": data})
    assert done.status_code == 200 and done.json["instance"]["status"] == "completed"


def test_readonly_fields_are_shown_and_never_taken(client):
    field = (
        '<camunda:formField id="customer_name" label="Customer" type="string">'
        '<camunda:validation><camunda:constraint name="readonly" /><camunda:constraint name="required" />'
        "</camunda:validation></camunda:formField>"
        '<camunda:formField id="answer" label="Answer" type="string" />'
    )
    assert client.post("/api/deployments", data=_form_data_file(field)).status_code == 201
    started = client.post(
        "/api/process-definitions/camunda_form_data/instances", json={"variables": {"customer_name": "Ada"}}
    ).json
    task = started["tasks"][0]
    schema = client.get(f"/api/tasks/{task['id']}/form").json["schema"]
    assert schema["properties"]["customer_name"]["readOnly"] is True and "required" not in schema
    refused = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"customer_name": "Eve"}})
    assert refused.status_code == 422 and refused.json["errors"][0]["field"] == "customer_name"
    assert client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"answer": "ok"}}).status_code == 200
    assert client.get(f"/api/instances/{started['id']}").json["data"]["customer_name"] == "Ada"


def test_form_fields_without_a_faithful_json_schema_form_are_refused_with_the_field(client):
    cases = {
        '<camunda:formField id="x" label="X" type="customType" />': "form field 'x' has type 'customType'",
        '<camunda:formField id="y" type="string" defaultValue="${other}" />': "expression default '${other}'",
        '<camunda:formField id="z" type="string"><camunda:validation><camunda:constraint name="validator" '
        'config="com.example.Check" /></camunda:validation></camunda:formField>': "constraint 'validator'",
        '<camunda:formField id="n" type="long" defaultValue="many" />': "default 'many', not a whole number",
    }
    for field, expected in cases.items():
        response = client.post("/api/deployments", data=_form_data_file(field))
        assert response.status_code == 422, field
        [error] = response.json["errors"]
        assert (error["file"], error["element_id"], error["line"]) == ("camunda_form_data.bpmn", "callback", 7)
        assert expected in error["message"], (field, error["message"])
