"""Section 13: the fault run of ``tests/test_faults.py``, longer: kill a server and a worker under load, lose nothing.

Two ``carecenter serve --no-worker`` and two ``carecenter worker`` processes on PostgreSQL; clients
drive instances of ``tests/data/fault_run.bpmn`` over HTTP (start, service call, user task, timer,
buffered message; see tests/fault_run.py). When 40 % of the instances have started, one server and
one worker (while it holds claims) get SIGKILL and are started again. Reported: the checks of
:func:`tests.fault_run.check` (every instance completed; no timer, job, message or completion lost
or done twice), how long the killed server took to answer ``/healthz`` again under that load, and
the CPU time it used for it; then, with the run's load gone, how long a fresh ``carecenter serve`` takes
to answer (#22 item 7: within 3 s).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import statistics
import time

import tests.worker_operations  # noqa: F401  (registers test_slow_call in this process, for the deploy check)
from bench.common import WORK_DIR, database, engine_for
from engine.bpmn import SourceFile
from engine.config import PROJECT_ROOT
from tests.fault_run import FaultRun, Servers, check

PROCESS_FILE = PROJECT_ROOT / "tests" / "data" / "fault_run.bpmn"
GOAL_RESTART_S = 3.0


def _fresh_starts(url: str, folder, times: int) -> list[tuple[float, float]]:
    """Seconds and CPU seconds to ``/healthz`` of a ``carecenter serve`` started ``times`` times with no load."""
    servers = Servers(url, folder, "cc_" + secrets.token_urlsafe(32))
    measured = []
    for _ in range(times):
        servers.start("fresh")
        measured.append(servers.wait_up("fresh"))
        servers.stop_all()
    return measured


def run(smoke: bool) -> dict:
    count, clients = (12, 2) if smoke else (300, 8)
    folder = WORK_DIR / f"faults-{secrets.token_hex(4)}"
    folder.mkdir(parents=True)
    load_at_start = os.getloadavg()
    with database("postgresql") as url:
        care = engine_for(url)
        care.repository.deploy([SourceFile(PROCESS_FILE.name, PROCESS_FILE.read_bytes())], "bench", "bench")
        fault = FaultRun(care, url, folder)
        try:
            outcome = fault.run(count, clients=clients)
        finally:
            fault.stop()
        try:
            check(fault, count)
            checks = "passed"
        except AssertionError as failure:
            checks = f"failed: {failure}"[:500]
        load_at_end = os.getloadavg()
        time.sleep(0 if smoke else 10)  # let the machine settle before the starts without load
        fresh = _fresh_starts(url, folder, 2 if smoke else 5)
        care.close()
    return {
        "backend": "postgresql",
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_at_start": load_at_start,
        "load_average_at_end": load_at_end,
        "clients": clients,
        "run": dataclasses.asdict(outcome),
        "checks": checks,
        "fresh_start_seconds": [round(wall, 2) for wall, _ in fresh],
        "fresh_start_cpu_seconds": [round(cpu, 2) for _, cpu in fresh],
        "fresh_start_median_seconds": statistics.median(wall for wall, _ in fresh),
        "goals": {"restart_seconds": GOAL_RESTART_S, "lost": 0, "twice": 0},
    }
