"""Hearing new mail in the IMAP mailbox at once, with IDLE (RFC 2177), where the server offers it.

The worker reads the mailbox every ``CARECENTER_IMAP_POLL_SECONDS`` (:mod:`engine.mail_imap`);
that round stays the store of record. This watcher only shortens the wait: it keeps one
connection in IDLE on the folder and, when the server announces a new message (``EXISTS``),
calls ``on_new_mail`` (the worker runs its read round at once). A server without IDLE, or a
connection that keeps failing, leaves the worker polling as before; nothing depends on the
watcher for correctness, so it never fetches or stores anything itself.

IDLE is ended and restarted at least every :data:`RENEW_SECONDS` (servers may drop an IDLE
connection after 30 minutes) and checked every :data:`CHECK_SECONDS` for the stop signal.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable

from imapclient import IMAPClient

from engine.mail_imap import TIMEOUT_SECONDS, ImapMailbox

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0
RENEW_SECONDS = 25 * 60
FIRST_BACKOFF_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 300.0


class ImapWatcher:
    """One thread holding an IDLE connection on the mailbox's folder until :meth:`stop`."""

    def __init__(self, mailbox: ImapMailbox, on_new_mail: Callable[[], None]) -> None:
        self.mailbox = mailbox
        self.on_new_mail = on_new_mail
        self.idling = threading.Event()  # set while a connection is in IDLE (for tests and status)
        self.unsupported = threading.Event()  # set when the server has no IDLE: the worker just polls
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ImapWatcher:
        self._thread = threading.Thread(target=self._run, name="carecenter-imap-idle", daemon=True)
        self._thread.start()
        return self

    def stop(self, wait_seconds: float = CHECK_SECONDS + 1) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(wait_seconds)

    def _run(self) -> None:
        backoff = FIRST_BACKOFF_SECONDS
        while not self._stop.is_set():
            try:
                if not self._watch():
                    return  # no IDLE on this server
                backoff = FIRST_BACKOFF_SECONDS
            except Exception as error:  # the server went away: try again later, polling covers the gap
                self.idling.clear()
                log.warning("IMAP IDLE connection lost (%s); trying again in %.0f s", error, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _connect(self) -> IMAPClient:
        box = self.mailbox
        context = ssl.create_default_context() if box.tls else None
        client = IMAPClient(box.host, port=box.port, ssl=box.tls, ssl_context=context, timeout=TIMEOUT_SECONDS)
        client.login(box.user, box.password)
        return client

    def _watch(self) -> bool:
        """Idle on the folder until stopped; False if the server cannot IDLE."""
        client = self._connect()
        try:
            if not client.has_capability("IDLE"):
                log.info("the IMAP server does not offer IDLE; reading the mailbox by polling only")
                self.unsupported.set()
                return False
            selected = client.select_folder(self.mailbox.folder, readonly=True)
            if selected.get(b"EXISTS", 0):  # mail waits already (arrived while no connection was idling)
                self.on_new_mail()
            while not self._stop.is_set():
                if self._idle_once(client):
                    self.on_new_mail()
            return True
        finally:
            self.idling.clear()
            try:
                client.logout()
            except Exception:
                log.debug("IMAP logout after IDLE failed", exc_info=True)

    def _idle_once(self, client: IMAPClient) -> bool:
        """One IDLE period (until news, the renewal time or the stop signal); True if a message arrived."""
        client.idle()
        self.idling.set()
        started, news = time.monotonic(), False
        try:
            while not news and not self._stop.is_set() and time.monotonic() - started < RENEW_SECONDS:
                news = any(_announces_mail(response) for response in client.idle_check(timeout=CHECK_SECONDS))
        finally:
            self.idling.clear()
            client.idle_done()
        return news


def _announces_mail(response: tuple) -> bool:
    """``(n, b"EXISTS")`` or ``(n, b"RECENT")`` from the server: something arrived in the folder."""
    return len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT")
