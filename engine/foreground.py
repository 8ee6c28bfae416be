"""The work somebody waits for in this process (web requests, timer rounds), so that background counting gives way.

The analytics run (:mod:`engine.analytics_facts`) is Python work: it shares the interpreter lock
with the requests of ``carecenter serve``'s embedded worker and with the timers the worker fires,
and while it counted a backlog (after an import, or a worker's first run) staff and customers
waited on every page and due timers fired late. Between its batches it now waits here for a quiet
moment: nothing in flight and nothing ended for ``quiet_seconds``. It never waits longer than
``longest_wait_seconds`` per batch, so it keeps counting under a constant load. A streamed
response (a live event stream) stops counting as in flight once its headers are out: it holds its
thread for hours, waiting, not working.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

QUIET_SECONDS = 0.05
LONGEST_WAIT_SECONDS = 2.0
SHORTEST_LOOK_SECONDS = 0.005  # between two looks at the requests while waiting


class Foreground:
    """Counts work in flight (:meth:`begin` and :meth:`end`, or :meth:`working`); :meth:`give_way` waits for quiet."""

    def __init__(self, quiet_seconds: float = QUIET_SECONDS, longest_wait_seconds: float = LONGEST_WAIT_SECONDS):
        self.quiet_seconds = quiet_seconds
        self.longest_wait_seconds = longest_wait_seconds
        self._lock = threading.Lock()
        self._in_flight = 0
        self._last_end = float("-inf")

    def begin(self) -> None:
        with self._lock:
            self._in_flight += 1

    def end(self) -> None:
        with self._lock:
            self._in_flight = max(self._in_flight - 1, 0)
            self._last_end = time.monotonic()

    @contextmanager
    def working(self) -> Iterator[None]:
        """In flight while the block runs."""
        self.begin()
        try:
            yield
        finally:
            self.end()

    def quiet(self) -> bool:
        """Nothing in flight, and nothing ended within the last ``quiet_seconds``."""
        with self._lock:
            return self._in_flight == 0 and time.monotonic() - self._last_end >= self.quiet_seconds

    def give_way(self, stop: threading.Event) -> bool:
        """Wait until :meth:`quiet` or ``longest_wait_seconds`` have passed; False when ``stop`` was set meanwhile."""
        deadline = time.monotonic() + self.longest_wait_seconds
        while not self.quiet() and (left := deadline - time.monotonic()) > 0:
            if stop.wait(min(max(self.quiet_seconds / 5, SHORTEST_LOOK_SECONDS), left)):
                return False
        return not stop.is_set()
