"""One HTTP POST of a webhook: to a checked address, no redirects followed, a short excerpt of the answer kept.

Plain :mod:`http.client`, which follows no redirect by itself: a 3xx is an answer like any other
(the delivery failed; CloudEvents' webhook binding says never to follow one). The connection goes
to the address :func:`engine.webhook_addresses.addresses` checked, with the URL's host name in the
``Host`` header and, for https, in the certificate check.
"""

from __future__ import annotations

import http.client
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from engine.webhook_addresses import RefusedAddress, addresses, check_url, port_of

MAX_READ = 64 * 1024  # of an answer's body; the rest is not read
MAX_EXCERPT = 500
USER_AGENT = "carecenter-webhooks/1"


@dataclass(frozen=True)
class Answer:
    """What one try came to: the HTTP status and the start of the body, or the error that prevented an answer."""

    status: int | None
    excerpt: str | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds, from a Retry-After header
    location: str | None = None  # a redirect's target (not followed)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (a number of seconds or an HTTP date), or None."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def post(url: str, body: bytes, headers: dict[str, str], timeout: float, allow_private: bool) -> Answer:
    """POST ``body`` to ``url``; never raises for what the network or the receiver does."""
    try:
        parts = check_url(url)
        port = port_of(parts)
        checked = addresses(parts.hostname, port, allow_private)
    except RefusedAddress as refused:
        return Answer(None, error=str(refused))
    kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    last_error = "no address answered"
    for address in checked:
        connection = kind(parts.hostname, port, address, timeout)
        try:
            connection.request(
                "POST",
                path,
                body=body,
                headers={"Content-Type": "application/cloudevents+json", "User-Agent": USER_AGENT, **headers},
            )
            response = connection.getresponse()
            data = response.read(MAX_READ)
            excerpt = data[: MAX_EXCERPT * 4].decode("utf-8", errors="replace")[:MAX_EXCERPT]
            return Answer(
                response.status,
                excerpt,
                retry_after=retry_after(response.getheader("Retry-After"), datetime.now(UTC)),
                location=response.getheader("Location"),
            )
        except (OSError, http.client.HTTPException) as error:
            last_error = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            if isinstance(error, TimeoutError | socket.timeout) or connection.sock is not None:
                break  # connected (or timed out): the receiver may have the event; the next try is a retry
        finally:
            connection.close()
    return Answer(None, error=last_error[:MAX_EXCERPT])
