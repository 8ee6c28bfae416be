"""What every section shares: benchmark databases, a real ``carecenter serve``/``worker`` process, statistics.

Benchmarks never touch the databases of tests or of ``make run``: SQLite files live under
``var/bench`` and PostgreSQL data lives in a schema of its own, dropped at the end.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, event, text

from engine import write_batch
from engine.bpmn import SourceFile
from engine.config import PROJECT_ROOT, Settings
from engine.core import CareEngine
from engine.db import Database
from engine.schema import upgrade

BENCH_DIR = Path(__file__).resolve().parent
PROCESSES = BENCH_DIR / "processes"
RESULTS = BENCH_DIR / "results"
WORK_DIR = PROJECT_ROOT / "var" / "bench"
CARECENTER = Path(sys.executable).parent / "carecenter"
PG_BASE_URL = os.environ.get("CARECENTER_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def database(backend: str) -> Iterator[str]:
    """A fresh, migrated database URL for ``backend`` ("sqlite" or "postgresql"), removed afterwards."""
    if backend == "sqlite":
        folder = WORK_DIR / uuid.uuid4().hex[:8]
        folder.mkdir(parents=True)
        url = f"sqlite:///{folder}/bench.db"
        _migrate(url)
        try:
            yield url
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    schema = f"cc_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_BASE_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_BASE_URL}?options=-csearch_path%3D{schema}"
    try:
        _migrate(url)
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextlib.contextmanager
def count_statements(db: Database) -> Iterator[list[int]]:
    """Counts ``[SQL statements, round trips]`` while the block runs (BEGIN not counted: psycopg sends it on its own).

    A statement :mod:`engine.write_batch` keeps goes with the connection's next statement, or just before its
    COMMIT: the round trips are the statements sent on their own, plus one per commit that sent kept ones.
    """
    counter = [0, 0]
    holding: set[int] = set()  # connections that keep statements not sent yet

    def key(connection) -> int:
        return id(connection.connection.dbapi_connection)

    def note(connection, _cursor, statement, _parameters, context, _many) -> None:
        if statement.lstrip().upper().startswith("BEGIN"):
            return
        counter[0] += 1
        if write_batch.kept(context):
            holding.add(key(connection))
            return
        holding.discard(key(connection))
        counter[1] += 1

    def commit(connection) -> None:
        if key(connection) in holding:
            holding.discard(key(connection))
            counter[1] += 1

    def rollback(connection) -> None:
        holding.discard(key(connection))

    listeners = (("before_cursor_execute", note), ("commit", commit), ("rollback", rollback))
    for name, listener in listeners:
        event.listen(db.engine, name, listener)
    try:
        yield counter
    finally:
        for name, listener in listeners:
            event.remove(db.engine, name, listener)


def _migrate(url: str) -> None:
    db = Database(url)
    upgrade(db)
    db.dispose()


def engine_for(url: str, clock=None) -> CareEngine:
    return CareEngine(Settings.from_env(database_url=url), clock=clock)


def deploy(care: CareEngine, *names: str) -> None:
    """Deploy bench processes by file name."""
    care.repository.deploy([SourceFile(n, (PROCESSES / n).read_bytes()) for n in names], "bench", "bench")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARECENTER_")}
    env["CARECENTER_DATABASE_URL"] = url
    env.update(extra)
    return env


@dataclass
class Server:
    """A ``carecenter serve`` process on loopback (waitress; gunicorn's web processes with ``--processes``)."""

    process: subprocess.Popen
    port: int
    token: str

    def client(self) -> Client:
        return Client(self.port, self.token)

    def rss_kib(self) -> int:
        return rss_kib(self.process.pid)


@contextlib.contextmanager
def serve(url: str, log_name: str, processes: int | None = None, wait: bool = True) -> Iterator[Server]:
    """Start ``carecenter serve`` (``--processes`` if given) against ``url`` with a fresh admin token; stop it after.

    With ``wait=False`` the caller waits (:func:`wait_ready`), e.g. to start several servers at once.
    """
    token = "cc_bench_" + uuid.uuid4().hex
    port = free_port()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    more = ["--processes", str(processes)] if processes else []
    with open(WORK_DIR / f"{log_name}.log", "wb") as log:
        process = subprocess.Popen(
            [str(CARECENTER), "serve", "--port", str(port), *more],
            # one benchmark client stands for many customers: the per-address limit must not throttle it
            env=_env(url, CARECENTER_BOOTSTRAP_TOKEN=token, CARECENTER_PUBLIC_RATE_LIMIT="1000000"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        server = Server(process, port, token)
        if wait:
            wait_ready(server, processes)
        yield server
    finally:
        stop(process)


@contextlib.contextmanager
def workers(url: str, count: int, *args: str, env: dict[str, str] | None = None) -> Iterator[list[subprocess.Popen]]:
    """``count`` ``carecenter worker`` processes against ``url`` (``env``: settings of theirs), stopped afterwards."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    processes = []
    for index in range(count):
        with open(WORK_DIR / f"worker-{index}.log", "wb") as log:
            processes.append(
                subprocess.Popen(
                    [str(CARECENTER), "worker", "--name", f"bench-{index}", *args],
                    env=_env(url, **(env or {})),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        yield processes
    finally:
        for process in processes:
            stop(process)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _wait_healthy(server: Server, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"carecenter serve exited with {server.process.returncode}; see var/bench/*.log")
        with contextlib.suppress(OSError):
            status, _ = server.client().request("GET", "/healthz")
            if status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("carecenter serve did not become healthy")


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, StopIteration):
                status = (entry / "status").read_text().splitlines()
                if int(next(line for line in status if line.startswith("PPid:")).split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def wait_ready(server: Server, processes: int | None = None) -> None:
    """Until the server answers, and with ``--processes`` until all its web processes run."""
    _wait_healthy(server)
    if processes:
        _wait_for_web_processes(server, processes)


def _wait_for_web_processes(server: Server, count: int, limit: float = 120.0) -> None:
    """Until gunicorn's arbiter (the serve process's child that has children) has ``count`` web processes."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if max((len(children(child)) for child in children(server.process.pid)), default=0) == count:
            return
        time.sleep(0.2)
    raise RuntimeError(f"carecenter serve --processes {count} did not start {count} web processes")


class Client:
    """One keep-alive HTTP connection with the admin token: what one API client of the care center does."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def reconnect(self) -> None:
        """A new connection, as a client (or a proxy's pooled connection) coming back later makes."""
        self.connection.close()
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | str]:
        payload = json.dumps(body) if body is not None else None
        self.connection.request(method, path, body=payload, headers=self.headers)
        response = self.connection.getresponse()
        raw = response.read()
        kind = response.getheader("Content-Type", "")
        return response.status, (json.loads(raw) if "json" in kind else raw.decode(errors="replace"))

    def ok(self, method: str, path: str, body: dict | None = None) -> dict:
        status, data = self.request(method, path, body)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {status}: {str(data)[:300]}")
        return data  # type: ignore[return-value]


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99/max (nearest rank) of samples, in the samples' unit."""
    ordered = sorted(samples)
    if not ordered:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0, "n": 0}

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))]

    return {"p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99), "max": ordered[-1], "n": len(ordered)}


def write_result(folder: Path, name: str, data: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path
