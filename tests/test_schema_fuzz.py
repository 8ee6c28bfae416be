"""The API fuzzed with schemathesis: a real server on 127.0.0.1, a seeded care center, admin and staff.

Schemathesis reads api/openapi.json, sends requests the document allows and requests it forbids,
then chains calls along the document's links (a started instance's id feeds its GET, a claimed
task's id its completion), and checks every answer: no 5xx, a documented status code and content
type, a body matching the documented schema, forbidden requests refused with 4xx and allowed ones
not refused with 400 (tests/schemathesis.toml says why 422 may answer an allowed request).

Each token gets two runs: single calls (examples, coverage, fuzzing phases), then chains of calls
(the stateful phase, with more scenarios: they are cheap and reach states single calls rarely do).
Bounded and reproducible: a fixed number of examples per operation, derandomized generation, one
worker. ``CARECENTER_FUZZ_EXAMPLES`` raises the number for a longer local run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.commands.demo import fill
from engine.bpmn import DEPLOYABLE_SUFFIXES, SourceFile
from engine.config import PROJECT_ROOT, Settings
from engine.core import CareEngine
from engine.runtime import StartRequest
from tests.conftest import source
from tests.live_server import live_server

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CONFIG = Path(__file__).parent / "schemathesis.toml"
EXAMPLES = int(os.environ.get("CARECENTER_FUZZ_EXAMPLES", "25"))
STATEFUL_SCENARIOS_PER_EXAMPLE = 8
STATEFUL_ONLY = 1  # token revocation: see tests/schemathesis.toml
STAFF_USER = "ana"  # a demo user: staff in team support


@pytest.fixture
def seeded(database_url):
    """A care center in use, served on 127.0.0.1: every process deployed, the demo's users, customers and
    instances (tasks, timers, jobs, customer stages), two failed instances with incidents, chats waiting;
    one admin and one staff token."""
    settings = Settings.from_env(
        database_url=database_url,
        processes_dir=PROJECT_ROOT / "processes",
        public_rate_limit_per_minute=1_000_000,  # the fuzzer asks the public status endpoint thousands of times
    )
    care = CareEngine(settings)
    processes = sorted(p for p in settings.processes_dir.iterdir() if p.name.endswith(DEPLOYABLE_SUFFIXES))
    care.repository.deploy([SourceFile(p.name, p.read_bytes()) for p in processes], "fuzz", "fuzz")
    care.repository.deploy([source("script_failure.bpmn")], "fuzz incidents", "fuzz")
    fill(care)
    for _ in range(2):
        care.runtime.start(StartRequest("script_failure", {"divisor": 0}), "fuzz")
    for name in ("Nina Neu", "Otto Ohm", "Paula Pol"):  # chats waiting for the staff user's team
        chat = care.chats.start(topic="support", name=name, email="chat@example.org", language="en").chat
        care.chats.post(chat["id"], "customer", f"Hello, this is {name}.")
    _, admin = care.tokens.create("fuzz-admin")
    _, staff = care.tokens.create("fuzz-staff", username=STAFF_USER)
    with live_server(care) as base:
        yield base, {"admin": admin, "staff": staff}
    care.close()


def fuzz(base: str, token: str, workdir: Path, phases: str, examples: int) -> dict:
    """One schemathesis run of ``phases`` against ``base`` with ``token``; its JSON report (the output on failure)."""
    workdir.mkdir(parents=True)
    report = workdir / "report.json"
    command = [
        SCHEMATHESIS,
        "--config-file",
        CONFIG,
        "run",
        f"{base}/api/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--phases",
        phases,
        "--max-examples",
        str(examples),
        "--generation-deterministic",
        "--workers",
        "1",
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        report,
    ]
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    assert report.exists(), output
    result = json.loads(report.read_text())
    generated, seconds = result["test_cases"]["generated"], result["running_time"]
    print(f"{workdir.parent.name} {phases}: {generated} requests in {seconds:.0f} s")
    assert result["exit_code"] == 0 and not result["failures"] and not result["errors"], output
    return result


@pytest.mark.timeout(1200)  # schemathesis in a subprocess, bounded at 900 s itself
def test_the_api_holds_to_its_document_under_fuzzing(seeded, tmp_path):
    base, tokens = seeded
    # Staff first: the admin run may change or disable the staff user (PATCH /api/users/{user_id}).
    for role in ("staff", "admin"):
        single = fuzz(base, tokens[role], tmp_path / role / "single", "examples,coverage,fuzzing", EXAMPLES)
        operations = single["operations"]
        assert operations["tested"] == operations["total"] - STATEFUL_ONLY, operations
        assert single["phases"]["coverage"]["status"] == single["phases"]["fuzzing"]["status"] == "success"
        assert single["test_cases"]["generated"] >= EXAMPLES * operations["total"]
        # Chains of calls are cheap and reach what single calls rarely do: many more scenarios than examples.
        scenarios = STATEFUL_SCENARIOS_PER_EXAMPLE * EXAMPLES
        chains = fuzz(base, tokens[role], tmp_path / role / "stateful", "stateful", scenarios)
        assert chains["phases"]["stateful"]["status"] == "success"
        assert chains["test_cases"]["generated"] > EXAMPLES
