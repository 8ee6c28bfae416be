"""Turning stored mail into inquiries and replies: the worker's job over the inbound-mail queue.

Each claimed mail is parsed (:mod:`engine.mail_parse`), sorted by :mod:`engine.mail_loops`
(automatic mail and our own mail are kept and ignored; bounces go to :mod:`engine.mail_bounces`),
threaded (:mod:`engine.mail_threading`) and handed to the channel intake, channel ``email``: a
reply to the open case it continues, or a new inquiry (one referring to the case when that case
is closed). The intake is called with the mail's own message id, so processing a mail again —
after a crash between the intake and recording the outcome — changes nothing.

A mail that cannot be processed is tried again with back-off and then kept as ``failed`` with the
error (:meth:`engine.mail_store.MailStore.retry` after a fix); a mail that can never become a case
(no sender address) is ``failed`` at once. Nothing is dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import confirmations, delivery_failures, mail_auth, mail_bounces, mail_loops, mail_threading
from engine.clock import Clock
from engine.config import Settings
from engine.db import Database
from engine.errors import InvalidRequest
from engine.intake import MAX_CUSTOMER_ID, MAX_TEXT, Intake
from engine.mail_attachments import MailAttachments
from engine.mail_parse import ParsedMail, parse
from engine.mail_store import MAX_ERROR, MailClaim, MailStore
from engine.models import InboundMail, ProcessInstance
from process_library.store import OutboxMessage

log = logging.getLogger(__name__)

PRINCIPAL = "mail"
NO_SUBJECT = "(no subject)"
NO_TEXT = "(no text)"


class Unprocessable(Exception):
    """The mail can never become a case as it is (trying again will not help)."""


@dataclass(frozen=True)
class Outcome:
    status: str  # processed, ignored
    kind: str
    instance_id: int | None = None
    auto_reply_allowed: bool | None = None
    note: str | None = None


class MailInbox:
    def __init__(self, db: Database, clock: Clock, settings: Settings, intake: Intake) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.intake = intake
        self.store = MailStore(db, clock, settings.mail_max_bytes)
        self.attachments = MailAttachments(db)  # the files customers sent, per case, for staff

    def process_due(self, worker_id: str, max_rounds: int = 100) -> int:
        """Claim and process every mail due now; returns how many were looked at."""
        done = 0
        for _ in range(max_rounds):
            claims = self.store.claim(worker_id)
            if not claims:
                break
            for claim in claims:
                self.process(claim, worker_id)
                done += 1
        return done

    def process(self, claim: MailClaim, worker_id: str) -> str:
        """Process one claimed mail; returns its status afterwards."""
        try:
            with self.db.read() as session:
                envelope_from, raw = session.execute(
                    select(InboundMail.envelope_from, InboundMail.raw).where(InboundMail.id == claim.id)
                ).one()
            parsed = parse(bytes(raw))
        except Exception as error:  # the parser itself failed: keep the mail, say why
            log.warning("inbound mail %s could not be parsed", claim.id, exc_info=True)
            return self._fail(claim, worker_id, f"the mail could not be read: {error}", at_once=True)
        try:
            outcome = self._handle(claim.id, parsed, envelope_from)
        except Unprocessable as error:
            return self._fail(claim, worker_id, str(error), at_once=True, parsed=parsed)
        except Exception as error:
            log.warning("inbound mail %s failed", claim.id, exc_info=True)
            return self._fail(claim, worker_id, f"{type(error).__name__}: {error}", parsed=parsed)
        return self._finish(claim, worker_id, parsed, outcome)

    def _handle(self, mail_id: int, parsed: ParsedMail, envelope_from: str | None) -> Outcome:
        secret = self.settings.secret_key
        verdict = mail_loops.assess(parsed, envelope_from, secret)
        if verdict.kind == "bounce":
            with self.db.write() as session:
                outbox_id = mail_bounces.record(session, parsed.report, mail_id, self.clock.now())
                if outbox_id is not None:  # the customer never got it: the case shows that
                    bounced = session.get(OutboxMessage, outbox_id)
                    reason = f"it bounced: {bounced.last_error}"
                    delivery_failures.open_incident(session, bounced, reason, self.clock.now(), secret)
            if outbox_id is None:
                return Outcome("ignored", "bounce", note="the report matches no mail we sent")
            return Outcome("processed", "bounce", note=f"outbox mail {outbox_id} bounced")
        if verdict.kind is not None:
            return Outcome("ignored", verdict.kind, auto_reply_allowed=False, note=verdict.reason)
        sender = parsed.from_address
        if not sender:
            raise Unprocessable("the mail names no sender address (no usable From)")
        if len(mail_threading.UNVERIFIED_PREFIX + sender) > MAX_CUSTOMER_ID:
            raise Unprocessable(f"the sender address is longer than {MAX_CUSTOMER_ID - 6} characters")
        forged = mail_auth.dmarc_failed(parsed.authentication_results, self.settings.mail_trusted_authserv)
        with self.db.read() as session:
            thread = mail_threading.thread(
                session,
                in_reply_to=parsed.in_reply_to,
                references=parsed.references,
                subject=parsed.subject,
                sender="" if forged else sender,  # an unverified sender continues no case by its subject
                secret=secret,
            )
            if forged:
                customer = mail_threading.unverified_contact(sender, parsed.from_name[:300])
            else:
                customer = mail_threading.known_customer(session, sender, parsed.from_name[:300])
            allowed = (
                not forged
                and verdict.auto_reply_allowed
                and mail_loops.under_limit(session, sender, self.clock.now(), self.settings.mail_autoreply_limit)
            )
        subject = mail_threading.without_reply_prefixes(parsed.subject) or NO_SUBJECT
        body = (parsed.reply_text or parsed.text).strip() or NO_TEXT
        confirm = self._confirmation(parsed, customer, subject) if allowed else None
        try:
            result = self.intake.submit(
                channel="email",
                customer=customer,
                subject=subject[:MAX_TEXT],
                body=body[:MAX_TEXT],
                reference=thread.reference,
                principal=PRINCIPAL,
                message_id=f"mail-{mail_id}",
                on_start=confirm,
            )
        except InvalidRequest as error:
            raise Unprocessable(error.detail) from error
        notes = []
        if forged:
            notes.append(f"DMARC failed at {self.settings.mail_trusted_authserv}: the sender is treated as unverified")
        if thread.by == "stranger":
            notes.append("a case reference in the subject from someone else than that case's customer")
        if result.started and thread.reference:
            notes.append(f"the case {thread.reference} is closed: a new inquiry referring to it")
        note = "; ".join(notes) or None
        kind = "inquiry" if result.started else "reply"
        return Outcome("processed", kind, result.instance_id, allowed, note)

    def _confirmation(self, parsed: ParsedMail, customer: dict, subject: str):
        """The intake's start hook that confirms a new case to the sender, in the case's own transaction."""
        inquirer = confirmations.Inquirer(
            address=parsed.from_address,
            name=customer["name"],
            subject=subject,
            language_hint=parsed.headers.get("content-language") or parsed.headers.get("accept-language"),
            in_reply_to=parsed.message_id,
            references=tuple(parsed.references),
        )

        def confirm(session: Session, case: ProcessInstance) -> None:
            confirmations.confirm(session, case, inquirer, self.settings, self.clock.now(), PRINCIPAL)

        return confirm

    def _finish(self, claim: MailClaim, worker_id: str, parsed: ParsedMail, outcome: Outcome) -> str:
        with self.db.write() as session:
            row = session.get(InboundMail, claim.id)
            if row is None or row.status != "received" or row.claimed_by != worker_id:
                return row.status if row is not None else "gone"  # another worker took over after our lease
            self._describe(row, parsed)
            row.status, row.kind, row.instance_id = outcome.status, outcome.kind, outcome.instance_id
            row.auto_reply_allowed = outcome.auto_reply_allowed
            row.error = outcome.note[:MAX_ERROR] if outcome.note else None
            row.processed_at = self.clock.now()
            row.claimed_by = row.claimed_until = None
            return row.status

    def _fail(
        self, claim: MailClaim, worker_id: str, error: str, at_once: bool = False, parsed: ParsedMail | None = None
    ) -> str:
        if at_once:
            with self.db.write() as session:
                row = session.get(InboundMail, claim.id)
                if row is None or row.status != "received" or row.claimed_by != worker_id:
                    return row.status if row is not None else "gone"
                if parsed is not None:
                    self._describe(row, parsed)
                row.status, row.error = "failed", error[:MAX_ERROR]
                row.claimed_by = row.claimed_until = None
                return row.status
        return self.store.failed_attempt(claim, worker_id, error)

    @staticmethod
    def _describe(row: InboundMail, parsed: ParsedMail) -> None:
        row.sender = parsed.from_address[:300] or None
        row.subject = parsed.subject[:300] or None
        row.reference_ids = " ".join(parsed.references) or None
