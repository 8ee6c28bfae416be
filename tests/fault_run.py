"""The fault run (#22 item 5): 2 ``carecenter serve`` and 2 ``carecenter worker`` processes under load, one of
each killed with SIGKILL mid-way and started again; afterwards every instance is checked.

Used by ``tests/test_faults.py`` (small, for CI) and ``bench/faults.py`` (section 13, longer, timed).

Each instance of ``tests/data/fault_run.bpmn`` is driven as the care center's systems would drive it,
over HTTP, alternating between the two servers: started with an ``Idempotency-Key``; its service
call made by a worker (``test_slow_call`` notes every call in a file); its user task completed by
the client once it appears; its confirmation published with a ``message_id`` (buffered until the
instance waits for it, after a timer of one second that a worker fires). A request that fails
because its server died is sent again to the other server, as a client or a load balancer would.

What must hold afterwards (:func:`check`): every instance completed, exactly one per client key;
in each instance's history exactly one start, service-call completion, task completion, timer
firing, message receipt and completion; every job, timer and message done once; nothing left open;
every read model the same as one recomputed from the stored workflow (:mod:`engine.read_model_check`).
A call of the operation may be made twice only when the worker that made it first was killed
before it could record the result (same idempotency key: the operations drop repeats).
"""

from __future__ import annotations

import collections
import http.client
import json
import os
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from engine import read_model_check
from engine.config import PROJECT_ROOT
from engine.models import (
    CustomerStatus,
    HistoryEvent,
    HumanTask,
    Message,
    MessageSubscription,
    ProcessInstance,
    ServiceJob,
    Timer,
)
from tests.smtp_server import free_port
from tests.worker_processes import CARECENTER, Processes, Workers, wait_until

PROCESS = "fault_run"
ONCE_EACH = ("instance_started", "job_completed", "task_completed", "timer_fired", "message_received")
REQUEST_TIMEOUT = 30.0
SETTINGS = {"OPERATION_MODULES": "tests.worker_operations", "PUBLIC_RATE_LIMIT": "1000000"}


class Servers(Processes):
    """``carecenter serve --no-worker`` processes on ports of their own, killed and started again by name."""

    def __init__(self, url: str, folder: Path, token: str) -> None:
        super().__init__(url, SETTINGS)
        self.folder = folder
        self.token = token
        self.secret = secrets.token_hex(32)
        self.ports: dict[str, int] = {}
        self.starts: dict[str, int] = collections.Counter()

    def start(self, name: str) -> subprocess.Popen:
        """Start (again) the server ``name``, on the port it had; the caller waits for it with :meth:`wait_up`."""
        port = self.ports.setdefault(name, free_port())
        env = self.environment(CARECENTER_BOOTSTRAP_TOKEN=self.token, CARECENTER_SECRET_KEY=self.secret)
        self.starts[name] += 1
        log = open(self.folder / f"{name}-{self.starts[name]}.log", "wb")  # noqa: SIM115 - closed with the process
        self.processes[name] = subprocess.Popen(
            [str(CARECENTER), "serve", "--no-worker", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,
        )
        return self.processes[name]

    def wait_up(self, name: str, limit: float = 90.0) -> tuple[float, float]:
        """Seconds until the server answers ``/healthz`` from now, and the CPU seconds it had used by then."""
        began = time.monotonic()
        deadline = began + limit
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                raise AssertionError(f"server {name} exited: {self.log(name)}")
            try:
                status, _ = request(self.ports[name], self.token, "GET", "/healthz", timeout=2)
                if status == 200:
                    return time.monotonic() - began, cpu_seconds(self.processes[name].pid)
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server {name} did not answer within {limit} s: {self.log(name)}")

    def log(self, name: str) -> str:
        return (self.folder / f"{name}-{self.starts[name]}.log").read_text(errors="replace")[-3000:]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def request(port: int, token: str, method: str, path: str, body: dict | None = None, headers=None, timeout=None):
    """One HTTP request on a new connection; (status, parsed JSON or text). OSError when the server is away."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout or REQUEST_TIMEOUT)
    try:
        sent = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", **(headers or {})}
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=sent)
        response = connection.getresponse()
        raw = response.read()
        kind = response.getheader("Content-Type", "")
        return response.status, (json.loads(raw) if "json" in kind else raw.decode(errors="replace"))
    except (http.client.HTTPException, ConnectionError) as error:  # the server died during the request
        raise OSError(str(error)) from error
    finally:
        connection.close()


@dataclass
class Load:
    """What the clients did: started instances by client key, requests sent again, and their times."""

    instances: dict[str, int] = field(default_factory=dict)
    resent: int = 0
    failures: list[str] = field(default_factory=list)
    completed_at: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Client:
    """One client thread's work: its instances from start to published confirmation, over both servers."""

    def __init__(self, servers: Servers, names: list[str], load: Load, calls_file: Path, call_seconds: float) -> None:
        self.servers = servers
        self.names = names
        self.load = load
        self.calls_file = calls_file
        self.call_seconds = call_seconds
        self.turn = 0

    def send(self, method: str, path: str, body: dict | None = None, headers=None, accept=(200, 201, 202)):
        """Send to the next server in turn; on a dead server or a 5xx, to the other one, until one answers."""
        deadline = time.monotonic() + 120
        while True:
            self.turn += 1
            name = self.names[self.turn % len(self.names)]
            try:
                status, data = request(self.servers.ports[name], self.servers.token, method, path, body, headers)
                if status < 500:
                    return status, data
            except OSError:
                pass
            with self.load.lock:
                self.load.resent += 1
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} {path}: no server answered for 120 s")
            time.sleep(0.1)

    def run(self, keys: list[str]) -> None:
        try:
            for key in keys:
                self.one(key)
        except Exception as error:  # reported by the run, not lost in the thread
            with self.load.lock:
                self.load.failures.append(f"{type(error).__name__}: {error}")

    def one(self, key: str) -> None:
        variables = {"run_id": key, "seconds": self.call_seconds, "calls_file": str(self.calls_file), "wait": "PT1S"}
        status, started = self.send(
            "POST", f"/api/process-definitions/{PROCESS}/instances", {"variables": variables}, {"Idempotency-Key": key}
        )
        assert status in (200, 201), (status, started)
        instance_id = started["id"]
        with self.load.lock:
            self.load.instances[key] = instance_id
        task_id = self.wait_for_task(instance_id)
        while True:
            status, answer = self.send("POST", f"/api/tasks/{task_id}/complete", {"data": {"reviewed": key}})
            if status == 200:
                break
            assert status == 409, (status, answer)  # done by our earlier try whose answer was lost, or a race: look
            status, task = self.send("GET", f"/api/tasks/{task_id}")
            if task["status"] == "completed":
                break
        message = {"name": "fault_confirmed", "correlation_keys": {"run_id": key}, "message_id": f"confirm-{key}"}
        status, published = self.send("POST", "/api/messages", message)
        assert status in (200, 201, 202), (status, published)
        with self.load.lock:
            self.load.completed_at.append(time.monotonic())

    def wait_for_task(self, instance_id: int) -> int:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status, page = self.send("GET", f"/api/tasks?instance_id={instance_id}&status=open")
            if status == 200 and page["items"]:
                return page["items"][0]["id"]
            time.sleep(0.1)
        raise AssertionError(f"instance {instance_id} never reached its user task")


@dataclass
class Outcome:
    """What a fault run measured besides the checks."""

    instances: int
    seconds: float
    resent_requests: int
    server_restart_seconds: float
    server_restart_cpu_seconds: float
    killed_worker_claims: int
    repeated_calls: int


class FaultRun:
    """The processes and the load of one run; :meth:`run` drives it, :func:`check` judges the database after."""

    def __init__(self, care, url: str, folder: Path, call_seconds: float = 0.2) -> None:
        self.care = care
        self.folder = folder
        self.call_seconds = call_seconds
        self.calls_file = folder / "calls.txt"
        self.calls_file.touch()
        self.servers = Servers(url, folder, "cc_" + secrets.token_urlsafe(32))
        self.workers = Workers(url, folder, SETTINGS)
        self.load = Load()

    def run(self, count: int, clients: int = 4, kill_at: float = 0.4) -> Outcome:
        """Start ``count`` instances by ``clients`` threads; when ``kill_at`` of them started, kill and restart."""
        began = time.monotonic()
        for name in ("web-1", "web-2"):
            self.servers.start(name)
        for name in ("worker-1", "worker-2"):
            self.workers.start(name, "--lease", "3", "--job-lease", "3")
        for name in ("web-1", "web-2"):
            self.servers.wait_up(name)
        keys = [f"run-{n:05d}" for n in range(count)]
        threads = [
            threading.Thread(
                target=Client(self.servers, ["web-1", "web-2"], self.load, self.calls_file, self.call_seconds).run,
                args=(keys[index::clients],),
                name=f"fault-client-{index}",
            )
            for index in range(clients)
        ]
        for thread in threads:
            thread.start()
        wait_until(lambda: len(self.load.instances) >= count * kill_at or self.load.failures, "the load is under way")
        deadline = time.monotonic() + 10  # mid-way: while the worker holds a claim, if it comes to hold one
        while not (claims := self._claims_of("worker-1")) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.servers.kill("web-1")
        self.workers.kill("worker-1")
        self.servers.start("web-1")
        self.workers.start("worker-1", "--lease", "3", "--job-lease", "3")
        restart, restart_cpu = self.servers.wait_up("web-1")
        for thread in threads:
            thread.join(300)
        assert not self.load.failures, self.load.failures
        wait_until(lambda: self._completed() == count, "every instance completed", limit=180)
        return Outcome(
            instances=count,
            seconds=time.monotonic() - began,
            resent_requests=self.load.resent,
            server_restart_seconds=restart,
            server_restart_cpu_seconds=restart_cpu,
            killed_worker_claims=claims,
            repeated_calls=sum(n - 1 for n in self.calls().values()),
        )

    def stop(self) -> None:
        self.servers.stop_all()
        self.workers.stop_all()

    def calls(self) -> dict[str, int]:
        """How many calls of the operation were made per idempotency key."""
        return collections.Counter(line.split()[0] for line in self.calls_file.read_text().splitlines())

    def _claims_of(self, worker: str) -> int:
        with self.care.db.read() as session:
            jobs = session.scalar(
                select(func.count()).where(ServiceJob.claimed_by == worker, ServiceJob.status == "pending")
            )
            timers = session.scalar(select(func.count()).where(Timer.claimed_by == worker, Timer.status == "pending"))
        return jobs + timers

    def _completed(self) -> int:
        with self.care.db.read() as session:
            done = ProcessInstance.process_key == PROCESS, ProcessInstance.status == "completed"
            return session.scalar(select(func.count()).where(*done))


def check(run: FaultRun, count: int) -> None:
    """Every instance consistent; no timer, job, message or completion lost or done twice (AssertionError if not)."""
    care = run.care
    with care.db.read() as session:
        instances = list(session.scalars(select(ProcessInstance).where(ProcessInstance.process_key == PROCESS)))
        ids = sorted(instance.id for instance in instances)
        assert len(instances) == count and sorted(run.load.instances.values()) == ids  # one per key, none lost
        assert {instance.status for instance in instances} == {"completed"}

        history = collections.Counter(
            session.execute(
                select(HistoryEvent.instance_id, HistoryEvent.event_type).where(HistoryEvent.instance_id.in_(ids))
            )
        )
        for instance_id in ids:
            for kind in (*ONCE_EACH, "instance_completed"):
                assert history[(instance_id, kind)] == 1, (instance_id, kind, history[(instance_id, kind)])

        jobs = list(session.scalars(select(ServiceJob).where(ServiceJob.instance_id.in_(ids))))
        assert sorted(job.instance_id for job in jobs) == ids and {job.status for job in jobs} == {"completed"}
        timers = list(session.scalars(select(Timer).where(Timer.instance_id.in_(ids))))
        assert sorted(timer.instance_id for timer in timers) == ids and {t.status for t in timers} == {"fired"}
        messages = list(session.scalars(select(Message).where(Message.name == "fault_confirmed")))
        assert len(messages) == count and {m.status for m in messages} == {"delivered"}
        assert sorted(m.result["instances"][0] for m in messages) == ids  # each to its own instance, once

        open_tasks = session.scalar(
            select(func.count()).where(HumanTask.instance_id.in_(ids), HumanTask.status != "completed")
        )
        waiting = session.scalar(select(func.count()).where(MessageSubscription.instance_id.in_(ids)))
        shown = set(session.scalars(select(CustomerStatus.status).where(CustomerStatus.instance_id.in_(ids))))
        assert (open_tasks, waiting, shown) == (0, 0, {"completed"})

    calls = run.calls()
    by_key = {job.idempotency_key: job for job in jobs}
    assert set(calls) == set(by_key)  # every job's call was made
    for key, made in calls.items():
        if made > 1:  # only a call whose first worker died before recording it is made again
            assert by_key[key].attempts >= 2, (key, made, by_key[key].attempts)
    with care.db.read() as session:  # every read model recomputed from the stored workflow matches its rows
        for instance_id in ids:
            assert not read_model_check.mismatches(session, care.repository, care.executor.script_engine, instance_id)
    for instance_id in ids[:: max(1, len(ids) // 10)]:  # and the process data is what the steps put there
        data = care.runtime.get(instance_id)["data"]
        assert "confirmation" in data and data["reviewed"].startswith("run-")
        assert data["call"]["key"].startswith(f"cc-{instance_id}-")
