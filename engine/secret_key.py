"""A secret key that outlives the process when none is configured: ``var/secret-key``, made once.

The secret key signs the pages' session cookies (staff and portal customers), the portal's mailed
links and the care center's Message-IDs. ``CARECENTER_SECRET_KEY`` sets it; without it,
``carecenter serve`` and ``carecenter worker`` read the key from ``var/secret-key`` beside the
default database (the file ``make run`` writes), making it with owner-only permissions on first
start, so a restart signs nobody out and breaks no mailed link. Never a secret in the repository
(``var/`` is ignored) or in a log.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import time
from pathlib import Path

from engine.config import PROJECT_ROOT, Settings

KEY_FILE = PROJECT_ROOT / "var" / "secret-key"


def read_or_create(path: Path = KEY_FILE) -> str:
    """The key in ``path``; a new random one written there (mode 600) if there is no file yet.

    Two processes starting at once agree: only one creates the file (``O_EXCL``), the other reads it.
    """
    for _ in range(50):
        if path.exists():
            key = path.read_text().strip()
            if key:
                return key
            time.sleep(0.05)  # the other process is writing it
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(descriptor, "w") as file:
            file.write(key + "\n")
        return key
    raise RuntimeError(f"{path} stays empty: remove it, or set CARECENTER_SECRET_KEY")


def with_lasting_key(settings: Settings, path: Path = KEY_FILE) -> Settings:
    """``settings`` as they are when a key is configured, else with the key of ``path``."""
    if settings.secret_key:
        return settings
    return dataclasses.replace(settings, secret_key=read_or_create(path))
