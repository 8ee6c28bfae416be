"""How long a worker has been cut off from its database, and when it should give up.

A worker without its database does nothing useful: its rounds fail, its leases run out and other
workers take its claims over. A short blink (a failover, a restarted proxy) should pass unnoticed,
so the worker keeps going and takes up its rounds when the database is back; a long outage should
end the process with a non-zero status, so the service manager sees it and restarts it (or an
operator is paged) instead of a worker that looks alive and works on nothing.

:class:`DatabaseWatch` is asked periodically (the worker's ``database`` job): it pings, remembers
since when the pings fail, and calls ``give_up`` once they have failed for ``timeout_seconds``.
Time is measured on the monotonic clock, not the engine's (which tests move at will).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class DatabaseWatch:
    def __init__(
        self,
        ping: Callable[[], bool],
        timeout_seconds: float,
        give_up: Callable[[], None],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ping = ping
        self.timeout_seconds = timeout_seconds
        self.give_up = give_up
        self.monotonic = monotonic
        self.lost_since: float | None = None
        self.gave_up = False
        self._lock = threading.Lock()

    @property
    def healthy(self) -> bool:
        """False from the first failed ping until one succeeds again."""
        return self.lost_since is None

    def check(self) -> bool:
        """Ping once; True when the database answered. Calls ``give_up`` once the outage has lasted too long."""
        reachable = self.ping()
        with self._lock:
            now = self.monotonic()
            if reachable:
                if self.lost_since is not None:
                    log.warning("the database is reachable again after %.1f s", now - self.lost_since)
                self.lost_since = None
                self.gave_up = False
                return True
            if self.lost_since is None:
                self.lost_since = now
                log.warning(
                    "the database is unreachable (rounds fail quietly; %s s without it end the worker)",
                    self.timeout_seconds,
                )
                return False
            if self.gave_up or now - self.lost_since < self.timeout_seconds:
                return False
            self.gave_up = True
        log.error("the database has been unreachable for %.1f s: the worker gives up", now - self.lost_since)
        self.give_up()
        return False
