"""Section 4: cost per workflow size, to show persistence does not grow quadratically with the task count.

The bench process runs a script loop of n rounds, then waits at a parallel multi-instance user
task with n items, so one instance holds about 3n tasks.  For each size we time completing one
item (load, run, write back, read models) and count the bytes of the stored state, then fit
``cost = a * tasks^k`` on a log-log scale: k <= 1 means no worse than linear.
"""

from __future__ import annotations

import json
import math
import statistics
import time

from sqlalchemy import select

from bench.common import database, deploy, engine_for
from engine.core import CareEngine
from engine.models import ProcessInstance
from engine.runtime import StartRequest

PROCESS = "bench_size"


def loglog_exponent(xs: list[float], ys: list[float]) -> float:
    """The slope of the least-squares line through (log x, log y)."""
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum((a - mx) ** 2 for a in lx)


def _state(care: CareEngine, instance_id: int) -> str:
    with care.db.read() as session:
        return session.scalar(select(ProcessInstance.state).where(ProcessInstance.id == instance_id))


def measure(care: CareEngine, target_tasks: int, completions: int) -> dict:
    n = max(1, target_tasks // 3)
    began = time.perf_counter()
    view, _ = care.runtime.start(StartRequest(PROCESS, {"n": n, "rounds": 0}), "bench")
    start_ms = (time.perf_counter() - began) * 1000
    stored = _state(care, view["id"])
    tasks = len(json.loads(stored)["workflow"]["tasks"])
    open_ids = [t["id"] for t in view["tasks"]]
    timings = []
    for task_id in open_ids[:completions]:
        began = time.perf_counter()
        care.tasks.complete(task_id, {"handled": True}, "bench")
        timings.append((time.perf_counter() - began) * 1000)
    return {
        "target_tasks": target_tasks,
        "n": n,
        "tasks": tasks,
        "state_bytes": len(stored.encode()),
        "start_ms": start_ms,
        "complete_ms": statistics.median(timings),
    }


def run(smoke: bool) -> dict:
    targets = [10, 30, 100] if smoke else [10, 100, 300, 1000]
    completions = 3 if smoke else 7
    with database("postgresql") as url:
        care = engine_for(url)
        deploy(care, f"{PROCESS}.bpmn")
        measure(care, 10, 1)  # warm up the spec cache and the pool
        rows = [measure(care, target, completions) for target in targets]
        care.close()
    tasks = [r["tasks"] for r in rows]
    return {
        "backend": "postgresql",
        "transport": "in process (CareEngine.tasks.complete), no HTTP",
        "sizes": rows,
        "exponent_complete": loglog_exponent(tasks, [r["complete_ms"] for r in rows]),
        "exponent_bytes": loglog_exponent(tasks, [r["state_bytes"] for r in rows]),
        "goal_exponent": 1.0,
    }
