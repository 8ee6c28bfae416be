"""Real ``carecenter worker`` processes for tests, and a patient wait for what they do in the database.

The tests that use them run on the wall clock (separate processes cannot share a virtual
clock) and wait for outcomes with generous limits; they never assert on speed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.config import PROJECT_ROOT

CARECENTER = Path(sys.executable).parent / "carecenter"
WAIT_LIMIT = 90.0


class Processes:
    """``carecenter`` processes against one database, by name, stopped (or killed) by the test."""

    stop_seconds = 30.0  # how long :meth:`stop_all` gives each process to end after SIGTERM

    def __init__(self, url: str, settings: dict[str, str] | None = None) -> None:
        """``settings`` are further ``CARECENTER_*`` variables for every process (names without the prefix)."""
        self.url = url
        self.settings = settings or {}
        self.processes: dict[str, subprocess.Popen] = {}

    def environment(self, **variables: str) -> dict[str, str]:
        """This process's environment without its ``CARECENTER_*`` variables, but the database, the settings and
        ``variables``; the project root on the path (test operation modules, tests.worker_operations)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARECENTER_")}
        env["CARECENTER_DATABASE_URL"] = self.url
        env.update({f"CARECENTER_{key}": value for key, value in self.settings.items()})
        env.update(variables)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH", "")]))
        return env

    def kill(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait(10)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(self.stop_seconds)
            except subprocess.TimeoutExpired:
                process.kill()


class Workers(Processes):
    """``carecenter worker`` processes."""

    stop_seconds = 60.0  # a loaded CI machine may take a while to finish the batch in hand

    def __init__(self, url: str, tmp_path: Path, settings: dict[str, str] | None = None) -> None:
        super().__init__(url, settings)
        self.tmp_path = tmp_path

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [str(CARECENTER), "worker", "--name", name, "--poll", "0.2", *args],
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,
        )
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text(errors="replace")[-3000:]


def wait_until(condition, what: str, limit: float = WAIT_LIMIT) -> None:
    """Poll ``condition`` until it holds; an AssertionError naming ``what`` after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting until {what}")
