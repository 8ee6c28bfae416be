"""Mail that must not be answered automatically, mail that is no inquiry at all, and the cap on automatic answers.

Two mail systems that answer each other automatically never stop (an out-of-office reply to a
confirmation, confirmed again, …). So:

- **automatic mail** is never an inquiry or a reply: ``Auto-Submitted`` other than ``no`` (RFC 3834:
  out-of-office replies, notifications), ``X-Autoreply``/``X-Autorespond``, ``Precedence:
  auto_reply``, the null envelope sender ``<>`` and ``MAILER-DAEMON``/``postmaster`` senders. It is
  kept, marked ignored, and changes no case;
- **delivery-status reports** (bounces) are handled by :mod:`engine.mail_bounces`, never as inquiries;
- **our own mail** coming back (a signed Message-ID of ours, e.g. through a forwarding loop) is ignored;
- **bulk and list mail** (``Precedence`` bulk/junk/list, ``List-Id``, ``List-Unsubscribe``) and mail
  asking for no automatic answer (``X-Auto-Response-Suppress``) may become cases, but gets no
  automatic answer; nor does a sender who got ``CARECENTER_MAIL_AUTOREPLY_LIMIT`` of them in the
  last hour (:func:`under_limit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.mail_parse import ParsedMail
from engine.mail_threading import case_of_message_id
from engine.models import InboundMail

DAEMON_SENDERS = ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon")
BULK_PRECEDENCE = ("bulk", "junk", "list")
AUTOREPLY_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Verdict:
    kind: str | None  # bounce, auto_reply, own_mail: no inquiry; None: an inquiry or a reply
    auto_reply_allowed: bool
    reason: str  # why not, for the admins' list ("" when allowed)


def assess(mail: ParsedMail, envelope_from: str | None, secret: str) -> Verdict:
    """What kind of mail this is, as far as loops go, and whether an automatic answer may go back."""
    headers = mail.headers
    if mail.report is not None:
        return Verdict("bounce", False, "a delivery-status report")
    if mail.message_id and case_of_message_id(mail.message_id, secret):
        return Verdict("own_mail", False, "our own mail came back")
    automatic = _automatic(mail, envelope_from)
    if automatic:
        return Verdict("auto_reply", False, automatic)
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in BULK_PRECEDENCE:
        return Verdict(None, False, f"Precedence: {precedence}")
    for name in ("list-id", "list-unsubscribe", "x-auto-response-suppress"):
        if name in headers:
            return Verdict(None, False, f"a {name} header")
    return Verdict(None, True, "")


def _automatic(mail: ParsedMail, envelope_from: str | None) -> str:
    headers = mail.headers
    submitted = headers.get("auto-submitted", "").strip().lower()
    if submitted and not submitted.startswith("no"):
        return f"Auto-Submitted: {submitted}"
    for name in ("x-autoreply", "x-autorespond"):
        if name in headers:
            return f"a {name} header"
    if headers.get("precedence", "").strip().lower() == "auto_reply":
        return "Precedence: auto_reply"
    if envelope_from == "" or headers.get("return-path", "").strip() == "<>":
        return "the null sender <>"
    if mail.from_address.partition("@")[0] in DAEMON_SENDERS:
        return f"sent by {mail.from_address}"
    return ""


def under_limit(session: Session, sender: str, now: datetime, limit: int) -> bool:
    """Whether ``sender`` got fewer than ``limit`` automatic answers in the last hour.

    What counts is a confirmation written: a mail that was allowed one and started a case. Replies to an
    open case get no confirmation, so a customer writing back and forth does not use up the limit.
    """
    if limit <= 0 or not sender:
        return False
    allowed = session.scalar(
        select(func.count())
        .select_from(InboundMail)
        .where(
            InboundMail.sender == sender,
            InboundMail.auto_reply_allowed.is_(True),
            InboundMail.kind == "inquiry",
            InboundMail.processed_at >= now - AUTOREPLY_WINDOW,
        )
    )
    return allowed < limit
