"""Settings read once from ``CARECENTER_*`` environment variables, with defaults that work for ``make run``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    return os.environ.get(f"CARECENTER_{name}", default)


@dataclass(frozen=True)
class Settings:
    """Everything configurable about one carecenter process."""

    database_url: str = field(
        default_factory=lambda: _env("DATABASE_URL", f"sqlite:///{PROJECT_ROOT}/var/carecenter.db")
    )
    processes_dir: Path = field(default_factory=lambda: Path(_env("PROCESSES_DIR", str(PROJECT_ROOT / "processes"))))
    forms_dir: Path = field(default_factory=lambda: Path(_env("FORMS_DIR", str(PROJECT_ROOT / "forms"))))
    secret_key: str = field(default_factory=lambda: _env("SECRET_KEY", ""))
    bootstrap_token: str = field(default_factory=lambda: _env("BOOTSTRAP_TOKEN", ""))
    max_upload_bytes: int = field(default_factory=lambda: int(_env("MAX_UPLOAD_BYTES", str(5 * 1024 * 1024))))
    worker_interval_seconds: float = field(default_factory=lambda: float(_env("WORKER_INTERVAL", "1.0")))
    # Customer mail: without a host, notifications stay in the outbox (status "held") instead of being sent.
    smtp_host: str = field(default_factory=lambda: _env("SMTP_HOST", ""))
    smtp_port: int = field(default_factory=lambda: int(_env("SMTP_PORT", "25")))
    mail_from: str = field(default_factory=lambda: _env("MAIL_FROM", "care@carecenter.invalid"))

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Read the environment now, letting explicit keyword arguments win."""
        settings = cls()
        return cls(**{**settings.__dict__, **overrides}) if overrides else settings
