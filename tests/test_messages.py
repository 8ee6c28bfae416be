"""Messages and signals: every catch type, buffering and ttl, message ids, throw events, starts, intake, races.

tests/data/message_order.bpmn waits for a payment (receive task, correlated by ``order_id``),
then ships with an interrupting (``order_cancelled``) and a non-interrupting (``address_changed``)
boundary message, then an event-based gateway waits for ``order_delivered`` or three days; the
order ends by throwing ``order_done``, which starts message_archive.bpmn, or by throwing the
signal ``parcel_lost``, which starts message_claim.bpmn.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from engine import message_rows
from engine.errors import Conflict, InvalidRequest, TaskNotOpen, Unprocessable
from engine.models import HistoryEvent, Message, MessageSubscription, ProcessInstance
from engine.runtime import InstanceFilter, StartRequest
from engine.tasks import TaskFilter
from tests.conftest import make_engine, source, upload

ORDER_FILES = ("message_order.bpmn", "message_archive.bpmn", "message_claim.bpmn")


@pytest.fixture
def shop(care):
    care.repository.deploy([source(name) for name in ORDER_FILES], "test", "test")
    return care


def order(care, order_id: str = "A-1") -> int:
    view, _ = care.runtime.start(StartRequest("message_order", {"order_id": order_id}), "test")
    return view["id"]


def tasks(care, instance_id: int) -> list[str]:
    return sorted(t["name"] for t in care.tasks.list(TaskFilter(instance_id=instance_id), 50, None).items)


def data(care, instance_id: int) -> dict:
    return care.runtime.get(instance_id)["data"]


def pay(care, order_id: str = "A-1", **options):
    return care.messages.publish(
        "payment_received", principal="shop", correlation={"order_id": order_id}, payload={"amount": 42}, **options
    )


def received(care, instance_id: int, element_id: str) -> int:
    with care.db.read() as session:
        query = select(HistoryEvent).where(
            HistoryEvent.instance_id == instance_id,
            HistoryEvent.event_type == "message_received",
            HistoryEvent.element_id == element_id,
        )
        return len(list(session.scalars(query)))


def subscriptions(care, instance_id: int) -> list[tuple[str, str, dict]]:
    with care.db.read() as session:
        query = select(MessageSubscription).where(MessageSubscription.instance_id == instance_id)
        return sorted((s.kind, s.name, s.correlation) for s in session.scalars(query))


def test_a_receive_task_is_a_subscription_row_and_takes_its_correlated_message(shop):
    first, second = order(shop, "A-1"), order(shop, "A-2")
    assert subscriptions(shop, first) == [("message", "payment_received", {"order_id": "A-1"})]
    published = pay(shop, "A-2")
    assert (published.status, published.instances) == ("delivered", [second])
    assert data(shop, second)["payment"] == {"amount": 42}
    assert tasks(shop, second) == ["Ship the order"] and tasks(shop, first) == []
    assert sorted(name for _, name, _ in subscriptions(shop, second)) == [
        "address_changed",
        "note_added",
        "order_cancelled",
    ]


def test_subscriptions_a_step_deletes_leave_its_session_too(shop):
    """The DELETE is a Core statement: rows of it that the session holds are taken out, not written back later."""
    instance_id = order(shop)
    with shop.db.write() as session:
        instance = session.get(ProcessInstance, instance_id)
        (loaded,) = session.scalars(select(MessageSubscription).where(MessageSubscription.instance_id == instance_id))
        instance.status = "cancelled"  # nothing waits any more: every subscription of the instance goes
        message_rows.sync(session, instance, None, shop.clock)
        assert loaded not in session
        loaded.correlation = {"order_id": "changed"}  # no longer the session's: not written anywhere
    assert subscriptions(shop, instance_id) == []


def test_boundary_messages_interrupt_or_not(shop):
    instance = order(shop)
    pay(shop)
    changed = shop.messages.publish("address_changed", principal="shop", correlation={"order_id": "A-1"}, payload={})
    assert changed.status == "delivered" and received(shop, instance, "address") == 1
    assert tasks(shop, instance) == ["Ship the order"]  # the non-interrupting one left it open
    # SpiffWorkflow fires a non-interrupting boundary event once per activation: a second one waits in the buffer
    again = shop.messages.publish("address_changed", principal="shop", correlation={"order_id": "A-1"}, payload={})
    assert again.status == "buffered"
    shop.messages.publish("order_cancelled", principal="shop", correlation={"order_id": "A-1"}, payload={"why": "x"})
    view = shop.runtime.get(instance)
    assert view["status"] == "completed" and view["data"]["cancellation"] == {"why": "x"}
    assert tasks(shop, instance) == [] and subscriptions(shop, instance) == []


def test_an_event_based_gateway_takes_the_message_and_the_end_event_starts_another_process(shop):
    instance = order(shop)
    pay(shop)
    [ship] = shop.tasks.list(TaskFilter(instance_id=instance), 50, None).items
    shop.tasks.complete(ship["id"], {}, "staff")
    assert subscriptions(shop, instance) == [("message", "order_delivered", {"order_id": "A-1"})]
    shop.messages.publish(
        "order_delivered", principal="carrier", correlation={"order_id": "A-1"}, payload={"by": "DHL"}
    )
    assert shop.runtime.get(instance, with_data=False)["status"] == "completed"
    [archive] = shop.runtime.list(_filter("message_archive"), 10, None).items
    assert data(shop, archive["id"])["done_order"] == {"order_id": "A-1", "receipt": {"by": "DHL"}}


def test_the_gateway_timer_branch_throws_a_signal_that_starts_a_claim(shop, clock):
    instance = order(shop)
    pay(shop)
    [ship] = shop.tasks.list(TaskFilter(instance_id=instance), 50, None).items
    shop.tasks.complete(ship["id"], {}, "staff")
    clock.advance("P3D")
    shop.timers.fire_due("w")
    assert shop.runtime.get(instance, with_data=False)["status"] == "completed"
    [claim] = shop.runtime.list(_filter("message_claim"), 10, None).items
    assert tasks(shop, claim["id"]) == ["Claim the insurance"]


def test_a_message_before_its_catch_is_buffered_and_taken_when_the_catch_appears(shop):
    early = pay(shop, "A-7")
    assert early.status == "buffered" and early.expires_at
    instance = order(shop, "A-7")
    assert data(shop, instance)["payment"] == {"amount": 42}
    assert tasks(shop, instance) == ["Ship the order"]
    with shop.db.read() as session:
        assert session.get(Message, early.message).status == "delivered"
        kinds = session.scalars(select(HistoryEvent.event_type).where(HistoryEvent.instance_id == instance))
        assert "message_received" in list(kinds)


def test_a_buffered_message_expires_after_its_ttl_and_is_not_delivered(shop, clock):
    buffered = pay(shop, "A-8", ttl="PT1M")
    clock.advance("PT2M")
    assert shop.messages.run_pending() == 1
    instance = order(shop, "A-8")
    assert tasks(shop, instance) == [] and "payment" not in data(shop, instance)
    with shop.db.read() as session:
        assert session.get(Message, buffered.message).status == "expired"


def test_the_same_message_id_delivers_once_and_returns_the_first_result(shop):
    instance = order(shop)
    first = pay(shop, message_id="pay-1")
    again = pay(shop, message_id="pay-1")
    assert (first.status, first.instances, first.duplicate) == ("delivered", [instance], False)
    assert (again.message, again.status, again.instances, again.duplicate) == (
        first.message,
        "delivered",
        [instance],
        True,
    )
    with shop.db.read() as session:
        assert len(list(session.scalars(select(Message)))) == 1


def test_a_message_start_event_starts_an_instance_with_the_payload(shop):
    started = shop.messages.publish("order_done", principal="shop", payload={"order_id": "B-1"})
    assert started.status == "started" and started.tracking_code
    assert data(shop, started.started)["done_order"] == {"order_id": "B-1"}


def test_signals_reach_every_waiting_catch_and_start_processes(shop):
    result = shop.messages.broadcast("parcel_lost", {"parcel": "P-9"}, "carrier")
    assert result["receivers"] == 1 and result["started"][0]["process_key"] == "message_claim"
    assert data(shop, result["started"][0]["instance"])["lost"] == {"parcel": "P-9"}


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"name": ""}, InvalidRequest, "name must be a non-empty string"),
        ({"name": "x", "payload": [1]}, InvalidRequest, "payload must be a JSON object"),
        ({"name": "x", "ttl": "soon"}, InvalidRequest, "ttl"),
        ({"name": "x", "ttl": "PT0S"}, Unprocessable, "ttl must be longer than zero"),
        ({"name": "x", "ttl": "P99999999Y"}, Unprocessable, "ttl: 'P99999999Y' reaches past the year 9999"),
        ({"name": "x", "ttl": "P9000Y"}, Unprocessable, "ttl: 'P9000Y' reaches past the year 9999"),
        ({"name": "x", "correlation": {"k": {"nested": 1}}}, InvalidRequest, "correlation_keys values"),
    ],
)
def test_bad_messages_are_refused_and_store_nothing(shop, arguments, error, message):
    name = arguments.pop("name")
    with pytest.raises(error, match=message):
        shop.messages.publish(name, principal="shop", **arguments)
    with shop.db.read() as session:
        assert list(session.scalars(select(Message))) == []


def test_a_message_racing_a_task_completion_is_applied_once_or_kept(any_database_url, clock):
    """Cancel and ship at the same moment: one wins; the message is delivered or stays buffered, never lost."""
    care = make_engine(any_database_url, clock)
    try:
        care.repository.deploy([source(name) for name in ORDER_FILES], "test", "test")
        for round_number in range(4):
            race_once(care, f"R-{round_number}")
    finally:
        care.close()


def race_once(care, order_id: str) -> None:
    instance = order(care, order_id)
    pay(care, order_id)
    [ship] = care.tasks.list(TaskFilter(instance_id=instance), 50, None).items
    outcomes: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def complete():
        barrier.wait()
        try:
            care.tasks.complete(ship["id"], {}, "staff")
            outcomes["complete"] = "done"
        except (TaskNotOpen, Conflict) as error:
            outcomes["complete"] = error

    def cancel():
        barrier.wait()
        outcomes["cancel"] = care.messages.publish(
            "order_cancelled", principal="shop", correlation={"order_id": order_id}, payload={}
        )

    threads = [threading.Thread(target=complete), threading.Thread(target=cancel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    view = care.runtime.get(instance)
    if outcomes["cancel"].status == "delivered":
        assert view["status"] == "completed" and "cancellation" in view["data"]
        assert outcomes["complete"] != "done"
    else:
        assert outcomes["cancel"].status == "buffered" and outcomes["complete"] == "done"
        assert "cancellation" not in view["data"] and view["status"] == "active"


def test_two_messages_for_one_instance_at_once_are_both_applied(any_database_url, clock):
    care = make_engine(any_database_url, clock)
    try:
        care.repository.deploy([source(name) for name in ORDER_FILES], "test", "test")
        instance = order(care)
        pay(care)
        barrier = threading.Barrier(2)
        results = []

        def change(name: str):
            barrier.wait()
            results.append(care.messages.publish(name, principal="shop", correlation={"order_id": "A-1"}, payload={}))

        names = ("address_changed", "note_added")
        threads = [threading.Thread(target=change, args=(name,)) for name in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(r.status for r in results) == ["delivered", "delivered"]
        assert received(care, instance, "address") == 1 and received(care, instance, "note") == 1
        assert tasks(care, instance) == ["Ship the order"]
    finally:
        care.close()


# -- channel intake ----------------------------------------------------------------------------

INTAKE_FILES = ("inquiry_intake.bpmn", "escalation.bpmn", "classify_inquiry.dmn", "inquiry_sla.dmn")
CUSTOMER = {"id": "C-9", "name": "Nina", "email": "nina@example.com"}


def test_an_inquiry_starts_intake_and_records_channel_and_customer(care, client):
    care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    body = {"channel": "chat", "customer": CUSTOMER, "subject": "Invoice wrong", "body": "Charged twice."}
    response = client.post("/api/inquiries", json=body)
    assert response.status_code == 201, response.get_json()
    started = response.get_json()
    view = client.get(f"/api/instances/{started['instance_id']}").get_json()
    assert (view["channel"], view["customer_id"], view["process_key"]) == ("chat", "C-9", "inquiry_intake")
    reply = {**body, "subject": "Re: Invoice wrong", "body": "Any news?", "reference": started["tracking_code"]}
    answered = client.post("/api/inquiries", json=reply)
    assert answered.status_code == 200
    assert answered.get_json() == {**started, "started": False, "status": "buffered"}  # the answer task runs still


def test_an_inquiry_without_an_intake_process_or_with_bad_fields_is_refused(care, client):
    body = {"channel": "email", "customer": CUSTOMER, "subject": "Hello", "body": "Anyone?"}
    assert client.post("/api/inquiries", json=body).status_code == 409
    bad = client.post("/api/inquiries", json={**body, "channel": "pigeon", "customer": {"name": "Nina"}})
    assert bad.status_code == 400
    detail = bad.get_json()["detail"]
    assert "body.channel: 'pigeon' is not one of" in detail
    assert "body.customer: {'name': 'Nina'} is not valid under any of the given schemas" in detail  # id, or name+email
    with care.db.read() as session:
        assert list(session.scalars(select(Message))) == []


def test_messages_and_signals_over_the_api(shop, client):
    instance = order(shop)
    buffered = client.post("/api/messages", json={"name": "order_delivered", "correlation_keys": {"order_id": "Z"}})
    assert buffered.status_code == 202 and buffered.get_json()["status"] == "buffered"
    paid = client.post(
        "/api/messages",
        json={
            "name": "payment_received",
            "correlation_keys": {"order_id": "A-1"},
            "payload": {"amount": 1},
            "message_id": "m1",
        },
    )
    assert paid.status_code == 201 and paid.get_json()["instances"] == [instance]
    assert client.post("/api/messages", json={"name": "payment_received", "message_id": "m1"}).status_code == 200
    assert client.post("/api/messages", json={"name": "x", "colour": "red"}).status_code == 400
    assert client.post("/api/messages", json={"name": "x", "tracking_code": "nope"}).status_code == 404
    signal = client.post("/api/signals", json={"name": "parcel_lost", "payload": {}})
    assert signal.status_code == 200 and signal.get_json()["receivers"] == 1


def _filter(process_key: str):
    return InstanceFilter(process_key=process_key)


def test_a_camunda_catch_correlates_on_the_variable_its_correlation_key_property_names(care):
    care.repository.deploy([source("message_camunda.bpmn")], "test", "test")
    first, _ = care.runtime.start(StartRequest("message_camunda", {"invoice_id": "I-1"}), "test")
    second, _ = care.runtime.start(StartRequest("message_camunda", {"invoice_id": "I-2"}), "test")
    assert subscriptions(care, second["id"]) == [("message", "invoice_paid", {"invoice_id": "I-2"})]
    paid = care.messages.publish("invoice_paid", principal="bank", correlation={"invoice_id": "I-2"}, payload={})
    assert paid.instances == [second["id"]]
    assert care.runtime.get(second["id"], with_data=False)["status"] == "completed"
    assert care.runtime.get(first["id"], with_data=False)["status"] == "active"


def test_an_intermediate_catch_event_takes_its_message_by_business_key(care):
    care.repository.deploy([source("message_survey.bpmn")], "test", "test")
    first, _ = care.runtime.start(StartRequest("message_survey", {}, business_key="case-1"), "test")
    second, _ = care.runtime.start(StartRequest("message_survey", {}, business_key="case-2"), "test")
    answered = care.messages.publish("survey_answered", principal="web", business_key="case-2", payload={"score": 9})
    assert answered.instances == [second["id"]]
    assert care.runtime.get(second["id"])["data"]["survey"] == {"score": 9}
    assert care.runtime.get(first["id"], with_data=False)["status"] == "active"


def test_camunda_modeled_message_events_take_the_message_variables(care):
    """Start, intermediate catch (buffered first) and boundary events of the Camunda dialect merge the variables."""
    care.repository.deploy([source("message_camunda_events.bpmn")], "test", "test")
    started = care.messages.publish("order_placed", principal="shop", business_key="O-1", payload={"amount": 40})
    early = care.messages.publish("order_placed", principal="shop", business_key="O-2", payload={"amount": 7})
    assert early.status == "started"
    assert care.runtime.get(started.started)["data"] == {"amount": 40}
    paid = care.messages.publish("order_paid", principal="bank", business_key="O-1", payload={"paid_by": "card"})
    assert paid.instances == [started.started]
    after_payment = care.runtime.get(started.started)
    assert after_payment["data"] == {"amount": 40, "paid_by": "card"}
    assert [t["element_id"] for t in after_payment["tasks"]] == ["ship"]
    cancelled = care.messages.publish("order_cancelled", principal="shop", business_key="O-1", payload={"why": "late"})
    assert cancelled.instances == [started.started]
    done = care.runtime.get(started.started)
    assert done["status"] == "completed" and done["data"]["why"] == "late"
    assert care.incidents.list(None, None, 10, None).items == []
    assert care.runtime.get(early.started)["data"] == {"amount": 7}
    # A message that arrives before its catch waits is kept, then taken with its variables.
    buffered = care.messages.publish("order_paid", principal="bank", business_key="O-3", payload={"paid_by": "cash"})
    assert buffered.status == "buffered"
    later = care.messages.publish("order_placed", principal="shop", business_key="O-3", payload={"amount": 3})
    taken = care.runtime.get(later.started)
    assert taken["data"] == {"amount": 3, "paid_by": "cash"} and [t["element_id"] for t in taken["tasks"]] == ["ship"]


def test_a_message_its_start_event_cannot_take_is_refused_and_kept(care, client):
    """The start event reads its correlation property `claim_no` from the message: without it, 422 and nothing."""
    assert client.post("/api/deployments", data=upload("message_start_correlation.bpmn")).status_code == 201
    body = {"name": "claim_filed", "payload": {"x": 1}, "message_id": "m-42"}
    refused = client.post("/api/messages", json=body)
    assert refused.status_code == 422, refused.json
    assert "cannot start process 'claim_intake'" in refused.json["detail"] and "claim_no" in refused.json["detail"]
    assert care.runtime.list(InstanceFilter(), 10, None).items == []
    with care.db.read() as session:
        [kept] = session.scalars(select(Message)).all()
        assert (kept.message_id, kept.status, kept.result["status"]) == ("m-42", "expired", "refused")
    again = client.post("/api/messages", json=body)
    assert again.status_code == 422 and again.json["detail"] == refused.json["detail"]
    started = client.post("/api/messages", json={"name": "claim_filed", "payload": {"claim_no": "K-3"}})
    assert started.status_code == 201 and started.json["status"] == "started"
