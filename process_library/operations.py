"""The care operations that service tasks call: notify a customer, look up licenses and systems, dispatch updates.

The self-service processes' operations (account changes, orders) live in
:mod:`process_library.self_service_operations`, imported here so that one import registers all.

Importing this module registers them in :data:`process_library.registry.REGISTRY` (and, through
:mod:`process_library.store`, their tables in the engine's metadata).  The worker may call an
operation more than once for one service task, so every write is keyed by the call's
idempotency key: the first try writes the row, every later try finds it and returns the same
result.  Mail and dispatch messages are written to the outbox before they leave, so a repeated
call never sends a second message once the first is recorded as sent; only a try that overlaps
the one that sent it (a worker that died, or overran its lease, between sending a mail and
recording it) sends it again, with the same ``Message-ID``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import process_library.self_service_operations  # noqa: F401  (registers the account-change and order operations)
from engine import confirmations, contacts
from engine.clock import Clock
from engine.db import Database
from engine.mail_threading import answer_headers, signed_message_id, with_reference
from engine.models import ProcessInstance
from engine.templating import TemplateError, render_text
from engine.timer_specs import parse_datetime
from process_library.customers import EMAIL, storable_id
from process_library.mail import AUTOMATIC_HEADERS, Mail, MailRefused, deliver, message_id, outbox_headers
from process_library.registry import BpmnError, OperationContext, TransientError, operation
from process_library.store import (
    DISPATCH_STATUSES,
    LICENSE_STATUSES,
    Customer,
    Dispatch,
    Keyed,
    License,
    OutboxMessage,
    System,
    by_idempotency_key,
    customer_view,
    dispatch_dict,
    find_licensed_systems,
    find_licenses,
    license_dict,
    system_dict,
)

DISPATCH_RESULT_MESSAGE = "dispatch_result"
MAX_ERROR = 2000


def _write_once(db: Database, model: type[Keyed], key: str, build: Callable[[Session], Keyed]) -> Keyed:
    """The row of the call with ``key``: found, or built and written now (once, even when two tries race)."""
    try:
        with db.write() as session:
            row = by_idempotency_key(session, model, key)
            if row is None:
                row = build(session)
                session.add(row)
                session.flush()
            return row
    except IntegrityError:  # another try of the same call wrote it first
        with db.read() as session:
            row = by_idempotency_key(session, model, key)
        if row is None:
            raise
        return row


def _system(session: Session, system_id: str) -> System:
    system = session.get(System, system_id)
    if system is None:
        raise BpmnError("unknown_system", f"no system '{system_id}'")
    return system


# -- notifications -----------------------------------------------------------------------------


@operation(
    customer_id="The customer to write to (their email address and language come from the customer store); an "
    "unverified contact (web:<e-mail>, email:<address>) is written to where its case's confirmation went, "
    "and is unknown when none went.",
    subject="Jinja2 template of the subject; sees the variables, `customer` (name, email, language), "
    "`reference` (the case reference, CC-XXXX-XXXX, for the customer to quote), `tracking_url` (the link to "
    "the status page, on the configured public URL) and `tracking_code` (the secret in that link).",
    body="Jinja2 template of the plain-text body; sees the same values as the subject.",
    variables="Values the templates may use besides `customer`, `reference`, `tracking_url` and `tracking_code`.",
    automatic="True for mail no person wrote (reminders, notices): it carries Auto-Submitted so that "
    "auto-responders leave it unanswered.",
    translations="Subject and body templates in other languages, e.g. {'de': {'subject': ..., 'body': ...}, "
    "'cs': {...}}: the customer's language picks one; subject and body are the English ones and the fallback.",
    recipient="An address to write to instead of the customer's own, e.g. their previous address told of its "
    "change; such a mail is never re-addressed to the customer's current address.",
)
def notify_customer(
    context: OperationContext,
    *,
    customer_id: str,
    subject: str,
    body: str,
    variables: dict | None = None,
    automatic: bool = False,
    translations: dict | None = None,
    recipient: str | None = None,
) -> dict:
    """Send a customer a mail rendered from templates (kept in the outbox, status held, while no SMTP host is set).

    The mail is threaded under the customer's last mail of the case (In-Reply-To, References) and
    carries the case reference in its subject and in its signed Message-ID (docs/mail.md).  It is in
    the customer's language when ``translations`` has it.
    """
    if recipient is not None and not (isinstance(recipient, str) and EMAIL.fullmatch(recipient.strip())):
        raise ValueError(f"recipient must be an e-mail address, not {recipient!r}")
    key = context.idempotency_key
    with context.db.read() as session:
        message = by_idempotency_key(session, OutboxMessage, key)
        customer = None if message else _addressee(session, customer_id, context.instance_id)
        headers = {} if message else answer_headers(session, context.instance_id)
    if message is None:
        if customer is None:
            raise BpmnError("unknown_customer", f"no customer '{customer_id}'")
        subject, body = _in_language(customer.language, subject, body, translations)
        values = {
            **(variables or {}),
            "customer": {"name": customer.name, "email": customer.email, "language": customer.language},
            "tracking_code": context.tracking_code,
            "tracking_url": context.settings.public.link(f"/track/{context.tracking_code}"),
            "reference": context.reference,
        }
        mail_from, rendered_subject = context.settings.mail_from, " ".join(_render("subject", subject, values).split())
        if context.reference:
            rendered_subject = with_reference(rendered_subject, context.reference)
        own_id = signed_message_id(context.reference, key, mail_from, context.settings.secret_key)
        if automatic:
            headers.update(AUTOMATIC_HEADERS)
        mail = OutboxMessage(
            idempotency_key=key,
            kind="mail",
            recipient=recipient.strip() if recipient else customer.email,
            subject=rendered_subject,
            body=_render("body", body, values),
            payload={
                "customer_id": customer_id,
                "message_id": own_id or message_id(key, mail_from),
                "headers": headers,
                **({"fixed_recipient": True} if recipient else {}),
            },
            status="held",
            attempts=0,
            created_at=context.clock.now(),
        )
        message = _write_once(context.db, OutboxMessage, key, lambda session: _with_contact(session, context, mail))
    if message.status == "failed":
        message = _readdressed(context, message)
    if message.status == "failed":
        raise BpmnError("mail_refused", message.last_error or "the SMTP server refused the mail")
    if message.status == "held" and context.settings.smtp_host:
        message = _deliver(context, message)
    return {"outbox_id": message.id, "status": message.status}


@dataclass(frozen=True)
class _Addressee:
    name: str
    email: str
    language: str | None


def _addressee(session: Session, customer_id: str, instance_id: int | None) -> _Addressee | None:
    """Who a mail to ``customer_id`` goes to: the customer in the store, or an unverified contact (``web:<e-mail>``,
    ``email:<address>``) where its case's confirmation went; None when neither is known."""
    if not isinstance(customer_id, str) or not customer_id:
        return None
    customer = session.get(Customer, customer_id)
    if customer is not None:
        return _Addressee(customer.name, customer.email, customer.language)
    if instance_id is None or storable_id(customer_id):
        return None
    contact = confirmations.confirmed_contact(session, instance_id, customer_id)
    return _Addressee(contact.name, contact.address, contact.language) if contact is not None else None


def _with_contact(session: Session, context: OperationContext, mail: OutboxMessage) -> OutboxMessage:
    """The mail, and the outbound contact that records it on the customer page, in the outbox row's transaction.

    The contact keeps the text without the case's tracking code (the secret of its status link).
    """
    instance = session.get(ProcessInstance, context.instance_id) if context.instance_id else None
    contacts.record(
        session,
        customer_id=mail.payload["customer_id"],
        instance_id=context.instance_id,
        channel="email",
        direction="out",
        subject=mail.subject,
        text=contacts.without_secret(mail.body, instance.tracking_code if instance else None),
        recorded_by=contacts.PROCESS_PREFIX + context.process_key,
        at=mail.created_at,
    )
    return mail


def _readdressed(context: OperationContext, message: OutboxMessage) -> OutboxMessage:
    """A refused mail, held again for the customer's address on file when that was corrected since the refusal
    (the incident's retry then sends it); unchanged otherwise."""
    with context.db.write() as session:
        row = session.get(OutboxMessage, message.id)
        customer = session.get(Customer, (row.payload or {}).get("customer_id") or "")
        if (row.payload or {}).get("fixed_recipient"):
            return row  # written to a given address (the previous one): never to the current one instead
        if row.status == "failed" and customer is not None and customer.email and customer.email != row.recipient:
            row.recipient, row.status, row.last_error = customer.email, "held", None
        return row


def _in_language(language: str | None, subject: str, body: str, translations: dict | None) -> tuple[str, str]:
    """The subject and body templates for ``language`` (``de-AT`` reads as ``de``), else the given ones."""
    if translations is None:
        return subject, body
    if not isinstance(translations, dict) or not all(
        isinstance(texts, dict) and isinstance(texts.get("subject"), str) and isinstance(texts.get("body"), str)
        for texts in translations.values()
    ):
        raise ValueError("translations must map languages to {'subject': template, 'body': template}")
    texts = translations.get((language or "").lower().split("-")[0])
    return (texts["subject"], texts["body"]) if texts else (subject, body)


def _render(name: str, template: str, values: dict) -> str:
    try:
        return render_text(template, values)
    except TemplateError as error:
        raise ValueError(f"the {name} template cannot be rendered: {error}") from error


def _deliver(context: OperationContext, message: OutboxMessage) -> OutboxMessage:
    mail = Mail(
        message.recipient, message.subject, message.body, message.idempotency_key, outbox_headers(message.payload)
    )
    try:
        deliver(mail, context.settings)
    except TransientError as error:
        _record_attempt(context, message.id, "held", str(error))
        raise
    except MailRefused as error:
        _record_attempt(context, message.id, "failed", str(error))
        raise BpmnError("mail_refused", str(error)) from error
    return _record_attempt(context, message.id, "sent", None)


def _record_attempt(context: OperationContext, outbox_id: int, status: str, error: str | None) -> OutboxMessage:
    with context.db.write() as session:
        row = session.get(OutboxMessage, outbox_id)
        row.attempts += 1
        if row.status != "sent":  # an overlapping try of the same call may have sent it meanwhile
            row.status = status
        if error is not None:
            row.last_error = error[:MAX_ERROR]
        if status == "sent":
            row.sent_at = context.clock.now()
        return row


# -- lookups -----------------------------------------------------------------------------------


@operation(
    customer_id="Only this customer's licenses.",
    product="Only licenses for this product.",
    expiring_within_days="Instead of the valid licenses: the active ones whose validity ends within this many days "
    "(including those already past it and not renewed).",
    minimum_level="basic, pro or enterprise: only licenses at this level or above.",
)
def lookup_licenses(
    context: OperationContext,
    *,
    customer_id: str | None = None,
    product: str | None = None,
    expiring_within_days: int | None = None,
    minimum_level: str | None = None,
) -> dict:
    """Find the valid licenses (or those about to expire) by customer, product and level, soonest ending first."""
    now = context.clock.now()
    expiring_before = None
    if expiring_within_days is not None:
        if expiring_within_days < 0:
            raise ValueError("expiring_within_days must not be negative")
        expiring_before = now + timedelta(days=expiring_within_days)
    with context.db.read() as session:
        found = find_licenses(
            session,
            now,
            customer_id=customer_id,
            product=product,
            minimum_level=minimum_level,
            expiring_before=expiring_before,
        )
    return {"licenses": [license_dict(found_license) for found_license in found]}


@operation(
    product="The product the systems run.",
    customer_id="Only this customer's systems.",
    minimum_license_level="basic, pro or enterprise: only systems whose customer's license is at this level or above.",
)
def lookup_systems(
    context: OperationContext, *, product: str, customer_id: str | None = None, minimum_license_level: str | None = None
) -> dict:
    """Find the systems running a product whose customer holds a valid license for it."""
    with context.db.read() as session:
        found = find_licensed_systems(
            session, context.clock.now(), product, customer_id=customer_id, minimum_level=minimum_license_level
        )
    return {"systems": [system_dict(system) for system in found]}


@operation(customer_id="The customer's id in the store.")
def lookup_customer(context: OperationContext, *, customer_id: str) -> dict:
    """Find a customer: tier, language, products; ``known`` is false for someone the store does not know yet."""
    with context.db.read() as session:
        found = customer_view(session, customer_id) if customer_id else None
    if found is None:
        return {"known": False, "tier": "standard", "language": "en", "products": []}
    products = sorted({system["product"] for system in found["systems"]})
    return {"known": True, "tier": found["tier"], "language": found["language"], "products": products}


@operation(
    license_id="The license to change.",
    status="active, renewing, expired or renewed.",
    valid_until="A new end of validity (ISO 8601 date or date-time), e.g. after a renewal.",
)
def update_license(context: OperationContext, *, license_id: str, status: str, valid_until: str | None = None) -> dict:
    """Set a license's status (and its new end of validity); setting what it has already changes nothing."""
    if status not in LICENSE_STATUSES:
        raise ValueError(f"unknown license status '{status}' (statuses: {', '.join(LICENSE_STATUSES)})")
    new_end = parse_datetime(valid_until) if valid_until else None
    with context.db.write() as session:
        found = session.get(License, license_id)
        if found is None:
            raise BpmnError("unknown_license", f"no license '{license_id}'")
        found.status = status
        if new_end is not None:
            found.valid_until = new_end
        session.flush()
        return {"license": license_dict(found)}


# -- dispatching updates -----------------------------------------------------------------------


@operation(
    system_id="The system the update is for.",
    version="The version dispatched.",
    status="dispatched, confirmed or failed; confirmed also records the version as the one the system runs.",
)
def record_dispatch(context: OperationContext, *, system_id: str, version: str, status: str = "dispatched") -> dict:
    """Record that an update was dispatched to a system, or that the system confirmed or failed it."""
    if status not in DISPATCH_STATUSES:
        raise ValueError(f"unknown dispatch status '{status}' (statuses: {', '.join(DISPATCH_STATUSES)})")

    def build(session: Session) -> Dispatch:
        system = _system(session, system_id)
        if status == "confirmed":
            system.version = version
        return _new_dispatch(context, system, version, status)

    return dispatch_dict(_write_once(context.db, Dispatch, context.idempotency_key, build))


def _new_dispatch(context: OperationContext, system: System, version: str, status: str) -> Dispatch:
    now = context.clock.now()
    return Dispatch(
        idempotency_key=context.idempotency_key,
        system_id=system.id,
        customer_id=system.customer_id,
        product=system.product,
        version=version,
        status=status,
        instance_id=context.instance_id,
        created_at=now,
        confirmed_at=now if status == "confirmed" else None,
    )


@dataclass(frozen=True)
class DispatchMessage:
    """What a dispatch adapter sends: the update, the system it is for, and how to report back."""

    dispatch_id: int
    idempotency_key: str
    system_id: str
    customer_id: str
    hostname: str
    product: str
    version: str
    tracking_code: str

    def payload(self) -> dict:
        return {
            "dispatch_id": self.dispatch_id,
            "system_id": self.system_id,
            "customer_id": self.customer_id,
            "hostname": self.hostname,
            "product": self.product,
            "version": self.version,
            # the receiving side reports the outcome as this message, correlated by the tracking code
            "callback": {
                "message": DISPATCH_RESULT_MESSAGE,
                "correlation_key": self.tracking_code,
                "report": {"dispatch_id": self.dispatch_id, "status": "confirmed or failed"},
            },
        }


class DispatchAdapter(Protocol):
    """Delivers dispatch messages; ``send`` may be called more than once per dispatch (pass the key on)."""

    def send(self, dispatch: DispatchMessage) -> None: ...


class OutboxDispatchAdapter:
    """The built-in adapter: one outbox row of kind ``dispatch`` per call, held for the integration to pick up."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def send(self, dispatch: DispatchMessage) -> None:
        row = OutboxMessage(
            idempotency_key=dispatch.idempotency_key,
            kind="dispatch",
            recipient=dispatch.hostname,
            subject=f"{dispatch.product} {dispatch.version}",
            body=f"Update {dispatch.product} to {dispatch.version} on {dispatch.hostname} ({dispatch.system_id}).",
            payload=dispatch.payload(),
            status="held",
            attempts=0,
            created_at=self.clock.now(),
        )
        _write_once(self.db, OutboxMessage, dispatch.idempotency_key, lambda _session: row)


AdapterFactory = Callable[[OperationContext], DispatchAdapter]


def _outbox_adapter(context: OperationContext) -> DispatchAdapter:
    return OutboxDispatchAdapter(context.db, context.clock)


_adapter_factory: AdapterFactory = _outbox_adapter


def use_dispatch_adapter(factory: AdapterFactory) -> AdapterFactory:
    """Send dispatch messages through adapters made by ``factory`` from now on; returns the factory used before."""
    global _adapter_factory
    previous, _adapter_factory = _adapter_factory, factory
    return previous


@operation(system_id="The system to update.", version="The version to install.")
def dispatch_update(context: OperationContext, *, system_id: str, version: str) -> dict:
    """Dispatch a software update to a customer's system and record it (status dispatched)."""

    def build(session: Session) -> Dispatch:
        return _new_dispatch(context, _system(session, system_id), version, "dispatched")

    dispatch = _write_once(context.db, Dispatch, context.idempotency_key, build)
    with context.db.read() as session:
        hostname = _system(session, dispatch.system_id).hostname
    _adapter_factory(context).send(
        DispatchMessage(
            dispatch.id,
            context.idempotency_key,
            dispatch.system_id,
            dispatch.customer_id,
            hostname,
            dispatch.product,
            dispatch.version,
            context.tracking_code,
        )
    )
    return dispatch_dict(dispatch)
