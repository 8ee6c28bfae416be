"""Service tasks: the call waits for the worker, transient failures are retried, the last one is an incident."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.bpmn import SourceFile
from engine.config import Settings
from engine.core import CareEngine
from engine.errors import DeploymentInvalid
from engine.jobs import JobConfig
from engine.models import Incident, ServiceJob
from engine.runtime import StartRequest
from process_library.registry import REGISTRY, BpmnError, OperationModuleError, TransientError
from tests.conftest import source

CALLS: list[tuple[str, str]] = []  # (idempotency key, behaviour) of every call of test_record_call


def record_call(context, *, behaviour: str) -> dict:
    """Test operation: succeeds, fails transiently, fails for good, or throws a BPMN error, as told."""
    CALLS.append((context.idempotency_key, behaviour))
    tries = sum(1 for key, _ in CALLS if key == context.idempotency_key)
    if behaviour.startswith("flaky") and tries <= int(behaviour.split(":")[1]):
        raise TransientError(f"remote system busy (try {tries})")
    if behaviour == "broken":
        raise TransientError("remote system down")
    if behaviour == "reject":
        raise BpmnError("rejected", "the system refused the request")
    return {"tries": tries, "key": context.idempotency_key}


if REGISTRY.get("test_record_call") is None:
    REGISTRY.register(record_call, name="test_record_call", parameters={"behaviour": "what the call does"})


@pytest.fixture(autouse=True)
def _fresh_calls():
    CALLS.clear()


def start(care, behaviour: str) -> int:
    care.repository.deploy([source("service_call.bpmn")], "test", "test")
    view, _ = care.runtime.start(StartRequest("service_call", {"behaviour": behaviour}), "test")
    return view["id"]


def jobs_of(care, instance_id: int) -> list[ServiceJob]:
    with care.db.read() as session:
        return list(session.scalars(select(ServiceJob).where(ServiceJob.instance_id == instance_id)))


def test_the_call_runs_in_the_worker_not_in_the_request(care):
    instance_id = start(care, "ok")
    assert CALLS == []
    (job,) = jobs_of(care, instance_id)
    assert (job.status, job.operation, job.arguments) == ("pending", "test_record_call", {"behaviour": "ok"})
    assert care.runtime.get(instance_id, with_data=False)["status"] == "active"
    assert care.jobs.run_due("w1") == 1
    view = care.runtime.get(instance_id)
    assert view["status"] == "completed"
    assert view["data"]["answer"] == {"tries": 1, "key": job.idempotency_key}
    assert jobs_of(care, instance_id)[0].status == "completed"


def test_transient_failures_are_retried_with_backoff_and_the_same_key(care, clock):
    instance_id = start(care, "flaky:2")
    assert care.jobs.run_due("w1") == 1
    (job,) = jobs_of(care, instance_id)
    assert job.status == "pending" and job.due_at == clock.now() + timedelta(seconds=10)
    assert care.jobs.run_due("w1") == 0  # not due yet
    clock.advance("PT10S")
    care.jobs.run_due("w1")
    assert jobs_of(care, instance_id)[0].due_at == clock.now() + timedelta(seconds=20)  # doubled
    clock.advance("PT20S")
    care.jobs.run_due("w1")
    assert care.runtime.get(instance_id, with_data=False)["status"] == "completed"
    assert len({key for key, _ in CALLS}) == 1 and len(CALLS) == 3


def test_the_last_failure_is_an_incident_that_a_retry_clears(care, clock):
    instance_id = start(care, "broken")
    for _ in range(3):
        care.jobs.run_due("w1")
        clock.advance("PT1M")
    assert len(CALLS) == 3
    view = care.runtime.get(instance_id, with_data=False)
    assert view["status"] == "failed"
    with care.db.read() as session:
        incident = session.scalar(select(Incident).where(Incident.instance_id == instance_id))
    assert incident.element_id == "call" and "after 3 tries" in incident.message
    assert "remote system down" in incident.message
    care.incidents.retry(incident.id, "admin", data={"behaviour": "ok"})
    assert care.runtime.get(instance_id, with_data=False)["status"] == "active"
    care.jobs.run_due("w1")
    assert care.runtime.get(instance_id, with_data=False)["status"] == "completed"
    assert {key for key, _ in CALLS} == {jobs_of(care, instance_id)[0].idempotency_key}


def test_a_bpmn_error_is_caught_by_the_error_boundary_event(care):
    instance_id = start(care, "reject")
    care.jobs.run_due("w1")
    view = care.runtime.get(instance_id, with_data=False)
    assert view["status"] == "active"
    assert [task["element_id"] for task in view["tasks"]] == ["handle"]
    assert jobs_of(care, instance_id)[0].status == "completed"


def test_cancelling_the_instance_cancels_its_job(care):
    instance_id = start(care, "ok")
    care.runtime.cancel(instance_id, "test")
    assert jobs_of(care, instance_id)[0].status == "cancelled"
    assert care.jobs.run_due("w1") == 0 and CALLS == []


def test_deploy_refuses_an_unknown_operation(care):
    with pytest.raises(DeploymentInvalid) as refused:
        care.repository.deploy([source("service_unknown.bpmn")], "test", "test")
    (problem,) = refused.value.problems
    assert problem.element_id == "call" and problem.line is not None
    assert "unknown operation 'no_such_operation'" in problem.message


def test_camunda_external_tasks_call_their_topic_with_input_parameters(care):
    care.repository.deploy([source("service_camunda.bpmn")], "test", "test")
    done, _ = care.runtime.start(StartRequest("service_camunda", {"behaviour": "ok"}), "test")
    broken, _ = care.runtime.start(StartRequest("service_camunda", {"behaviour": "broken"}), "test")
    [job] = jobs_of(care, done["id"])
    assert (job.kind, job.arguments) == ("operation", {"behaviour": "ok"})  # its topic names an operation
    care.jobs.run_due("w1")
    assert care.runtime.get(done["id"])["data"]["answer"]["tries"] == 1
    assert care.runtime.get(done["id"], with_data=False)["status"] == "completed"
    # retries=0: the first transient failure is the last try
    assert care.runtime.get(broken["id"], with_data=False)["status"] == "failed"
    assert jobs_of(care, broken["id"])[0].attempts == 1


def test_a_camunda_external_task_without_result_variable_gets_the_answer_as_variables(care):
    """As a Camunda worker completes an external task with variables; not under SpiffWorkflow's spiff__call_result."""
    model = source("service_camunda.bpmn")
    care.repository.deploy(
        [SourceFile(model.filename, model.content.replace(b' camunda:resultVariable="answer"', b""))], "test", "test"
    )
    started, _ = care.runtime.start(StartRequest("service_camunda", {"behaviour": "ok"}), "test")
    care.jobs.run_due("w1")
    data = care.runtime.get(started["id"])["data"]
    assert data["tries"] == 1 and data["key"] and "answer" not in data and "spiff__call_result" not in data


def test_camunda_external_tasks_whose_topic_is_no_operation_wait_for_outside_workers(care):
    assert care.repository.check([source("camunda_credit.bpmn")]).definitions[0].status == "checked"
    care.repository.deploy([source("camunda_credit.bpmn")], "test", "test")
    started, _ = care.runtime.start(StartRequest("credit_application", {"amount": 21}), "test")
    [job] = jobs_of(care, started["id"])
    assert (job.kind, job.operation, job.priority) == ("external", "credit_check", 5)
    assert job.arguments == {"limit": 42, "bureau": "schufa"}  # the input parameters, evaluated
    assert care.jobs.run_due("w1") == 0  # carecenter's worker leaves it to outside workers (/engine-rest)
    assert jobs_of(care, started["id"])[0].status == "pending" and CALLS == []


def test_operations_and_jobs_over_the_api(care, client):
    operations = {op["name"]: op for op in client.get("/api/operations").get_json()["items"]}
    assert operations["test_record_call"]["parameters"] == [
        {"name": "behaviour", "type": "string", "required": True, "description": "what the call does"}
    ]
    assert "notify_customer" in operations
    instance_id = start(care, "ok")
    page = client.get(f"/api/jobs?instance_id={instance_id}&status=pending").get_json()
    assert [(job["element_id"], job["status"], job["kind"]) for job in page["items"]] == [
        ("call", "pending", "operation")
    ]
    assert client.get(f"/api/jobs?instance_id={instance_id}&kind=external").get_json()["items"] == []
    assert client.get("/api/jobs?status=bogus").status_code == 400


def test_an_operation_module_that_cannot_be_imported_stops_the_engine_at_start(database_url):
    settings = Settings.from_env(database_url=database_url, operation_modules=("carecenter_no_such_operations",))
    with pytest.raises(OperationModuleError, match="'carecenter_no_such_operations' cannot be imported"):
        CareEngine(settings)


def test_job_settings_come_from_the_environment_and_flags_win(monkeypatch):
    monkeypatch.setenv("CARECENTER_JOB_LEASE_SECONDS", "300")
    monkeypatch.setenv("CARECENTER_JOB_BATCH_SIZE", "4")
    assert JobConfig.from_env() == JobConfig(lease_seconds=300.0, batch_size=4)
    assert JobConfig.from_env(lease_seconds=15.0).lease_seconds == 15.0
    monkeypatch.setenv("CARECENTER_JOB_BATCH_SIZE", "many")
    with pytest.raises(ValueError, match="CARECENTER_JOB_BATCH_SIZE='many' is not valid"):
        JobConfig.from_env()
