"""``carecenter serve --processes N``: N web processes on one port (gunicorn), and the worker exactly once.

One ``serve`` process holds Python's global interpreter lock, so on a machine of several cores
more clients are no faster than one. With ``--processes N`` the requests are served by N processes
that share the listening socket, each with its own app, engine and connection pool, forked by
gunicorn's pre-fork arbiter (a well-kept server for POSIX systems; threads per process as before,
``--threads``, gunicorn's ``gthread`` worker, so long-polling Camunda clients still hold a thread,
not a process).

The processes, all started by ``carecenter serve`` (the *supervisor*)::

    carecenter serve --processes N     checks the schema, makes the bootstrap token, prints the URLs,
    │                                  then only watches its two children
    ├── python -m api.server …         gunicorn's arbiter: binds the port, forks N web processes
    │   ├── web process 1 … N          the app (api.app.create_app) on its own CareEngine
    └── python -m api.commands worker  the background worker (timers, service jobs, mail, housekeeping),
                                       unless --no-worker

Why the worker is a process of its own, beside the arbiter and not in it: the worker runs
scheduler threads and holds database connections, and forking the web processes from a process
with threads and open connections would copy both half-way; and gunicorn's arbiter reaps every
child it has, so it could not also watch one of its own. The supervisor is a plain loop without
threads; it watches both children:

- SIGTERM, SIGINT (Ctrl-C) or SIGHUP → SIGTERM to both: gunicorn stops accepting, lets the
  requests in flight finish (up to :data:`GRACEFUL_SECONDS`) and exits; the worker finishes the
  batch in hand; the supervisor exits 0 once both have ended.
- a child that ends on its own (the port is taken, the database gone, a crash) → the other is
  stopped the same way and the supervisor exits 1, for the service manager to restart the whole.
- the children share a fresh ``PROMETHEUS_MULTIPROC_DIR`` (removed at the end) unless one is set, so
  ``GET /metrics`` on any web process counts the work of all of them and of the worker.
- the children run in their own process group, so a terminal's Ctrl-C reaches only the
  supervisor (which stops them gracefully), and on Linux they get SIGTERM if the supervisor is
  killed outright (``PR_SET_PDEATHSIG``), so nothing is left holding the port.

Without ``--processes``, ``carecenter serve`` stays one process (waitress, the worker in threads),
as ``make run`` uses it.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus-client when it is imported
GRACEFUL_SECONDS = 30  # requests in flight get this long to finish on SIGTERM
# Request threads per web process: well above the live streams a process allows (calls, chats), which hold a
# thread each and notice a closed tab only at their next heartbeat, so that pages never wait behind them.
REQUEST_THREADS = 16
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1

log = logging.getLogger("carecenter.server")


def available() -> str | None:
    """None when several processes can be served here, else why not."""
    if os.name != "posix":
        return "--processes needs a POSIX system (gunicorn); serve without it on this one"
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        return "--processes needs gunicorn: pip install 'gunicorn>=27,<28'"
    return None


# -- the supervisor (in the `carecenter serve` process) ------------------------------------------


def supervise(
    host: str, port: int, processes: int, threads: int, worker: bool, verbose: bool, log_format: str = "text"
) -> int:
    """Start the web server and (unless ``worker`` is False) the worker; watch them; return the exit status."""
    flags = ["-v"] if verbose else []
    children: dict[str, subprocess.Popen] = {}
    stop_requested: list[int] = []

    def request_stop(signum, _frame) -> None:
        stop_requested.append(signum)

    previous = {s: signal.signal(s, request_stop) for s in _STOP_SIGNALS}
    own_metrics_dir = _metrics_dir()
    try:
        web = [sys.executable, "-m", "api.server", *flags, "--bind", _bind(host, port), "--log-format", log_format]
        children["web server"] = _start([*web, "--processes", str(processes), "--threads", str(threads)])
        if worker:
            children["worker"] = _start(
                [sys.executable, "-m", "api.commands", *flags, "worker", "--log-format", log_format]
            )
        failed = _watch(children, stop_requested)
    finally:
        _stop_all(children)
        for number, handler in previous.items():
            signal.signal(number, handler)
        if own_metrics_dir is not None:
            shutil.rmtree(own_metrics_dir, ignore_errors=True)
    return 1 if failed else 0


def _metrics_dir() -> str | None:
    """Give the children a ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode: /metrics adds up
    every process); a new private one, returned to be removed at the end, unless the operator chose one."""
    chosen = os.environ.get(MULTIPROC_VARIABLE)
    if chosen:
        os.makedirs(chosen, exist_ok=True)
        return None
    made = tempfile.mkdtemp(prefix="carecenter-metrics-")
    os.environ[MULTIPROC_VARIABLE] = made
    return made


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _start(command: Sequence[str]) -> subprocess.Popen:
    parent = os.getpid()

    def in_child() -> None:
        os.setpgid(0, 0)  # a terminal's Ctrl-C goes to the supervisor only; it stops the children gracefully
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError, AttributeError):
                ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
            if os.getppid() != parent:  # the supervisor died before the line above
                os._exit(1)

    return subprocess.Popen(command, preexec_fn=in_child)  # safe: the supervisor runs no threads


def _watch(children: dict[str, subprocess.Popen], stop_requested: list[int]) -> bool:
    """Wait for a stop signal (False) or for a child to end on its own (True)."""
    while not stop_requested:
        for name, child in children.items():
            status = child.poll()
            if status is not None:
                log.error("the %s (pid %s) ended with status %s; stopping carecenter serve", name, child.pid, status)
                return True
        time.sleep(0.2)
    return False


def _stop_all(children: dict[str, subprocess.Popen]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + GRACEFUL_SECONDS + 10
    for name, child in children.items():
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.error("the %s (pid %s) did not stop in time; killing it", name, child.pid)
            child.kill()
            child.wait()


# -- the web server (python -m api.server, gunicorn's arbiter and its web processes) -----------------


def gunicorn_options(bind: str, processes: int, threads: int) -> dict:
    """gunicorn's settings for carecenter: quiet, threaded processes, forwarded headers left to ProxyFix."""
    return {
        "bind": [bind],
        "workers": processes,
        "worker_class": "gthread",
        "threads": threads,
        "proc_name": "carecenter",
        "graceful_timeout": GRACEFUL_SECONDS,
        # what waitress's clear_untrusted_proxy_headers does: gunicorn itself trusts no X-Forwarded-*;
        # api.security installs ProxyFix for CARECENTER_TRUSTED_PROXIES and only then do they count
        "forwarded_allow_ips": "",
        "loglevel": "warning",  # started, stopped, "booting worker …": not worth a line each
        "errorlog": "-",
        "accesslog": None,
        "control_socket_disable": True,  # no gunicornc socket in the home folder
    }


def _application(options: dict):
    from gunicorn.app.base import BaseApplication

    class CarecenterServer(BaseApplication):
        """The app is made in each web process after the fork: its engine and pool are its own."""

        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            from api.app import create_app
            from engine import secret_key
            from engine.config import Settings
            from engine.core import CareEngine

            return create_app(CareEngine(secret_key.with_lasting_key(Settings.from_env())))

    return CarecenterServer()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.server", description="carecenter's web processes (gunicorn)")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--bind", required=True)
    parser.add_argument("--processes", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    args = parser.parse_args(argv)
    from api.logs import configure as configure_logging

    configure_logging(args.verbose, args.log_format)
    import api.app  # noqa: F401  (imported once here, shared by the forked processes; no engine, no threads yet)

    _application(gunicorn_options(args.bind, args.processes, args.threads)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
