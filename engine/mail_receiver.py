"""The SMTP/LMTP receiver the care center's mail server delivers to (``carecenter mail receive``).

It does one thing: commit each mail's raw bytes (:meth:`engine.mail_store.MailStore.receive`) and
only then answer ``250``. When the database cannot take the mail it answers ``451`` so the sending
server keeps the mail and tries again; above ``CARECENTER_MAIL_MAX_BYTES`` it answers ``552`` (the
mail is refused, and the sender is told). Over LMTP, the answer after the data is given once per
recipient, as RFC 2033 asks; a mail is stored once however many recipients it has. The database
write runs in a thread, so a large mail being written never holds up other connections; processing
happens later, in the worker.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP

from engine.mail_store import MailStore, MailTooLarge

log = logging.getLogger(__name__)

STORED = "250 2.0.0 OK: stored"
STORED_BEFORE = "250 2.0.0 OK: stored before"
TOO_LARGE = "552 5.3.4 Message too big for this system"
CANNOT_STORE = "451 4.3.0 The mail cannot be stored right now; try again later"
MAX_RECIPIENTS = 1000
STORE_THREADS = 4


class StoringHandler:
    """aiosmtpd handler: answers after the store committed (or refused) the mail."""

    def __init__(self, store: MailStore, source: str) -> None:
        self.store = store
        self.source = source
        self._executor = ThreadPoolExecutor(max_workers=STORE_THREADS, thread_name_prefix="carecenter-mail-store")

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options: list[str]) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        raw = envelope.original_content or b""
        store = partial(
            self.store.receive,
            raw,
            source=self.source,
            envelope_from=envelope.mail_from,
            recipients=list(envelope.rcpt_tos),
        )
        try:
            stored = await asyncio.get_running_loop().run_in_executor(self._executor, store)
            status = STORED_BEFORE if stored.duplicate else STORED
        except MailTooLarge:
            status = TOO_LARGE
        except Exception:
            log.exception("an arriving mail could not be stored; the sender was told to try again")
            status = CANNOT_STORE
        if self.source == "lmtp":
            return "\r\n".join([status] * max(len(envelope.rcpt_tos), 1))
        return status

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class MailReceiver(Controller):
    """A receiver on ``host:port`` in a background thread: ``start()``, ``stop()``."""

    def __init__(self, store: MailStore, host: str, port: int, *, lmtp: bool = False) -> None:
        self.lmtp = lmtp
        self.storing = StoringHandler(store, "lmtp" if lmtp else "smtp")
        super().__init__(
            self.storing,
            hostname=host,
            port=port,
            data_size_limit=store.max_bytes,
            decode_data=False,
            enable_SMTPUTF8=True,
            ident="carecenter mail receiver",
        )

    def factory(self) -> SMTP:
        return (LMTP if self.lmtp else SMTP)(self.handler, **self.SMTP_kwargs)

    def stop(self, no_assert: bool = False) -> None:
        super().stop(no_assert=no_assert)
        self.storing.close()
