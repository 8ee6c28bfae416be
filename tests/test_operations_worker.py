"""``carecenter worker`` when its PostgreSQL goes away (#22 item 2): it rides out a short outage, not a long one.

The worker reaches the real PostgreSQL through a TCP proxy on 127.0.0.1 (:mod:`tests.tcp_proxy`) that
the test cuts and mends. Every step waits for what the worker says or does, never for a time:
cut, the worker notices; mend, it says the database is back, is still running, and fires a timer
due by then; cut again and leave it cut, it exits with status 1 once
``CARECENTER_WORKER_DB_TIMEOUT`` has passed.
"""

from __future__ import annotations

import os
import queue
import secrets
import subprocess
import threading
import time

import pytest
from sqlalchemy.engine import make_url

from engine.config import PROJECT_ROOT
from engine.runtime import StartRequest
from tests.conftest import TEST_DATABASE_URL, make_engine, source
from tests.tcp_proxy import TcpProxy
from tests.worker_processes import CARECENTER

WAIT = 90.0  # seconds any one step may take on a loaded machine before the test fails
TIMEOUT = 6  # CARECENTER_WORKER_DB_TIMEOUT of the worker under test

pytestmark = pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("postgresql"), reason="needs PostgreSQL (CARECENTER_TEST_DATABASE_URL)"
)


class Lines:
    """The worker's standard error, line by line, as it comes."""

    def __init__(self, stream) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for raw in stream:
            self._queue.put(raw.decode(errors="replace"))

    def wait_for(self, text: str, process: subprocess.Popen) -> None:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                if process.poll() is not None and self._queue.empty():
                    break
                continue
            self.seen.append(line)
            if text in line:
                return
        pytest.fail(f"the worker never said {text!r}:\n{''.join(self.seen)}")


def test_the_worker_rides_out_a_short_outage_and_gives_up_on_a_long_one(postgres_schema):
    postgres_schema.empty()
    url = make_url(postgres_schema.url)
    care = make_engine(postgres_schema.url)
    care.repository.deploy([source("timer_worker.bpmn")], "test", "test")
    with TcpProxy(url.host, url.port or 5432) as proxy:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARECENTER_")}
        env.update(
            CARECENTER_DATABASE_URL=url.set(port=proxy.port).render_as_string(hide_password=False),
            CARECENTER_SECRET_KEY=secrets.token_hex(32),
            CARECENTER_WORKER_DB_TIMEOUT=str(TIMEOUT),
        )
        worker = subprocess.Popen(
            [CARECENTER, "worker", "--poll", "0.5", "--name", "outage-test"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=PROJECT_ROOT,
        )
        lines = Lines(worker.stderr)
        try:
            lines.wait_for("worker outage-test started", worker)
            proxy.cut()
            lines.wait_for("the database is unreachable", worker)
            proxy.mend()
            lines.wait_for("the database is reachable again", worker)
            assert worker.poll() is None, "the worker gave up on a short outage"

            [view, _] = care.runtime.start(StartRequest("timer_worker", {"wait": "PT0.5S", "work": 3, "runs": 0}), "t")
            deadline = time.monotonic() + WAIT
            while care.runtime.get(view["id"])["status"] != "completed":  # the worker works again
                assert time.monotonic() < deadline and worker.poll() is None, "".join(lines.seen)
                time.sleep(0.2)

            proxy.cut()
            lines.wait_for("the worker gives up", worker)
            assert worker.wait(WAIT) == 1
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
            care.close()
