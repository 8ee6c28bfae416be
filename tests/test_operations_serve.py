"""``carecenter -v serve --processes 2 --log-format json`` over real HTTP (#22 items 1, 3): logs and metrics of a run.

One run: an admin makes a team, a user with a password (then a new one), a token for that user, a
webhook endpoint (its signing secret) and a phone system's URL (its token); the user signs in on the
login page and calls the API with the token; cases are started, looked up by tracking code, and
their tasks completed; the phone system posts a call. Then the server is stopped and everything it
wrote, standard output and error, at debug level, is searched for every token, password and secret
of the run: none may appear. The same run checks the lines themselves (JSON, one per request, the
caller's request id, audit lines for the admin actions) and that ``/metrics``, whichever of the two
web processes answers, counts the cases every process started and the tasks every process completed.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import time
from urllib.parse import urlencode, urlsplit

import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.config import PROJECT_ROOT
from tests.conftest import make_engine, source
from tests.smtp_server import free_port
from tests.worker_processes import CARECENTER

START_LIMIT = 120.0  # seconds; a loaded two-core machine boots four Python processes slowly


class Client:
    """Raw HTTP to the server, a cookie jar for the pages."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def call(self, method: str, path: str, token: str | None = None, body=None, form=None, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = dict(headers or {})
        data = None
        if token:
            sent["Authorization"] = f"Bearer {token}"
        if body is not None:
            data, sent["Content-Type"] = json.dumps(body), "application/json"
        if form is not None:
            data, sent["Content-Type"] = urlencode(form), "application/x-www-form-urlencoded"
        if self.cookies and token is None:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            response.text = response.read().decode()
        finally:
            connection.close()
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response

    def json(self, method: str, path: str, token: str, body=None, expect: int = 200) -> dict:
        response = self.call(method, path, token, body)
        assert response.status == expect, (method, path, response.status, response.text)
        return json.loads(response.text)


@pytest.fixture(scope="module")
def run(module_database_url, tmp_path_factory):
    """The server's whole life: yields (client, secrets dict, admin token); stopped at the end of the module."""
    care = make_engine(module_database_url)
    care.repository.deploy([source("hello_care.bpmn")], "test", "test")
    care.close()
    folder = tmp_path_factory.mktemp("serve-logs")
    port = free_port()
    known = {
        "bootstrap token": "cc_" + secrets.token_urlsafe(32),
        "secret key": secrets.token_hex(32),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARECENTER_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        CARECENTER_DATABASE_URL=module_database_url,
        CARECENTER_BOOTSTRAP_TOKEN=known["bootstrap token"],
        CARECENTER_SECRET_KEY=known["secret key"],
        CARECENTER_WEBHOOKS_ALLOW_PRIVATE="true",
        CARECENTER_WEBHOOK_RETRY_SECONDS="1",
    )
    out, err = folder / "stdout.log", folder / "stderr.log"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen(
            [CARECENTER, "-v", "serve", "--port", str(port), "--processes", "2", "--log-format", "json"],
            env=env,
            stdout=stdout,
            stderr=stderr,
            cwd=PROJECT_ROOT,
        )
    client = Client(port)
    deadline = time.monotonic() + START_LIMIT
    while True:
        if process.poll() is not None:
            pytest.fail(f"carecenter serve exited with {process.returncode}: {err.read_text()}")
        try:
            if client.call("GET", "/readyz").status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("carecenter serve did not come up: " + err.read_text())
        time.sleep(0.25)
    state = {"known": known, "process": process, "out": out, "err": err}
    yield client, state
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


def scrape(client: Client, token: str) -> dict:
    response = client.call("GET", "/metrics", token)
    assert response.status == 200, response.text
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def started(samples: dict) -> float:
    return samples.get(("carecenter_instances_started_total", (("process", "hello_care"),)), 0.0)


def completed_tasks(samples: dict) -> float:
    return samples.get(("carecenter_tasks_completed_total", (("process", "hello_care"),)), 0.0)


def test_a_whole_run_logs_no_secret_and_metrics_add_up_over_processes(run):
    client, state = run
    known = state["known"]
    admin = known["bootstrap token"]
    known["first password"] = "first " + secrets.token_urlsafe(12)
    known["second password"] = "second " + secrets.token_urlsafe(12)

    client.json("POST", "/api/groups", admin, {"name": "support"}, expect=201)
    olga = client.json(
        "POST",
        "/api/users",
        admin,
        {"username": "olga", "role": "staff", "groups": ["support"], "password": known["first password"]},
        expect=201,
    )
    client.json("PATCH", f"/api/users/{olga['id']}", admin, {"password": known["second password"]})
    known["user token"] = client.json("POST", "/api/tokens", admin, {"name": "olga's", "username": "olga"}, 201)[
        "token"
    ]
    hook = client.json("POST", "/api/webhooks", admin, {"url": "http://127.0.0.1:9/hook"}, expect=201)
    known["webhook secret"] = hook["secret"]
    phone = client.json("POST", "/api/cti/integrations", admin, {"name": "pbx"}, expect=201)
    known["cti token"] = phone["token"]

    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.call("GET", "/login").text)[1]
    signed_in = client.call(
        "POST", "/login", form={"username": "olga", "password": known["second password"], "csrf_token": csrf}
    )
    assert signed_in.status == 302
    known["session cookie"] = client.cookies["cc_session"]
    assert client.call("GET", "/tasks").status == 200

    before = scrape(client, admin)
    cases = [client.json("POST", "/api/process-definitions/hello_care/instances", admin, {}, 201) for _ in range(4)]
    for number, case in enumerate(cases):
        known[f"tracking code {number}"] = case["tracking_code"]
        assert client.call("GET", f"/api/status/{case['tracking_code']}").status == 200
        assert client.call("GET", f"/track/{case['tracking_code']}").status == 200
    for case in cases[:3]:
        task = case["tasks"][0]["id"]
        client.json("POST", f"/api/tasks/{task}/complete", known["user token"], {"data": {"answer": "Solved."}})
    phoned = client.call(
        "POST",
        urlsplit(phone["url"]).path,
        body={"event": "newCall", "from": "4930123", "to": "1", "direction": "in", "callId": "c-1"},
    )
    assert phoned.status == 200, phoned.text
    mine = client.call("GET", "/api/tasks", known["user token"], headers={"X-Request-ID": "trace-4711"})
    assert mine.status == 200 and mine.headers["X-Request-ID"] == "trace-4711"
    assert re.fullmatch(r"[0-9a-f]{32}", client.call("GET", "/healthz").headers["X-Request-ID"])

    for _ in range(4):  # each scrape may be answered by either web process: every one counts all of them
        after = scrape(client, admin)
        assert started(after) == started(before) + 4
        assert completed_tasks(after) == completed_tasks(before) + 3
        assert after[("carecenter_open_tasks", (("team", "support"),))] == 1
    deadline = time.monotonic() + 60
    while scrape(client, admin).get(("carecenter_workers_alive", ())) != 1:  # the worker process beats
        assert time.monotonic() < deadline, "the worker never reported"
        time.sleep(0.5)

    process = state["process"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    output = state["out"].read_text() + state["err"].read_text()
    leaked = sorted(name for name, value in known.items() if value in output)
    assert not leaked, f"the logs hold the {', '.join(leaked)}"

    lines = [line for line in state["err"].read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line of standard error is a JSON object
    requests = [r for r in records if r["logger"] == "carecenter.requests"]
    assert {"method", "path", "status", "duration_ms", "user", "client", "request_id"} <= set(requests[0])
    paths = {r["path"] for r in requests}
    assert {"/api/cti/<token>", "/track/<code>", "/api/status/<tracking_code>"} <= paths
    [traced] = [r for r in requests if r["request_id"] == "trace-4711"]
    assert (traced["method"], traced["path"], traced["status"], traced["user"]) == ("GET", "/api/tasks", 200, "olga")
    audits = {r["action"]: r for r in records if r["logger"] == "carecenter.audit"}
    for action in (
        "admin.create_group",
        "admin.create_user",
        "admin.update_user",
        "admin.create_token",
        "webhooks.register",
        "cti.create_integration",
    ):
        assert audits[action]["actor"] == "token:bootstrap" and audits[action]["status"] < 300, action
    assert audits["admin.update_user"]["target"] == {"user_id": olga["id"]}
    assert audits["admin.create_user"]["result"]["username"] == "olga"
