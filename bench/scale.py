"""Section 2 (and 5): request latency and process memory on an empty database and on one of 110,000 instances.

Requests go over HTTP on loopback to a real ``carecenter serve`` on PostgreSQL; each operation
is one small function in :data:`OPERATIONS`.  Lookups by tracking code are padded to a fixed
floor on purpose (api/uniform_time.py); their figures are reported with that floor.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select

from api.uniform_time import LOOKUP_FLOOR_SECONDS
from bench import bulk
from bench.common import Client, database, deploy, engine_for, percentiles, rss_kib, serve, workers
from engine.models import CustomerStatus

PROCESS = "inquiry_lifecycle"


@dataclass
class Context:
    """What the operations need: open task ids to read, tasks of fresh instances to complete."""

    open_task_ids: list[int]
    tracking_codes: list[str]
    fresh_task_ids: list[int] = field(default_factory=list)
    fresh_codes: list[str] = field(default_factory=list)


def team_task_list(client: Client, ctx: Context) -> None:
    client.ok("GET", "/api/tasks?candidate_group=support&limit=50")


def one_task(client: Client, ctx: Context) -> None:
    client.ok("GET", f"/api/tasks/{random.choice(ctx.open_task_ids)}")


def customer_status_api(client: Client, ctx: Context) -> None:
    client.ok("GET", f"/api/status/{random.choice(ctx.tracking_codes)}")


def customer_status_page(client: Client, ctx: Context) -> None:
    client.ok("GET", f"/track/{random.choice(ctx.tracking_codes)}")


def start_instance(client: Client, ctx: Context) -> None:
    view = client.ok("POST", f"/api/process-definitions/{PROCESS}/instances", {"variables": {"topic": "bench"}})
    ctx.fresh_task_ids.append(view["tasks"][0]["id"])
    ctx.fresh_codes.append(view["tracking_code"])


def correlate_message(client: Client, ctx: Context) -> None:
    """A customer note for a waiting staff task, correlated by tracking code among all waiting catches."""
    body = {"name": "customer_note", "tracking_code": ctx.fresh_codes.pop(), "payload": {"note": "bench"}}
    if client.ok("POST", "/api/messages", body)["status"] != "delivered":
        raise RuntimeError("the customer note was not delivered to its waiting instance")


def complete_task(client: Client, ctx: Context) -> None:
    client.ok("POST", f"/api/tasks/{ctx.fresh_task_ids.pop()}/complete", {"data": {"answer": "ok"}})


# Read operations first; correlate_message and complete_task consume the instances start_instance created.
OPERATIONS: dict[str, tuple[str, Callable[[Client, Context], None]]] = {
    "team_task_list": ("read", team_task_list),
    "one_task": ("read", one_task),
    "customer_status_api": ("read", customer_status_api),
    "customer_status_page": ("read", customer_status_page),
    "start_instance": ("write", start_instance),
    "correlate_message": ("write", correlate_message),
    "complete_task": ("write", complete_task),
}
# Operations padded to a fixed duration (ms) so that timing does not tell which tracking codes exist.
FLOORS_MS = {"customer_status_api": LOOKUP_FLOOR_SECONDS * 1000, "customer_status_page": LOOKUP_FLOOR_SECONDS * 1000}


def _open_task_ids(client: Client, limit: int = 200) -> list[int]:
    return [t["id"] for t in client.ok("GET", f"/api/tasks?candidate_group=support&limit={limit}")["items"]]


def _tracking_codes(care, count: int = 500) -> list[str]:
    """Tracking codes of stored instances, drawn at random over the whole table."""
    with care.db.read() as session:
        query = select(CustomerStatus.tracking_code).order_by(func.random()).limit(count)
        return list(session.scalars(query))


def measure(care, client: Client, samples: int) -> dict[str, dict]:
    """Latency in ms per operation, ``samples`` requests each, after a few warm-up requests."""
    ctx = Context(_open_task_ids(client), _tracking_codes(care))
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
        # a handful of rows, but enough open tasks that the team list returns a full first page (50) in both states
        bulk.load(care, 1, 60)
        memory = {"worker_empty_kib": worker_rss(url, settle)}
        with serve(url, "scale") as server:
            client = server.client()
            empty = measure(care, client, samples)
            memory["serve_empty_kib"] = server.rss_kib()
            began = time.perf_counter()
            bulk.load(care, completed, open_)
            load_seconds = time.perf_counter() - began
            loaded = measure(care, client, samples)
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
            **({"floor_ms": FLOORS_MS[name]} if name in FLOORS_MS else {}),
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
        "memory": memory,
        "goals": {"read_p95_ms": 20, "loaded_to_empty": 1.2},
    }
