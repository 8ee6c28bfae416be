"""The shortest end-to-end path through the API: deploy, start, complete, completed."""

from tests.conftest import upload


def test_deploy_start_complete(client):
    assert client.post("/api/deployments", data=upload("hello_care.bpmn")).status_code == 201
    started = client.post("/api/process-definitions/hello_care/instances", json={}).json
    assert started["status"] == "active"
    [task] = started["tasks"]
    done = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"answer": "ok"}})
    assert done.status_code == 200, done.json
    assert done.json["instance"]["status"] == "completed"
    assert client.get(f"/api/instances/{started['id']}").json["data"] == {"answer": "ok"}
