"""Lookups by tracking code take the same time whether the code exists or not.

A tracking code is a credential: if unknown codes answered faster than known ones, timing would
tell an attacker which guesses hit. Every public lookup is padded to a floor well above what
either path takes (the read model is one indexed row), so hits and misses look alike.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

LOOKUP_FLOOR_SECONDS = 0.05


@contextmanager
def uniform_duration(seconds: float = LOOKUP_FLOOR_SECONDS) -> Iterator[None]:
    """Let the enclosed block take at least ``seconds``, however it ends."""
    started = time.monotonic()
    try:
        yield
    finally:
        remaining = seconds - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)
