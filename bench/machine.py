"""The machine and versions a run was measured on, so every figure in BENCHMARKS.md says where it came from."""

from __future__ import annotations

import os
import platform
import sqlite3
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.common import PG_BASE_URL


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _ram_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def _postgres_version() -> str:
    engine = create_engine(PG_BASE_URL)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SHOW server_version")).scalar_one()
    finally:
        engine.dispose()


def _autogroup() -> str:
    path = Path("/proc/sys/kernel/sched_autogroup_enabled")
    return path.read_text().strip() if path.exists() else "n/a"


def describe() -> dict:
    """Machine, versions, load and date of this run."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "load_average_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "spiffworkflow": version("SpiffWorkflow"),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": _postgres_version(),
        "sqlalchemy": version("SQLAlchemy"),
        "waitress": version("waitress"),
        "gunicorn": version("gunicorn"),
        "platform": platform.platform(),
        # 1: the scheduler shares the cores between sessions first, then between the processes of one
        "sched_autogroup": _autogroup(),
    }
