"""One place for settings (#22 items 4, 8): `carecenter config`, every setting documented, trusted proxies."""

from __future__ import annotations

import re

from click.testing import CliRunner

from api.app import create_app
from api.commands import main
from engine.config import PROJECT_ROOT, Settings
from engine.core import CareEngine

OPERATIONS_DOC = PROJECT_ROOT / "docs" / "operations.md"
# How the code reads a setting: _env("NAME", ...) and _env_number("NAME", ...) in engine/config.py, ("NAME", int)
# in the maps handed to env_values (engine/timers.py, jobs.py, webhooks.py), "CARECENTER_NAME" from os.environ.
READS = (
    re.compile(r'_env(?:_number)?\("([A-Z0-9_]+)"'),
    re.compile(r'\("([A-Z0-9_]+)",\s*(?:int|float|str|bool)\)'),
    re.compile(r'"CARECENTER_([A-Z0-9_]+)"'),
)


def settings_the_code_reads() -> set[str]:
    names = set()
    for folder in ("engine", "api", "process_library"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            text = path.read_text()
            for pattern in READS:
                names.update(f"CARECENTER_{name}" for name in pattern.findall(text))
    return names


def test_every_setting_the_code_reads_is_documented_and_printed(monkeypatch, tmp_path):
    monkeypatch.setenv("CARECENTER_DATABASE_URL", f"sqlite:///{tmp_path}/c.db")
    names = settings_the_code_reads()
    assert {"CARECENTER_DATABASE_URL", "CARECENTER_JOB_LEASE_SECONDS", "CARECENTER_PHONE_REGION"} <= names
    documented = set(re.findall(r"`(CARECENTER_[A-Z0-9_]+)`", OPERATIONS_DOC.read_text()))
    assert not names - documented, f"settings missing from docs/operations.md: {sorted(names - documented)}"
    printed = CliRunner().invoke(main, ["config"])
    assert printed.exit_code == 0, printed.output
    shown = {line.split("=", 1)[0] for line in printed.output.splitlines() if "=" in line}
    assert not names - shown, f"settings `carecenter config` does not print: {sorted(names - shown)}"
    assert not {n for n in shown if n.startswith("CARECENTER_")} - documented


def test_config_masks_secrets_and_says_where_values_come_from(monkeypatch, tmp_path):
    secrets = {
        "CARECENTER_SECRET_KEY": "k3y-that-signs-sessions",
        "CARECENTER_BOOTSTRAP_TOKEN": "cc_bootstrap-value",
        "CARECENTER_DATABASE_URL": "postgresql+psycopg://care:db-pass-word@db.internal:5432/care",
        "CARECENTER_IMAP_URL": "imaps://inbox:imap-pass-word@mail.internal/INBOX",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CARECENTER_JOB_LEASE_SECONDS", "300")
    printed = CliRunner().invoke(main, ["config"])
    assert printed.exit_code == 0, printed.output
    for hidden in ("k3y-that-signs-sessions", "cc_bootstrap-value", "db-pass-word", "imap-pass-word"):
        assert hidden not in printed.output
    set_here, defaults = printed.output.split("# defaults\n")
    assert "CARECENTER_SECRET_KEY=********" in set_here and "CARECENTER_BOOTSTRAP_TOKEN=********" in set_here
    assert "CARECENTER_DATABASE_URL=postgresql+psycopg://care:***@db.internal:5432/care" in set_here
    assert "CARECENTER_IMAP_URL=imaps://inbox:***@mail.internal/INBOX" in set_here
    assert "CARECENTER_JOB_LEASE_SECONDS=300.0" in set_here
    assert "CARECENTER_TIMER_LEASE_SECONDS=30.0" in defaults and "CARECENTER_REQUEST_LOG=1" in defaults

    monkeypatch.setenv("CARECENTER_WORKER_DB_TIMEOUT", "soon")
    refused = CliRunner().invoke(main, ["config"])
    assert refused.exit_code == 1 and "CARECENTER_WORKER_DB_TIMEOUT" in refused.output


def test_forwarded_headers_count_only_from_the_configured_proxy_addresses(tmp_path):
    def answer(addresses: tuple[str, ...] | None, peer: str):
        extra = {"trusted_proxy_addresses": addresses} if addresses is not None else {}
        settings = Settings.from_env(database_url=f"sqlite:///{tmp_path}/p.db", trusted_proxies=1, **extra)
        care = CareEngine(settings)
        client = create_app(care).test_client()
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
        response = client.get("/healthz", headers=headers, environ_base={"REMOTE_ADDR": peer})
        care.close()
        return response.headers.get("Strict-Transport-Security") is not None  # HSTS: the request counted as TLS

    assert answer(None, "127.0.0.1")  # a proxy on the same machine, by default
    assert not answer(None, "203.0.113.9")  # a client that reached the web process past the proxy
    assert answer(("10.0.0.0/8",), "10.1.2.3")
    assert not answer(("10.0.0.0/8",), "127.0.0.1")
