"""Section 3: many timers falling due within one minute, fired by one and by two ``carecenter worker`` processes.

Instances are created through the engine (so every timer row comes with its real instance),
their due times spread evenly over a window that opens after creation has finished; then the
workers start.  Lateness is the ``timer_fired`` history event's time minus the due time;
duplicates are instances with more than one ``timer_fired`` event; missed are timers still
pending when the drain limit passes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bench.common import count_statements, database, deploy, engine_for, percentiles, workers
from engine.clock import VirtualClock
from engine.core import CareEngine
from engine.models import HistoryEvent, Timer

PROCESS = "bench_timer"
BATCH = 200
STATEMENTS_BEFORE = 9.10  # per firing at f6aaf5e (before #21 item 1), counted the same way on PostgreSQL
# The timer workers leave the analytics counting to another worker, as docs/operations.md advises under a heavy
# timer load: counting 10,000 changed instances takes a worker about ten seconds of CPU.
WORKER_ENV = {"CARECENTER_ANALYTICS_SECONDS": "0"}


def _create(care: CareEngine, dues: list[datetime]) -> list[int]:
    with care.db.read() as session:
        definition = care.repository.load(care.repository.latest(session, PROCESS).id)
    ids = []
    for offset in range(0, len(dues), BATCH):
        with care.db.write() as session:
            for due in dues[offset : offset + BATCH]:
                row, _ = care.executor.create(
                    session,
                    definition,
                    variables={"due": due.isoformat()},
                    business_key=None,
                    customer_id=None,
                    principal="bench",
                )
                ids.append(row.id)
    return ids


def fire(count: int, window: float, worker_count: int, drain: float) -> dict:
    """Create ``count`` timers due within ``window`` seconds, fire them with ``worker_count`` workers."""
    with database("postgresql") as url:
        care = engine_for(url)
        deploy(care, f"{PROCESS}.bpmn")
        began = time.perf_counter()
        calibration = min(BATCH, count)
        _create(care, [datetime.now(UTC) + timedelta(days=1)] * calibration)  # never due during the run
        per_instance = (time.perf_counter() - began) / calibration
        opens = datetime.now(UTC) + timedelta(seconds=count * per_instance * 1.5 + 5)
        dues = [opens + timedelta(seconds=window * i / count) for i in range(count)]
        ids = _create(care, dues)
        if datetime.now(UTC) >= opens:
            raise RuntimeError("creating the timers took longer than planned; the window opened early")
        deadline = dues[-1] + timedelta(seconds=drain)
        with workers(url, worker_count, env=WORKER_ENV):
            while datetime.now(UTC) < deadline and _pending(care, ids):
                time.sleep(0.5)
        result = _outcome(care, ids)
        care.close()
    return {"workers": worker_count, "timers": count, "window_seconds": window, **result}


def _pending(care: CareEngine, ids: list[int]) -> int:
    with care.db.read() as session:
        return session.scalar(
            select(func.count()).where(Timer.instance_id.in_(ids), Timer.status == "pending").select_from(Timer)
        )


def _outcome(care: CareEngine, ids: list[int]) -> dict:
    wanted = set(ids)
    with care.db.read() as session:
        events = session.execute(
            select(HistoryEvent.instance_id, HistoryEvent.at, HistoryEvent.details).where(
                HistoryEvent.event_type == "timer_fired"
            )
        ).all()
    per_instance: dict[int, int] = {}
    lateness = []
    for instance_id, at, details in events:
        if instance_id not in wanted:
            continue
        per_instance[instance_id] = per_instance.get(instance_id, 0) + 1
        lateness.append((at - datetime.fromisoformat(details["due_at"])).total_seconds())
    return {
        "fired": len(per_instance),
        "duplicates": sum(n - 1 for n in per_instance.values()),
        "missed": len(wanted) - len(per_instance),
        "lateness_seconds": percentiles(lateness),
    }


def drain_rate(count: int, worker_count: int, lead: float) -> float:
    """Firings/s when ``count`` timers are all due as the workers start: time until none is pending.

    ``lead``: seconds the workers get to start before the timers fall due.
    """
    with database("postgresql") as url:
        care = engine_for(url)
        deploy(care, f"{PROCESS}.bpmn")
        began = time.perf_counter()
        _create(care, [datetime.now(UTC) + timedelta(days=1)] * min(BATCH, count))
        per_instance = (time.perf_counter() - began) / min(BATCH, count)
        opens = datetime.now(UTC) + timedelta(seconds=count * per_instance * 1.5 + lead)  # workers start meanwhile
        ids = _create(care, [opens] * count)
        with workers(url, worker_count, env=WORKER_ENV):
            time.sleep(max((opens - datetime.now(UTC)).total_seconds(), 0.0))
            began = time.perf_counter()
            while _pending(care, ids) and time.perf_counter() - began < 600:
                time.sleep(0.1)
            elapsed = time.perf_counter() - began
        left = _pending(care, ids)
        care.close()
    if left:
        raise RuntimeError(f"{left} timers were still pending after {elapsed:.0f} s")
    return count / elapsed


def statements_per_firing(count: int) -> tuple[float, float]:
    """SQL statements and round trips per firing, in process (the worker's own calls), virtual clock, PostgreSQL."""
    with database("postgresql") as url:
        clock = VirtualClock(datetime(2030, 1, 1, tzinfo=UTC))
        care = engine_for(url, clock=clock)
        deploy(care, f"{PROCESS}.bpmn")
        _create(care, [clock.now() + timedelta(seconds=10 + i) for i in range(count)])
        clock.advance(timedelta(seconds=count + 20))
        with count_statements(care.db) as counter:
            fired = care.timers.fire_due("bench")
        care.close()
    if fired != count:
        raise RuntimeError(f"fired {fired} of {count} timers")
    return counter[0] / count, counter[1] / count


def run(smoke: bool) -> dict:
    count, window, drain = (100, 5.0, 15.0) if smoke else (10_000, 60.0, 60.0)
    runs = [fire(count, window, workers_, drain) for workers_ in (1, 2)]
    drained = 100 if smoke else 3000
    lead = 5.0 if smoke else 15.0
    rates = [{"workers": n, "timers": drained, "firings_per_s": drain_rate(drained, n, lead)} for n in (1, 2)]
    statements, round_trips = statements_per_firing(20 if smoke else 200)
    return {
        "backend": "postgresql",
        "runs": runs,
        "goals": {"p99_seconds": 1.0, "duplicates": 0, "missed": 0},
        "rates": rates,
        "rate_goals": {"1": 250, "2": 400},
        "statements_per_firing": {"before": STATEMENTS_BEFORE, "now": statements, "round_trips": round_trips},
    }
