"""Section 2 (and 5): request latency and process memory on an empty database and on one of 110,000 instances.

Requests go over HTTP on loopback to a real ``carecenter serve`` on PostgreSQL; each operation
is one small function in :data:`OPERATIONS`.  Endpoints not on main yet are listed in
:data:`WAITING` and reported as waiting, never with a figure.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench import bulk
from bench.common import Client, database, deploy, engine_for, percentiles, rss_kib, serve, workers

PROCESS = "inquiry_lifecycle"


@dataclass
class Context:
    """What the operations need: open task ids to read, tasks of fresh instances to complete."""

    open_task_ids: list[int]
    fresh_task_ids: list[int] = field(default_factory=list)


def team_task_list(client: Client, ctx: Context) -> None:
    client.ok("GET", "/api/tasks?candidate_group=support&limit=50")


def one_task(client: Client, ctx: Context) -> None:
    client.ok("GET", f"/api/tasks/{random.choice(ctx.open_task_ids)}")


def start_instance(client: Client, ctx: Context) -> None:
    view = client.ok("POST", f"/api/process-definitions/{PROCESS}/instances", {"variables": {"topic": "bench"}})
    ctx.fresh_task_ids.append(view["tasks"][0]["id"])


def complete_task(client: Client, ctx: Context) -> None:
    client.ok("POST", f"/api/tasks/{ctx.fresh_task_ids.pop()}/complete", {"data": {"answer": "ok"}})


# Read operations first; complete_task consumes the tasks start_instance created.
OPERATIONS: dict[str, tuple[str, Callable[[Client, Context], None]]] = {
    "team_task_list": ("read", team_task_list),
    "one_task": ("read", one_task),
    "start_instance": ("write", start_instance),
    "complete_task": ("write", complete_task),
}
# On main soon: each becomes one function above (GET /api/status/{code}, GET /track/{code}, POST /api/messages).
WAITING = {
    "customer_status_api": "#8 customer status: GET /api/status/{code}",
    "customer_status_page": "#8 customer status: GET /track/{code}",
    "correlate_message": "#6 messages: POST /api/messages",
}


def _open_task_ids(client: Client, limit: int = 200) -> list[int]:
    return [t["id"] for t in client.ok("GET", f"/api/tasks?candidate_group=support&limit={limit}")["items"]]


def measure(client: Client, samples: int) -> dict[str, dict]:
    """Latency in ms per operation, ``samples`` requests each, after a few warm-up requests."""
    ctx = Context(_open_task_ids(client))
    figures = {}
    for name, (_kind, operation) in OPERATIONS.items():
        for _ in range(3):
            operation(client, ctx)
        timings = []
        for _ in range(samples):
            began = time.perf_counter()
            operation(client, ctx)
            timings.append((time.perf_counter() - began) * 1000)
        figures[name] = percentiles(timings)
    return figures


def worker_rss(url: str, settle: float) -> int:
    with workers(url, 1) as (process,):
        time.sleep(settle)
        return rss_kib(process.pid)


def run(smoke: bool) -> dict:
    completed, open_ = (1000, 100) if smoke else (100_000, 10_000)
    samples = 20 if smoke else 300
    settle = 2.0 if smoke else 6.0
    with database("postgresql") as url:
        care = engine_for(url)
        deploy(care, f"{PROCESS}.bpmn")
        bulk.load(care, 1, 20)  # a handful of rows so that "empty" has tasks to read
        memory = {"worker_empty_kib": worker_rss(url, settle)}
        with serve(url, "scale") as server:
            client = server.client()
            empty = measure(client, samples)
            memory["serve_empty_kib"] = server.rss_kib()
            began = time.perf_counter()
            bulk.load(care, completed, open_)
            load_seconds = time.perf_counter() - began
            loaded = measure(client, samples)
            memory["serve_loaded_kib"] = server.rss_kib()
        memory["worker_loaded_kib"] = worker_rss(url, settle)
        care.close()
    operations = [
        {
            "operation": name,
            "kind": kind,
            "empty": empty[name],
            "loaded": loaded[name],
            "p95_ratio": loaded[name]["p95"] / empty[name]["p95"],
        }
        for name, (kind, _) in OPERATIONS.items()
    ]
    return {
        "backend": "postgresql",
        "transport": "HTTP on 127.0.0.1 to carecenter serve (waitress)",
        "completed_instances": completed,
        "open_instances": open_,
        "load_seconds": load_seconds,
        "samples_per_operation": samples,
        "operations": operations,
        "waiting": WAITING,
        "memory": memory,
        "goals": {"read_p95_ms": 20, "loaded_to_empty": 1.2},
    }
