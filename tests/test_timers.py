"""Timers on the virtual clock: every BPMN timer form, durable rows, catch-up, cycles, start timers.

Nothing here sleeps: the tests move a :class:`VirtualClock` and call ``care.timers.fire_due()``,
which is what the worker runs.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.bpmn import SourceFile
from engine.errors import Conflict, DeploymentInvalid
from engine.models import HistoryEvent, HumanTask, ProcessInstance, Timer
from engine.runtime import StartRequest
from engine.tasks import TaskFilter
from tests.conftest import make_engine, source

T0 = datetime(2030, 1, 1, 0, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    from engine.clock import VirtualClock

    return VirtualClock(T0)


def deploy(care, *names):
    return care.repository.deploy([source(n) for n in names], "test", "tester")


def start(care, key, **variables) -> int:
    view, _ = care.runtime.start(StartRequest(key, variables), "tester")
    return view["id"]


def timers(care, instance_id=None, status=None, **where) -> list[Timer]:
    query = select(Timer).order_by(Timer.due_at, Timer.id)
    if instance_id is not None:
        query = query.where(Timer.instance_id == instance_id)
    if status is not None:
        query = query.where(Timer.status == status)
    for name, value in where.items():
        query = query.where(getattr(Timer, name) == value)
    with care.db.read() as session:
        return list(session.scalars(query))


def pending(care, instance_id=None) -> list[tuple[str, datetime]]:
    return [(t.element_id, t.due_at) for t in timers(care, instance_id, "pending")]


def open_tasks(care, instance_id) -> list[str]:
    with care.db.read() as session:
        rows = session.scalars(
            select(HumanTask.element_id)
            .where(HumanTask.instance_id == instance_id, HumanTask.status == "open")
            .order_by(HumanTask.id)
        )
        return list(rows)


def instance(care, instance_id) -> ProcessInstance:
    with care.db.read() as session:
        return session.get(ProcessInstance, instance_id)


def fired_events(care, instance_id) -> list[tuple[str, int]]:
    with care.db.read() as session:
        rows = session.scalars(
            select(HistoryEvent)
            .where(HistoryEvent.instance_id == instance_id, HistoryEvent.event_type == "timer_fired")
            .order_by(HistoryEvent.id)
        )
        return [(e.element_id, e.details["occurrence"]) for e in rows]


def complete(care, instance_id, element_id, data=None):
    task_id = next(
        t["id"]
        for t in care.tasks.list(TaskFilter(instance_id=instance_id), 50, None).items
        if t["element_id"] == element_id
    )
    return care.tasks.complete(task_id, data or {}, "tester")


# -- the forms of timers --------------------------------------------------------------------------


def test_intermediate_timer_is_a_pending_row_and_fires_exactly_at_its_due_time(care, clock):
    deploy(care, "timer_intermediate.bpmn")
    iid = start(care, "timer_intermediate")
    assert pending(care, iid) == [("wait", T0 + timedelta(hours=1))]
    [row] = timers(care, iid)
    assert (row.kind, row.element_name, row.process_key, row.occurrence) == (
        "intermediate",
        "Wait an hour",
        "timer_intermediate",
        1,
    )

    clock.advance("PT59M")
    assert care.timers.fire_due() == 0
    assert open_tasks(care, iid) == []

    clock.advance("PT1M")  # exactly the due time: a timer due at 01:00 fires at 01:00
    assert care.timers.fire_due() == 1
    assert open_tasks(care, iid) == ["call_back"]
    [row] = timers(care, iid)
    assert (row.status, row.fired_at) == ("fired", T0 + timedelta(hours=1))
    assert fired_events(care, iid) == [("wait", 1)]
    assert care.timers.fire_due() == 0  # nothing fires twice


def test_timer_expressions_read_task_data(care, clock):
    deploy(care, "timer_expression.bpmn")
    iid = start(care, "timer_expression", days=3, renewal_date="2030-02-01T06:00:00+01:00")
    assert pending(care, iid) == [("wait_days", T0 + timedelta(days=3))]
    clock.advance("P3D")
    assert care.timers.fire_due() == 1
    assert pending(care, iid) == [("wait_date", datetime(2030, 2, 1, 5, 0, tzinfo=UTC))]
    clock.advance("P40D")
    assert care.timers.fire_due() == 1
    assert instance(care, iid).status == "completed"


def test_interrupting_boundary_timer_cancels_the_task_and_cycles_fire_once_per_occurrence(care, clock):
    deploy(care, "timer_boundary.bpmn")
    iid = start(care, "timer_boundary")
    assert pending(care, iid) == [("reminder", T0 + timedelta(hours=1)), ("sla", T0 + timedelta(hours=4))]
    for _ in range(3):
        clock.advance("PT1H")
        assert care.timers.fire_due() == 1
        assert open_tasks(care, iid) == ["answer"]
    assert fired_events(care, iid) == [("reminder", 1), ("reminder", 2), ("reminder", 3)]
    assert pending(care, iid) == [("sla", T0 + timedelta(hours=4))]  # R3: no fourth reminder

    clock.advance("PT1H")
    assert care.timers.fire_due() == 1
    assert open_tasks(care, iid) == ["escalate"]
    assert [(t.element_id, t.occurrence, t.status) for t in timers(care, iid)] == [
        ("reminder", 1, "fired"),
        ("reminder", 2, "fired"),
        ("reminder", 3, "fired"),
        ("sla", 1, "fired"),
    ]
    assert "answer" not in open_tasks(care, iid)


def test_completing_a_task_cancels_its_boundary_timers(care, clock):
    deploy(care, "timer_boundary.bpmn")
    iid = start(care, "timer_boundary")
    clock.advance("PT30M")
    complete(care, iid, "answer")
    assert instance(care, iid).status == "completed"
    assert {t.status for t in timers(care, iid)} == {"cancelled"}
    clock.advance("P1D")
    assert care.timers.fire_due() == 0
    assert fired_events(care, iid) == []


def test_camunda_modeler_plain_iso_text(care, clock):
    deploy(care, "timer_camunda.bpmn")
    iid = start(care, "timer_camunda")
    assert pending(care, iid) == [("wait_hour", T0 + timedelta(hours=1))]
    clock.advance("PT1H")
    assert care.timers.fire_due() == 1
    assert open_tasks(care, iid) == ["follow_up"]
    assert pending(care, iid) == [("nudge", T0 + timedelta(hours=1, minutes=30)), ("deadline", T0 + timedelta(days=1))]
    clock.advance("P1D")  # downtime: both nudges and the deadline are due; each fires once
    assert care.timers.fire_due() == 3
    assert fired_events(care, iid) == [("wait_hour", 1), ("nudge", 1), ("nudge", 2), ("deadline", 1)]
    assert instance(care, iid).status == "completed"


def test_timer_after_an_event_based_gateway(care, clock):
    deploy(care, "timer_gateway.bpmn")
    iid = start(care, "timer_gateway")
    [row] = timers(care, iid)
    assert (row.element_id, row.element_name, row.due_at) == (
        "no_reply",
        "Two days without reply",
        T0 + timedelta(days=2),
    )
    clock.advance("P2D")
    assert care.timers.fire_due() == 1
    assert open_tasks(care, iid) == ["close_case"]
    assert fired_events(care, iid) == [("no_reply", 1)]


def test_timers_inside_a_subprocess_and_a_called_process(care, clock):
    deploy(care, "timer_subprocess.bpmn")
    iid = start(care, "timer_subprocess")
    assert pending(care, iid) == [("sub_wait", T0 + timedelta(minutes=10))]
    clock.advance("PT10M")
    assert care.timers.fire_due() == 1
    # now in the call activity: its own timer, and the boundary timer on the call activity
    assert pending(care, iid) == [
        ("called_wait", T0 + timedelta(hours=1, minutes=10)),
        ("call_timeout", T0 + timedelta(hours=2, minutes=10)),
    ]
    clock.advance("PT1H")
    assert care.timers.fire_due() == 1
    assert open_tasks(care, iid) == ["after"]
    assert pending(care, iid) == []
    assert [t.status for t in timers(care, iid)] == ["fired", "fired", "cancelled"]


def test_boundary_timer_on_a_call_activity_interrupts_the_called_process(care, clock):
    deploy(care, "timer_subprocess.bpmn")
    iid = start(care, "timer_subprocess")
    clock.advance("PT10M")
    care.timers.fire_due()
    # the called process's own timer is later than the boundary timer in this run
    clock.advance("PT3H")
    assert care.timers.fire_due() >= 1
    tasks = open_tasks(care, iid)
    assert tasks in (["after"], ["too_slow"])
    assert pending(care, iid) == []


def test_a_request_before_the_worker_wins_over_an_overdue_timer(care, clock):
    """As in Camunda: until the worker fired it, an overdue boundary timer loses to the task's completion."""
    deploy(care, "timer_boundary.bpmn")
    iid = start(care, "timer_boundary")
    clock.advance("PT4H")
    complete(care, iid, "answer")
    assert instance(care, iid).status == "completed"
    assert care.timers.fire_due() == 0
    assert {t.status for t in timers(care, iid)} == {"cancelled"}
    assert fired_events(care, iid) == []


def test_cancelling_an_instance_cancels_its_timers(care, clock):
    deploy(care, "timer_boundary.bpmn")
    iid = start(care, "timer_boundary")
    care.runtime.cancel(iid, "tester")
    assert {t.status for t in timers(care, iid)} == {"cancelled"}
    clock.advance("P1D")
    assert care.timers.fire_due() == 0


# -- catch-up after downtime ----------------------------------------------------------------------


def test_catch_up_after_downtime_fires_each_due_timer_once(care, clock):
    deploy(care, "timer_intermediate.bpmn", "timer_expression.bpmn")
    waits = [start(care, "timer_intermediate") for _ in range(3)]
    renewals = [start(care, "timer_expression", days=1, renewal_date="2030-01-01T12:00:00Z") for _ in range(2)]
    clock.advance("P7D")  # no worker ran for a week
    assert care.timers.fire_due() == 3 + 2 * 2  # the renewals' second timer falls due as soon as the first fired
    for iid in waits:
        assert open_tasks(care, iid) == ["call_back"]
        assert fired_events(care, iid) == [("wait", 1)]
    for iid in renewals:
        assert instance(care, iid).status == "completed"
        assert fired_events(care, iid) == [("wait_days", 1), ("wait_date", 1)]
    assert care.timers.fire_due() == 0


def test_missed_cycle_occurrences_fire_up_to_the_cap_then_continue_on_schedule(database_url):
    from engine.clock import VirtualClock
    from engine.timers import TimerConfig

    clock = VirtualClock(T0)
    care = make_engine(database_url, clock)
    care.close()
    from engine.config import PROJECT_ROOT, Settings
    from engine.core import CareEngine

    care = CareEngine(
        Settings.from_env(database_url=database_url, processes_dir=PROJECT_ROOT / "processes"),
        clock=clock,
        timer_config=TimerConfig(cycle_catch_up=2),
    )
    try:
        deploy(care, "timer_camunda.bpmn", "timer_reminders.bpmn")
        iid = start(care, "timer_reminders")
        assert pending(care, iid) == [("hourly", T0 + timedelta(hours=1))]
        clock.advance("PT5H")  # occurrences at 1h..5h missed; the cap lets the two newest fire
        assert care.timers.fire_due() == 2
        assert fired_events(care, iid) == [("hourly", 4), ("hourly", 5)]
        with care.db.read() as session:
            skipped = session.scalar(
                select(HistoryEvent.details).where(
                    HistoryEvent.instance_id == iid, HistoryEvent.event_type == "timer_fired"
                )
            )
        assert skipped["skipped_occurrences"] == 3
        assert pending(care, iid) == [("hourly", T0 + timedelta(hours=6))]
        clock.advance("PT1H")
        assert care.timers.fire_due() == 1
        assert fired_events(care, iid)[-1] == ("hourly", 6)
    finally:
        care.close()


# -- timer start events ---------------------------------------------------------------------------


def test_timer_start_event_is_scheduled_at_deploy_and_starts_instances(care, clock):
    deploy(care, "timer_start.bpmn")
    [row] = timers(care, status="pending")
    assert (row.kind, row.instance_id, row.element_id, row.due_at) == ("start", None, "daily", T0 + timedelta(hours=6))
    clock.advance("PT6H")
    assert care.timers.fire_due() == 1
    fired = timers(care, status="fired")
    assert len(fired) == 1 and fired[0].started_instance_id is not None
    started = fired[0].started_instance_id
    assert open_tasks(care, started) == ["review"]
    assert instance(care, started).started_by == "timer"
    assert fired_events(care, started) == [("daily", 1)]
    assert pending(care) == [("daily", T0 + timedelta(days=1, hours=6))]


def test_a_new_version_replaces_the_start_schedule(care, clock):
    deploy(care, "timer_start.bpmn")
    original = source("timer_start.bpmn")
    changed = SourceFile(
        original.filename, original.content.replace(b"2030-01-01T06:00:00Z/P1D", b"2030-01-01T08:00:00Z/P1D")
    )
    care.repository.deploy([changed], "v2", "tester")
    assert pending(care) == [("daily", T0 + timedelta(hours=8))]
    assert [t.status for t in timers(care, process_key="timer_start")] == ["cancelled", "pending"]
    clock.advance("PT8H")
    assert care.timers.fire_due() == 1
    started = timers(care, status="fired")[0].started_instance_id
    assert instance(care, started).definition_version == 2


def test_suspend_stops_and_activate_resumes_the_schedule_without_firing_what_was_missed(care, clock):
    deploy(care, "timer_start.bpmn")
    view = care.timers.suspend("timer_start")
    assert view["suspended"] is True
    clock.advance("P2D")
    assert care.timers.fire_due() == 0
    assert timers(care, status="fired") == []
    # a new version while suspended stays suspended
    view = care.timers.activate("timer_start")
    assert view["suspended"] is False
    assert pending(care) == [("daily", T0 + timedelta(days=2, hours=6))]
    assert care.timers.fire_due() == 0
    clock.advance("PT6H")
    assert care.timers.fire_due() == 1


def test_suspending_a_process_without_start_timers_is_a_conflict(care):
    deploy(care, "timer_intermediate.bpmn")
    with pytest.raises(Conflict):
        care.timers.suspend("timer_intermediate")


def test_started_by_hand_a_process_with_start_timers_runs_at_once(care, clock):
    deploy(care, "timer_start.bpmn", "timer_start_only.bpmn")
    both = start(care, "timer_start")  # has a none start event too: that one starts it
    only = start(care, "timer_start_only")  # only a timer start event: starts as if it had fired
    assert open_tasks(care, both) == ["review"]
    assert open_tasks(care, only) == ["sweep"]
    assert pending(care, both) == [] and pending(care, only) == []


def test_catch_up_of_a_start_cycle_after_downtime_is_capped(care, clock):
    deploy(care, "timer_start.bpmn")
    clock.advance("P30D")  # 30 daily occurrences missed; the default cap is 10
    assert care.timers.fire_due() == 10
    assert pending(care) == [("daily", T0 + timedelta(days=30, hours=6))]
    occurrences = [t.occurrence for t in timers(care, status="fired")]
    assert occurrences == list(range(21, 31))


# -- deploy-time checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ('"PT1X"', "invalid timeDuration"),
        ("R3/PT1X", "invalid timeCycle"),
        ("2030-13-01T00:00:00Z", "invalid timeDate"),
        ("'P1D' +", "neither ISO 8601 text nor a Python expression"),
        ("", "empty"),
    ],
)
def test_timer_text_that_cannot_work_is_refused_at_deploy(care, text, message):
    kind = "timeDate" if text.startswith("2030") else ("timeCycle" if text.startswith("R") else "timeDuration")
    content = source("timer_intermediate.bpmn").content.replace(
        b'<bpmn:timeDuration>"PT1H"</bpmn:timeDuration>', f"<bpmn:{kind}>{text}</bpmn:{kind}>".encode()
    )
    with pytest.raises(DeploymentInvalid) as raised:
        care.repository.deploy([SourceFile("bad_timer.bpmn", content)], "bad", "tester")
    [problem] = raised.value.problems
    assert problem.element_id == "wait" and problem.line == 5
    assert message in problem.message


# -- failures and races ---------------------------------------------------------------------------


def test_a_failing_step_after_a_timer_is_an_incident_and_the_timer_stays_fired(care, clock):
    deploy(care, "timer_worker.bpmn")
    iid = start(care, "timer_worker", wait="PT1H", runs=0)  # no 'work': the script after the timer fails
    clock.advance("PT1H")
    assert care.timers.fire_due() == 1
    assert instance(care, iid).status == "failed"
    [incident] = care.incidents.list("open", iid, 10, None).items
    assert incident["element_id"] == "work"
    assert [t.status for t in timers(care, iid)] == ["fired"]
    assert care.timers.fire_due() == 0


def test_a_timer_expression_that_fails_is_an_incident_on_the_timer(care, clock):
    deploy(care, "timer_expression.bpmn")
    iid = start(care, "timer_expression")  # no 'days'
    assert instance(care, iid).status == "failed"
    [incident] = care.incidents.list("open", iid, 10, None).items
    assert incident["element_id"] == "wait_days"
    assert "days" in incident["message"]
    assert timers(care, iid) == []


def test_timers_racing_requests_on_the_same_instances_are_never_lost(any_database_url, clock):
    """Workers fire the follow-up timers while requests complete the other branch of the same instances."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    care = make_engine(any_database_url, clock)
    other = make_engine(any_database_url, clock)  # a second process's pool: the worker side
    try:
        deploy(care, "timer_race.bpmn")
        ids = [start(care, "timer_race") for _ in range(16)]
        clock.advance("PT1H")
        done = threading.Event()

        def worker_loop(name):
            fired = 0
            while not done.is_set():
                fired += other.timers.fire_due(name)
            return fired + other.timers.fire_due(name)

        with ThreadPoolExecutor(6) as pool:
            workers = [pool.submit(worker_loop, f"w{i}") for i in range(2)]
            completions = [pool.submit(complete, care, iid, "handle") for iid in ids]
            for completion in completions:
                completion.result()
            done.set()
            fired = sum(w.result() for w in workers)
        for iid in ids:
            assert instance(care, iid).status == "completed"
            assert fired_events(care, iid) == [("follow_up", 1)]
            assert [t.status for t in timers(care, iid)] == ["fired"]
        assert fired <= len(ids)  # requests may have fired some of them on their own
    finally:
        other.close()
        care.close()


def test_a_batch_fired_side_by_side_fires_each_timer_once(any_database_url, clock):
    """Two threads fire one batch: both timers of one instance sit in the batch, and take turns on its row."""
    import threading

    from engine.config import Settings
    from engine.core import CareEngine
    from engine.timers import TimerConfig
    from tests.conftest import PROJECT_ROOT

    settings = Settings.from_env(database_url=any_database_url, processes_dir=PROJECT_ROOT / "processes")
    care = CareEngine(settings, clock=clock, timer_config=TimerConfig(batch_size=50, threads=2))
    try:
        deploy(care, "timer_parallel.bpmn", "timer_intermediate.bpmn")
        both = [start(care, "timer_parallel") for _ in range(6)]
        single = [start(care, "timer_intermediate") for _ in range(6)]
        clock.advance("P1D")
        assert len(timers(care, status="pending")) == 2 * 6 + 6  # one batch holds them all
        threads, fire = set(), care.timers.fire

        def fire_noting_the_thread(claim, worker_id):
            threads.add(threading.current_thread().name)
            return fire(claim, worker_id)

        care.timers.fire = fire_noting_the_thread
        assert care.timers.fire_due() == 2 * 6 + 6
        assert len(threads) == 2
        for iid in both:
            assert instance(care, iid).status == "completed"
            assert sorted(fired_events(care, iid)) == [("wait_hour", 1), ("wait_two_hours", 1)]
            assert [t.status for t in timers(care, iid)] == ["fired", "fired"]
        for iid in single:
            assert fired_events(care, iid) == [("wait", 1)] and open_tasks(care, iid) == ["call_back"]
        assert pending(care) == [] and care.timers.fire_due() == 0
    finally:
        care.close()


def test_timer_threads_below_zero_are_refused(monkeypatch):
    from engine.timers import TimerConfig

    monkeypatch.setenv("CARECENTER_TIMER_THREADS", "-1")
    with pytest.raises(ValueError, match="CARECENTER_TIMER_THREADS"):
        TimerConfig.from_env()
    monkeypatch.setenv("CARECENTER_TIMER_THREADS", "3")
    assert TimerConfig.from_env().threads == 3 and TimerConfig.from_env(threads=1).threads == 1


def test_a_start_timer_that_cannot_be_scheduled_refuses_the_deploy(care):
    content = source("timer_start_only.bpmn").content.replace(
        b"R/2030-01-07T06:00:00Z/P7D", b"&quot;R/&quot; + first_monday + &quot;/P7D&quot;"
    )
    with pytest.raises(DeploymentInvalid) as raised:
        care.repository.deploy([SourceFile("timer_start_only.bpmn", content)], "bad", "tester")
    [problem] = raised.value.problems
    assert problem.element_id == "weekly"
    assert "first_monday" in problem.message
    assert care.repository.latest_definitions() == []


def test_a_timer_that_cannot_fire_keeps_its_row_and_is_retried_with_back_off(care, clock):
    deploy(care, "timer_intermediate.bpmn")
    iid = start(care, "timer_intermediate")
    with care.db.write() as session:
        row = session.get(ProcessInstance, iid)
        good_state, row.state = row.state, '{"serializer_version": "0.0", "workflow": {}}'
    clock.advance("PT1H")
    assert care.timers.fire_due() == 0
    [row] = timers(care, iid)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "serializer version" in row.last_error
    assert row.claimed_until == clock.now() + timedelta(seconds=5)  # back-off, not a hot loop
    assert care.timers.fire_due() == 0  # still backing off
    with care.db.write() as session:
        session.get(ProcessInstance, iid).state = good_state
    clock.advance("PT5S")
    assert care.timers.fire_due() == 1
    [row] = timers(care, iid)
    assert (row.status, row.attempts, row.last_error) == ("fired", 2, None)
    assert open_tasks(care, iid) == ["call_back"]


# -- timers modelled by others --------------------------------------------------------------------

CORPUS = Path(
    os.environ.get("CARECENTER_CORPUS_DIR")
    or Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "spiffworkflow-tests"
)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="SpiffWorkflow corpus not present")
@pytest.mark.parametrize(
    "name, key, elements, first_task",
    [
        ("timer.bpmn", "timer", {"Event_0bxivgz"}, None),
        ("boundary_timer_on_task.bpmn", "test_timer", {"Event_0y4hbl0"}, None),
        ("timer-non-interrupt-boundary.bpmn", "NonInterruptTimer", {"Event_0jyy8ao"}, None),
        ("boundary.bpmn", "boundary_event", {"Event_0iiih8g"}, "Activity_09c27ms"),
        ("event-gateway.bpmn", "Process_0pvx19v", {"timer_event"}, None),
    ],
)
def test_timers_of_the_spiffworkflow_corpus_fire_on_the_virtual_clock(care, clock, name, key, elements, first_task):
    path = CORPUS / "bpmn" / "data" / name
    care.repository.deploy([SourceFile(name, path.read_bytes())], name, "tester")
    iid = start(care, key)
    if first_task:
        complete(care, iid, first_task)
    assert {element for element, _ in pending(care, iid)} == elements
    clock.advance("P1D")
    assert care.timers.fire_due() >= 1
    assert {element for element, _ in fired_events(care, iid)} == elements
    assert care.incidents.list("open", iid, 10, None).items == []


def test_housekeeping_forgets_finished_timer_rows_after_thirty_days(care, clock):
    from engine.worker import housekeeping

    deploy(care, "timer_intermediate.bpmn")
    fired = start(care, "timer_intermediate")
    clock.advance("PT1H")
    care.timers.fire_due()
    clock.advance("P29D")
    waiting = start(care, "timer_intermediate")
    housekeeping(care)
    assert len(timers(care, fired)) == 1
    clock.advance("P2D")
    housekeeping(care)
    assert timers(care, fired) == []
    assert [t.status for t in timers(care, waiting)] == ["pending"]  # pending rows are never forgotten
    assert fired_events(care, fired) == [("wait", 1)]
