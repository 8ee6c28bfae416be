"""Service tasks run by real ``carecenter worker`` processes, against a real SMTP server on 127.0.0.1.

A flaky mail server gets exactly one mail after the retries; a mail server that keeps refusing
turns the call into an incident that ``POST /api/incidents/{id}/retry`` clears; a worker killed
after it dispatched an update but before it recorded the result causes no second dispatch when
another worker takes the job over.  Both databases; the wall clock (see tests/worker_processes.py).
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

import tests.worker_operations  # noqa: F401  (registers test_dispatch_then_stall here too, for the deploy check)
from api.app import create_app
from engine.models import HistoryEvent, ServiceJob
from engine.runtime import StartRequest
from process_library.store import Customer, Dispatch, OutboxMessage, System
from tests.conftest import make_engine, source
from tests.smtp_server import smtp_server  # noqa: F401 (a fixture)
from tests.worker_processes import Workers, wait_until


@pytest.fixture
def care(any_database_url):
    """An engine on the wall clock (the workers' clock), with one customer and one system in the store."""
    engine = make_engine(any_database_url)
    with engine.db.write() as session:
        session.add(Customer(id="C-1", name="Ada Lovelace", email="ada@example.com", tier="premium", language="en"))
        session.flush()
        session.add(System(id="S-1", customer_id="C-1", product="carestation", version="4.1", hostname="cs1.example"))
    yield engine
    engine.close()


@pytest.fixture
def mail_workers(any_database_url, tmp_path, smtp_server):  # noqa: F811
    pool = Workers(any_database_url, tmp_path, {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_server.port)})
    yield pool
    pool.stop_all()


def status(care, instance_id: int) -> str:
    return care.runtime.get(instance_id, with_data=False)["status"]


def rows(care, model, *where) -> list:
    with care.db.read() as session:
        return list(session.scalars(select(model).where(*where)))


def history_count(care, instance_id: int, kind: str) -> int:
    with care.db.read() as session:
        query = select(func.count()).where(HistoryEvent.instance_id == instance_id, HistoryEvent.event_type == kind)
        return session.scalar(query)


def start_notify(care) -> dict:
    care.repository.deploy([source("worker_notify.bpmn")], "test", "test")
    view, _ = care.runtime.start(StartRequest("worker_notify", {"customer_id": "C-1"}), "test")
    return view


def test_a_flaky_mail_server_gets_one_mail_after_the_retries(care, mail_workers, smtp_server):  # noqa: F811
    smtp_server.fail_next(2)  # 451 twice: the third and last try goes through
    mail_workers.start("w1")
    view = start_notify(care)
    wait_until(lambda: status(care, view["id"]) == "completed", "the instance completed")

    assert smtp_server.refused == 2
    [message] = smtp_server.messages
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == f"Your request {view['tracking_code']} [{view['reference']}]"
    [outbox] = rows(care, OutboxMessage)
    assert (outbox.status, outbox.attempts) == ("sent", 3)
    [job] = rows(care, ServiceJob, ServiceJob.instance_id == view["id"])
    assert (job.status, job.attempts, job.claimed_by) == ("completed", 3, "w1")
    assert care.runtime.get(view["id"])["data"]["mail"] == {"outbox_id": outbox.id, "status": "sent"}


def test_a_mail_server_that_keeps_refusing_is_an_incident_that_a_retry_clears(care, mail_workers, smtp_server):  # noqa: F811
    smtp_server.fail_next(3)  # every try of the call (retries=2)
    mail_workers.start("w1")
    view = start_notify(care)
    wait_until(lambda: status(care, view["id"]) == "failed", "the call ran out of tries")

    client = create_app(care).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {care.tokens.create('test-admin')[1]}"
    [incident] = client.get(f"/api/incidents?instance_id={view['id']}").get_json()["items"]
    assert (incident["element_id"], incident["status"]) == ("notify", "open")
    assert "451" in incident["message"]
    assert smtp_server.messages == [] and smtp_server.refused == 3

    response = client.post(f"/api/incidents/{incident['id']}/retry", json={})
    assert response.status_code == 200, response.get_json()
    wait_until(lambda: status(care, view["id"]) == "completed", "the retried call completed")
    assert len(smtp_server.messages) == 1
    [job] = rows(care, ServiceJob, ServiceJob.instance_id == view["id"])
    assert (job.status, job.attempts) == ("completed", 1)  # the retry starts a fresh round of tries
    assert client.get(f"/api/incidents/{incident['id']}").get_json()["status"] == "resolved"
    assert history_count(care, view["id"], "incident_retried") == 1


def test_a_worker_killed_mid_call_causes_no_second_dispatch(care, any_database_url, tmp_path):
    pool = Workers(any_database_url, tmp_path, {"OPERATION_MODULES": "tests.worker_operations"})
    try:
        care.repository.deploy([source("worker_dispatch.bpmn")], "test", "test")
        pool.start("victim", "--job-lease", "2")
        variables = {"system_id": "S-1", "version": "4.2", "stall_seconds": 300}
        view, _ = care.runtime.start(StartRequest("worker_dispatch", variables), "test")
        wait_until(lambda: len(rows(care, Dispatch)) == 1, "the victim dispatched the update")
        pool.kill("victim")  # after the dispatch, before the result was recorded
        [job] = rows(care, ServiceJob, ServiceJob.instance_id == view["id"])
        assert (job.status, job.claimed_by, job.attempts) == ("pending", "victim", 1)

        pool.start("survivor", "--job-lease", "2")
        wait_until(lambda: status(care, view["id"]) == "completed", "the survivor took the job over")
    finally:
        pool.stop_all()

    [dispatch] = rows(care, Dispatch)
    [message] = rows(care, OutboxMessage, OutboxMessage.kind == "dispatch")
    assert message.idempotency_key == dispatch.idempotency_key == job.idempotency_key
    [job] = rows(care, ServiceJob, ServiceJob.instance_id == view["id"])
    assert (job.status, job.claimed_by, job.attempts) == ("completed", "survivor", 2)
    assert care.runtime.get(view["id"])["data"]["dispatch"]["dispatch_id"] == dispatch.id


def test_a_job_written_by_another_process_wakes_a_postgresql_worker(postgres_schema, tmp_path, smtp_server):  # noqa: F811
    """The job runs long before the worker's next (30 s) poll: ``NOTIFY carecenter_jobs`` woke it."""
    postgres_schema.empty()
    settings = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_server.port)}
    pool = Workers(postgres_schema.url, tmp_path, settings)
    care = make_engine(postgres_schema.url)
    try:
        with care.db.write() as session:
            session.add(Customer(id="C-1", name="Ada", email="ada@example.com", tier="premium", language="en"))
        pool.start("listener", "--poll", "30")
        wait_until(lambda: care.timers.status()["workers_alive"] == 1, "the worker is up", limit=30)
        time.sleep(0.5)  # its first poll ran and it is listening
        started = time.monotonic()
        view = start_notify(care)
        wait_until(lambda: status(care, view["id"]) == "completed", "the job ran", limit=25)
        assert time.monotonic() - started < 15, pool.log("listener")
        assert len(smtp_server.messages) == 1
    finally:
        pool.stop_all()
        care.close()
