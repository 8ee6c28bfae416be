"""Camunda 7 workers and integrations connect to carecenter's /engine-rest unchanged.

The worker side is the real, unmodified PyPI client ``camunda-external-task-client-python3``
(its ExternalTaskWorker and EngineClient) against a real HTTP server on 127.0.0.1, running a
Camunda Modeler-style process (tests/data/camunda_credit.bpmn) whose external tasks name topics
that are no operations of carecenter.  The worker runs one round at a time through its public
``fetch_and_execute`` (``subscribe`` repeats exactly that in an endless loop).  Plain HTTP checks
Camunda's error shapes, locks and long polling.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import requests
from camunda.client.engine_client import EngineClient
from camunda.external_task.external_task import ExternalTask
from camunda.external_task.external_task_worker import ExternalTaskWorker, NoExternalTaskFound

from engine.job_rows import EXTERNAL
from engine.models import ServiceJob
from tests.conftest import source
from tests.live_server import live_server

PROCESS = "credit_application"


@pytest.fixture
def server(care):
    """A real server on 127.0.0.1 with the credit process deployed; yields its /engine-rest URL and tokens."""
    care.identity.add_group("support")
    care.identity.add_user("risk-system", "integration")
    care.identity.add_user("sam", "staff", ["support"])
    care.repository.deploy([source("camunda_credit.bpmn")], "test", "test")
    tokens = {
        "integration": care.tokens.create("risk-worker", username="risk-system")[1],
        "staff": care.tokens.create("sam-token", username="sam")[1],
        "admin": care.tokens.create("root")[1],
    }
    with live_server(care, threads=6) as base:
        yield base, tokens


def client_config(token: str) -> dict:
    # the client's bearer config takes the bare token (it adds "Bearer "; 4.5.0 drops a token that has it)
    return {"auth_bearer": {"access_token": token}, "asyncResponseTimeout": 0, "lockDuration": 10000}


def worker(server) -> ExternalTaskWorker:
    url, tokens = server
    return ExternalTaskWorker(
        worker_id="risk-worker", base_url=f"{url}/engine-rest", config=client_config(tokens["integration"])
    )


def engine_client(server) -> EngineClient:
    url, tokens = server
    return EngineClient(f"{url}/engine-rest", config=client_config(tokens["integration"]))


def call(server, method: str, path: str, role: str = "integration", **kwargs) -> requests.Response:
    url, tokens = server
    headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
    return requests.request(method, f"{url}{path}", headers=headers, timeout=30, **kwargs)


def run_one(server, topic: str, handler) -> list[ExternalTask]:
    """Fetch and execute one task of ``topic`` with the client's own worker; returns the tasks it was given."""
    seen: list[ExternalTask] = []

    def action(task: ExternalTask):
        seen.append(task)
        return handler(task)

    worker(server).fetch_and_execute(topic, action)
    return seen


def start(server, amount: int, business_key: str) -> str:
    started = engine_client(server).start_process(PROCESS, {"amount": amount}, business_key=business_key)
    assert started["definitionId"] == f"{PROCESS}:1" and started["businessKey"] == business_key
    assert (started["ended"], started["suspended"]) == (False, False)
    assert started["links"][0]["href"].endswith(f"/engine-rest/process-instance/{started['id']}")
    return started["id"]


def states(care, instance_id: str) -> dict[str, str]:
    return care.runtime.states(int(instance_id))


# -- the real client ----------------------------------------------------------------------------


def test_a_camunda_worker_approves_verifies_and_a_message_grants_the_credit(care, server):
    instance_id = start(server, 100, "app-1")

    def check_credit(task: ExternalTask):
        return task.complete({"approved": True, "score": 720})

    [task] = run_one(server, "credit_check", check_credit)
    assert task.get_process_instance_id() == instance_id and task.get_business_key() == "app-1"
    assert task.get_activity_id() == "check_credit" and task.get_worker_id() == "risk-worker"
    # the instance's variables and the task's input parameters (${amount * 2}, a literal), typed
    assert task.get_variables() == {"amount": 100, "limit": 200, "bureau": "schufa"}
    assert task.get_variable("limit", with_meta=True) == {"type": "Integer", "value": 200, "valueInfo": {}}
    assert task.get_extension_property("team") == "risk"

    [identity] = run_one(server, "identity_check", lambda task: task.complete({"identity": "verified"}))
    assert identity.get_variables() == {"amount": 100, "approved": True, "score": 720}
    assert states(care, instance_id)["documents"] == "active"

    result = engine_client(server).correlate_message(
        "documents_received", business_key="app-1", process_variables={"documents": "complete"}
    )
    assert result == [
        {
            "resultType": "Execution",
            "execution": {"id": instance_id, "processInstanceId": instance_id, "ended": False, "tenantId": None},
            "processInstance": None,
        }
    ]
    view = care.runtime.get(int(instance_id))
    assert view["status"] == "completed"
    assert {k: view["data"][k] for k in ("approved", "score", "identity", "documents")} == {
        "approved": True,
        "score": 720,
        "identity": "verified",
        "documents": "complete",
    }
    assert "limit" not in view["data"]  # input parameters are the task's own, as in Camunda
    assert states(care, instance_id)["granted"] == "completed" and "declined" not in states(care, instance_id)
    with pytest.raises(NoExternalTaskFound):
        worker(server).fetch_and_execute("identity_check", lambda task: task.complete())


def test_the_gateway_follows_the_variable_the_worker_set(care, server):
    instance_id = start(server, 50, "app-2")
    run_one(server, "credit_check", lambda task: task.complete({"approved": False}))
    assert care.runtime.get(int(instance_id), with_data=False)["status"] == "completed"
    assert states(care, instance_id)["declined"] == "completed" and "verify_identity" not in states(care, instance_id)


def test_a_bpmn_error_from_the_worker_reaches_the_error_boundary_event(care, server):
    instance_id = start(server, 100, "app-3")
    run_one(server, "credit_check", lambda task: task.complete({"approved": True}))
    run_one(
        server,
        "identity_check",
        lambda task: task.bpmn_error("fraud_suspected", "passport number mismatch", {"fraud_reason": "mismatch"}),
    )
    view = care.runtime.get(int(instance_id))
    assert [task["element_id"] for task in view["tasks"]] == ["review_fraud"]
    assert view["data"]["fraud_reason"] == "mismatch"
    [thrown] = [e for e in care.history.of_instance(int(instance_id)) if e.event_type == "bpmn_error_thrown"]
    assert (thrown.principal, thrown.details["code"]) == ("risk-system", "fraud_suspected")


def test_failures_are_retried_after_their_timeout_then_become_an_incident_that_a_retry_clears(care, clock, server):
    instance_id = start(server, 100, "app-4")

    def bureau_down(task: ExternalTask):
        return task.failure("bureau down", "timeout after 30 s", max_retries=2, retry_timeout=5000)

    [first] = run_one(server, "credit_check", bureau_down)
    assert first.get_task_result().retries == 2  # the first report sets the retries (the client's max_retries)
    with pytest.raises(NoExternalTaskFound):  # not before its retry timeout
        worker(server).fetch_and_execute("credit_check", bureau_down)
    clock.advance(timedelta(seconds=6))
    [second] = run_one(server, "credit_check", bureau_down)
    assert second.get_task_result().retries == 1  # the client counts down from the retries it was given: 2
    clock.advance(timedelta(seconds=6))
    [third] = run_one(server, "credit_check", bureau_down)
    assert third.get_task_result().retries == 0

    [incident] = call(server, "GET", f"/api/incidents?instance_id={instance_id}", role="admin").json()["items"]
    assert (incident["element_id"], incident["message"]) == ("check_credit", "bureau down")
    assert care.runtime.get(int(instance_id), with_data=False)["status"] == "failed"
    with pytest.raises(NoExternalTaskFound):
        worker(server).fetch_and_execute("credit_check", bureau_down)

    retried = call(server, "POST", f"/api/incidents/{incident['id']}/retry", role="admin", json={})
    assert retried.status_code == 200, retried.text
    run_one(server, "credit_check", lambda task: task.complete({"approved": False}))
    assert care.runtime.get(int(instance_id), with_data=False)["status"] == "completed"


# -- locks --------------------------------------------------------------------------------------


def fetch(server, worker_id: str, lock_ms: int = 1000, topic: dict | None = None, **body: object) -> list:
    """Fetch and lock credit_check tasks over plain HTTP (``topic``: more topic fields)."""
    topics = [{"topicName": "credit_check", "lockDuration": lock_ms, **(topic or {})}]
    answer = call(
        server,
        "POST",
        "/engine-rest/external-task/fetchAndLock",
        json={"workerId": worker_id, "maxTasks": 5, "topics": topics, **body},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def report(server, task_id: str, action: str, body: dict) -> requests.Response:
    return call(server, "POST", f"/engine-rest/external-task/{task_id}/{action}", json=body)


def test_locks_are_extended_by_their_worker_only_and_expire(care, clock, server):
    instance_id = start(server, 100, "app-5")
    [task] = fetch(server, "worker-a")
    assert report(server, task["id"], "extendLock", {"workerId": "worker-a", "newDuration": 60000}).status_code == 204
    clock.advance(timedelta(seconds=5))
    assert fetch(server, "worker-b") == []  # still locked: the lock was extended
    for action, body in (("extendLock", {"newDuration": 1000}), ("complete", {}), ("failure", {"retries": 1})):
        refused = report(server, task["id"], action, {"workerId": "worker-b", **body})
        assert refused.status_code == 400, (action, refused.text)
        assert refused.json()["type"] == "InvalidRequestException"
        assert "worker-a" in refused.json()["message"]

    clock.advance(timedelta(seconds=61))
    expired = report(server, task["id"], "extendLock", {"workerId": "worker-a", "newDuration": 1000})
    assert expired.status_code == 400 and "expired" in expired.json()["message"]
    [taken_over] = fetch(server, "worker-b")
    assert taken_over["id"] == task["id"] and taken_over["workerId"] == "worker-b"
    assert report(server, task["id"], "complete", {"workerId": "worker-a"}).status_code == 400
    done = report(server, task["id"], "complete", {"workerId": "worker-b", "variables": {"approved": {"value": False}}})
    assert done.status_code == 204
    assert care.runtime.get(int(instance_id), with_data=False)["status"] == "completed"
    gone = report(server, task["id"], "complete", {"workerId": "worker-b"})
    assert gone.status_code == 404 and gone.json()["type"] == "InvalidRequestException"


def test_an_unlocked_task_is_fetchable_again_at_once(server):
    start(server, 100, "app-u")
    [task] = fetch(server, "worker-a", lock_ms=60000)
    assert fetch(server, "worker-b") == []
    assert call(server, "POST", f"/engine-rest/external-task/{task['id']}/unlock").status_code == 204
    assert [again["id"] for again in fetch(server, "worker-b")] == [task["id"]]
    assert call(server, "POST", "/engine-rest/external-task/999999/unlock").status_code == 404


def test_a_lock_that_expired_may_still_be_completed_by_its_worker_until_another_takes_it(clock, server):
    start(server, 100, "app-6")
    [task] = fetch(server, "worker-a")
    clock.advance(timedelta(seconds=5))
    done = report(server, task["id"], "complete", {"workerId": "worker-a", "variables": {"approved": {"value": True}}})
    assert done.status_code == 204


def test_the_next_fetch_sees_what_the_last_failure_report_said(clock, server):
    start(server, 100, "app-f")
    [task] = fetch(server, "worker-a")
    assert (task["retries"], task["errorMessage"], task["errorDetails"]) == (None, None, None)
    failed = {"workerId": "worker-a", "errorMessage": "bureau down", "errorDetails": "timeout", "retries": 3}
    assert report(server, task["id"], "failure", {**failed, "retryTimeout": 2000}).status_code == 204
    assert fetch(server, "worker-b") == []
    clock.advance(timedelta(seconds=3))
    [again] = fetch(server, "worker-b")
    assert (again["retries"], again["errorMessage"], again["errorDetails"]) == (3, "bureau down", "timeout")


def test_two_workers_never_lock_the_same_task(care, server):
    for number in range(6):
        start(server, 100, f"app-p{number}")
    results: dict[str, list] = {}

    def fetch_as(name: str) -> None:
        results[name] = [task["id"] for task in fetch(server, name, lock_ms=60000)]

    threads = [threading.Thread(target=fetch_as, args=(name,)) for name in ("worker-a", "worker-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fetched = results["worker-a"] + results["worker-b"]
    assert len(fetched) == len(set(fetched)) == 6 == len(results["worker-a"]) + len(results["worker-b"])
    with care.db.read() as session:
        claims = {str(job.id): job.claimed_by for job in session.query(ServiceJob).filter_by(kind=EXTERNAL)}
    assert all(claims[task_id] == name for name in results for task_id in results[name])


# -- long polling -------------------------------------------------------------------------------


def test_a_waiting_fetch_answers_as_soon_as_a_task_appears(care, server):
    answers: list = []
    waited: list[float] = []

    def long_poll() -> None:
        began = time.monotonic()
        answers.append(fetch(server, "poller", asyncResponseTimeout=20000))
        waited.append(time.monotonic() - began)

    poller = threading.Thread(target=long_poll)
    poller.start()
    time.sleep(0.3)
    assert answers == []  # it waits: nothing to fetch yet
    instance_id = start(server, 100, "app-7")
    poller.join(timeout=25)
    [[task]] = answers
    assert task["processInstanceId"] == instance_id and task["topicName"] == "credit_check"
    assert waited[0] < 20  # woken by the new task, not by the timeout


def test_a_waiting_fetch_answers_an_empty_list_when_its_timeout_passes(server):
    began = time.monotonic()
    assert fetch(server, "poller", asyncResponseTimeout=300) == []
    assert time.monotonic() - began >= 0.3
    too_long = call(
        server,
        "POST",
        "/engine-rest/external-task/fetchAndLock",
        json={"workerId": "w", "maxTasks": 1, "asyncResponseTimeout": 1_800_001, "topics": []},
    )
    assert too_long.status_code == 400 and too_long.json()["type"] == "InvalidRequestException"


# -- typed variables, instances, messages -------------------------------------------------------

TYPED = {
    "count": {"value": 3, "type": "Integer"},
    "big": {"value": 2**40, "type": "Long"},
    "small": {"value": 7, "type": "Short"},
    "rate": {"value": 1.5, "type": "Double"},
    "vip": {"value": True, "type": "Boolean"},
    "name": {"value": "Nora", "type": "String"},
    "profile": {"value": '{"tier": "gold", "tags": ["a"]}', "type": "Json"},
    "nothing": {"value": None, "type": "Null"},
    "since": {"value": "2015-10-06T16:34:42.000+0200", "type": "Date"},
    "untyped": {"value": 12},
    "order": {
        "value": '{"id": 7}',
        "type": "Object",
        "valueInfo": {"objectTypeName": "com.example.Order", "serializationDataFormat": "application/json"},
    },
}


def test_typed_variables_arrive_as_values_and_leave_typed(care, clock, server):
    started = call(
        server,
        "POST",
        f"/engine-rest/process-definition/key/{PROCESS}/start",
        json={"variables": {"amount": {"value": 10, "type": "Integer"}, **TYPED}, "withVariablesInReturn": True},
    )
    assert started.status_code == 200, started.text
    assert started.json()["variables"]["count"] == {"type": "Integer", "value": 3, "valueInfo": {}}
    data = care.runtime.get(int(started.json()["id"]))["data"]
    assert (data["count"], data["big"], data["rate"], data["vip"], data["nothing"]) == (3, 2**40, 1.5, True, None)
    assert data["profile"] == {"tier": "gold", "tags": ["a"]} and data["order"] == {"id": 7}

    [task] = fetch(server, "typed")
    variables = task["variables"]
    assert variables["big"]["type"] == "Long" and variables["small"]["type"] == "Integer"
    assert variables["profile"] == {"type": "Json", "value": '{"tier": "gold", "tags": ["a"]}', "valueInfo": {}}
    assert variables["nothing"] == {"type": "Null", "value": None, "valueInfo": {}}
    assert variables["since"] == {"type": "String", "value": "2015-10-06T16:34:42+02:00", "valueInfo": {}}
    assert variables["untyped"]["type"] == "Integer"
    assert task["lockExpirationTime"].endswith("+0000") and task["priority"] == 5

    clock.advance(timedelta(seconds=2))  # the lock expired: fetch it again, asking for some variables only
    [again] = fetch(server, "typed", topic={"variables": ["count", "name", "absent"]})
    assert again["variables"] == {
        "count": {"type": "Integer", "value": 3, "valueInfo": {}},
        "name": {"type": "String", "value": "Nora", "valueInfo": {}},
    }
    clock.advance(timedelta(seconds=2))
    [local] = fetch(server, "typed", topic={"localVariables": True})
    assert set(local["variables"]) == {"limit", "bureau"}  # the task's input parameters


def test_variables_that_do_not_fit_their_type_are_refused(server):
    for variables, message in (
        ({"x": {"value": "many", "type": "Integer"}}, "cannot read 'many' as Integer"),
        ({"x": {"value": 2**31, "type": "Integer"}}, "out of range"),
        ({"x": {"value": "rO0AB", "type": "Object"}}, "type Object is not supported"),
        ({"x": {"value": 1, "type": "Money"}}, "unsupported value type 'Money'"),
        ({"x": {"value": "2015-10-06", "type": "Date"}}, "not a date and time"),
    ):
        refused = call(
            server, "POST", f"/engine-rest/process-definition/key/{PROCESS}/start", json={"variables": variables}
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["type"] == "InvalidRequestException" and message in refused.json()["message"]


def test_process_instances_are_listed_by_business_key_and_definition_key(server):
    first, second = start(server, 10, "list-1"), start(server, 10, "list-2")
    by_key = call(server, "GET", "/engine-rest/process-instance", params={"businessKey": "list-2"}).json()
    assert [i["id"] for i in by_key] == [second]
    by_definition = call(server, "GET", "/engine-rest/process-instance", params={"processDefinitionKey": PROCESS})
    assert [i["id"] for i in by_definition.json()] == [first, second]
    paged = call(server, "GET", "/engine-rest/process-instance", params={"firstResult": 1, "maxResults": 5}).json()
    assert [i["id"] for i in paged] == [second]
    assert call(server, "GET", f"/engine-rest/process-instance/{first}").json()["businessKey"] == "list-1"
    assert engine_client(server).get_process_instance(PROCESS) == by_definition.json()
    refused = call(server, "GET", "/engine-rest/process-instance", params={"variables": "amount_eq_10"})
    assert refused.status_code == 400 and "variables" in refused.json()["message"]


def test_a_message_nothing_waits_for_is_refused_as_camunda_does(care, server):
    refused = call(server, "POST", "/engine-rest/message", json={"messageName": "documents_received"})
    assert refused.status_code == 400
    assert refused.json() == {
        "type": "InvalidRequestException",
        "message": "Cannot correlate message 'documents_received': No process definition or execution matches "
        "the parameters",
        "code": None,
    }
    instance_id = start(server, 100, "app-8")
    run_one(server, "credit_check", lambda task: task.complete({"approved": True}))
    run_one(server, "identity_check", lambda task: task.complete())
    wrong = call(server, "POST", "/engine-rest/message", json={"messageName": "documents_received", "businessKey": "x"})
    assert wrong.status_code == 400
    silent = call(
        server,
        "POST",
        "/engine-rest/message",
        json={"messageName": "documents_received", "processInstanceId": instance_id},
    )
    assert silent.status_code == 204 and silent.content == b""
    assert care.runtime.get(int(instance_id), with_data=False)["status"] == "completed"


# -- errors and access --------------------------------------------------------------------------


def test_errors_take_camundas_shape(server):
    checks = (
        ("POST", f"/engine-rest/process-definition/key/{PROCESS}/start", None, {}, 401, "AuthenticationException"),
        ("POST", f"/engine-rest/process-definition/key/{PROCESS}/start", "staff", {}, 403, "AuthorizationException"),
        ("POST", "/engine-rest/process-definition/key/nope/start", "integration", {}, 404, "InvalidRequestException"),
        ("POST", "/engine-rest/external-task/999999/complete", "integration", {"workerId": "w"}, 404, None),
        ("POST", "/engine-rest/external-task/abc/failure", "integration", {"workerId": "w"}, 404, None),
        ("POST", "/engine-rest/external-task/fetchAndLock", "integration", {"maxTasks": 1, "topics": []}, 400, None),
        ("POST", "/engine-rest/message", "integration", {"messageName": "m", "tenantId": "t1"}, 400, None),
        ("POST", "/engine-rest/message", "integration", {"messageName": "m", "all": True}, 400, None),
        ("GET", "/engine-rest/no-such-resource", "integration", None, 404, None),
    )
    for method, path, role, body, status, kind in checks:
        answer = call(server, method, path, role=role, json=body)
        assert answer.status_code == status, (path, answer.text)
        assert answer.headers["Content-Type"] == "application/json"
        error = answer.json()
        assert set(error) == {"type", "message", "code"} and error["type"].endswith("Exception"), error
        if kind:
            assert error["type"] == kind
    missing = call(server, "POST", "/engine-rest/process-definition/key/nope/start", json={}).json()
    assert missing["message"] == "No matching process definition with key: nope and no tenant-id"


def test_text_with_nul_characters_is_a_camunda_bad_request(client):
    for answer in (
        client.get("/engine-rest/process-instance?businessKey=a%00b"),
        client.post("/engine-rest/process-definition/key/x/start", json={"businessKey": "a\x00b"}),
    ):
        assert answer.status_code == 400 and answer.json["type"] == "InvalidRequestException", answer.json
