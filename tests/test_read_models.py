"""Steps skip reading read models a definition cannot have rows of, and still keep every row right."""

import io

from sqlalchemy import inspect, select, update

from engine import read_models
from engine.bpmn import SourceFile
from engine.config import PROJECT_ROOT
from engine.models import HumanTask, MessageSubscription, ProcessDefinition, ProcessInstance
from tests.conftest import source, upload
from tests.statements_sent import statements_sent


def loaded(care, key):
    with care.db.read() as session:
        definition_id = session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == key))
    return care.repository.load(definition_id)


def test_each_care_process_names_the_read_models_its_elements_write(care):
    folder = PROJECT_ROOT / "processes"
    sources = [SourceFile(p.name, p.read_bytes()) for p in sorted(folder.iterdir()) if p.suffix in (".bpmn", ".dmn")]
    care.repository.deploy(sources, "shipped", "test")
    assert loaded(care, "hello_care").read_models == {read_models.HUMAN_TASKS}
    intake = loaded(care, "inquiry_intake").read_models
    assert {read_models.HUMAN_TASKS, read_models.TIMERS, read_models.SUBSCRIPTIONS} <= intake
    dispatch = loaded(care, "update_release").read_models  # service tasks only, started by a signal
    assert read_models.JOBS in dispatch and not {read_models.HUMAN_TASKS, read_models.TIMERS} & dispatch


def test_a_step_of_an_automatic_process_reads_no_task_or_job_rows(care, client):
    assert client.post("/api/deployments", data=upload("script_failure_fixed.bpmn")).status_code == 201
    with statements_sent(care) as statements:
        client.post("/api/process-definitions/script_failure/instances", json={"variables": {"divisor": 5}})
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert not [s for s in reads if "FROM human_tasks" in s or "FROM service_jobs" in s or "FROM timers" in s]


def test_an_instance_moved_to_a_version_without_its_user_task_closes_that_task(care, client):
    assert client.post("/api/deployments", data=upload("parallel_failure.bpmn")).status_code == 201
    started = client.post("/api/process-definitions/parallel_failure/instances", json={"variables": {"divisor": 0}})
    instance = started.json
    assert instance["status"] == "failed"
    [review] = [t for t in client.get(f"/api/tasks?instance_id={instance['id']}").json["items"]]
    automatic = source("parallel_failure_automatic.bpmn").content
    deployed = client.post("/api/deployments", data={"files": [(io.BytesIO(automatic), "parallel_failure.bpmn")]})
    assert deployed.status_code == 201
    assert read_models.HUMAN_TASKS not in loaded_version(care, "parallel_failure", 2).read_models
    incident = client.get("/api/incidents").json["items"][0]
    retried = client.post(f"/api/incidents/{incident['id']}/retry", json={"latest_version": True})
    assert retried.status_code == 200, retried.json
    assert (retried.json["status"], retried.json["version"]) == ("completed", 2)
    with care.db.read() as session:
        assert session.get(HumanTask, review["id"]).status == "cancelled"
    assert client.get(f"/api/instances/{instance['id']}").json["data"]["reviewed"] is True


def loaded_version(care, key, version):
    with care.db.read() as session:
        query = select(ProcessDefinition.id).where(ProcessDefinition.key == key, ProcessDefinition.version == version)
        return care.repository.load(session.scalar(query))


def _task_list_reads(statements: list[str]) -> list[str]:
    """Reads of an instance's open task rows as a list (not one task by its id)."""
    flat = (" ".join(s.split()) for s in statements)
    return [s for s in flat if s.startswith("SELECT") and "FROM human_tasks WHERE human_tasks.instance_id" in s]


def _digest(care, instance_id: int):
    with care.db.read() as session:
        return session.get(ProcessInstance, instance_id).read_model_digest


def test_completing_the_only_open_task_reads_no_task_list_and_leaves_the_new_one_in_the_digest(care, client):
    assert client.post("/api/deployments", data=upload("hello_care.bpmn")).status_code == 201
    instance = client.post("/api/process-definitions/hello_care/instances", json={}).json
    [task] = instance["tasks"]
    with care.db.read() as session:
        assert _digest(care, instance["id"])[read_models.HUMAN_TASKS] == [session.get(HumanTask, task["id"]).task_guid]
    with statements_sent(care) as statements:
        done = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"answer": "Fixed"}}).json
    assert _task_list_reads(statements) == []
    with care.db.read() as session:
        open_guids = list(
            session.scalars(
                select(HumanTask.task_guid).where(HumanTask.instance_id == instance["id"], HumanTask.status == "open")
            )
        )
    assert [t["id"] for t in done["instance"]["tasks"]] == [
        t["id"] for t in client.get(f"/api/tasks?instance_id={instance['id']}").json["items"]
    ]
    assert _digest(care, instance["id"])[read_models.HUMAN_TASKS] == sorted(open_guids)


def test_an_instance_without_a_digest_reads_its_rows_and_gets_one(care, client):
    """Instances from before the digest (NULL) read every read model their definition has, and keep the others."""
    assert client.post("/api/deployments", data=upload("parallel_tasks.bpmn")).status_code == 201
    instance = client.post("/api/process-definitions/parallel_tasks/instances", json={}).json
    first, second = instance["tasks"]
    with care.db.write() as session:
        forget = update(ProcessInstance).where(ProcessInstance.id == instance["id"]).values(read_model_digest=None)
        session.execute(forget)
    with statements_sent(care) as statements:
        done = client.post(f"/api/tasks/{first['id']}/complete", json={"data": {}})
    assert done.status_code == 200, done.json
    assert len(_task_list_reads(statements)) == 1  # no digest: the open rows are read
    assert [t["id"] for t in done.json["instance"]["tasks"]] == [second["id"]]  # the other task stays open
    with care.db.read() as session:
        guid = session.get(HumanTask, second["id"]).task_guid
    assert _digest(care, instance["id"])[read_models.HUMAN_TASKS] == [guid]
    with statements_sent(care) as statements:
        last = client.post(f"/api/tasks/{second['id']}/complete", json={"data": {}}).json
    assert _task_list_reads(statements) == []  # the digest names only the task being completed
    assert last["instance"]["status"] == "completed" and last["instance"]["tasks"] == []
    assert _digest(care, instance["id"]) == read_models.digest_of([], False, False)


def test_a_step_that_ends_the_last_wait_for_a_message_removes_its_subscription_without_reading_it(care, client):
    """The review task's message boundary ends with the task: one DELETE, no SELECT of the subscriptions."""
    lifecycle = PROJECT_ROOT / "bench" / "processes" / "inquiry_lifecycle.bpmn"
    assert client.post("/api/deployments", data={"files": [(io.BytesIO(lifecycle.read_bytes()), lifecycle.name)]})
    instance = client.post("/api/process-definitions/inquiry_lifecycle/instances", json={}).json
    assert _subscriptions(care, instance["id"]) == ["note_arrived"]
    with statements_sent(care) as statements:
        done = client.post(f"/api/tasks/{instance['tasks'][0]['id']}/complete", json={"data": {}})
    assert done.status_code == 200, done.json
    touching = [" ".join(s.split()).split(" WHERE")[0] for s in statements if "message_subscriptions" in s]
    assert touching == ["DELETE FROM message_subscriptions"]
    assert _subscriptions(care, instance["id"]) == []
    assert _digest(care, instance["id"])[read_models.SUBSCRIPTIONS] is False


def _subscriptions(care, instance_id: int) -> list[str]:
    with care.db.read() as session:
        query = select(MessageSubscription.element_id).where(MessageSubscription.instance_id == instance_id)
        return list(session.scalars(query))


def test_task_rows_a_step_writes_stay_in_its_session_and_a_later_change_is_written(care, client):
    """New task rows go in by Core statements; the objects handed back are persistent, not copies."""
    assert client.post("/api/deployments", data=upload("parallel_tasks.bpmn")).status_code == 201
    with care.db.write() as session:
        row, tasks = care.executor.create(
            session, loaded(care, "parallel_tasks"), variables={}, business_key=None, customer_id=None, principal="t"
        )
        assert len(tasks) == 2 and all(inspect(task).persistent for task in tasks)
        tasks[0].assignee = "ana"  # the same transaction changes one: written at its commit
    with care.db.read() as session:
        stored = {
            task.id: task.assignee for task in session.scalars(select(HumanTask).where(HumanTask.instance_id == row.id))
        }
    assert stored == {tasks[0].id: "ana", tasks[1].id: None}


def test_completing_a_task_drops_its_draft_and_cancelling_one_keeps_it(care, client):
    assert client.post("/api/deployments", data=upload("parallel_tasks.bpmn")).status_code == 201
    instance = client.post("/api/process-definitions/parallel_tasks/instances", json={}).json
    first, second = instance["tasks"]
    for task in (first, second):
        assert client.post(f"/api/tasks/{task['id']}/draft", json={"data": {"note": "half"}}).status_code == 200
    assert client.post(f"/api/tasks/{first['id']}/complete", json={"data": {}}).status_code == 200
    assert client.post(f"/api/instances/{instance['id']}/cancel", json={}).status_code == 200
    with care.db.read() as session:
        completed, cancelled = session.get(HumanTask, first["id"]), session.get(HumanTask, second["id"])
        assert (completed.status, completed.draft) == ("completed", None)
        assert (cancelled.status, cancelled.draft) == ("cancelled", {"note": "half"})
