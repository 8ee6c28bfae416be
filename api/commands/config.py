"""``carecenter config``: every setting this process would run with, where it came from, secrets masked.

The settings are environment variables (:mod:`engine.config`, the worker's timer, job and webhook
settings, the phone region, the pages' call streams, the chat); an operator who wonders what a process runs
with asks this command in the same environment (``systemd-run --property=EnvironmentFile=...
carecenter config``) rather than reading code. The output is an environment file: the values set
in the environment first, then the defaults. Secrets (the secret key, the bootstrap token) show as
``********`` and passwords in URLs as ``***``; nothing else is hidden. ``docs/operations.md`` says
what each one means (``tests/test_operations_config.py`` checks that every setting the code reads
is printed here and documented there).
"""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import click
from sqlalchemy.engine import make_url

from engine import phone_numbers
from engine.chat_config import ChatConfig
from engine.config import VARIABLES, Settings
from engine.jobs import JobConfig
from engine.timers import TimerConfig
from engine.webhooks import WebhookConfig

PREFIX = "CARECENTER_"
MASK = "********"
SECRETS = frozenset({"SECRET_KEY", "BOOTSTRAP_TOKEN"})
# The worker's and the chat's settings whose variables live in their own modules (timers, jobs, webhooks, chat).
TIMER_VARIABLES = {
    "TIMER_LEASE_SECONDS": "lease_seconds",
    "TIMER_BATCH_SIZE": "batch_size",
    "TIMER_CYCLE_CATCH_UP": "cycle_catch_up",
    "TIMER_THREADS": "threads",
}
JOB_VARIABLES = {"JOB_LEASE_SECONDS": "lease_seconds", "JOB_BATCH_SIZE": "batch_size"}
WEBHOOK_VARIABLES = {
    "WEBHOOKS_ALLOW_PRIVATE": "allow_private",
    "WEBHOOK_TIMEOUT_SECONDS": "timeout_seconds",
    "WEBHOOK_RETRY_SECONDS": "first_retry_seconds",
    "WEBHOOK_MAX_RETRY_SECONDS": "max_retry_seconds",
    "WEBHOOK_MAX_ATTEMPTS": "max_attempts",
    "WEBHOOK_LEASE_SECONDS": "lease_seconds",
    "WEBHOOK_BATCH": "batch_size",
    "WEBHOOK_CONCURRENCY": "concurrency",
}

CHAT_VARIABLES = {
    "CHAT_WAIT_SECONDS": "wait_seconds",
    "CHAT_IDLE_SECONDS": "idle_seconds",
    "CHAT_MAX_MESSAGE": "max_message_chars",
    "CHAT_MESSAGES_PER_MINUTE": "messages_per_minute",
    "CHAT_MAX_MESSAGES": "max_messages",
    "CHAT_STREAMS": "streams",
}


def effective() -> list[tuple[str, str]]:
    """(variable, value as shown) of every setting, in the order the docs list them; ValueError on a bad value."""
    settings = Settings.from_env()
    shown = [
        (PREFIX + VARIABLES[f.name], _shown(VARIABLES[f.name], getattr(settings, f.name))) for f in fields(settings)
    ]
    for config, variables in (
        (TimerConfig.from_env(), TIMER_VARIABLES),
        (JobConfig.from_env(), JOB_VARIABLES),
        (WebhookConfig.from_env(), WEBHOOK_VARIABLES),
        (ChatConfig.from_env(), CHAT_VARIABLES),
    ):
        shown += [(PREFIX + variable, _shown(variable, getattr(config, name))) for variable, name in variables.items()]
    from api.pages.staff.calls import MAX_STREAMS  # read when the pages are imported, as a web process does

    shown.append((phone_numbers.REGION_VARIABLE, phone_numbers.default_region()))
    shown.append((PREFIX + "CALL_STREAMS", str(MAX_STREAMS)))
    topics = ChatConfig.from_env().topics
    shown.append((PREFIX + "CHAT_TOPICS", ";".join(f"{topic.team}:{topic.label}" for topic in topics)))
    shown.append(("PROMETHEUS_MULTIPROC_DIR", os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")))
    return shown


def _shown(variable: str, value: object) -> str:
    if variable in SECRETS:
        return MASK if value else ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, tuple):
        return ",".join(str(item) for item in value)
    if isinstance(value, Path):
        return str(value)
    text = str(value)
    if variable == "DATABASE_URL":
        return make_url(text).render_as_string(hide_password=True)
    if variable.endswith("_URL"):
        return _without_password(text)
    return text


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


@click.command("config")
def config() -> None:
    """Print the effective settings (an environment file), secrets masked; exit 1 if one is invalid."""
    try:
        shown = effective()
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    set_here = [(name, value) for name, value in shown if os.environ.get(name, "").strip()]
    defaults = [(name, value) for name, value in shown if not os.environ.get(name, "").strip()]
    click.echo("# set in the environment")
    for name, value in set_here:
        click.echo(f"{name}={value}")
    click.echo("# defaults")
    for name, value in defaults:
        click.echo(f"{name}={value}")
