"""The customer's status: stages from the model, the read model written with the instance, the public API."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from api.app import create_app
from engine.bpmn import SourceFile
from engine.config import Settings
from engine.core import CareEngine
from engine.errors import DeploymentInvalid
from engine.models import CustomerStatus
from tests.conftest import DATA, source, upload

SENSITIVE = {
    "customer_name": "Alice Example",
    "product": "Router X1",
    "secret_note": "customer is a known troublemaker",
    "internal_margin": 4711,
    "divisor": 0,
}


@pytest.fixture
def deployed(client):
    response = client.post(
        "/api/deployments", data=upload("customer_tracking.bpmn", "confirm_address.json", "hello_care.bpmn")
    )
    assert response.status_code == 201, response.json


def start(client, key="customer_tracking", variables=None):
    body = {"variables": variables if variables is not None else dict(SENSITIVE, divisor=4)}
    response = client.post(f"/api/process-definitions/{key}/instances", json=body)
    assert response.status_code == 201, response.json
    return response.json


def open_task(client, instance_id):
    return client.get(f"/api/tasks?instance_id={instance_id}").json["items"][0]


def complete(client, instance_id, data=None):
    task = open_task(client, instance_id)
    response = client.post(f"/api/tasks/{task['id']}/complete", json={"data": data or {}})
    assert response.status_code == 200, response.json
    return task


def test_status_follows_the_stages(client, anonymous, deployed, clock):
    instance = start(client)
    code = instance["tracking_code"]
    first = anonymous.get(f"/api/status/{code}").json
    assert first["title"] == "Repair request"
    assert first["status"] == "in_progress"
    assert first["stage"] == "review"
    assert [(s["key"], s["state"]) for s in first["stages"]] == [
        ("received", "done"),
        ("review", "current"),
        ("your_input", "upcoming"),
        ("resolution", "upcoming"),
    ]
    assert first["message"] == "Dear Alice Example, we are looking at your Router X1."
    assert first["expected_by"] == (clock.now() + timedelta(hours=4)).isoformat()
    assert first["tasks"] == []

    clock.advance(timedelta(minutes=30))
    complete(client, instance["id"])
    waiting = anonymous.get(f"/api/status/{code}").json
    assert waiting["status"] == "waiting_for_you"
    assert waiting["stage"] == "your_input"
    assert waiting["expected_by"] is None
    assert [t["name"] for t in waiting["tasks"]] == ["Confirm your address"]
    assert waiting["message"] == "Please confirm where we should send your Router X1."
    assert [h["stage"] for h in waiting["history"]] == ["review", "your_input"]

    complete(client, instance["id"], {"address": "Main street 1"})
    complete(client, instance["id"])
    done = anonymous.get(f"/api/status/{code}").json
    assert done["status"] == "completed"
    assert all(s["state"] == "done" for s in done["stages"])


def test_stage_labels_follow_the_language(client, anonymous, deployed):
    code = start(client)["tracking_code"]
    german = anonymous.get(f"/api/status/{code}?lang=de").json
    assert [s["label"] for s in german["stages"]] == ["Eingegangen", "In Prüfung", "Ihre Angaben", "Reparatur"]
    czech = anonymous.get(f"/api/status/{code}", headers={"Accept-Language": "cs,en;q=0.5"}).json
    assert czech["stages"][1]["label"] == "Posuzování"


def test_a_process_without_stages_shows_received_in_progress_completed(client, anonymous):
    assert client.post("/api/deployments", data=upload("timer_boundary.bpmn")).status_code == 201
    instance = start(client, "timer_boundary", {})
    code = instance["tracking_code"]
    view = anonymous.get(f"/api/status/{code}").json
    assert (view["status"], view["stage"], view["stages"]) == ("received", None, [])
    complete(client, instance["id"])
    assert anonymous.get(f"/api/status/{code}").json["status"] == "completed"


def test_hello_care_shows_its_stages(client, anonymous, deployed):
    instance = start(client, "hello_care", {"subject": "Printer", "internal": "x"})
    view = anonymous.get(f"/api/status/{instance['tracking_code']}?lang=cs").json
    assert view["stage"] == "answering" and view["status"] == "in_progress"
    assert view["message"] == "We are answering your inquiry “Printer”."
    assert [s["label"] for s in view["stages"]] == ["Přijato", "Zpracovává se", "Zodpovězeno"]
    complete(client, instance["id"], {"answer": "Hello"})
    view = anonymous.get(f"/api/status/{instance['tracking_code']}").json
    assert view["status"] == "completed" and [h["stage"] for h in view["history"]] == ["answering", "answered"]


def test_the_read_model_is_written_with_the_instance(care, client, deployed):
    instance = start(client)
    with care.db.read() as session:
        row = session.scalar(select(CustomerStatus).where(CustomerStatus.instance_id == instance["id"]))
        assert (row.tracking_code, row.stage, row.status) == (instance["tracking_code"], "review", "in_progress")
    client.post(f"/api/instances/{instance['id']}/cancel")
    with care.db.read() as session:
        assert session.get(CustomerStatus, instance["id"]).status == "cancelled"


def test_a_step_writes_the_whole_status_even_where_its_copy_in_the_session_is_older(care, client, deployed):
    """The lock statement's customer-status row may be older than the stored one (PostgreSQL, a step that waited for
    the lock): a value the step computes that equals that old copy must still be written."""
    instance = start(client, "hello_care", {"subject": "Printer"})
    with care.db.read() as session:
        before = session.get(CustomerStatus, instance["id"])
        computed = (before.stage, before.status, before.message, before.title)

    def another_step_wrote_meanwhile(session, row, workflow, definition):
        table = CustomerStatus.__table__  # the row changes, the copy the lock statement read does not
        changed = {"stage": "answered", "status": "completed", "message": "stale", "title": "stale"}
        session.connection().execute(update(table).where(table.c.instance_id == row.id).values(changed))

    care.executor.mutate(instance["id"], another_step_wrote_meanwhile, "tester")
    with care.db.read() as session:
        after = session.get(CustomerStatus, instance["id"])
        assert (after.stage, after.status, after.message, after.title) == computed


def test_unknown_codes_are_404_and_nothing_else(anonymous, deployed):
    response = anonymous.get("/api/status/no-such-code")
    assert response.status_code == 404
    assert set(response.json) == {"type", "title", "status", "detail", "instance"}


def test_status_is_public_and_rate_limited(app, client, deployed):
    code = start(client)["tracking_code"]
    app.config["PUBLIC_RATE_LIMIT_PER_MINUTE"] = 3
    app.extensions.pop("carecenter.ratelimit", None)
    anonymous = app.test_client()
    codes = [anonymous.get(f"/api/status/{code}").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_the_rate_limit_is_read_from_the_environment(monkeypatch, database_url):
    monkeypatch.setenv("CARECENTER_PUBLIC_RATE_LIMIT", "2")
    care = CareEngine(Settings.from_env(database_url=database_url))
    try:
        anonymous = create_app(care).test_client()
        codes = [anonymous.get("/api/status/no-such-code").status_code for _ in range(3)]
    finally:
        care.close()
    assert codes == [404, 404, 429]


def test_nothing_internal_leaks_even_with_an_incident(care, client, anonymous, deployed):
    instance = start(client, variables=dict(SENSITIVE))
    complete(client, instance["id"])  # triage, by the admin token
    complete(client, instance["id"], {"address": "Main street 1"})  # then the script divides by zero
    assert client.get(f"/api/instances/{instance['id']}").json["status"] == "failed"
    response = anonymous.get(f"/api/status/{instance['tracking_code']}")
    view = response.json
    assert view["status"] == "in_progress"
    text = json.dumps(view)
    for forbidden in (
        "secret_note",
        "troublemaker",
        "internal_margin",
        "4711",
        "divisor",
        "internal_score",
        "ZeroDivision",
        "division",
        "test-admin",
        '"triage"',
        '"confirm"',
        '"compute"',
        "lane_",
        "Main street",
    ):
        assert forbidden not in text, forbidden


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ('name="customer_stage" value="review"', "customer_stage 'reviewing' is not in the process's customer_stages"),
        ("we are looking at your {{ product }}", "customer_message uses secret_note, not in the process's"),
    ],
)
def test_deploy_refuses_bad_stage_models(care, change, message):
    original = (DATA / "customer_tracking.bpmn").read_text()
    replacement = {
        'name="customer_stage" value="review"': 'name="customer_stage" value="reviewing"',
        "we are looking at your {{ product }}": "we are looking at your {{ product }} {{ secret_note }}",
    }[change]
    broken = original.replace(change, replacement, 1)
    with pytest.raises(DeploymentInvalid) as raised:
        care.repository.deploy(
            [SourceFile("customer_tracking.bpmn", broken.encode()), source("confirm_address.json")], "broken", "test"
        )
    problems = raised.value.problems
    assert len(problems) == 1
    assert message in problems[0].message
    assert problems[0].file == "customer_tracking.bpmn"
    assert problems[0].element_id == "triage"
    assert problems[0].line is not None
    assert care.repository.latest_definitions() == []


def test_camunda_properties_mark_stages_too(client, anonymous):
    assert client.post("/api/deployments", data=upload("camunda_billing.bpmn", "invoice_check.json")).status_code == 201
    code = start(client, "camunda_billing", {})["tracking_code"]
    view = anonymous.get(f"/api/status/{code}").json
    assert (view["stage"], view["stages"][0]["state"]) == ("In review", "current")


def test_customer_timeline_lists_every_request_newest_first(care, client, deployed):
    first = client.post(
        "/api/process-definitions/customer_tracking/instances",
        json={"variables": dict(SENSITIVE, divisor=4), "customer_id": "C-1"},
    ).json
    second = client.post("/api/process-definitions/hello_care/instances", json={"customer_id": "C-1"}).json
    client.post("/api/process-definitions/hello_care/instances", json={"customer_id": "C-2"})
    page = client.get("/api/customers/C-1/timeline?limit=1").json
    assert [i["instance_id"] for i in page["items"]] == [second["id"]]
    assert page["items"][0]["stage"] == "answering"
    rest = client.get(page["next"]).json
    assert [i["instance_id"] for i in rest["items"]] == [first["id"]] and rest["next"] is None
    assert rest["items"][0]["customer_status"] == "in_progress"
    assert {e["type"] for e in rest["items"][0]["events"]} >= {"instance_started", "stage_entered"}
    assert client.get("/api/customers/nobody/timeline").json == {"items": [], "next": None}


def test_customer_timeline_is_for_staff(care, app, deployed):
    care.identity.add_user("dana", "designer", password="correct horse battery")
    care.identity.add_user("sam", "staff", password="correct horse battery")
    token = care.tokens.create("designer-token", role="designer", username="dana")[1]
    staff = care.tokens.create("staff-token", role="staff", username="sam")[1]
    allowed = app.test_client().get("/api/customers/C-1/timeline", headers={"Authorization": f"Bearer {staff}"})
    assert allowed.status_code == 200
    response = app.test_client().get("/api/customers/C-1/timeline", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert app.test_client().get("/api/customers/C-1/timeline").status_code == 401


def test_a_step_that_waited_for_the_instance_lock_records_a_stage_only_once(postgres_schema):
    """On PostgreSQL the lock statement returns the customer-status row as it was before the wait: the step
    committed meanwhile moved the stage already, so the stage must not be recorded a second time."""
    import threading
    import time

    from sqlalchemy import select, text

    from engine.models import CustomerStageEvent
    from engine.runtime import StartRequest
    from tests.conftest import make_engine, source

    postgres_schema.empty()
    care = make_engine(postgres_schema.url)
    try:
        care.repository.deploy([source(n) for n in ("customer_tracking.bpmn", "confirm_address.json")], "t", "t")
        view, _ = care.runtime.start(StartRequest("customer_tracking", dict(SENSITIVE, divisor=4)), "tester")
        instance_id, task_id = view["id"], view["tasks"][0]["id"]
        other = care.db.engine.connect()  # another step: holds the lock and moves the stage, as it would
        for statement in (
            "SELECT id FROM process_instances WHERE id = :i FOR UPDATE",
            "UPDATE process_instances SET updated_at = updated_at WHERE id = :i",
            "UPDATE customer_status SET stage = 'your_input' WHERE instance_id = :i",
            "UPDATE customer_stage_events SET left_at = now() WHERE instance_id = :i AND left_at IS NULL",
            "INSERT INTO customer_stage_events (instance_id, stage, entered_at) VALUES (:i, 'your_input', now())",
        ):
            other.execute(text(statement), {"i": instance_id})
        completing = threading.Thread(target=care.tasks.complete, args=(task_id, {}, "tester"))
        completing.start()
        holder = other.execute(text("SELECT pg_backend_pid()")).scalar()
        waiting = text("SELECT count(*) FROM pg_stat_activity WHERE :holder = ANY(pg_blocking_pids(pid))")
        deadline = time.monotonic() + 10
        with care.db.engine.connect() as watcher:
            while watcher.execute(waiting, {"holder": holder}).scalar() == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
        other.commit()
        other.close()
        completing.join(10)
        with care.db.read() as session:
            stages = session.scalars(
                select(CustomerStageEvent.stage)
                .where(CustomerStageEvent.instance_id == instance_id)
                .order_by(CustomerStageEvent.id)
            ).all()
        assert stages == ["review", "your_input"]
    finally:
        care.close()


def test_deploy_refuses_a_customer_variable_that_is_not_one_variable_name(care):
    original = (DATA / "customer_tracking.bpmn").read_text()
    fields = '<spiffworkflow:property name="customer_fields" value="customer_name, product" />'
    broken = original.replace(
        fields, fields + '<spiffworkflow:property name="customer_variable" value="customer id" />', 1
    )
    with pytest.raises(DeploymentInvalid) as raised:
        care.repository.deploy(
            [SourceFile("customer_tracking.bpmn", broken.encode()), source("confirm_address.json")], "broken", "test"
        )
    [problem] = raised.value.problems
    assert problem.message == "customer_variable 'customer id' is not the name of one variable (such as customer_id)"
    assert (problem.file, problem.element_id) == ("customer_tracking.bpmn", "customer_tracking")
    assert care.repository.latest_definitions() == []
