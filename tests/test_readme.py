"""The README walk-through works exactly as written, against `carecenter serve` on 127.0.0.1."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from engine.runtime import InstanceFilter
from tests.conftest import make_engine

ROOT = Path(__file__).resolve().parent.parent
CARECENTER = Path(sys.executable).parent / "carecenter"


def walkthrough_commands() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- walkthrough.*?-->\n```sh\n(.*?)```", readme, re.S)
    assert match, "the README lost its walk-through block"
    return match.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(database_url, tmp_path):
    token = "cc_readme_walkthrough_token_0123456789abcdef"
    port = free_port()
    env = {**os.environ, "CARECENTER_DATABASE_URL": database_url, "CARECENTER_BOOTSTRAP_TOKEN": token}
    subprocess.run([CARECENTER, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([CARECENTER, "deploy", "processes"], env=env, check=True, capture_output=True, cwd=ROOT)
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [CARECENTER, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    else:
        server.kill()
        pytest.fail("carecenter serve did not come up: " + (tmp_path / "serve.log").read_text())
    yield base, token, env
    server.terminate()
    server.wait(timeout=10)


def test_walkthrough_runs_as_written(served, database_url):
    base, token, env = served
    script = walkthrough_commands()
    assert "CC=http://127.0.0.1:8000" in script and "TOKEN=$(cat var/admin-token)" in script
    script = script.replace("CC=http://127.0.0.1:8000", f"CC={base}")
    script = script.replace("TOKEN=$(cat var/admin-token)", f"TOKEN={token}")
    script = script.replace("curl -s ", "curl -sS --fail-with-body ")  # any HTTP error fails the run
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"status":"unchanged"' in result.stdout.replace(" ", "")
    care = make_engine(database_url)
    [instance] = care.runtime.list(InstanceFilter(), 10, None).items
    assert (instance["business_key"], instance["status"]) == ("case-1", "completed")
    assert care.runtime.get(instance["id"])["data"]["answer"] == "Restarted the print server"
    care.close()
