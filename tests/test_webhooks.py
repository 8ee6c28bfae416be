"""Webhooks (#27 item 4): a real HTTP receiver on loopback checks every signature with ``standardwebhooks``.

The engine's delivery runs as the worker runs it (:meth:`engine.webhook_delivery.Deliveries.run_due`)
on the test's virtual clock, so back-off and Retry-After are checked by moving the clock; the test
of real ``carecenter worker`` processes killed mid-delivery is in tests/test_webhooks_worker.py.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.models import EventRecord, HumanTask, WebhookDelivery
from engine.runtime import StartRequest
from engine.webhooks import WebhookConfig
from tests.conftest import make_engine, source
from tests.webhook_receiver import Receiver

LOCAL = WebhookConfig(allow_private=True, first_retry_seconds=1, max_attempts=5, concurrency=4)


@pytest.fixture
def care(database_url, clock):
    engine = make_engine(database_url, clock)
    engine.repository.deploy([source("hello_care.bpmn")], "test", "test")
    engine.webhooks.config = engine.deliveries.config = LOCAL
    yield engine
    engine.close()


@pytest.fixture
def receiver():
    started = Receiver().start()
    yield started
    started.stop()


def register(care, receiver: Receiver, path: str, events: object = "*") -> dict:
    view, secret = care.webhooks.register(receiver.url(path), events, "test receiver", "admin")
    receiver.secrets[path] = secret
    return view


def cases(care, count: int, complete: bool = True) -> list[dict]:
    """``count`` cases, interleaved: all started, then each one's task completed."""
    started = [care.runtime.start(StartRequest("hello_care", {"subject": f"Case {n}"}), "sam")[0] for n in range(count)]
    if complete:
        for view in started:
            care.tasks.complete(open_task(care, view["id"]), {"answer": "ok"}, "sam")
    return started


def open_task(care, instance_id: int) -> int:
    with care.db.read() as session:
        return session.scalar(
            select(HumanTask.id).where(HumanTask.instance_id == instance_id, HumanTask.status == "open")
        )


def log(care) -> list[EventRecord]:
    with care.db.read() as session:
        return list(session.scalars(select(EventRecord).order_by(EventRecord.id)))


def deliveries(care) -> list[WebhookDelivery]:
    with care.db.read() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def by_case(received) -> dict[str, list[int]]:
    """Per subject, the log positions (CloudEvents ``sequence``) in the order they arrived."""
    found: dict[str, list[int]] = {}
    for r in received:
        found.setdefault(r.event["subject"], []).append(int(r.event["sequence"]))
    return found


# -- registering -----------------------------------------------------------------------------------


def test_registering_answers_with_the_secret_once(care, client, receiver):
    answer = client.post("/api/webhooks", json={"url": receiver.url("/a"), "events": ["instance.started"]})
    assert answer.status_code == 201 and answer.headers["Cache-Control"] == "no-store"
    created = answer.get_json()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", created["secret"])
    assert (created["events"], created["status"], created["pending"]) == (["instance.started"], "active", 0)
    listed = client.get("/api/webhooks").get_json()["items"]
    assert [e["id"] for e in listed] == [created["id"]] and "secret" not in listed[0]
    assert "secret" not in client.get(f"/api/webhooks/{created['id']}").get_json()
    assert "whsec_" not in client.get(f"/api/webhooks/{created['id']}").get_data(as_text=True)
    assert client.post("/api/webhooks", json={"url": receiver.url("/b")}).get_json()["events"] == ["*"]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"url": "ftp://files.example/x"}, 422, "http:// or https://"),
        ({"url": "https://user:pw@hooks.example/x"}, 422, "user name or password"),
        ({"url": "https://hooks.example/x", "events": ["nothing"]}, 422, "no event type"),
        ({"url": "https://hooks.example/x", "events": []}, 400, "events"),
        ({"url": "http://127.0.0.1:9/x"}, 422, "loopback or private"),
        ({"url": "http://localhost:9/x"}, 422, "loopback or private"),
        ({"url": "http://10.1.2.3/x"}, 422, "loopback or private"),
        ({"url": "http://[::1]:9/x"}, 422, "loopback or private"),
        ({"url": "http://169.254.169.254/latest/meta-data"}, 422, "loopback or private"),
    ],
)
def test_bad_or_private_endpoints_are_refused_and_nothing_is_stored(care, client, body, status, says):
    care.webhooks.config = WebhookConfig()  # CARECENTER_WEBHOOKS_ALLOW_PRIVATE unset
    answer = client.post("/api/webhooks", json=body)
    assert answer.status_code == status and says in answer.get_json()["detail"], answer.get_json()
    assert client.get("/api/webhooks").get_json()["items"] == []


def test_the_allow_private_setting_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("CARECENTER_WEBHOOKS_ALLOW_PRIVATE", "true")
    assert WebhookConfig.from_env().allow_private
    monkeypatch.setenv("CARECENTER_WEBHOOKS_ALLOW_PRIVATE", "0")
    assert not WebhookConfig.from_env().allow_private
    monkeypatch.setenv("CARECENTER_WEBHOOKS_ALLOW_PRIVATE", "maybe")
    with pytest.raises(ValueError, match="CARECENTER_WEBHOOKS_ALLOW_PRIVATE"):
        WebhookConfig.from_env()


def test_disable_enable_and_delete(care, client, receiver):
    created = register(care, receiver, "/a")
    disabled = client.post(f"/api/webhooks/{created['id']}/disable").get_json()
    assert disabled["status"] == "disabled" and "disabled by" in disabled["disabled_reason"]
    cases(care, 1, complete=False)
    care.deliveries.run_due("w1")
    assert receiver.received == [] and deliveries(care) == []  # a disabled endpoint is kept nothing
    assert client.post(f"/api/webhooks/{created['id']}/enable").get_json()["status"] == "active"
    written_before = len(log(care))
    cases(care, 1, complete=False)
    care.deliveries.run_due("w1")
    after = [e.event_id for e in log(care)[written_before:]]
    assert [r.webhook_id for r in receiver.at("/a")] == after  # only what happened after it was enabled
    assert client.delete(f"/api/webhooks/{created['id']}").status_code == 204
    assert client.get(f"/api/webhooks/{created['id']}").status_code == 404
    assert deliveries(care) == []


# -- delivering ------------------------------------------------------------------------------------


def test_every_event_arrives_signed_once_and_in_order_per_case(care, receiver):
    register(care, receiver, "/all")
    register(care, receiver, "/starts", ["instance.started", "instance.completed"])
    before = log(care)
    assert before == []
    cases(care, 4)
    entries = log(care)
    assert care.deliveries.run_due("w1") == len(entries) + 8
    everything, starts = receiver.at("/all"), receiver.at("/starts")
    assert all(r.verified for r in everything + starts)
    assert [r.webhook_id for r in everything] != [] and sorted(r.webhook_id for r in everything) == sorted(
        e.event_id for e in entries
    )
    assert sorted(r.webhook_id for r in starts) == sorted(
        e.event_id for e in entries if e.type in ("instance.started", "instance.completed")
    )
    for received in (everything, starts):
        for positions in by_case(received).values():
            assert positions == sorted(positions) and len(set(positions)) == len(positions)
    first = everything[0]
    assert first.headers["content-type"] == "application/cloudevents+json"
    assert first.event["specversion"] == "1.0" and first.event["source"] == care.settings.public.base
    assert first.event["id"] == first.webhook_id
    assert {d.status for d in deliveries(care)} == {"delivered"}
    assert care.deliveries.run_due("w1") == 0 and len(receiver.received) == len(entries) + 8  # nothing twice


def test_a_case_waits_while_its_earlier_event_is_retried_with_growing_pauses(care, receiver, clock):
    failing: set[str] = set()

    def answers(path, earlier):
        return (500, {}, b"busy") if failing else (200, {}, b"ok")

    receiver.answers = answers
    register(care, receiver, "/a")
    first, second = cases(care, 2, complete=False)
    failing.add("all")
    care.deliveries.run_due("w1")
    attempts = {r.event["subject"] for r in receiver.at("/a")}
    assert attempts == {first["reference"], second["reference"]}  # one try of each case's first event only
    assert len(receiver.at("/a")) == 2
    waiting = [d for d in deliveries(care) if d.attempts == 1]
    assert all(d.due_at == clock.now() + timedelta(seconds=1) and d.response_status == 500 for d in waiting)
    clock.advance("PT1S")
    care.deliveries.run_due("w1")
    assert len(receiver.at("/a")) == 4
    assert all(d.due_at == clock.now() + timedelta(seconds=2) for d in deliveries(care) if d.attempts == 2)
    clock.advance("PT1S")
    assert care.deliveries.run_due("w1") == 0  # not due yet: the pause doubled
    failing.clear()
    clock.advance("PT1S")
    care.deliveries.run_due("w1")
    for positions in by_case([r for r in receiver.at("/a") if r.event]).values():
        assert positions == sorted(positions)
    assert {d.status for d in deliveries(care)} == {"delivered"}


def test_a_delivery_is_given_up_after_the_last_try_and_the_next_event_goes(care, receiver, clock):
    care.deliveries.config = WebhookConfig(allow_private=True, first_retry_seconds=1, max_attempts=2)
    receiver.answers = lambda path, earlier: (500, {}, b"broken") if earlier < 2 else (200, {}, b"ok")
    register(care, receiver, "/a")
    cases(care, 1, complete=False)
    care.deliveries.run_due("w1")
    clock.advance("PT1S")
    care.deliveries.run_due("w1")
    rows = deliveries(care)
    assert rows[0].status == "failed" and "given up after 2 tries" in rows[0].error
    assert [d.status for d in rows[1:]] == ["delivered"] * (len(rows) - 1)


def test_410_gone_disables_the_endpoint(care, receiver, client):
    receiver.answers = lambda path, earlier: (410, {}, b"gone")
    created = register(care, receiver, "/a")
    cases(care, 2, complete=False)
    care.deliveries.run_due("w1")
    tried = len(receiver.at("/a"))
    assert tried <= 2  # the first event of each case, sent together; the 410 stops everything after them
    care.deliveries.run_due("w1")
    assert len(receiver.at("/a")) == tried
    endpoint = client.get(f"/api/webhooks/{created['id']}").get_json()
    assert endpoint["status"] == "disabled" and "410" in endpoint["disabled_reason"]
    assert endpoint["pending"] == len(log(care))
    receiver.answers = None
    client.post(f"/api/webhooks/{created['id']}/enable")
    care.deliveries.run_due("w1")
    assert {d.status for d in deliveries(care)} == {"delivered"}  # what waited goes once enabled


def test_429_waits_as_long_as_retry_after_says(care, receiver, clock):
    receiver.answers = lambda path, earlier: (
        (429, {"Retry-After": "120"}, b"slow down") if earlier == 0 else (200, {}, b"ok")
    )
    register(care, receiver, "/a")
    cases(care, 1, complete=False)
    care.deliveries.run_due("w1")
    first = deliveries(care)[0]
    assert first.response_status == 429 and first.due_at == clock.now() + timedelta(seconds=120)
    clock.advance("PT119S")
    care.deliveries.run_due("w1")
    assert len(receiver.at("/a")) == 1
    clock.advance("PT1S")
    care.deliveries.run_due("w1")
    assert {d.status for d in deliveries(care)} == {"delivered"}


def test_a_redirect_is_not_followed(care, receiver):
    receiver.answers = lambda path, earlier: (
        (302, {"Location": receiver.url("/elsewhere")}, b"") if path == "/a" else (200, {}, b"ok")
    )
    register(care, receiver, "/a")
    cases(care, 1, complete=False)
    care.deliveries.run_due("w1")
    assert receiver.at("/elsewhere") == [] and len(receiver.at("/a")) == 1
    first = deliveries(care)[0]
    assert first.status == "pending" and first.response_status == 302
    assert "redirect to" in first.error and "not followed" in first.error


def test_an_endpoint_that_resolves_to_a_private_address_is_refused_at_delivery(care, receiver):
    register(care, receiver, "/a")  # while private addresses were allowed
    care.deliveries.config = WebhookConfig(first_retry_seconds=1)
    cases(care, 1, complete=False)
    care.deliveries.run_due("w1")
    assert receiver.received == []
    first = deliveries(care)[0]
    assert first.status == "pending" and first.response_status is None and "loopback or private" in first.error


def test_deliveries_are_listed_with_their_answer_and_can_be_sent_again(care, client, receiver):
    receiver.answers = lambda path, earlier: (200, {}, b'{"received": true, "note": "' + b"x" * 900 + b'"}')
    created = register(care, receiver, "/a")
    cases(care, 1, complete=False)
    care.deliveries.run_due("w1")
    page = client.get(f"/api/webhooks/{created['id']}/deliveries?status=delivered").get_json()
    newest = page["items"][0]
    assert (newest["status"], newest["response_status"], newest["attempts"]) == ("delivered", 200, 1)
    assert newest["response_excerpt"].startswith('{"received": true') and len(newest["response_excerpt"]) == 500
    one = client.get(f"/api/webhook-deliveries/{newest['id']}").get_json()
    assert one["event"]["id"] == newest["event_id"] and one["event"]["type"] == newest["type"]
    again = client.post(f"/api/webhook-deliveries/{newest['id']}/resend").get_json()
    assert (again["status"], again["attempts"]) == ("pending", 0)
    care.deliveries.run_due("w1")
    ids = [r.webhook_id for r in receiver.at("/a")]
    assert ids.count(newest["event_id"]) == 2  # the same webhook-id: receivers drop the repeat
    assert client.get(f"/api/webhooks/{created['id']}/deliveries?status=bogus").status_code == 400
    assert client.post("/api/webhook-deliveries/999999/resend").status_code == 404


def test_only_admins_reach_the_webhook_api(care, app, client):
    care.identity.add_user("sam", "staff", [])
    care.identity.add_user("ivy", "integration", [])
    for name in ("sam", "ivy"):
        other = app.test_client()
        other.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {care.tokens.create(name + '-t', username=name)[1]}"
        assert other.get("/api/webhooks").status_code == 403
        assert other.post("/api/webhooks", json={"url": "https://hooks.example/x"}).status_code == 403
    assert app.test_client().get("/api/webhooks").status_code == 401
