"""Section 9: 10,000 events fan out to 3 webhook endpoints, sent by two ``carecenter worker`` processes on PostgreSQL.

The events are written to the log as the engine writes them (:func:`engine.events.record`, many
cases with several events each, in log order), before any worker runs; then two workers fan them
out and send them to a threaded HTTP receiver on loopback with three endpoint paths. The receiver
checks every signature (HMAC-SHA256 per Standard Webhooks) and records what it got. The rate is
deliveries per second from the first to the last request the receiver saw (the workers' start-up
is not in it); the wall time including start-up is reported beside it.

Lost: an event an endpoint never received. Out of order: a case whose events reached an endpoint
other than in log order (repeats of the same id, which at-least-once allows, are counted apart).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import func, select

from bench.common import CARECENTER, WORK_DIR, _env, database, engine_for, stop
from engine import events
from engine.clock import Clock
from engine.models import WebhookDelivery
from engine.webhooks import WebhookConfig

ENDPOINTS = ("/crm", "/warehouse", "/telephony")
EVENTS_PER_CASE = 10
WORKERS = 2


class _Receiver:
    def __init__(self, secrets: dict[str, str]) -> None:
        self.keys = {path: base64.b64decode(secret.removeprefix("whsec_")) for path, secret in secrets.items()}
        self.lock = threading.Lock()
        self.got: list[tuple[str, str, str, int, float]] = []  # path, id, subject, sequence, when
        self.bad = 0

    def handle(self, path: str, headers, body: bytes) -> None:
        key = self.keys.get(path)
        signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
        expected = "v1," + base64.b64encode(hmac.new(key or b"", signed, hashlib.sha256).digest()).decode()
        event = json.loads(body)
        with self.lock:
            if key is None or not hmac.compare_digest(expected, headers.get("webhook-signature", "")):
                self.bad += 1
            self.got.append((path, event["id"], event["subject"], int(event["sequence"]), time.perf_counter()))


@contextlib.contextmanager
def _serve(receiver: _Receiver) -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            receiver.handle(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256  # listen backlog: the workers open many connections at once

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _write_events(care, count: int) -> None:
    cases = max(1, count // EVENTS_PER_CASE)
    written = 0
    with care.db.write() as session:
        for step in range(EVENTS_PER_CASE):
            for case in range(cases):
                if written >= count:
                    break
                events.record(
                    session,
                    "bench.step",
                    subject=f"BENCH-{case:05d}",
                    ordering_key=events.case_key(case + 1),
                    instance_id=None,
                    data={"step": step},
                    at=care.clock.now(),
                )
                written += 1


@contextlib.contextmanager
def _workers(url: str) -> Iterator[list[subprocess.Popen]]:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    env = _env(url, CARECENTER_WEBHOOKS_ALLOW_PRIVATE="true")
    processes = []
    for index in range(WORKERS):
        with open(WORK_DIR / f"webhook-worker-{index}.log", "wb") as log:
            processes.append(
                subprocess.Popen(
                    [str(CARECENTER), "worker", "--name", f"hooks-{index}", "--poll", "0.5"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        yield processes
    finally:
        for process in processes:
            stop(process)


def measure(count: int, drain: float) -> dict:
    with database("postgresql") as url:
        care = engine_for(url, Clock())
        care.webhooks.config = WebhookConfig(allow_private=True)
        secrets: dict[str, str] = {}
        receiver = _Receiver(secrets)
        with _serve(receiver) as port:
            for path in ENDPOINTS:
                secrets[path] = care.webhooks.register(f"http://127.0.0.1:{port}{path}", "*", "bench", "bench")[1]
            receiver.keys = {p: base64.b64decode(s.removeprefix("whsec_")) for p, s in secrets.items()}
            _write_events(care, count)
            expected = count * len(ENDPOINTS)
            began = time.perf_counter()
            with _workers(url):
                deadline = time.monotonic() + drain
                while time.monotonic() < deadline and _pending(care):
                    time.sleep(0.5)
                wall = time.perf_counter() - began
        care.close()
    got = receiver.got
    first_seen: dict[tuple[str, str], tuple[str, int]] = {}
    order: dict[tuple[str, str], list[int]] = {}
    for path, event_id, subject, sequence, _ in got:
        if (path, event_id) in first_seen:
            continue
        first_seen[(path, event_id)] = (subject, sequence)
        order.setdefault((path, subject), []).append(sequence)
    out_of_order = sum(1 for positions in order.values() if positions != sorted(positions))
    times = [when for *_, when in got]
    span = (max(times) - min(times)) if len(times) > 1 else 0.0
    return {
        "events": count,
        "endpoints": len(ENDPOINTS),
        "workers": WORKERS,
        "cases": max(1, count // EVENTS_PER_CASE),
        "deliveries_expected": expected,
        "requests": len(got),
        "repeats": len(got) - len(first_seen),
        "bad_signatures": receiver.bad,
        "deliveries_per_s": (len(first_seen) - 1) / span if span else 0.0,
        "wall_seconds": wall,
        "lost": expected - len(first_seen),
        "out_of_order_cases": out_of_order,
    }


def _pending(care) -> int:
    with care.db.read() as session:
        return session.scalar(
            select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == "pending")
        ) or (1 if session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0 else 0)


def run(smoke: bool) -> dict:
    count, drain = (60, 60.0) if smoke else (10_000, 900.0)
    return {
        "backend": "postgresql",
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_at_start": os.getloadavg(),
        "run": measure(count, drain),
        "goals": {"deliveries_per_s": 200, "lost": 0, "out_of_order_cases": 0},
    }
