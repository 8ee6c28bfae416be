"""The automatic confirmation of a new inquiry: the case reference and the status link, in the customer's language.

A customer who wrote in wants to know that it arrived and how to follow it. Whatever the channel,
the confirmation is one outbox mail written in the same transaction as the new case (so there is
no case without its confirmation and no confirmation without its case), keyed by the case so it
is written once, and sent by the worker's relay (:mod:`process_library.outbox_relay`). The mail
channel calls :func:`confirm` from the intake's start hook (after its loop and limit checks); the
web portal, the staff's contact log and channel systems (``POST /api/inquiries``) use
:func:`on_start`, which confirms wherever the customer has an address.

The status link is built from the configured public URL (:mod:`engine.public_url`), never from a
request. The mail answers the customer's own (``In-Reply-To``/``References``), carries the case
reference in its subject and a signed Message-ID naming the case, so their reply threads back;
and it says it is automatic (``Auto-Submitted: auto-replied``, ``X-Auto-Response-Suppress: All``)
so that their out-of-office does not answer it. Whether an automatic answer may go at all (bulk
mail, loops, the hourly cap per sender) is the channel's decision, taken before it calls here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import contacts
from engine.clock import Clock
from engine.config import Settings
from engine.mail_threading import MAX_REFERENCES_SENT, signed_message_id, with_reference
from engine.models import ProcessInstance
from process_library.mail import message_id as plain_message_id
from process_library.store import Customer, OutboxMessage

LANGUAGES = ("en", "de", "cs")
PURPOSE = "confirmation"
HEADERS = {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}
MAX_QUOTED_SUBJECT = 200

SUBJECTS = {
    "en": "We have received your request: {subject}",
    "de": "Wir haben Ihre Anfrage erhalten: {subject}",
    "cs": "Váš požadavek jsme přijali: {subject}",
}
BODIES = {
    "en": (
        "Hello {name},\n\n"
        "thank you for contacting us. We have received your request “{subject}” and will answer it as soon as we "
        "can.\n\n"
        "Your case reference is {reference}. Please quote it when you contact us; to add something, simply reply "
        "to this mail.\n\n"
        "See where your request stands:\n{link}\n\n"
        "This mail was sent automatically.\n"
    ),
    "de": (
        "Guten Tag {name},\n\n"
        "vielen Dank, dass Sie sich an uns gewandt haben. Wir haben Ihre Anfrage „{subject}“ erhalten und "
        "beantworten sie so bald wie möglich.\n\n"
        "Ihre Fallnummer ist {reference}. Bitte geben Sie sie an, wenn Sie uns kontaktieren; um etwas zu ergänzen, "
        "antworten Sie einfach auf diese E-Mail.\n\n"
        "Hier sehen Sie, wie weit Ihre Anfrage ist:\n{link}\n\n"
        "Diese E-Mail wurde automatisch versandt.\n"
    ),
    "cs": (
        "Dobrý den, {name},\n\n"
        "děkujeme, že jste se na nás obrátili. Váš požadavek „{subject}“ jsme přijali a odpovíme na něj "
        "co nejdříve.\n\n"
        "Číslo Vašeho případu je {reference}. Uveďte ho prosím, když nás kontaktujete; chcete-li něco doplnit, "
        "stačí odpovědět na tento e-mail.\n\n"
        "Stav svého požadavku uvidíte zde:\n{link}\n\n"
        "Tento e-mail byl odeslán automaticky.\n"
    ),
}


@dataclass(frozen=True)
class Inquirer:
    """Who to confirm to, and what they wrote: as the channel knows it."""

    address: str
    name: str
    subject: str
    language_hint: str | None = None  # e.g. the mail's Content-Language or the web form's language
    in_reply_to: str | None = None  # the Message-ID of the customer's mail, without angle brackets
    references: tuple[str, ...] = ()  # the References of the customer's mail


@dataclass(frozen=True)
class ConfirmedContact:
    """Where a case's confirmation went: the address, the name it greeted and the language it was written in."""

    address: str
    name: str
    language: str


def outbox_key(instance_id: int) -> str:
    """The idempotency key of a case's confirmation in the outbox: one per case."""
    return f"{PURPOSE}:{instance_id}"


def confirmed_contact(session: Session, instance_id: int, customer_id: str) -> ConfirmedContact | None:
    """The address the case's confirmation went to, while the case is still filed under ``customer_id``.

    An unverified contact (``web:<e-mail>``, ``email:<address>``) has no record in the store; the process's
    mails to it go where its confirmation went. There is none when the channel sent no confirmation (the
    address is a customer's, the sender failed DMARC, the mail was bulk or a loop) or when the contact's
    data was erased: then the contact is not mailed at all.
    """
    row = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == outbox_key(instance_id)))
    if row is None:
        return None
    payload = row.payload or {}
    if payload.get("customer_id") != customer_id:
        return None
    return ConfirmedContact(row.recipient, payload.get("name") or row.recipient, payload.get("language") or "en")


def language_tag(value: str | None) -> str | None:
    """One of :data:`LANGUAGES` from a language header or setting (``de-AT, en`` -> ``de``); None otherwise."""
    for part in (value or "").replace(";", ",").split(","):
        primary = part.strip().lower().split("-")[0].split("_")[0]
        if primary in LANGUAGES:
            return primary
    return None


def language_of(session: Session, customer_id: str | None, hint: str | None) -> str:
    """The customer's language in the store, else the hint, else English."""
    customer = session.get(Customer, customer_id) if customer_id else None
    return language_tag(customer.language if customer else None) or language_tag(hint) or "en"


def confirm(
    session: Session, case: ProcessInstance, inquirer: Inquirer, settings: Settings, now: datetime, by: str
) -> int:
    """Write the confirmation of the new case ``case`` to the outbox (held for the relay); returns the outbox id.

    It is also an outbound contact of the customer (recorded by ``by``, the channel), its text without the
    case's tracking code, as every mail that goes out is.

    Call it once, inside the transaction that creates the case: the row is keyed by the case (a unique
    key), so a second confirmation of one case cannot be written.
    """
    if case.id is None:
        session.flush()
    key = outbox_key(case.id)
    language = language_of(session, case.customer_id, inquirer.language_hint)
    quoted = " ".join(inquirer.subject.split())[:MAX_QUOTED_SUBJECT]
    values = {
        "name": inquirer.name or inquirer.address,
        "subject": quoted,
        "reference": case.reference,
        "link": settings.public.link(f"/track/{case.tracking_code}"),
    }
    own_id = signed_message_id(case.reference, key, settings.mail_from, settings.secret_key)
    headers = dict(HEADERS)
    if inquirer.in_reply_to:
        chain = [*[i for i in inquirer.references if i != inquirer.in_reply_to], inquirer.in_reply_to]
        headers["In-Reply-To"] = f"<{inquirer.in_reply_to}>"
        headers["References"] = " ".join(f"<{i}>" for i in chain[-MAX_REFERENCES_SENT:])
    row = OutboxMessage(
        idempotency_key=key,
        kind="mail",
        recipient=inquirer.address,
        subject=with_reference(SUBJECTS[language].format(subject=quoted), case.reference),
        body=BODIES[language].format(**values),
        payload={
            "purpose": PURPOSE,
            "instance_id": case.id,
            "customer_id": case.customer_id,
            "name": values["name"],
            "language": language,
            "message_id": own_id or plain_message_id(key, settings.mail_from),
            "headers": headers,
        },
        status="held",
        attempts=0,
        created_at=now,
    )
    session.add(row)
    session.flush()
    contacts.record(
        session,
        customer_id=case.customer_id,
        instance_id=case.id,
        channel="email",
        direction="out",
        subject=row.subject,
        text=contacts.without_secret(row.body, case.tracking_code),
        recorded_by=by,
        at=now,
    )
    return row.id


def on_start(
    settings: Settings,
    clock: Clock,
    *,
    subject: str,
    address: str | None = None,
    name: str | None = None,
    language_hint: str | None = None,
) -> Callable[[Session, ProcessInstance], None]:
    """The intake's start hook confirming a new case of any channel by mail, where the customer has an address.

    The address is the customer's in the store (the case's customer, known once the intake filed it),
    else ``address`` as the channel knows it; with neither, the case starts without a mail (the page
    that took the inquiry shows the reference). The contact log records it as sent by the case's
    process on its own, not by whoever took the inquiry.
    """

    def confirm_case(session: Session, case: ProcessInstance) -> None:
        stored = session.get(Customer, case.customer_id) if case.customer_id else None
        to = (stored.email if stored is not None else None) or address
        if not to:
            return
        who = (stored.name if stored is not None else None) or name or to
        inquirer = Inquirer(address=to, name=who, subject=subject, language_hint=language_hint)
        confirm(session, case, inquirer, settings, clock.now(), contacts.PROCESS_PREFIX + case.process_key)

    return confirm_case
