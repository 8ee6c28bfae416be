"""Human tasks: the read model, filters, claims and completion."""

import pytest
from sqlalchemy import select

from engine.models import HumanTaskCandidate
from tests.conftest import upload


@pytest.fixture
def deployed(client):
    names = ("hello_care.bpmn", "parallel_tasks.bpmn", "camunda_billing.bpmn", "invoice_check.json")
    assert client.post("/api/deployments", data=upload(*names)).status_code == 201


def start(client, key):
    return client.post(f"/api/process-definitions/{key}/instances", json={}).json


def test_filters_by_group_assignee_process_and_instance(client, deployed):
    hello = start(client, "hello_care")
    billing = start(client, "camunda_billing")
    support = client.get("/api/tasks?candidate_group=support").json["items"]
    assert [t["instance_id"] for t in support] == [hello["id"]]
    assert [t["instance_id"] for t in client.get("/api/tasks?candidate_group=team_lead").json["items"]] == [
        billing["id"]
    ]
    assert client.get("/api/tasks?candidate_group=sales").json["items"] == []
    assert len(client.get("/api/tasks?process_key=camunda_billing").json["items"]) == 1
    assert len(client.get(f"/api/tasks?instance_id={hello['id']}").json["items"]) == 1
    client.post(f"/api/tasks/{support[0]['id']}/claim")
    mine = client.get("/api/tasks?assignee=token:test-admin").json["items"]
    assert [t["id"] for t in mine] == [support[0]["id"]]


def test_team_lists_follow_the_task_status(client, care, deployed):
    first, second = start(client, "hello_care"), start(client, "hello_care")
    done = first["tasks"][0]["id"]
    assert client.post(f"/api/tasks/{done}/complete", json={"data": {"answer": "Done."}}).status_code == 200
    assert client.post(f"/api/instances/{second['id']}/cancel").status_code == 200
    third = start(client, "hello_care")["tasks"][0]["id"]

    def team(status):
        return [t["id"] for t in client.get(f"/api/tasks?candidate_group=support&status={status}").json["items"]]

    assert team("open") == [third]
    assert team("completed") == [done]
    assert team("cancelled") == [second["tasks"][0]["id"]]
    with care.db.read() as session:
        flags = dict(session.execute(select(HumanTaskCandidate.task_id, HumanTaskCandidate.task_open)).all())
    assert flags == {done: False, second["tasks"][0]["id"]: False, third: True}


def test_task_list_pages_in_stable_order(client, deployed):
    for _ in range(5):
        start(client, "hello_care")
    first = client.get("/api/tasks?limit=2").json
    second = client.get(first["next"]).json
    third = client.get(second["next"]).json
    ids = [t["id"] for page in (first, second, third) for t in page["items"]]
    assert ids == sorted(ids) and len(ids) == 5
    assert third["next"] is None


def test_claim_unclaim_and_conflicts(client, deployed):
    task_id = start(client, "hello_care")["tasks"][0]["id"]
    claimed = client.post(f"/api/tasks/{task_id}/claim")
    assert claimed.status_code == 200
    assert claimed.json["assignee"] == "token:test-admin"
    assert client.post(f"/api/tasks/{task_id}/claim").status_code == 409
    assert client.post(f"/api/tasks/{task_id}/unclaim").json["assignee"] is None
    assert client.post(f"/api/tasks/{task_id}/unclaim").status_code == 409


def test_complete_merges_data_and_moves_on(client, deployed):
    instance = start(client, "camunda_billing")
    first = instance["tasks"][0]
    done = client.post(f"/api/tasks/{first['id']}/complete", json={"data": {"invoice_ok": False, "amount": 12.5}})
    assert done.status_code == 200
    assert done.json["task"]["status"] == "completed"
    assert done.json["task"]["completed_by"] == "token:test-admin"
    assert [t["element_id"] for t in done.json["instance"]["tasks"]] == ["send_credit"]
    assert client.get(f"/api/instances/{instance['id']}").json["data"] == {"invoice_ok": False, "amount": 12.5}


def test_completing_a_task_twice_is_409_and_changes_nothing(client, deployed):
    instance = start(client, "parallel_tasks")
    task_a = instance["tasks"][0]
    assert client.post(f"/api/tasks/{task_a['id']}/complete", json={"data": {"a": 1}}).status_code == 200
    again = client.post(f"/api/tasks/{task_a['id']}/complete", json={"data": {"a": 2}})
    assert again.status_code == 409
    assert again.json["type"] == "/problems/task-not-open"
    detail = client.get(f"/api/instances/{instance['id']}").json
    assert detail["status"] == "active"
    assert detail["data"]["a"] == 1


@pytest.mark.parametrize("body", [{"data": [1]}, {"answer": 1}, {"data": "x"}])
def test_bad_completion_bodies_are_400(client, deployed, body):
    task_id = start(client, "hello_care")["tasks"][0]["id"]
    assert client.post(f"/api/tasks/{task_id}/complete", json=body).status_code == 400
    assert client.get(f"/api/tasks/{task_id}").json["status"] == "open"


def test_unknown_task_is_404(client):
    assert client.get("/api/tasks/404").status_code == 404
    assert client.post("/api/tasks/404/complete", json={"data": {}}).status_code == 404
    assert client.post("/api/tasks/404/claim").status_code == 404
