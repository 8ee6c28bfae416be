"""Delivering one mail by SMTP, with failures sorted into "try again later" and "refused".

Kept apart from the operations so that the outbox logic never deals with ``smtplib``'s
exceptions: a connection that fails or a 4xx answer (greylisting, a full queue) raises
:class:`TransientError`, which the engine retries; a 5xx answer raises :class:`MailRefused`.
Each mail carries a ``Message-ID`` derived from the idempotency key of the call (signed and naming
the case when the mail belongs to one, see :mod:`engine.mail_threading`), so a mail sent again
after a worker died between sending and recording it is recognisably the same mail.
"""

from __future__ import annotations

import hashlib
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate

from engine.config import Settings
from process_library.registry import TransientError

SMTP_TIMEOUT_SECONDS = 30.0
# What mail no person wrote carries (RFC 3834), so that auto-responders do not answer it.
AUTOMATIC_HEADERS = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}


class MailRefused(Exception):
    """The SMTP server answered 5xx: sending the same mail again will not help."""


@dataclass(frozen=True)
class Mail:
    recipient: str
    subject: str
    body: str
    idempotency_key: str
    # Message-ID (our signed one, see engine/mail_threading.py), In-Reply-To, References, Auto-Submitted, ...
    headers: dict[str, str] = field(default_factory=dict)


def message_id(idempotency_key: str, mail_from: str) -> str:
    """A Message-ID that is the same for every try of one call."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    domain = mail_from.rpartition("@")[2] or "carecenter.invalid"
    return f"<cc.{digest}@{domain}>"


def outbox_headers(payload: dict | None) -> dict[str, str]:
    """The headers an outbox row's mail is sent with: its Message-ID and those kept in its payload."""
    payload = payload or {}
    headers = {"Message-ID": payload["message_id"]} if payload.get("message_id") else {}
    headers.update({str(name): str(value) for name, value in (payload.get("headers") or {}).items()})
    return headers


def build_message(mail: Mail, settings: Settings) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = mail.headers.get("Message-ID") or message_id(mail.idempotency_key, settings.mail_from)
    for name, value in mail.headers.items():
        if name != "Message-ID" and value:
            message[name] = value
    message.set_content(mail.body)
    return message


def deliver(mail: Mail, settings: Settings) -> None:
    """Hand ``mail`` to the SMTP server of ``settings``; raises TransientError or MailRefused."""
    message = build_message(mail, settings)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        _raise_for(min(codes), f"recipient refused: {error.recipients}")
    except smtplib.SMTPResponseException as error:
        reply = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        _raise_for(error.smtp_code, f"SMTP server answered {error.smtp_code} {reply}")
    except (smtplib.SMTPException, OSError) as error:
        raise TransientError(f"SMTP server {settings.smtp_host}:{settings.smtp_port} unavailable: {error}") from error


def _raise_for(code: int, message: str) -> None:
    if 400 <= code < 500:
        raise TransientError(message)
    raise MailRefused(message)
