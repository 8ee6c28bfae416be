"""The analytics run gives way to web requests in flight (engine and api foreground) and stops with its worker."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask, Response, stream_with_context
from sqlalchemy import func, select

from api import foreground as api_foreground
from engine import analytics_facts
from engine.foreground import Foreground
from engine.models import AnalyticsInstance
from engine.runtime import StartRequest
from engine.worker import Worker
from tests.conftest import source
from tests.test_statement_budget import deploy

PATIENT = 60.0  # a wait that would not end within any test: the waits below end for another reason


def give_way_in_thread(foreground: Foreground, stop: threading.Event) -> tuple[threading.Thread, list[bool]]:
    answers: list[bool] = []
    thread = threading.Thread(target=lambda: answers.append(foreground.give_way(stop)))
    thread.start()
    return thread, answers


def answered(thread: threading.Thread, answers: list[bool]) -> list[bool]:
    """What give_way answered, once its thread has ended (within seconds: no wait in these tests is that long)."""
    thread.join(5)
    assert not thread.is_alive()
    return answers


def test_with_nothing_in_flight_the_counting_goes_on_at_once():
    foreground = Foreground(quiet_seconds=0.01, longest_wait_seconds=PATIENT)
    assert answered(*give_way_in_thread(foreground, threading.Event())) == [True]


def test_a_request_in_flight_holds_the_counting_back_until_it_ends():
    foreground = Foreground(quiet_seconds=0.01, longest_wait_seconds=PATIENT)
    foreground.begin()
    thread, answers = give_way_in_thread(foreground, threading.Event())
    time.sleep(0.3)
    assert thread.is_alive() and answers == []  # still waiting for the request
    foreground.end()
    assert answered(thread, answers) == [True]


def test_under_a_constant_load_the_counting_waits_no_longer_than_its_bound():
    foreground = Foreground(quiet_seconds=PATIENT, longest_wait_seconds=0.2)
    foreground.begin()  # never ends
    assert answered(*give_way_in_thread(foreground, threading.Event())) == [True]


def test_a_stopping_worker_ends_the_wait_and_the_run():
    foreground = Foreground(quiet_seconds=0.01, longest_wait_seconds=PATIENT)
    foreground.begin()
    stop = threading.Event()
    thread, answers = give_way_in_thread(foreground, stop)
    stop.set()
    assert answered(thread, answers) == [False]


def test_requests_are_in_flight_until_their_teardown_and_a_stream_only_until_its_headers():
    foreground = Foreground(quiet_seconds=0, longest_wait_seconds=PATIENT)
    app = Flask(__name__)
    api_foreground.configure(app, foreground)
    seen: list[bool] = []
    streaming = threading.Event()

    @app.get("/page")
    def page() -> str:
        seen.append(foreground.quiet())
        return "ok"

    @app.get("/stream")
    def stream() -> Response:
        def events():
            streaming.wait(5)
            yield "data: 1\n\n"

        return Response(stream_with_context(events()), mimetype="text/event-stream")  # as api.pages.event_stream

    @app.get("/fails")
    def fails() -> str:
        raise RuntimeError("a view that fails")

    client = app.test_client()
    assert client.get("/page").status_code == 200
    assert seen == [False] and foreground.quiet()
    assert client.get("/fails").status_code == 500
    assert foreground.quiet()  # a failed request is out of flight too
    response = client.get("/stream", buffered=False)
    assert foreground.quiet()  # the stream is open, its body not yet sent
    foreground.begin()  # another request meanwhile
    streaming.set()
    assert response.get_data() == b"data: 1\n\n"
    response.close()
    assert not foreground.quiet()  # the stream's end is not counted again: the other request is still in flight
    foreground.end()
    assert foreground.quiet()


def test_the_app_tells_the_engine_of_its_requests(care, client):
    care.foreground.quiet_seconds = PATIENT
    assert care.foreground.quiet()
    assert client.get("/api/process-definitions").status_code == 200
    assert not care.foreground.quiet()  # a request ended just now


def test_a_run_told_to_stop_between_batches_stops_there_and_the_next_run_counts_the_rest(care, monkeypatch):
    monkeypatch.setattr(analytics_facts, "BATCH", 2)
    care.repository.deploy([source("analytics_review.bpmn")], "analytics", "test")
    for _ in range(5):
        care.runtime.start(StartRequest("analytics_review", {}), "test")
    asked: list[int] = []

    def stop_now() -> bool:
        asked.append(1)
        return False

    assert care.analytics.refresh(stop_now) == 2
    assert asked == [1] and counted(care) == 2
    assert care.analytics.last_run() is None  # the pages do not say the figures were counted: they were not all
    assert care.analytics.refresh(lambda: True) == 5  # from the mark, with the overlap: the first two again
    assert counted(care) == 5 and care.analytics.last_run() == care.clock.now()


def counted(care) -> int:
    with care.db.read() as session:
        return session.scalar(select(func.count()).select_from(AnalyticsInstance))


def test_a_worker_firing_timers_holds_the_counting_back(care, client, clock, monkeypatch):
    deploy(client, "bench_timer.bpmn")
    due = (clock.now() + timedelta(hours=1)).isoformat()
    started = client.post("/api/process-definitions/bench_timer/instances", json={"variables": {"due": due}})
    assert started.status_code == 201, started.json
    clock.advance(timedelta(hours=2))
    care.foreground.quiet_seconds = 0
    seen: list[bool] = []
    fire_due = care.timers.fire_due

    def watched(*args, **kwargs) -> int:  # the real firing, with a look at the foreground as it begins
        seen.append(care.foreground.quiet())
        return fire_due(*args, **kwargs)

    monkeypatch.setattr(care.timers, "fire_due", watched)
    assert Worker(care, BackgroundScheduler(timezone="UTC")).run_timers() == 1
    assert seen == [False] and care.foreground.quiet()
