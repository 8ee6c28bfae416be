"""A real SMTP server on 127.0.0.1 for tests that send mail (aiosmtpd in a background thread).

Tests use the ``smtp_server`` fixture (import it into the test module) and point the settings at
it: ``dataclasses.replace(care.settings, smtp_host="127.0.0.1", smtp_port=smtp_server.port)``.
The server records every accepted message; :meth:`SmtpServer.fail_next` makes the next
deliveries fail with a reply of the test's choice (451 by default, as a busy server does).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpServer:
    """Accepts mail on ``port``; ``messages`` holds what it accepted, ``envelopes`` the (from, to) of each."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refused = 0
        self._failures: list[str] = []
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def fail_next(self, count: int = 1, reply: str = "451 4.3.0 Try again later") -> None:
        """Answer the next ``count`` messages with ``reply`` instead of accepting them."""
        with self._lock:
            self._failures.extend([reply] * count)

    async def handle_DATA(self, server, session, envelope) -> str:
        with self._lock:
            if self._failures:
                self.refused += 1
                return self._failures.pop(0)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 2.0.0 OK"

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()
