"""Starting, reading, listing and cancelling instances; idempotent starts; history."""

import pytest

from tests.conftest import upload


@pytest.fixture
def deployed(client):
    assert client.post("/api/deployments", data=upload("hello_care.bpmn", "parallel_tasks.bpmn")).status_code == 201


def start(client, key="hello_care", **body):
    return client.post(f"/api/process-definitions/{key}/instances", json=body)


def test_start_returns_the_instance_at_its_first_wait_state(client, deployed):
    response = start(client, business_key="case-1", customer_id="c-7", variables={"subject": "Printer"})
    assert response.status_code == 201
    body = response.json
    assert response.headers["Location"] == f"/api/instances/{body['id']}"
    assert body["process_key"] == "hello_care"
    assert body["version"] == 1
    assert (body["business_key"], body["customer_id"], body["status"]) == ("case-1", "c-7", "active")
    assert [t["element_id"] for t in body["tasks"]] == ["answer_inquiry"]
    detail = client.get(f"/api/instances/{body['id']}").json
    assert detail["data"] == {"subject": "Printer"}


def test_tracking_codes_are_long_random_and_unique(client, deployed):
    codes = {start(client).json["tracking_code"] for _ in range(20)}
    assert len(codes) == 20
    for code in codes:
        assert len(code) >= 22  # at least 128 bits in URL-safe base64
        assert all(c.isalnum() or c in "-_" for c in code)


def test_idempotency_key_returns_first_response_and_starts_nothing(client, deployed):
    headers = {"Idempotency-Key": "intake-42"}
    first = client.post("/api/process-definitions/hello_care/instances", json={"business_key": "b"}, headers=headers)
    again = client.post("/api/process-definitions/hello_care/instances", json={"business_key": "b"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(client.get("/api/instances").json["items"]) == 1
    different = client.post(
        "/api/process-definitions/hello_care/instances", json={"business_key": "other"}, headers=headers
    )
    assert different.status_code == 422
    assert different.json["type"] == "/problems/idempotency-key-reused"
    assert len(client.get("/api/instances").json["items"]) == 1


@pytest.mark.parametrize(
    "body",
    [{"variables": []}, {"business_key": 5}, {"business_key": ""}, {"unexpected": 1}],
)
def test_bad_start_requests_are_400_and_start_nothing(client, deployed, body):
    response = start(client, **body)
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert client.get("/api/instances").json["items"] == []


def test_body_that_is_not_json_object_is_400(client, deployed):
    response = client.post("/api/process-definitions/hello_care/instances", data="[1]", content_type="application/json")
    assert response.status_code == 400


def test_list_filters_and_pages(client, deployed):
    for index in range(3):
        start(client, business_key=f"b{index}", customer_id="c1" if index else "c2")
    start(client, "parallel_tasks")
    assert len(client.get("/api/instances?process_key=hello_care").json["items"]) == 3
    assert [i["business_key"] for i in client.get("/api/instances?customer_id=c2").json["items"]] == ["b0"]
    assert [i["business_key"] for i in client.get("/api/instances?business_key=b1").json["items"]] == ["b1"]
    first = client.get("/api/instances?limit=3").json
    assert len(first["items"]) == 3 and "limit=3" in first["next"]
    rest = client.get(first["next"]).json
    assert len(rest["items"]) == 1 and rest["next"] is None
    ids = [i["id"] for i in first["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4
    assert client.get("/api/instances?status=bogus").status_code == 400
    assert client.get("/api/instances?limit=x").status_code == 400


def test_cancel_closes_open_tasks_and_is_recorded(client, deployed):
    instance = start(client, "parallel_tasks").json
    assert len(instance["tasks"]) == 2
    cancelled = client.post(f"/api/instances/{instance['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json["status"] == "cancelled"
    assert cancelled.json["tasks"] == []
    assert client.get(f"/api/tasks?instance_id={instance['id']}").json["items"] == []
    closed = client.get(f"/api/tasks?instance_id={instance['id']}&status=cancelled").json["items"]
    assert len(closed) == 2
    again = client.post(f"/api/instances/{instance['id']}/cancel")
    assert again.status_code == 409
    events = [e["event_type"] for e in client.get(f"/api/instances/{instance['id']}/history").json["items"]]
    assert events == [
        "instance_started",
        "task_created",
        "task_created",
        "instance_cancelled",
        "task_cancelled",
        "task_cancelled",
    ]


def test_history_records_every_change_with_the_principal(client, deployed):
    instance = start(client).json
    task_id = instance["tasks"][0]["id"]
    client.post(f"/api/tasks/{task_id}/claim")
    client.post(f"/api/tasks/{task_id}/unclaim")
    client.post(f"/api/tasks/{task_id}/complete", json={"data": {"answer": "Fixed"}})
    events = client.get(f"/api/instances/{instance['id']}/history").json["items"]
    assert [e["event_type"] for e in events] == [
        "instance_started",
        "task_created",
        "task_claimed",
        "task_unclaimed",
        "task_completed",
        "instance_completed",
    ]
    assert {e["principal"] for e in events} == {"token:test-admin"}
    assert all(e["at"].endswith("+00:00") for e in events)
    assert events[2]["task_id"] == task_id


def test_a_step_on_a_completed_instance_records_its_completion_no_second_time(care, client, deployed):
    instance = start(client).json
    client.post(f"/api/tasks/{instance['tasks'][0]['id']}/complete", json={"data": {"answer": "Fixed"}})
    care.executor.mutate(instance["id"], lambda *_: None, "test")  # e.g. a late message that finds nothing to do
    events = client.get(f"/api/instances/{instance['id']}/history").json["items"]
    assert [e["event_type"] for e in events].count("instance_completed") == 1


def test_unknown_instance_is_404(client):
    for response in (
        client.get("/api/instances/999"),
        client.post("/api/instances/999/cancel"),
        client.get("/api/instances/999/history"),
    ):
        assert response.status_code == 404
        assert response.json["type"] == "/problems/not-found"
