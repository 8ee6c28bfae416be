"""The files customers attach to their mail, listed per case and handed to staff as downloads.

The attachments stay inside the raw mail (``inbound_mails.raw``); nothing is unpacked to disk.
A case's attachments are the attachment parts of the mails that started or continued it, each
named by the mail and its position, with the file name the sender gave (for the download only),
its size and the type its *content* shows (:func:`sniff`) — the declared Content-Type is the
sender's claim and is not trusted. A file is never offered as something a browser would render
or run: active types (HTML, SVG, XML, scripts) are handed out as ``application/octet-stream``
with ``Content-Disposition: attachment`` by the page, and files above
:data:`MAX_DOWNLOAD_BYTES` are not handed out at all. A nested archive is one file like any
other: it is never opened here.

Who may see the files is who may see the case (``scope``, :mod:`engine.visibility`).
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message

from sqlalchemy import select

from engine.db import Database
from engine.errors import NotFound
from engine.models import InboundMail
from engine.visibility import TaskScope, visible_instance

MAX_DOWNLOAD_BYTES = 25 * 1024 * 1024
MAX_LISTED = 200  # attachments listed per case at most
CASE_KINDS = ("inquiry", "reply")
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|]+')

# Magic numbers: the first bytes of a file tell its type (longest signatures first where they overlap).
SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"%PDF-", 0, "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"BM", 0, "image/bmp"),
    (b"PK\x03\x04", 0, "application/zip"),
    (b"PK\x05\x06", 0, "application/zip"),
    (b"\x1f\x8b", 0, "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", 0, "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", 0, "application/vnd.rar"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 0, "application/x-ole-storage"),  # .doc, .xls, .msg
    (b"{\\rtf", 0, "application/rtf"),
    (b"ID3", 0, "audio/mpeg"),
    (b"OggS", 0, "audio/ogg"),
    (b"ftyp", 4, "video/mp4"),
    (b"MZ", 0, "application/x-msdownload"),
    (b"\x7fELF", 0, "application/x-executable"),
)
# What may be handed out under its own type; everything else is a download of application/octet-stream.
PASSIVE_TYPES = frozenset(
    {
        "application/pdf",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/tiff",
        "image/bmp",
        "image/webp",
        "application/zip",
        "application/gzip",
        "application/x-7z-compressed",
        "application/vnd.rar",
        "application/x-ole-storage",
        "application/rtf",
        "audio/mpeg",
        "audio/ogg",
        "video/mp4",
        "text/plain",
        "message/rfc822",
    }
)
_MARKUP = re.compile(rb"^\s*<(?:!doctype\s+html|html|head|body|script|svg|\?xml|iframe)", re.IGNORECASE)


@dataclass(frozen=True)
class Attachment:
    mail_id: int
    index: int  # the position among the mail's attachments, from 1
    filename: str
    size: int
    content_type: str  # sniffed from the content
    received_at: str
    downloadable: bool  # False above MAX_DOWNLOAD_BYTES


@dataclass(frozen=True)
class Download:
    filename: str
    content: bytes
    content_type: str  # safe to send: a passive sniffed type, else application/octet-stream


def sniff(content: bytes) -> str:
    """The type the content shows: a known signature, markup, text, or application/octet-stream."""
    head = content[:512]
    for signature, offset, kind in SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if _MARKUP.match(head.lstrip(b"\xef\xbb\xbf")):
        return "image/svg+xml" if b"<svg" in head.lower() else "text/html"
    if b"\x00" not in head:
        try:
            content[:4096].decode("utf-8")
            return "text/plain"
        except UnicodeDecodeError as error:
            if error.start >= 4090:  # cut inside a character at the end of the sample
                return "text/plain"
    return "application/octet-stream"


def safe_type(sniffed: str) -> str:
    return sniffed if sniffed in PASSIVE_TYPES else "application/octet-stream"


def safe_filename(name: str, fallback: str) -> str:
    """The sender's file name without path parts and control characters (at most 150 characters)."""
    cleaned = _UNSAFE_NAME.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")
    return cleaned[:150] or fallback


def attachment_parts(message: Message) -> list[Message]:
    """The parts of a mail that are files: attachments, named parts, non-text inline parts; an attached mail whole."""
    found: list[Message] = []

    def walk(part: Message, top: bool) -> None:
        if part.get_content_type() == "message/rfc822" and not top:
            found.append(part)  # a forwarded mail is one file; its own attachments are not opened
            return
        if part.is_multipart():
            for child in part.get_payload() or []:
                if isinstance(child, Message):
                    walk(child, False)
            return
        if top:
            return  # the mail's only part is its body
        disposition = (part.get_content_disposition() or "").lower()
        maintype = part.get_content_maintype()
        if disposition == "attachment" or part.get_filename() or maintype not in ("text", "multipart"):
            found.append(part)

    walk(message, True)
    return found


def _content(part: Message) -> bytes:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        return inner.as_bytes() if isinstance(inner, Message) else b""
    try:
        return part.get_payload(decode=True) or b""
    except Exception:  # a malformed transfer encoding: the bytes as they are
        payload = part.get_payload()
        return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""


def _kind(part: Message, content: bytes) -> str:
    """An attached mail is a mail (the structure says so, not a claim); every other part is what it shows."""
    return "message/rfc822" if part.get_content_type() == "message/rfc822" else sniff(content)


def _filename(part: Message, index: int) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:  # a header the policy cannot read
        name = ""
    fallback = f"attachment-{index}" + (".eml" if part.get_content_type() == "message/rfc822" else "")
    return safe_filename(str(name), fallback)


def _parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


class MailAttachments:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _mails(self, instance_id: int, scope: TaskScope | None, mail_id: int | None = None) -> list[InboundMail]:
        with self.db.read() as session:
            visible_instance(session, instance_id, scope)
            query = (
                select(InboundMail)
                .where(InboundMail.instance_id == instance_id, InboundMail.kind.in_(CASE_KINDS))
                .order_by(InboundMail.id)
            )
            if mail_id is not None:
                query = query.where(InboundMail.id == mail_id)
            rows = list(session.scalars(query))
            for row in rows:
                row.raw  # noqa: B018 (the deferred bytes, loaded while the session is open)
            session.expunge_all()
            return rows

    def list(self, instance_id: int, scope: TaskScope | None = None) -> list[Attachment]:
        """The files customers attached to the mails of a case, oldest mail first."""
        found: list[Attachment] = []
        for row in self._mails(instance_id, scope):
            for index, part in enumerate(attachment_parts(_parse(bytes(row.raw))), start=1):
                content = _content(part)
                found.append(
                    Attachment(
                        mail_id=row.id,
                        index=index,
                        filename=_filename(part, index),
                        size=len(content),
                        content_type=_kind(part, content),
                        received_at=row.received_at.isoformat(),
                        downloadable=len(content) <= MAX_DOWNLOAD_BYTES,
                    )
                )
                if len(found) >= MAX_LISTED:
                    return found
        return found

    def download(self, instance_id: int, mail_id: int, index: int, scope: TaskScope | None = None) -> Download:
        """One attachment of one of the case's mails; NotFound when there is none (or it is too large to hand out)."""
        rows = self._mails(instance_id, scope, mail_id)
        parts = attachment_parts(_parse(bytes(rows[0].raw))) if rows else []
        if not 1 <= index <= len(parts):
            raise NotFound(f"no attachment {index} of mail {mail_id} in instance {instance_id}")
        part = parts[index - 1]
        content = _content(part)
        if len(content) > MAX_DOWNLOAD_BYTES:
            raise NotFound(f"attachment {index} of mail {mail_id} is larger than {MAX_DOWNLOAD_BYTES} bytes")
        return Download(_filename(part, index), content, safe_type(_kind(part, content)))
