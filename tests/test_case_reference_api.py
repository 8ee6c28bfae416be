"""Case references in the API: on every view of an instance, searchable, and accepted where tracking codes are."""

from __future__ import annotations

from sqlalchemy import select

from engine import case_reference
from engine.models import ProcessInstance
from engine.runtime import StartRequest
from tests.conftest import source, upload
from tests.test_messages import CUSTOMER, INTAKE_FILES, ORDER_FILES


def typed_sloppily(reference: str) -> str:
    """As a person might type it: lower case, no prefix, no hyphen, O for 0 and l for 1."""
    return reference.removeprefix("CC-").replace("-", " ").lower().replace("0", "o").replace("1", "l")


def test_every_instance_has_its_own_reference_in_views_lists_and_status(client, anonymous):
    assert client.post("/api/deployments", data=upload("hello_care.bpmn")).status_code == 201
    started = [
        client.post("/api/process-definitions/hello_care/instances", json={"customer_id": "C-1"}).json for _ in range(3)
    ]
    references = [view["reference"] for view in started]
    assert len(set(references)) == 3
    assert all(case_reference.parse(r) == r and len(r) <= 12 for r in references)
    first = started[0]
    assert client.get(f"/api/instances/{first['id']}").json["reference"] == first["reference"]
    found = client.get("/api/instances", query_string={"reference": typed_sloppily(first["reference"])}).json
    assert [item["id"] for item in found["items"]] == [first["id"]]
    assert found["items"][0]["reference"] == first["reference"]
    timeline = client.get("/api/customers/C-1/timeline").json["items"]
    assert sorted(item["reference"] for item in timeline) == sorted(references)
    status = anonymous.get(f"/api/status/{first['tracking_code']}").json
    assert status["reference"] == first["reference"]


def test_a_search_by_a_mistyped_reference_says_what_is_wrong(client):
    text = "CC-7K4M-2QXE"
    assert client.get("/api/instances", query_string={"reference": text}).json["items"] == []
    wrong = client.get("/api/instances", query_string={"reference": "CC-7K4M-2QX9"})
    assert wrong.status_code == 422 and wrong.mimetype == "application/problem+json"
    assert "mistyped or two were swapped" in wrong.json["detail"]
    short = client.get("/api/instances", query_string={"reference": "CC-7K4M"})
    assert short.status_code == 422 and "has 8 characters" in short.json["detail"]


def test_a_drawn_reference_that_is_taken_is_drawn_again(care, monkeypatch):
    care.repository.deploy([source("hello_care.bpmn")], "test", "test")
    taken = care.runtime.start(StartRequest("hello_care", {}), "test")[0]["reference"]
    fresh = case_reference.new()
    while fresh == taken:
        fresh = case_reference.new()
    draws = iter([taken, taken, fresh])
    monkeypatch.setattr(case_reference, "new", lambda: next(draws))
    assert care.runtime.start(StartRequest("hello_care", {}), "test")[0]["reference"] == fresh


def test_an_inquiry_quoting_the_reference_is_a_reply_to_its_conversation(care, client):
    care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    body = {"channel": "email", "customer": CUSTOMER, "subject": "Invoice wrong", "body": "Charged twice."}
    started = client.post("/api/inquiries", json=body).json
    assert case_reference.parse(started["reference"]) == started["reference"]
    reply = {
        **body,
        "subject": "Re: Invoice wrong",
        "body": "Any news?",
        "reference": typed_sloppily(started["reference"]),
    }
    answered = client.post("/api/inquiries", json=reply)
    assert answered.status_code == 200
    assert answered.json == {**started, "started": False, "status": "buffered"}
    with care.db.read() as session:
        row = session.scalar(select(ProcessInstance).where(ProcessInstance.id == started["instance_id"]))
    assert row.contact_email == CUSTOMER["email"]  # the address the customer wrote from


def test_a_message_addressed_by_reference_reaches_that_instance_only(care, client):
    care.repository.deploy([source(name) for name in ORDER_FILES], "test", "test")
    first, second = (
        care.runtime.start(StartRequest("message_order", {"order_id": "A-1"}), "test")[0] for _ in range(2)
    )
    body = {"name": "payment_received", "correlation_keys": {"order_id": "A-1"}, "payload": {"amount": 1}}
    paid = client.post("/api/messages", json={**body, "reference": typed_sloppily(second["reference"])})
    assert paid.status_code == 201 and paid.json["instances"] == [second["id"]]
    both = {**body, "reference": first["reference"], "tracking_code": first["tracking_code"]}
    assert client.post("/api/messages", json=both).status_code == 400
    assert client.post("/api/messages", json={**body, "reference": "CC-7K4M-2QXE"}).status_code == 404
    mistyped = client.post("/api/messages", json={**body, "reference": "CC-7K4M-2QX9"})
    assert mistyped.status_code == 422 and "mistyped" in mistyped.json["detail"]


def test_processes_started_by_a_message_or_signal_answer_with_their_reference(care, client):
    care.repository.deploy([source(name) for name in (*INTAKE_FILES, *ORDER_FILES)], "test", "test")
    started = client.post("/api/messages", json={"name": "inquiry_received", "payload": {"inquiry": {}}})
    assert started.status_code == 201, started.json
    assert started.json["reference"] == client.get(f"/api/instances/{started.json['started']}").json["reference"]
    [claim] = client.post("/api/signals", json={"name": "parcel_lost", "payload": {}}).json["started"]
    assert claim["reference"] == client.get(f"/api/instances/{claim['instance']}").json["reference"]
