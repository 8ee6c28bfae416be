"""A failing script becomes an incident on a failed instance, never a 500 or a lost instance; retry clears it."""

import io

from tests.conftest import source, upload


def test_failing_script_fails_the_instance_with_an_incident(client):
    client.post("/api/deployments", data=upload("script_failure.bpmn"))
    response = client.post("/api/process-definitions/script_failure/instances", json={"variables": {"divisor": 0}})
    assert response.status_code == 201
    instance = response.json
    assert instance["status"] == "failed"
    [incident] = client.get("/api/incidents").json["items"]
    assert incident["instance_id"] == instance["id"]
    assert incident["element_id"] == "divide"
    assert incident["element_name"] == "Divide by divisor"
    assert "division by zero" in incident["message"]
    assert "Traceback" not in incident["message"]
    events = [e["event_type"] for e in client.get(f"/api/instances/{instance['id']}/history").json["items"]]
    assert events == ["instance_started", "instance_failed"]
    assert client.get("/api/instances?status=failed").json["items"][0]["id"] == instance["id"]


def test_retry_with_fixed_data_resumes_from_the_failed_element(client):
    client.post("/api/deployments", data=upload("script_failure.bpmn"))
    instance = client.post("/api/process-definitions/script_failure/instances", json={"variables": {"divisor": 0}}).json
    incident = client.get("/api/incidents").json["items"][0]
    retried = client.post(f"/api/incidents/{incident['id']}/retry", json={"data": {"divisor": 4}})
    assert retried.status_code == 200, retried.json
    assert retried.json["status"] == "active"
    assert [t["element_id"] for t in retried.json["tasks"]] == ["review"]
    assert client.get(f"/api/instances/{instance['id']}").json["data"]["result"] == 2.5
    assert client.get("/api/incidents").json["items"] == []
    resolved = client.get("/api/incidents?status=resolved").json["items"]
    assert resolved[0]["resolved_by"] == "token:test-admin"
    assert client.post(f"/api/incidents/{incident['id']}/retry", json={}).status_code == 409


def test_retry_that_fails_again_opens_a_new_incident(client):
    client.post("/api/deployments", data=upload("script_failure.bpmn"))
    client.post("/api/process-definitions/script_failure/instances", json={"variables": {"divisor": 0}})
    first = client.get("/api/incidents").json["items"][0]
    retried = client.post(f"/api/incidents/{first['id']}/retry", json={})
    assert retried.json["status"] == "failed"
    [second] = client.get("/api/incidents").json["items"]
    assert second["id"] != first["id"]
    assert second["element_id"] == "divide"


def test_retry_on_the_latest_version_after_a_redeploy(client):
    client.post("/api/deployments", data=upload("script_failure.bpmn"))
    instance = client.post("/api/process-definitions/script_failure/instances", json={"variables": {"divisor": 0}}).json
    fixed = source("script_failure_fixed.bpmn").content
    assert (
        client.post("/api/deployments", data={"files": [(io.BytesIO(fixed), "script_failure.bpmn")]}).status_code == 201
    )
    incident = client.get("/api/incidents").json["items"][0]
    retried = client.post(f"/api/incidents/{incident['id']}/retry", json={"latest_version": True})
    assert retried.status_code == 200, retried.json
    assert (retried.json["status"], retried.json["version"]) == ("active", 2)
    assert client.get(f"/api/instances/{instance['id']}").json["data"]["result"] == 10
    events = [e["event_type"] for e in client.get(f"/api/instances/{instance['id']}/history").json["items"]]
    assert "instance_migrated" in events


def test_incident_endpoints_validate_input(client):
    assert client.get("/api/incidents/1").status_code == 404
    assert client.post("/api/incidents/1/retry", json={}).status_code == 404
    assert client.get("/api/incidents?status=maybe").status_code == 400
    client.post("/api/deployments", data=upload("script_failure.bpmn"))
    client.post("/api/process-definitions/script_failure/instances", json={"variables": {"divisor": 0}})
    incident = client.get("/api/incidents").json["items"][0]
    assert client.post(f"/api/incidents/{incident['id']}/retry", json={"latest_version": "yes"}).status_code == 400
    assert client.post(f"/api/incidents/{incident['id']}/retry", json={"bogus": 1}).status_code == 400


def test_a_missing_variable_names_the_expression_and_the_closest_names(client):
    client.post("/api/deployments", data=upload("script_failure.bpmn", "condition_failure.bpmn"))
    client.post("/api/process-definitions/script_failure/instances", json={"variables": {"divisr": 2, "amount": 1}})
    [incident] = client.get("/api/incidents").json["items"]
    assert incident["element_id"] == "divide"
    message = incident["message"]
    assert "name 'divisor' is not defined in `result = 10 / divisor` (line 1)" in message
    assert "did you mean 'divisr'?" in message and "(the data holds: amount, divisr)" in message

    client.post("/api/process-definitions/condition_failure/instances", json={"variables": {"amout": 150}})
    [condition] = [i for i in client.get("/api/incidents").json["items"] if i["element_id"] != "divide"]
    assert "amount > 100" in condition["message"] and "did you mean 'amout'?" in condition["message"], condition
