"""Section 2 (and 5): request latency and process memory on an empty database and on one of 110,000 instances.

Requests go over HTTP on loopback to two real ``carecenter serve`` processes on PostgreSQL, one on a
nearly empty database and one on the loaded one, taking turns; each operation is one small function in
:data:`OPERATIONS`.  Lookups by tracking code are padded to a fixed
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
ROUNDS = 6  # the two servers take turns this many times per operation


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


def measure(contexts: dict[str, tuple[Client, Context]], samples: int, rounds: int) -> dict[str, dict[str, dict]]:
    """Latency in ms per database and operation, ``samples`` requests each after a few warm-up requests.

    For each operation the servers take turns, ``rounds`` times (the order flipped every round), so that the
    figures of both databases come from the same minutes: this host's speed moves by 20 % within minutes,
    which one run on the empty database followed by one on the loaded database measured as loaded/empty.
    """
    figures: dict[str, dict[str, dict]] = {state: {} for state in contexts}
    for name, (_kind, operation) in OPERATIONS.items():
        timings: dict[str, list[float]] = {state: [] for state in contexts}
        for client, ctx in contexts.values():
            for _ in range(3):
                operation(client, ctx)
        for round_ in range(rounds):
            order = list(contexts) if round_ % 2 == 0 else list(reversed(contexts))
            for state in order:
                client, ctx = contexts[state]
                for _ in range(samples // rounds):
                    began = time.perf_counter()
                    operation(client, ctx)
                    timings[state].append((time.perf_counter() - began) * 1000)
        for state, values in timings.items():
            figures[state][name] = percentiles(values)
    return figures


def worker_rss(url: str, settle: float) -> int:
    with workers(url, 1) as (process,):
        time.sleep(settle)
        return rss_kib(process.pid)


def run(smoke: bool) -> dict:
    completed, open_ = (1000, 100) if smoke else (100_000, 10_000)
    samples, rounds = (20, 2) if smoke else (300, ROUNDS)
    settle = 2.0 if smoke else 6.0
    with database("postgresql") as empty_url, database("postgresql") as loaded_url:
        urls = {"empty": empty_url, "loaded": loaded_url}
        cares = {state: engine_for(url) for state, url in urls.items()}
        for care in cares.values():
            deploy(care, f"{PROCESS}.bpmn")
            # a handful of rows, but enough open tasks that the team list returns a full first page in both states
            bulk.load(care, 1, 60)
        began = time.perf_counter()
        bulk.load(cares["loaded"], completed, open_)
        load_seconds = time.perf_counter() - began
        # A database that has held these rows for a while has had them counted for the reports too: measure that
        # state, not serve's embedded worker catching up with 110,000 instances (section 14 times the counting).
        began = time.perf_counter()
        for care in cares.values():
            care.analytics.refresh()
        count_seconds = time.perf_counter() - began
        memory = {f"worker_{state}_kib": worker_rss(url, settle) for state, url in urls.items()}
        with serve(empty_url, "scale-empty") as empty_server, serve(loaded_url, "scale-loaded") as loaded_server:
            servers = {"empty": empty_server, "loaded": loaded_server}
            clients = {state: server.client() for state, server in servers.items()}
            contexts = {
                state: (client, Context(_open_task_ids(client), _tracking_codes(cares[state])))
                for state, client in clients.items()
            }
            figures = measure(contexts, samples, rounds)
            memory |= {f"serve_{state}_kib": server.rss_kib() for state, server in servers.items()}
        for care in cares.values():
            care.close()
    empty, loaded = figures["empty"], figures["loaded"]
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
        "count_seconds": count_seconds,
        "samples_per_operation": samples,
        "rounds": rounds,
        "operations": operations,
        "memory": memory,
        "goals": {"read_p95_ms": 20, "loaded_to_empty": 1.2},
    }
