"""Reading a stored mail: headers, the sender, the text a person wrote, and what a delivery report says.

Real mail is often wrong about itself: 8-bit text labelled UTF-8 that is Shift-JIS or Central
European (ISO-8859-2, windows-1250), raw 8-bit bytes in headers, HTML without a text part, no
``From``. Parsing uses the standard library's ``email`` with ``policy.default``; text whose
declared charset does not decode it is decoded by the charset the bytes fit best
(``charset-normalizer``, with a tie-break against symbols inside words, which is how ISO-8859-2
read as windows-1250 shows); HTML-only mail becomes text with ``html-text``; the quoted history
under a reply is cut off for the timeline with ``mail-parser-reply`` (many languages' "On …
wrote:" lines), while the whole text stays available. Nothing here raises for a malformed mail:
what cannot be read is left empty, and the caller decides.
"""

from __future__ import annotations

import email
import re
import unicodedata
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr

import html_text
from charset_normalizer import from_bytes
from mailparser_reply import EmailReplyParser

from engine.mail_store import normalized_message_id

REPLY_LANGUAGES = ["en", "de", "cs", "fr", "es", "it", "nl", "pl", "sv", "da", "ja", "zh", "ko"]
MAX_REPLY_SCAN = 20_000  # the reply parser's patterns get slow on long texts; a reply is near the top
MAX_REFERENCES = 50
# The charsets mislabelled mail is written in, most common first: the candidates when the label is wrong.
MAIL_CHARSETS = (
    "utf_8", "cp1252", "iso8859_15", "cp1250", "iso8859_2", "cp932", "shift_jis", "euc_jp", "iso2022_jp",
    "gb18030", "big5", "euc_kr", "cp1251", "koi8_r", "iso8859_5", "cp1253", "iso8859_7", "cp1254", "iso8859_9",
    "cp1257", "iso8859_13", "cp1255", "cp1256", "tis_620",
)  # fmt: skip
_IDS = re.compile(r"<([^<>\s]+)>")
_C1_CONTROLS = re.compile(r"[\x80-\x9f]")
_WORD_JOINERS = frozenset("'\u2019-\u2010._@/&")  # may stand inside a word


@dataclass(frozen=True)
class DeliveryReport:
    """A delivery-status notification (RFC 3464): who could not be reached, and which mail it was."""

    failed_recipients: list[str]
    diagnostic: str
    original_message_id: str | None


@dataclass(frozen=True)
class ParsedMail:
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    subject: str
    from_address: str  # lower case; "" when the mail names none
    from_name: str
    text: str  # the whole text of the mail
    reply_text: str  # the text without the quoted history below it
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names, decoded values (first of each)
    authentication_results: list[str] = field(default_factory=list)  # every Authentication-Results, topmost first
    report: DeliveryReport | None = None
    defects: int = 0


def decode_text(data: bytes, declared: str | None) -> str:
    """Text from bytes: the declared charset if it decodes them cleanly, else the charset they fit best."""
    for charset in (declared, "utf-8") if declared else ("utf-8",):
        try:
            decoded = data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
        if not _C1_CONTROLS.search(decoded):
            return decoded
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        pass
    matches = list(from_bytes(data, cp_isolation=list(MAIL_CHARSETS)))
    if matches:
        least_chaos = min(match.chaos for match in matches)
        fitting = [match for match in matches if match.chaos <= least_chaos + 0.01]
        best = min(fitting, key=lambda match: (_symbols_inside_words(str(match)), _rank(match.encoding)))
        return str(best)
    return data.decode(declared if _known(declared) else "utf-8", errors="replace")


def _rank(encoding: str) -> int:
    normalized = encoding.replace("_", "-").lower()
    return next((i for i, name in enumerate(MAIL_CHARSETS) if name.replace("_", "-") == normalized), len(MAIL_CHARSETS))


def _known(charset: str | None) -> bool:
    try:
        return bool(charset) and bool(b"".decode(charset) == "")
    except LookupError:
        return False


def _symbols_inside_words(text: str) -> int:
    """How often a symbol, punctuation or control stands between two letters: a wrong single-byte charset."""
    count = 0
    for before, char, after in zip(text, text[1:], text[2:], strict=False):
        if before.isalpha() and after.isalpha() and char not in _WORD_JOINERS:
            count += unicodedata.category(char)[0] in "SCP"
    return count


def _header(message: Message, name: str) -> str:
    """A header's text: RFC 2047 decoded, or raw 8-bit bytes decoded as the body would be; "" when absent."""
    raw = next((value for key, value in message.raw_items() if key.lower() == name.lower()), None)
    if raw is None:
        return ""
    if isinstance(raw, str) and any("\udc80" <= char <= "\udcff" for char in raw):
        text = decode_text(raw.encode("ascii", "surrogateescape"), message.get_content_charset())
    else:
        try:
            text = str(message[name])
        except Exception:  # a header the policy cannot parse: its raw text
            text = str(raw)
    return " ".join(text.split())


def _ids(value: str) -> list[str]:
    found = _IDS.findall(value)
    return found[-MAX_REFERENCES:] if found else [value.strip()] if value.strip() and " " not in value.strip() else []


def _part_text(part: Message) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        return ""
    if not isinstance(data, bytes):
        return ""
    text = decode_text(data, part.get_content_charset())
    if part.get_content_type() == "text/html":
        text = html_text.extract_text(text) if text.strip() else ""
    return text.replace("\r\n", "\n").strip()


def _body_text(message: Message) -> str:
    """The first plain-text part that is not an attachment, else the first HTML part as text."""
    plain = html = None
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        if part.get_content_disposition() == "attachment":
            continue
        if part.get_content_type() in ("text/rfc822-headers",):
            continue
        if part.get_content_type() == "text/plain" and plain is None:
            plain = part
        elif part.get_content_type() == "text/html" and html is None:
            html = part
    chosen = plain if plain is not None else html
    return _part_text(chosen) if chosen is not None else ""


def reply_text(text: str) -> str:
    """The newest part of a reply: the text above the quoted history ("On … wrote:", "> …")."""
    if not text.strip():
        return ""
    head, rest = text[:MAX_REPLY_SCAN], text[MAX_REPLY_SCAN:]
    try:
        latest = EmailReplyParser(languages=list(REPLY_LANGUAGES)).parse_reply(head)
    except Exception:  # the parser's own bug must not make a mail unprocessable
        latest = None
    if not latest or not latest.strip():
        return text
    return latest.strip() if rest == "" or latest.strip() != head.strip() else text


def _report(message: Message) -> DeliveryReport | None:
    if message.get_content_type() != "multipart/report":
        return None
    if (message.get_param("report-type") or "").lower() != "delivery-status":
        return None
    failed, diagnostics, original = [], [], None
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            for block in _status_blocks(part):
                action = block.get("action", "").lower()
                if action not in ("failed", ""):
                    continue
                recipient = block.get("final-recipient") or block.get("original-recipient") or ""
                address = recipient.split(";", 1)[-1].strip().strip("<>").lower()
                if address and action == "failed":
                    failed.append(address)
                if block.get("diagnostic-code"):
                    diagnostics.append(block["diagnostic-code"].split(";", 1)[-1].strip())
                elif block.get("status"):
                    diagnostics.append(f"status {block['status']}")
        elif kind in ("message/rfc822", "text/rfc822-headers") and original is None:
            original = _original_message_id(part)
    return DeliveryReport(failed, "; ".join(diagnostics)[:2000], original)


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The per-message and per-recipient fields of a message/delivery-status part, as dicts."""
    payload = part.get_payload()
    if isinstance(payload, list):  # the email package parses the blocks as header-only messages
        return [{key.lower(): " ".join(str(value).split()) for key, value in block.items()} for block in payload]
    text = payload if isinstance(payload, str) else ""
    blocks, current, last = [], {}, None
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, None
        elif line[:1] in (" ", "\t") and last:
            current[last] += " " + line.strip()
        elif ":" in line:
            last, value = line.split(":", 1)
            last = last.strip().lower()
            current[last] = value.strip()
    if current:
        blocks.append(current)
    return blocks


def _original_message_id(part: Message) -> str | None:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        if isinstance(inner, Message):
            return normalized_message_id(str(inner.get("Message-ID", "")))
        return None
    data = part.get_payload(decode=True) or b""
    headers = email.message_from_bytes(data, policy=policy.compat32)
    return normalized_message_id(str(headers.get("Message-ID", "")))


KEPT_HEADERS = (  # what loops, threading, the confirmation's language and DMARC look at
    "auto-submitted",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "x-auto-response-suppress",
    "x-autoreply",
    "x-autorespond",
    "x-loop",
    "return-path",
    "authentication-results",
    "content-language",
    "accept-language",
)


def parse(raw: bytes) -> ParsedMail:
    """Read a raw mail; never raises for malformed input (empty fields instead)."""
    message: EmailMessage = email.message_from_bytes(raw, policy=policy.default)  # type: ignore[assignment]
    name, address = "", ""
    sender = _header(message, "From") or _header(message, "Sender") or _header(message, "Reply-To")
    if sender:
        pairs = [pair for pair in getaddresses([sender]) if "@" in pair[1]]
        name, address = pairs[0] if pairs else parseaddr(sender)
    if "@" not in address:
        address = ""
    text = _body_text(message)
    headers = {key: _header(message, key) for key in KEPT_HEADERS}
    return ParsedMail(
        message_id=normalized_message_id(_header(message, "Message-ID")),
        in_reply_to=_ids(_header(message, "In-Reply-To")),
        references=_ids(_header(message, "References")),
        subject=_header(message, "Subject"),
        from_address=address.strip().lower(),
        from_name=" ".join(name.split()),
        text=text,
        reply_text=reply_text(text),
        headers={key: value for key, value in headers.items() if value},
        authentication_results=[
            " ".join(str(value).split())
            for key, value in message.raw_items()
            if key.lower() == "authentication-results"
        ],
        report=_report(message),
        defects=len(message.defects),
    )
