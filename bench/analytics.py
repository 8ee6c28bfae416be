"""Section 14: the analytics reports on PostgreSQL with the facts of 100,000 instances, and the worker's counting run.

The facts of 100,000 instances of the review process (``tests/data/analytics_review.bpmn``: review →
approved? → done, or rework and review again) spread over the past year are inserted in bulk, as
the worker's analytics run would have written them (:mod:`engine.analytics_facts`): one instance
row, its element visits (about five) and its flows taken. Running 100,000 instances through the
engine would measure the engine, not the reports. The reports are then read through the JSON API
(Flask test client, in process, as an admin): the process report and the dashboard's figures, for
the default window (the last 30 days) and for the whole year, in alternating rounds.

The counting run itself is measured on instances that really ran: a few hundred are started and
completed through the engine, then one run counts them (milliseconds per instance counted).
"""

from __future__ import annotations

import random
import time
from datetime import timedelta

from sqlalchemy import insert

from api.app import create_app
from bench.common import database, engine_for, percentiles
from engine.analytics_facts import day
from engine.bpmn import SourceFile
from engine.config import PROJECT_ROOT
from engine.models import AnalyticsFlow, AnalyticsInstance, AnalyticsVisit, HumanTask
from engine.runtime import StartRequest

KEY = "analytics_review"
SOURCE = PROJECT_ROOT / "tests" / "data" / "analytics_review.bpmn"
GOAL_P95_MS = 200
CHUNK = 5000
SEEDED_IDS = 10_000_000  # seeded facts name no real instance: the counting run's instances keep their own ids
CHANNELS = ("email", "phone", "web", "chat", None)
REPORTS = {
    "process report, 30 days": f"/api/analytics/processes/{KEY}",
    "process report, 365 days": f"/api/analytics/processes/{KEY}?from={{year_ago}}",
    "dashboard, 30 days": "/api/analytics/dashboard",
    "dashboard, 365 days by week": "/api/analytics/dashboard?from={year_ago}&bucket=week",
}


def seed(care, count: int, rng: random.Random) -> float:
    """Insert the facts of ``count`` instances started over the past year; returns the seconds it took."""
    began = time.perf_counter()
    now = care.clock.now()
    instances, visits, flows = [], [], []

    def flush(force: bool = False) -> None:
        if len(instances) < CHUNK and not force:
            return
        with care.db.write() as session:
            for table, rows in ((AnalyticsInstance, instances), (AnalyticsVisit, visits), (AnalyticsFlow, flows)):
                if rows:
                    session.execute(insert(table), rows)
                rows.clear()

    for number in range(1, count + 1):
        started = now - timedelta(seconds=rng.uniform(0, 365 * 86400))
        base = {"instance_id": SEEDED_IDS + number, "process_key": KEY, "version": 1, "started_at": started}
        at = started
        path: list[tuple[str, str, str | None, float, float]] = [("start", "other", None, 0, 0)]
        rounds = 1 + (rng.random() < 0.3) + (rng.random() < 0.1)
        for review in range(rounds):
            path.append(("review", "user", "support", rng.expovariate(1 / 1800), rng.expovariate(1 / 2400)))
            path.append(("approved", "other", None, 0, 0))
            if review < rounds - 1:
                path.append(("rework", "user", "billing", rng.expovariate(1 / 3600), rng.expovariate(1 / 3600)))
        path.append(("done", "other", None, 0, 0))
        status = rng.choices(("completed", "active", "failed", "cancelled"), (95, 3, 1, 1))[0]
        if status != "completed":
            path = path[: rng.randint(2, len(path) - 1)]
        taken: dict[str, int] = {}
        previous = None
        for index, (element_id, kind, team, wait, work) in enumerate(path):
            entered = at
            claimed = entered + timedelta(seconds=wait) if kind == "user" else None
            at = (claimed + timedelta(seconds=work)) if claimed else entered
            last = index == len(path) - 1 and status != "completed" and kind == "user"  # waits there
            visits.append(
                {
                    **base,
                    "element_id": element_id,
                    "kind": kind,
                    "team": team,
                    "day": day(entered),
                    "entered_at": entered,
                    "claimed_at": claimed,
                    "completed_at": None if last else at,
                    "due_at": entered + timedelta(hours=1) if element_id == "review" else None,
                    "spent_seconds": None if kind == "other" or last else (at - entered).total_seconds(),
                    "wait_seconds": wait if kind == "user" and not last else None,
                    "work_seconds": work if kind == "user" and not last else None,
                }
            )
            flow = FLOWS.get((previous, element_id))
            if flow:
                taken[flow] = taken.get(flow, 0) + 1
            previous = element_id
        flows.extend({**base, "flow_id": flow, "taken": times} for flow, times in taken.items())
        ended = at if status != "active" else None
        instances.append(
            {
                **base,
                "channel": rng.choice(CHANNELS),
                "customer_id": f"C-{rng.randint(1, 20000)}",
                "status": status,
                "started_day": day(started),
                "ended_at": ended,
                "ended_day": day(ended) if ended else None,
                "lead_seconds": (at - started).total_seconds() if status == "completed" else None,
                "first_answer_seconds": rng.expovariate(1 / 5400) if rng.random() < 0.8 else None,
                "escalated": rng.random() < 0.05,
                "reopened": rounds > 1,
            }
        )
        flush()
    flush(force=True)
    # a year's facts would have been vacuumed by autovacuum long since: the reports' index-only scans count on it
    with care.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE analytics_instances, analytics_visits, analytics_flows")
    return time.perf_counter() - began


FLOWS = {
    ("start", "review"): "f_start",
    ("review", "approved"): "f_reviewed",
    ("approved", "done"): "f_yes",
    ("approved", "rework"): "f_no",
    ("rework", "review"): "f_again",
}


def counting_run(care, count: int) -> dict:
    """Start and complete ``count`` instances through the engine, then time one analytics run counting them."""
    for _ in range(count):
        instance = care.runtime.start(StartRequest(KEY, {}), "bench")[0]["id"]
        with care.db.read() as session:
            task = session.query(HumanTask.id).filter_by(instance_id=instance, status="open").one()[0]
        care.tasks.complete(task, {"approved": True}, "bench")
    began = time.perf_counter()
    counted = care.analytics.refresh()
    seconds = time.perf_counter() - began
    return {"instances": counted, "seconds": round(seconds, 3), "ms_per_instance": round(seconds * 1000 / counted, 2)}


def run(smoke: bool) -> dict:
    count, samples, rounds, ran = (2000, 6, 2, 20) if smoke else (100_000, 60, 4, 300)
    rng = random.Random(2314)
    timings: dict[str, list[float]] = {name: [] for name in REPORTS}
    with database("postgresql") as url:
        care = engine_for(url)
        care.repository.deploy([SourceFile(SOURCE.name, SOURCE.read_bytes())], "bench", "bench")
        seed_seconds = seed(care, count, rng)
        run_figures = counting_run(care, ran)
        client = create_app(care).test_client()
        token = care.tokens.create("bench-analytics")[1]
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        year_ago = (care.clock.now() - timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")
        paths = {name: path.format(year_ago=year_ago) for name, path in REPORTS.items()}
        for path in paths.values():  # warm-up: specs, outlines, the database's caches
            client.get(path)
        for _ in range(rounds):
            for name, path in paths.items():
                for _ in range(samples // rounds):
                    began = time.perf_counter()
                    response = client.get(path)
                    timings[name].append((time.perf_counter() - began) * 1000)
                    if response.status_code != 200:
                        raise RuntimeError(f"{path}: HTTP {response.status_code}")
        started = client.get(paths["process report, 365 days"]).json["counts"]["started"]
        care.close()
    figures = {name: percentiles(values) for name, values in timings.items()}
    return {
        "backend": "postgresql",
        "transport": "Flask test client, in process, as an admin (JSON API)",
        "instances": count,
        "instances_in_year_report": started,
        "seed_seconds": round(seed_seconds, 1),
        "samples": samples,
        "rounds": rounds,
        "goal_p95_ms": GOAL_P95_MS,
        "reports": figures,
        "counting_run": run_figures,
    }
