"""Reading an IMAP mailbox into the inbound-mail store (``CARECENTER_IMAP_URL``), as the worker's ``imap`` job.

Every message in the folder is fetched by UID without touching its flags (``BODY.PEEK[]``),
committed to the store, and only then moved to the processed folder (``MOVE``, or copy, delete and
expunge on servers without it). The unread flag decides nothing: a worker that dies between the
fetch and the store leaves the message where it was, and the next round fetches it again; one that
dies between the store and the move fetches it again too, and the store recognises it
(``stored before``) before it is moved. A message over ``CARECENTER_MAIL_MAX_BYTES`` is flagged
``CarecenterRefused`` and left in the folder for a person to deal with. The worker runs a round
every poll interval, and at once when the IDLE watcher (:mod:`engine.mail_imap_idle`) hears news.

The URL: ``imaps://user:password@host[:port]/INBOX?processed=Processed`` (``imap://`` without TLS,
only for a server on the same machine); user and password are percent-encoded.
"""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from engine.mail_store import MailStore, MailTooLarge

log = logging.getLogger(__name__)

REFUSED_FLAG = "CarecenterRefused"
DEFAULT_PROCESSED = "Processed"
BATCH = 50
TIMEOUT_SECONDS = 60.0
_UID = re.compile(rb"UID (\d+)")


@dataclass(frozen=True)
class ImapMailbox:
    host: str
    port: int
    user: str
    password: str
    folder: str
    processed_folder: str
    tls: bool

    @classmethod
    def parse(cls, url: str) -> ImapMailbox:
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
            raise ValueError("CARECENTER_IMAP_URL must look like imaps://user:password@host/INBOX")
        options = parse_qs(parts.query)
        return cls(
            host=parts.hostname,
            port=parts.port or (993 if parts.scheme == "imaps" else 143),
            user=unquote(parts.username),
            password=unquote(parts.password or ""),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
            processed_folder=options.get("processed", [DEFAULT_PROCESSED])[0],
            tls=parts.scheme == "imaps",
        )


class ImapReader:
    def __init__(self, mailbox: ImapMailbox, store: MailStore) -> None:
        self.mailbox = mailbox
        self.store = store

    def _connect(self) -> imaplib.IMAP4:
        box = self.mailbox
        if box.tls:
            return imaplib.IMAP4_SSL(
                box.host, box.port, ssl_context=ssl.create_default_context(), timeout=TIMEOUT_SECONDS
            )
        return imaplib.IMAP4(box.host, box.port, timeout=TIMEOUT_SECONDS)

    def fetch_once(self) -> int:
        """Store (then move) what the folder holds, up to one batch; returns how many messages were moved."""
        connection = self._connect()
        moved = 0
        try:
            _ok(connection.login(self.mailbox.user, self.mailbox.password))
            connection.create(_quoted(self.mailbox.processed_folder))  # "already exists" is fine
            _ok(connection.select(_quoted(self.mailbox.folder)))
            found = _ok(connection.uid("SEARCH", None, "NOT", "KEYWORD", REFUSED_FLAG))
            uids = [uid.decode() for uid in (found[0] or b"").split()][:BATCH]
            can_move = "MOVE" in connection.capabilities
            for uid in uids:
                raw = _message(_ok(connection.uid("FETCH", uid, "(BODY.PEEK[])")))
                if raw is None:
                    continue  # expunged by someone else meanwhile
                try:
                    self.store.receive(raw, source="imap", envelope_from=None, recipients=[])
                except MailTooLarge:
                    log.warning("IMAP message %s is over the size limit; flagged %s", uid, REFUSED_FLAG)
                    _ok(connection.uid("STORE", uid, "+FLAGS", f"({REFUSED_FLAG})"))
                    continue
                self._move(connection, uid, can_move)
                moved += 1
            if moved and not can_move:
                connection.expunge()
        finally:
            try:
                connection.logout()
            except Exception:
                log.debug("IMAP logout failed", exc_info=True)
        return moved

    def _move(self, connection: imaplib.IMAP4, uid: str, can_move: bool) -> None:
        target = _quoted(self.mailbox.processed_folder)
        if can_move:
            _ok(connection.uid("MOVE", uid, target))
        else:
            _ok(connection.uid("COPY", uid, target))
            _ok(connection.uid("STORE", uid, "+FLAGS", "(\\Deleted)"))


def _ok(answer: tuple) -> list:
    status, data = answer
    if status != "OK":
        raise imaplib.IMAP4.error(f"IMAP server answered {status}: {data!r}")
    return data


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _message(data: list) -> bytes | None:
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None
