"""Section 9: the screen pop: how long from a phone system's ``newCall`` until a signed-in staff page has it.

A real ``carecenter serve`` (waitress, the embedded worker) on loopback, on PostgreSQL and on
SQLite. A staff member is signed in (session cookie) and holds the screen-pop stream
(``/calls/stream``, server-sent events) open as every staff page does; a phone system posts
``newCall`` for a known customer's number to its CTI URL, form-encoded as the generic CTI API
allows. The latency is from just before the POST until the call's event has arrived on the
stream, complete (the pop's HTML rendered for that staff member); then ``hangup`` ends the call,
which logs it as a missed call on the customer. The browser's own work (placing the HTML) is not
in it. Goal: p95 ≤ 1 s over 20 calls.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import time
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime

from bench.common import database, engine_for, percentiles, serve
from process_library.csv_import import import_csv

CALLS = 20
GOAL_P95_S = 1.0
PASSWORD = "bench-password-1"
CUSTOMER = "id,name,email,phone\nC-1,Ada Lovelace,ada@example.com,030/1234567\n"


def _stream(base: str) -> tuple[urllib.request.OpenerDirector, object]:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    login = opener.open(f"{base}/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', login)[1]
    fields = urllib.parse.urlencode({"username": "agent", "password": PASSWORD, "csrf_token": token}).encode()
    opener.open(urllib.request.Request(f"{base}/login", fields, method="POST"), timeout=10).read()
    return opener, opener.open(f"{base}/calls/stream", timeout=30)


def _post(url: str, fields: dict) -> None:
    request = urllib.request.Request(url, urllib.parse.urlencode(fields).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def _until_ringing(stream, after: int) -> int:
    """Read events until a ringing call newer than call ``after`` has come; its id."""
    name = None
    for raw in stream:
        line = raw.decode().rstrip("\r\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: ") and name == "call":
            data = json.loads(line[6:])
            if data["state"] == "ringing" and data["id"] > after:
                return data["id"]
    raise RuntimeError("the stream ended before the call came")


def _measure(backend: str) -> dict:
    with database(backend) as url:
        care = engine_for(url)
        care.identity.add_group("support")
        care.identity.add_user("agent", "staff", ["support"], password=PASSWORD)
        import_csv(care.db, "customers", CUSTOMER)
        _, token = care.cti.create("bench PBX", "bench")
        care.close()
        with serve(url, f"calls-{backend}") as server:
            base = f"http://127.0.0.1:{server.port}"
            cti = f"{base}/api/cti/{token}"
            _, stream = _stream(base)
            for raw in stream:  # the calls going on (none) come first
                if raw.startswith(b"event: going-on"):
                    break
            samples, last = [], 0
            for _ in range(CALLS):
                call_id = uuid.uuid4().hex
                fields = {"from": "0301234567", "to": "4989123456", "direction": "in", "callId": call_id}
                began = time.perf_counter()
                _post(cti, {"event": "newCall", **fields, "user[]": "agent"})
                last = _until_ringing(stream, last)
                samples.append(time.perf_counter() - began)
                _post(cti, {"event": "hangup", **fields, "cause": "cancel"})
                time.sleep(0.05)
            stream.close()
    return {"backend": backend, "calls": CALLS, "latency_s": percentiles(samples)}


def run(smoke: bool) -> dict:
    runs = [_measure(backend) for backend in (("sqlite",) if smoke else ("postgresql", "sqlite"))]
    return {"goals": {"p95_s": GOAL_P95_S}, "runs": runs, "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
