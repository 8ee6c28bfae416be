"""``carecenter serve --processes 2`` on PostgreSQL, over real HTTP on 127.0.0.1 (#21 item 4). Linux (/proc).

Which process answered a request is read from the kernel, not from anything the server says:
while the client's connection is open, the server's end of it (``/proc/net/tcp``) is a socket
that exactly one process holds among its open files (``/proc/<pid>/fd``). The race tests of
``tests/test_concurrency.py`` run again against the two processes.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.config import PROJECT_ROOT
from tests.conftest import make_engine, source
from tests.test_concurrency import (  # noqa: F401  (collected here too, against the `server` fixture below)
    test_cancel_racing_completion_leaves_one_consistent_outcome,
    test_claim_race_has_one_winner,
    test_same_task_completed_by_many_at_once_applies_exactly_once,
    test_two_tasks_of_one_instance_completed_at_once_both_apply,
)

CARECENTER = Path(sys.executable).parent / "carecenter"
START_LIMIT = 120.0  # seconds; a loaded two-core machine boots three Python processes slowly


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """A running ``carecenter serve --processes N`` and the processes under it, found through /proc."""

    def __init__(self, url: str, log: Path, processes: int = 2) -> None:
        self.port = free_port()
        self.token = "cc_" + secrets.token_urlsafe(32)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARECENTER_")}
        env.update(
            CARECENTER_DATABASE_URL=url,
            CARECENTER_BOOTSTRAP_TOKEN=self.token,
            CARECENTER_SECRET_KEY=secrets.token_hex(32),
        )
        self.log = log
        with open(log, "wb") as output:
            self.process = subprocess.Popen(
                [CARECENTER, "serve", "--port", str(self.port), "--processes", str(processes)],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=PROJECT_ROOT,
            )
        self.base = f"http://127.0.0.1:{self.port}"
        self._wait_until_up(processes)

    def _wait_until_up(self, processes: int) -> None:
        deadline = time.monotonic() + START_LIMIT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"carecenter serve exited with {self.process.returncode}: {self.log.read_text()}")
            try:
                status, _ = self.request("GET", "/healthz")
                if status == 200 and len(self.web_pids()) == processes:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        self.stop()
        pytest.fail("carecenter serve --processes did not come up: " + self.log.read_text())

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 30):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            return self._send(connection, method, path, body)
        finally:
            connection.close()

    def _send(self, connection, method: str, path: str, body: dict | None = None):
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())

    def children(self, pid: int) -> dict[int, str]:
        """pid → command line of the processes whose parent is ``pid``."""
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                status = (entry / "status").read_text()
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            ppid = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:"))
            if ppid == pid:
                found[int(entry.name)] = command
        return found

    def arbiter_pid(self) -> int:
        [pid] = [p for p, command in self.children(self.process.pid).items() if "api.server" in command]
        return pid

    def worker_pids(self) -> list[int]:
        return [p for p, command in self.children(self.process.pid).items() if " worker" in command]

    def web_pids(self) -> set[int]:
        return set(self.children(self.arbiter_pid()))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)


def _server_end_inode(server_port: int, client_port: int) -> str | None:
    """The socket inode of the server's end of the connection from ``client_port``, from /proc/net/tcp."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        remote_port = int(fields[2].split(":")[1], 16)
        if local_port == server_port and remote_port == client_port and fields[3] == "01":  # ESTABLISHED
            return fields[9]
    return None


def serving_pid(served: Served, connection: http.client.HTTPConnection, candidates: set[int]) -> int | None:
    """Which of ``candidates`` holds the server's end of ``connection`` (still open)."""
    inode = _server_end_inode(served.port, connection.sock.getsockname()[1])
    if inode is None:
        return None
    for pid in candidates:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return pid
        except OSError:
            continue
    return None


@pytest.fixture(scope="module")
def served(postgres_schema, tmp_path_factory):
    postgres_schema.empty()
    care = make_engine(postgres_schema.url)
    care.repository.deploy([source("hello_care.bpmn"), source("parallel_tasks.bpmn")], "test", "test")
    care.close()
    running = Served(postgres_schema.url, tmp_path_factory.mktemp("serve") / "serve.log")
    yield running
    assert running.stop() == 0, running.log.read_text()


@pytest.fixture
def server(served, postgres_schema):
    """What tests/test_concurrency.py's race tests need: base URL, an admin token, an engine on the database."""
    care = make_engine(postgres_schema.url)
    yield served.base, served.token, care
    care.close()


def one_round(served: Served, web: set[int], clients: int) -> list[tuple[int, int | None]]:
    """``clients`` requests at once, each on its own connection: (status, the web process that answered)."""
    connections = [http.client.HTTPConnection("127.0.0.1", served.port, timeout=30) for _ in range(clients)]
    barrier = threading.Barrier(clients)
    results: list[tuple[int, int | None]] = []

    def ask(connection) -> None:
        barrier.wait()
        status, _ = served._send(connection, "GET", "/api/worker/status")
        results.append((status, serving_pid(served, connection, web)))  # still open: keep-alive

    threads = [threading.Thread(target=ask, args=(c,)) for c in connections]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for connection in connections:
        connection.close()
    return results


def test_both_processes_answer_and_the_worker_runs_once(served):
    web = served.web_pids()
    assert len(web) == 2 and served.arbiter_pid() not in web
    answered: set[int] = set()
    for _round in range(30):  # until both have answered
        results = one_round(served, web, 6)
        assert len(results) == 6 and all(status == 200 for status, _ in results), results
        assert all(pid in web for _, pid in results), results  # every answer came from one of the two
        answered.update(pid for _, pid in results)
        if answered == web:
            break
    assert answered == web
    [worker] = served.worker_pids()
    status, body = served.request("GET", "/api/worker/status")
    assert status == 200
    alive = [w for w in body["workers"] if w["alive"]]
    assert [w["pid"] for w in alive] == [worker]  # one worker, in its own process: not one per web process


def test_forwarded_headers_count_for_nothing_without_trusted_proxies(served):
    """As with waitress: gunicorn itself trusts no X-Forwarded-*, and no proxy is configured here."""
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    try:
        connection.request("GET", "/healthz", headers={"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on"})
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert response.status == 200
    assert response.getheader("Strict-Transport-Security") is None  # the request was not taken for TLS


def test_sigterm_lets_a_request_in_flight_finish_then_stops_everything(postgres_schema, tmp_path):
    postgres_schema.empty()
    running = Served(postgres_schema.url, tmp_path / "serve.log")
    everything = {running.arbiter_pid(), *running.web_pids(), *running.worker_pids()}
    answer: list = []

    def long_poll() -> None:  # a Camunda worker waiting 3 s for a task that never comes
        topics = [{"topicName": "none", "lockDuration": 1000}]
        body = {"workerId": "w", "maxTasks": 1, "topics": topics, "asyncResponseTimeout": 3000}
        answer.append(running.request("POST", "/engine-rest/external-task/fetchAndLock", body))

    waiting = threading.Thread(target=long_poll)
    waiting.start()
    time.sleep(1.0)
    began = time.monotonic()
    assert running.stop() == 0, running.log.read_text()
    waiting.join()
    assert answer == [(200, [])]  # answered in full, not cut off
    assert time.monotonic() - began < 30
    assert not any(Path(f"/proc/{pid}").exists() for pid in everything)
    with pytest.raises(OSError):
        running.request("GET", "/healthz", timeout=2)  # nobody listens on the port any more
    output = running.log.read_text()
    assert "Traceback" not in output, output


def test_a_child_that_dies_stops_the_rest(postgres_schema, tmp_path):
    postgres_schema.empty()
    running = Served(postgres_schema.url, tmp_path / "serve.log")
    arbiter = running.arbiter_pid()
    everything = {arbiter, *running.web_pids(), *running.worker_pids()}
    [worker] = running.worker_pids()
    os.kill(worker, signal.SIGKILL)
    assert running.process.wait(60) == 1
    assert not any(Path(f"/proc/{pid}").exists() for pid in everything)
    assert "the worker" in running.log.read_text()


def test_killing_serve_outright_stops_its_children(postgres_schema, tmp_path):
    postgres_schema.empty()
    running = Served(postgres_schema.url, tmp_path / "serve.log")
    everything = {running.arbiter_pid(), *running.web_pids(), *running.worker_pids()}
    running.process.kill()
    running.process.wait(10)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(_alive(pid) for pid in everything):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in everything)


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its (gone) parent to collect it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
