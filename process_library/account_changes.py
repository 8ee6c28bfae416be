"""A customer's own changes of their account data: which fields, which wait for a colleague, and the history.

The portal (and staff on the customer's behalf) sends a change request; process ``account_change``
checks it, applies the low-risk fields at once and holds the sensitive ones — where an invoice
goes, who may act for the customer, and the e-mail address every link and mail goes to — for a
colleague's approval.  Each field asked for is one ``customer_changes`` row: ``requested`` with the
value the store held and the one asked for, then ``applied`` (``before`` re-read at that moment) or
``rejected`` with the reason.  That table is the customer's history on the staff customer page.

Validation lives here once: :mod:`process_library.self_service` refuses bad input before a process
starts, and the operations check again (a process may also be started over the API).  Messages are
English page texts (``selfservice.po`` translates them), one per field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import search
from process_library.store import PREFERRED_CHANNELS, Customer, CustomerChange

LANGUAGES = ("en", "de", "cs")  # the languages of the pages and mails (a customer's language must be one of them)
MAX_CONTACTS = 10
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
NOTHING = "—"  # how an empty value reads in summaries and the review

# Field-level messages: English page texts, translated by api/translations/*/LC_MESSAGES/selfservice.po.
REQUIRED = "This field is required."
TOO_LONG = "This is too long."
CHOOSE = "Choose one of the options."
BAD_EMAIL = "Please enter a valid e-mail address."
UNCHANGEABLE = "This cannot be changed here."
EMPTY_REQUEST = "Enter at least one change."
NO_CHANGE = "Nothing would change: this is what we have already."
BAD_CONTACTS = "List each authorized contact with a name and an e-mail address or phone number."
TOO_MANY_CONTACTS = "Name at most 10 authorized contacts."
UNKNOWN_CUSTOMER = "No customer has this customer number."
UNUSABLE = "This value cannot be used."


class Invalid(ValueError):
    """A value that cannot be stored; the message is one of the texts above."""


def _text(longest: int, required: bool = False, lines: bool = False) -> Callable[[Any], str | None]:
    def normalize(value: Any) -> str | None:
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise Invalid(UNUSABLE)
        if lines:
            value = "\n".join(line.strip() for line in value.replace("\r\n", "\n").split("\n") if line.strip())
        else:
            value = " ".join(value.split())
        if not value:
            if required:
                raise Invalid(REQUIRED)
            return None
        if len(value) > longest:
            raise Invalid(TOO_LONG)
        return value

    return normalize


def _choice(allowed: tuple[str, ...]) -> Callable[[Any], str]:
    def normalize(value: Any) -> str:
        if value not in allowed:
            raise Invalid(CHOOSE)
        return value

    return normalize


def _email(value: Any) -> str:
    text = _text(300, required=True)(value)
    if not EMAIL.fullmatch(text):
        raise Invalid(BAD_EMAIL)
    return text


def _contacts(value: Any) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(BAD_CONTACTS)
    if len(value) > MAX_CONTACTS:
        raise Invalid(TOO_MANY_CONTACTS)
    result = []
    for item in value:
        if not isinstance(item, dict) or set(item) - {"name", "email", "phone"}:
            raise Invalid(BAD_CONTACTS)
        try:
            name = _text(200, required=True)(item.get("name"))
            email = _text(300)(item.get("email"))
            phone = _text(50)(item.get("phone"))
        except Invalid:
            raise Invalid(BAD_CONTACTS) from None
        if (email is None and phone is None) or (email is not None and not EMAIL.fullmatch(email)):
            raise Invalid(BAD_CONTACTS)
        result.append({key: val for key, val in (("name", name), ("email", email), ("phone", phone)) if val})
    return result


@dataclass(frozen=True)
class AccountField:
    """One field a customer may change: its column, whether a colleague approves it, how a value is checked."""

    name: str
    sensitive: bool
    normalize: Callable[[Any], Any]
    labels: dict[str, str]  # language -> label, for summaries and mails


FIELDS: dict[str, AccountField] = {
    field.name: field
    for field in (
        AccountField(
            "contact_person",
            False,
            _text(200),
            {"en": "Contact person", "de": "Ansprechpartner", "cs": "Kontaktní osoba"},
        ),
        AccountField("phone", False, _text(50), {"en": "Phone", "de": "Telefon", "cs": "Telefon"}),
        AccountField(
            "address",
            False,
            _text(500, lines=True),
            {"en": "Postal address", "de": "Postanschrift", "cs": "Poštovní adresa"},
        ),
        AccountField("postcode", False, _text(20), {"en": "Postcode", "de": "Postleitzahl", "cs": "PSČ"}),
        AccountField("language", False, _choice(LANGUAGES), {"en": "Language", "de": "Sprache", "cs": "Jazyk"}),
        AccountField(
            "preferred_channel",
            False,
            _choice(PREFERRED_CHANNELS),
            {"en": "Preferred channel", "de": "Bevorzugter Kontaktweg", "cs": "Preferovaný způsob kontaktu"},
        ),
        AccountField(
            "billing_address",
            True,
            _text(500, lines=True),
            {"en": "Billing address", "de": "Rechnungsanschrift", "cs": "Fakturační adresa"},
        ),
        AccountField(
            "authorized_contacts",
            True,
            _contacts,
            {"en": "Authorized contacts", "de": "Bevollmächtigte Personen", "cs": "Oprávněné osoby"},
        ),
        AccountField("email", True, _email, {"en": "E-mail address", "de": "E-Mail-Adresse", "cs": "E-mailová adresa"}),
    )
}
SENSITIVE = tuple(name for name, field in FIELDS.items() if field.sensitive)

VALUE_NAMES = {  # how the values of the choice fields read, per language
    "en": {"en": "English", "de": "German", "cs": "Czech", "email": "e-mail", "phone": "phone", "letter": "letter"},
    "de": {
        "en": "Englisch",
        "de": "Deutsch",
        "cs": "Tschechisch",
        "email": "E-Mail",
        "phone": "Telefon",
        "letter": "Brief",
    },
    "cs": {
        "en": "angličtina",
        "de": "němčina",
        "cs": "čeština",
        "email": "e-mail",
        "phone": "telefon",
        "letter": "dopis",
    },
}


def current(customer: Customer, field: str) -> Any:
    """The value the store holds for ``field`` (authorized contacts: a list, never None)."""
    value = getattr(customer, field)
    if field == "authorized_contacts":
        return list(value or [])
    return value


def check(customer: Customer | None, changes: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The changes normalized (only fields whose value really changes, in :data:`FIELDS` order), and the problems.

    Problems name ``customer`` (unknown), ``changes`` (not a mapping, nothing asked, nothing would
    change) or a field; no problems and no changes cannot both be: an empty request is a problem.
    """
    if customer is None:
        return {}, {"customer": UNKNOWN_CUSTOMER}
    if not isinstance(changes, dict) or not changes:
        return {}, {"changes": EMPTY_REQUEST}
    normalized, problems = {}, {}
    for name, value in changes.items():
        field = FIELDS.get(name) if isinstance(name, str) else None
        if field is None:
            problems[str(name)] = UNCHANGEABLE
            continue
        try:
            new = field.normalize(value)
        except Invalid as invalid:
            problems[name] = str(invalid)
            continue
        if new != current(customer, name):
            normalized[name] = new
    if not problems and not normalized:
        problems["changes"] = NO_CHANGE
    order = list(FIELDS)  # the fields' own order, whatever order they came in (JSONB keeps none)
    return dict(sorted(normalized.items(), key=lambda item: order.index(item[0]))), problems


def shown(field: str, value: Any, language: str = "en") -> str:
    """A value as a person reads it in a summary (one line)."""
    if value is None or value == [] or value == "":
        return NOTHING
    if field == "authorized_contacts":
        return "; ".join(
            person["name"] + (f" ({', '.join(v for v in (person.get('email'), person.get('phone')) if v)})")
            for person in value
        )
    if field in ("language", "preferred_channel"):
        return VALUE_NAMES.get(language, VALUE_NAMES["en"]).get(value, value)
    return ", ".join(str(value).split("\n"))


def label(field: str, language: str = "en") -> str:
    labels = FIELDS[field].labels if field in FIELDS else {}
    return labels.get(language) or labels.get("en") or field


def summary(pairs: list[tuple[str, Any, Any]]) -> dict[str, str]:
    """``field: before → after`` lines for (field, before, after) triples, in each language."""
    return {
        language: "\n".join(
            f"{label(field, language)}: {shown(field, before, language)} → {shown(field, after, language)}"
            for field, before, after in pairs
        )
        for language in LANGUAGES
    }


def request(
    session: Session,
    *,
    key: str,
    customer: Customer,
    instance_id: int,
    changes: dict[str, Any],
    requested_by: str,
    channel: str | None,
    at: datetime,
) -> list[CustomerChange]:
    """Write one ``requested`` row per field (keys ``<key>:<field>``), in the caller's transaction."""
    rows = []
    for name, value in changes.items():
        row = CustomerChange(
            idempotency_key=f"{key}:{name}",
            customer_id=customer.id,
            instance_id=instance_id,
            field=name,
            before=current(customer, name),
            after=value,
            status="requested",
            channel=channel,
            requested_by=requested_by,
            requested_at=at,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def of_instance(session: Session, instance_id: int) -> list[CustomerChange]:
    """The rows one change request wrote, in the order of the fields asked for."""
    query = select(CustomerChange).where(CustomerChange.instance_id == instance_id).order_by(CustomerChange.id)
    return list(session.scalars(query))


def apply(
    session: Session, customer: Customer, rows: list[CustomerChange], decided_by: str | None, at: datetime
) -> None:
    """Write the rows' values to the customer (still ``requested`` ones only) and mark them applied."""
    for row in rows:
        if row.status != "requested":
            continue
        row.before = current(customer, row.field)
        setattr(customer, row.field, row.after)
        row.status, row.decided_by, row.decided_at = "applied", decided_by, at
    session.flush()
    search.index_customer(session, customer)  # the staff search finds them by their new address


def reject(rows: list[CustomerChange], decided_by: str | None, reason: str, at: datetime) -> None:
    for row in rows:
        if row.status == "requested":
            row.status, row.decided_by, row.decided_at, row.reason = "rejected", decided_by, at, reason


def change_view(row: CustomerChange) -> dict:
    """A history row for the pages: the values as stored (a page shows them in its reader's language)."""
    return {
        "id": row.id,
        "field": row.field,
        "before": row.before,
        "after": row.after,
        "status": row.status,
        "channel": row.channel,
        "requested_by": row.requested_by,
        "requested_at": row.requested_at.isoformat(),
        "decided_by": row.decided_by,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "reason": row.reason,
        "instance_id": row.instance_id,
    }


def of_customer(session: Session, customer_id: str, limit: int, before: int | None) -> tuple[list[dict], int | None]:
    """The customer's change history, newest first, and the id to pass as ``before`` for older rows."""
    query = (
        select(CustomerChange)
        .where(CustomerChange.customer_id == customer_id)
        .order_by(CustomerChange.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(CustomerChange.id < before)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return [change_view(row) for row in rows], rows[-1].id if more else None
