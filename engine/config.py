"""Settings read once from ``CARECENTER_*`` environment variables, with defaults that work for ``make run``."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from engine.public_url import DEFAULT_PUBLIC_URL, PublicUrl

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOG_FORMATS = ("text", "json")
FALSE_WORDS = ("0", "false", "no", "off")
PASSWORD_HASHING = ("low-memory", "high-memory", "cheapest-for-tests")  # argon2's profiles, engine/identity.py


def _env(name: str, default: str) -> str:
    return os.environ.get(f"CARECENTER_{name}", default)


def _env_number(name: str, default: str, convert: Callable[[str], int | float]):
    raw = _env(name, default)
    try:
        return convert(raw)
    except ValueError:
        raise ValueError(f"CARECENTER_{name}={raw!r} is not a number") from None


def env_values(variables: dict[str, tuple[str, Callable[[str], object]]], overrides: dict) -> dict:
    """Field values read from ``CARECENTER_<VARIABLE>`` (when set), then explicit overrides that are not None.

    ``variables`` maps a field name to its variable name and a converter, e.g. ``{"lease_seconds":
    ("JOB_LEASE_SECONDS", float)}``; a value the converter refuses is a ValueError naming the variable.
    """
    values: dict = {}
    for field_name, (variable, convert) in variables.items():
        raw = os.environ.get(f"CARECENTER_{variable}", "").strip()
        if raw:
            try:
                values[field_name] = convert(raw)
            except ValueError as error:
                raise ValueError(f"CARECENTER_{variable}={raw!r} is not valid: {error}") from error
    values.update({name: value for name, value in overrides.items() if value is not None})
    return values


@dataclass(frozen=True)
class Settings:
    """Everything configurable about one carecenter process."""

    database_url: str = field(
        default_factory=lambda: _env("DATABASE_URL", f"sqlite:///{PROJECT_ROOT}/var/carecenter.db")
    )
    processes_dir: Path = field(default_factory=lambda: Path(_env("PROCESSES_DIR", str(PROJECT_ROOT / "processes"))))
    forms_dir: Path = field(default_factory=lambda: Path(_env("FORMS_DIR", str(PROJECT_ROOT / "forms"))))
    secret_key: str = field(default_factory=lambda: _env("SECRET_KEY", ""))
    # The address customers and staff reach the site at; every link in a mail is built from it, and
    # when it is set, requests naming another host are refused (see engine/public_url.py).
    public_url: str = field(default_factory=lambda: _env("PUBLIC_URL", ""))
    # Further host names the web process answers to besides the public URL's (e.g. an internal name for probes).
    allowed_hosts: tuple[str, ...] = field(
        default_factory=lambda: tuple(h.strip() for h in _env("ALLOWED_HOSTS", "").split(",") if h.strip())
    )
    # The installation's name, which scripts read with get_env() (e.g. production, staging).
    environment: str = field(default_factory=lambda: _env("ENVIRONMENT", "local"))
    # How many proxies in front of the web process set X-Forwarded-For/-Proto/-Host/-Port; 0 trusts none.
    trusted_proxies: int = field(default_factory=lambda: _env_number("TRUSTED_PROXIES", "0", int))
    # The addresses (IPs or networks) those proxies connect from: X-Forwarded-* of anyone else are dropped.
    trusted_proxy_addresses: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            a.strip() for a in _env("TRUSTED_PROXY_ADDRESSES", "127.0.0.0/8,::1").split(",") if a.strip()
        )
    )
    # A signed-in page session ends after this many hours, however active (and at once on logout).
    session_max_hours: float = field(default_factory=lambda: _env_number("SESSION_MAX_HOURS", "12", float))
    bootstrap_token: str = field(default_factory=lambda: _env("BOOTSTRAP_TOKEN", ""))
    # The pages' time zone (IANA name) for users who chose none; empty: the server's own zone.
    time_zone: str = field(default_factory=lambda: _env("TIME_ZONE", ""))
    max_upload_bytes: int = field(default_factory=lambda: _env_number("MAX_UPLOAD_BYTES", str(5 * 1024 * 1024), int))
    # Requests per minute one client address may make to each public endpoint (login, tracking lookups).
    public_rate_limit_per_minute: int = field(default_factory=lambda: _env_number("PUBLIC_RATE_LIMIT", "30", int))
    worker_interval_seconds: float = field(default_factory=lambda: _env_number("WORKER_INTERVAL", "1.0", float))
    # Customer mail: without a host, notifications stay in the outbox (status "held") instead of being sent.
    smtp_host: str = field(default_factory=lambda: _env("SMTP_HOST", ""))
    smtp_port: int = field(default_factory=lambda: _env_number("SMTP_PORT", "25", int))
    mail_from: str = field(default_factory=lambda: _env("MAIL_FROM", "care@carecenter.invalid"))
    # Inbound mail (docs/mail.md): larger mails are refused (SMTP 552) and never stored.
    mail_max_bytes: int = field(default_factory=lambda: _env_number("MAIL_MAX_BYTES", str(25 * 1024 * 1024), int))
    # At most this many automatic answers (e.g. confirmations) to one sender address per hour.
    mail_autoreply_limit: int = field(default_factory=lambda: _env_number("MAIL_AUTOREPLY_LIMIT", "5", int))
    # The authserv-id of the receiving mail server whose Authentication-Results are believed (its dmarc=fail makes
    # a known sender unverified); empty: none is believed.
    mail_trusted_authserv: str = field(default_factory=lambda: _env("MAIL_TRUSTED_AUTHSERV", ""))
    # An IMAP mailbox the worker reads into the same store (imaps://user:password@host/INBOX?processed=Processed).
    imap_url: str = field(default_factory=lambda: _env("IMAP_URL", ""))
    imap_poll_seconds: float = field(default_factory=lambda: _env_number("IMAP_POLL_SECONDS", "30", float))
    # how often the worker brings the analytics facts up to date (engine/analytics_facts.py); the pages say it.
    # 0: this worker does not count them; another worker does (advised under a heavy timer load, docs/operations.md)
    analytics_seconds: float = field(default_factory=lambda: _env_number("ANALYTICS_SECONDS", "60", float))
    # Whether the worker also keeps an IDLE connection to hear new mail at once (where the server offers IDLE).
    imap_idle: bool = field(default_factory=lambda: _env("IMAP_IDLE", "1") not in ("0", "false", "no"))
    # How long a message that matches no waiting catch yet is kept (ISO 8601 duration), unless it says.
    message_ttl: str = field(default_factory=lambda: _env("MESSAGE_TTL", "PT1H"))
    # Site-specific operations for service tasks: modules imported at start that register with @operation.
    operation_modules: tuple[str, ...] = field(
        default_factory=lambda: tuple(m.strip() for m in _env("OPERATION_MODULES", "").split(",") if m.strip())
    )
    # Log lines as text for people or as one JSON object per line for machines (``--log-format`` wins).
    log_format: str = field(default_factory=lambda: _env("LOG_FORMAT", "text").strip().lower())
    # One log line per HTTP request (method, path, status, duration, request id, user); `make run` turns it off.
    request_log: bool = field(default_factory=lambda: _env("REQUEST_LOG", "1").strip().lower() not in FALSE_WORDS)
    # A `carecenter worker` that cannot reach the database for this many seconds exits with status 1.
    worker_db_timeout_seconds: float = field(default_factory=lambda: _env_number("WORKER_DB_TIMEOUT", "60", float))
    # Data lifecycle (docs/operations.md): ended instances are purged by the worker this long (ISO 8601 duration,
    # e.g. P2Y) after they ended; empty keeps them for ever. With an archive folder, each is written there first.
    retention: str = field(default_factory=lambda: _env("RETENTION", ""))
    archive_dir: str = field(default_factory=lambda: _env("ARCHIVE_DIR", ""))
    # argon2's parameters for staff passwords (engine/identity.py): RFC 9106's low-memory
    # profile, or its high-memory one; "cheapest-for-tests" only where no real password is kept (the test suite).
    password_hashing: str = field(default_factory=lambda: _env("PASSWORD_HASHING", "low-memory").strip().lower())

    def __post_init__(self) -> None:
        if self.public_url:
            try:
                PublicUrl.parse(self.public_url)
            except ValueError as error:
                raise ValueError(f"CARECENTER_PUBLIC_URL: {error}") from None
        if self.trusted_proxies < 0:
            raise ValueError("CARECENTER_TRUSTED_PROXIES must be 0 or more")
        for address in self.trusted_proxy_addresses:
            try:
                ipaddress.ip_network(address, strict=False)
            except ValueError:
                raise ValueError(
                    f"CARECENTER_TRUSTED_PROXY_ADDRESSES: {address!r} is no IP address or network (e.g. 10.0.0.0/8)"
                ) from None
        if self.session_max_hours <= 0:
            raise ValueError("CARECENTER_SESSION_MAX_HOURS must be more than 0")
        if self.mail_max_bytes <= 0:
            raise ValueError("CARECENTER_MAIL_MAX_BYTES must be more than 0")
        if self.mail_autoreply_limit < 0:
            raise ValueError("CARECENTER_MAIL_AUTOREPLY_LIMIT must be 0 or more")
        if self.log_format not in LOG_FORMATS:
            raise ValueError(f"CARECENTER_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
        if self.worker_db_timeout_seconds <= 0:
            raise ValueError("CARECENTER_WORKER_DB_TIMEOUT must be more than 0")
        if self.analytics_seconds < 0:
            raise ValueError("CARECENTER_ANALYTICS_SECONDS must be 0 (this worker does not count) or more")
        if self.retention:
            from engine.lifecycle import parse_period

            try:
                parse_period(self.retention)
            except ValueError as error:
                raise ValueError(f"CARECENTER_RETENTION: {error}") from None
        if self.password_hashing not in PASSWORD_HASHING:
            raise ValueError(f"CARECENTER_PASSWORD_HASHING must be one of {', '.join(PASSWORD_HASHING)}")
        if self.imap_url and urlsplit(self.imap_url).scheme not in ("imap", "imaps"):
            raise ValueError("CARECENTER_IMAP_URL must look like imaps://user:password@host/INBOX")

    @property
    def public(self) -> PublicUrl:
        """The parsed public URL; the local default of ``carecenter serve`` while none is configured."""
        return PublicUrl.parse(self.public_url or DEFAULT_PUBLIC_URL)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Read the environment now, letting explicit keyword arguments win."""
        settings = cls()
        return cls(**{**settings.__dict__, **overrides}) if overrides else settings


# Settings field -> its environment variable (without the CARECENTER_ prefix), for `carecenter config`.
VARIABLES = {
    "database_url": "DATABASE_URL",
    "processes_dir": "PROCESSES_DIR",
    "forms_dir": "FORMS_DIR",
    "secret_key": "SECRET_KEY",
    "public_url": "PUBLIC_URL",
    "allowed_hosts": "ALLOWED_HOSTS",
    "environment": "ENVIRONMENT",
    "trusted_proxies": "TRUSTED_PROXIES",
    "trusted_proxy_addresses": "TRUSTED_PROXY_ADDRESSES",
    "session_max_hours": "SESSION_MAX_HOURS",
    "bootstrap_token": "BOOTSTRAP_TOKEN",
    "time_zone": "TIME_ZONE",
    "max_upload_bytes": "MAX_UPLOAD_BYTES",
    "public_rate_limit_per_minute": "PUBLIC_RATE_LIMIT",
    "worker_interval_seconds": "WORKER_INTERVAL",
    "smtp_host": "SMTP_HOST",
    "smtp_port": "SMTP_PORT",
    "mail_from": "MAIL_FROM",
    "mail_max_bytes": "MAIL_MAX_BYTES",
    "mail_autoreply_limit": "MAIL_AUTOREPLY_LIMIT",
    "mail_trusted_authserv": "MAIL_TRUSTED_AUTHSERV",
    "imap_url": "IMAP_URL",
    "imap_poll_seconds": "IMAP_POLL_SECONDS",
    "imap_idle": "IMAP_IDLE",
    "message_ttl": "MESSAGE_TTL",
    "operation_modules": "OPERATION_MODULES",
    "log_format": "LOG_FORMAT",
    "request_log": "REQUEST_LOG",
    "worker_db_timeout_seconds": "WORKER_DB_TIMEOUT",
    "retention": "RETENTION",
    "archive_dir": "ARCHIVE_DIR",
    "password_hashing": "PASSWORD_HASHING",
    "analytics_seconds": "ANALYTICS_SECONDS",
}
