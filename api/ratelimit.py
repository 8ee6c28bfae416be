"""A per-client-address rate limit for public endpoints (login, the customer status pages and portal).

A sliding one-minute window per address and endpoint, kept in this process's memory: enough to
stop enumeration from one address; several web processes each keep their own window.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

from flask import Flask, Response, make_response, request

from api.pages import errors as error_pages
from api.problems import problem

WINDOW_SECONDS = 60.0
DEFAULT_PER_MINUTE = 30


class SlidingWindow:
    def __init__(self, limit: int, window: float = WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: tuple[str, str], now: float) -> float | None:
        """Record a hit; None if allowed, else the seconds until the next hit is allowed."""
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return hits[0] + self.window - now
            hits.append(now)
            return None


def check(app: Flask, endpoint: str) -> Response | None:
    """None while the address may go on; else 429, a page in its audience's layout and language where a person
    reads it (the customer's tracking pages, the login), problem+json under ``/api``."""
    window: SlidingWindow = app.extensions.setdefault(
        "carecenter.ratelimit", SlidingWindow(app.config.get("PUBLIC_RATE_LIMIT_PER_MINUTE", DEFAULT_PER_MINUTE))
    )
    wait = window.hit((request.remote_addr or "unknown", endpoint), time.monotonic())
    if wait is None:
        return None
    if error_pages.wants_page():
        response = make_response(error_pages.page(429))
    else:
        response = problem(429, "/problems/rate-limited", "Too many requests", "too many requests from your address")
    response.headers["Retry-After"] = str(max(1, int(wait + 0.999)))
    return response
