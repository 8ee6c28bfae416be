"""Section 10: more web processes, more throughput: 4 clients against ``serve --processes 1`` and ``--processes 2``.

The inquiry lifecycle of section 1 over HTTP on loopback, on PostgreSQL, by 4 concurrent clients;
each lifecycle on a new connection (as clients coming back, or a proxy's pooled connections,
spread over the processes that share the port). The servers run side by side on databases of
their own and are measured in alternating rounds, so that the machine's drift falls on all of
them alike. ``carecenter serve`` without ``--processes`` (waitress, one process) is measured as
well, for reference. Goal (#21): 2 processes ≥ 1.6 × 1 process.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.common import PG_BASE_URL, Client, children, database, deploy, engine_for, serve, wait_ready
from bench.overhead import PROCESS, _one_lifecycle, clients_round

CLIENTS = 4
GOAL_RATIO = 1.6
# (label, --processes): None is serve's default, one waitress process
SERVERS = (("gunicorn, 1 process", 1), ("gunicorn, 2 processes", 2), ("waitress, 1 process (default)", None))


def _cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of ``pids`` so far, from /proc (processes gone since count nothing)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _tree(pid: int) -> list[int]:
    found = [pid]
    for child in children(pid):
        found += _tree(child)
    return found


def _backends(application_name: str) -> list[int]:
    """PostgreSQL backend processes serving connections with this application_name."""
    admin = create_engine(PG_BASE_URL)
    try:
        with admin.connect() as connection:
            query = text("SELECT pid FROM pg_stat_activity WHERE application_name = :name")
            return list(connection.scalars(query, {"name": application_name}))
    finally:
        admin.dispose()


def cores_available(seconds: float, processes: int = 2) -> float:
    """How many cores ``processes`` CPU-bound processes of this run get on the machine as it is now loaded.

    On a machine shared with other work, two web processes can never get more than this.
    """
    spin = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"
    began, before = time.monotonic(), os.times()
    spinners = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(processes)]
    for spinner in spinners:
        spinner.wait()
    after = os.times()
    used = after.children_user + after.children_system - before.children_user - before.children_system
    return used / (time.monotonic() - began)


def ceiling_ratio(cpu_ms: dict[str, float], cores: int) -> float:
    """What 2 processes can bring over 1 on ``cores`` otherwise idle cores, from the CPU time one lifecycle takes.

    One process runs Python on one core at a time (the GIL): at most 1000 / server ms lifecycles a
    second; any number of them cannot pass cores × 1000 / (server + database + clients) ms, since
    the database and the clients use the same cores.
    """
    everything = cpu_ms["server"] + cpu_ms["database"] + cpu_ms["clients"]
    if not everything or not cpu_ms["server"]:
        return 0.0
    one = min(1000 / cpu_ms["server"], cores * 1000 / everything)
    two = min(2000 / cpu_ms["server"], cores * 1000 / everything)
    return two / one


def run(smoke: bool) -> dict:
    rounds, per_client, warm_up = (1, 2, 2) if smoke else (8, 8, 2 * CLIENTS)
    # smoke: the two gunicorn servers only (waitress is section 1's server), to keep CI's run short
    kinds = SERVERS[:2] if smoke else SERVERS
    load_at_start = os.getloadavg()
    calibration = 1.0 if smoke else 3.0
    cores_at_start = cores_available(calibration)
    with contextlib.ExitStack() as stack:
        servers = []
        for label, processes in kinds:
            name = f"web-processes-{processes or 'default'}"
            url = stack.enter_context(database("postgresql"))
            care = engine_for(url)
            deploy(care, f"{PROCESS}.bpmn")
            care.close()
            # the application_name tells this server's database backends apart, for their CPU time
            named = f"{url}&application_name=cc_bench_{name}"
            servers.append((label, processes, name, stack.enter_context(serve(named, name, processes, wait=False))))
        for _label, processes, _name, server in servers:  # started at once, as they boot slowly on a loaded machine
            wait_ready(server, processes)
        for _label, _processes, _name, server in servers:  # warm up: every process loads the spec, fills its pool
            for _ in range(warm_up):
                client = Client(server.port, server.token)
                _one_lifecycle(client)
        seconds = {label: [] for label, *_ in servers}
        cpu = {label: {"server": 0.0, "database": 0.0, "clients": 0.0} for label, *_ in servers}
        for _ in range(rounds):
            for label, _processes, name, server in servers:
                tree, backends = _tree(server.process.pid), _backends(f"cc_bench_{name}")
                before = (_cpu_seconds(tree), _cpu_seconds(backends), time.process_time())
                seconds[label].append(clients_round(server, CLIENTS, per_client, reconnect=True))
                after = (_cpu_seconds(tree), _cpu_seconds(backends), time.process_time())
                for key, start, end in zip(("server", "database", "clients"), before, after, strict=True):
                    cpu[label][key] += end - start
    lifecycles = CLIENTS * per_client
    rows = [
        {
            "server": label,
            "processes": processes or 1,
            "lifecycles": lifecycles * rounds,
            "seconds": sum(seconds[label]),
            "instances_per_s": lifecycles * rounds / sum(seconds[label]),
            "per_round_instances_per_s": [lifecycles / s for s in seconds[label]],
            "cpu_ms_per_lifecycle": {k: v * 1000 / (lifecycles * rounds) for k, v in cpu[label].items()},
        }
        for label, processes, *_ in servers
    ]
    one, two = rows[0]["instances_per_s"], rows[1]["instances_per_s"]
    cores = os.cpu_count() or 1
    return {
        "backend": "postgresql",
        "clients": CLIENTS,
        "rounds": rounds,
        "lifecycles_per_client_and_round": per_client,
        "rows": rows,
        "ratio_two_to_one": two / one,
        "goal_ratio": GOAL_RATIO,
        "cores": cores,
        "ceiling_ratio": ceiling_ratio(rows[0]["cpu_ms_per_lifecycle"], cores),
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
        "cores_for_two_busy_processes": [cores_at_start, cores_available(calibration)],
    }
