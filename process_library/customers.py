"""Customer records staff and channels work with: the one place that files a new customer, and the list by prefix.

A caller the store does not know gets a record when staff log their call or a trusted channel
(an integration account) submits their inquiry: :func:`create_customer` is the only code that
inserts a customer besides the CSV import, so whatever must happen to every new customer (an
index for the search, say) happens there.  The portal never files customers: nobody proves who
they are on a web form (see docs/access.md and ``web:<e-mail>`` contacts in docs/customer.md).

The staff list finds customers by the beginning of their name, e-mail address or id, in any
case, through expression indexes (migration 0014), never a leading-wildcard ``LIKE``.  The
lookups compare byte-wise (``COLLATE "C"`` on PostgreSQL, SQLite's binary order), so a prefix
range is exact under any database collation, and the list's order is the same on both databases.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import String, and_, func, or_, select, tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from engine import events, search
from engine.errors import InvalidRequest, Unprocessable
from process_library.store import TIERS, Customer, customer_dict

MAX_ID = 50  # the customers.id column
MAX_NAME = 200
MAX_EMAIL = 300
MAX_PHONE = 50
LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8})?")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
RESERVED_ID = ":"  # web:<e-mail> and other unverified contacts are never ids of the store
NEW_ID_PREFIX = "C-"
LAST_CHARACTER = "\U0010ffff"  # sorts after every character, byte-wise: the end of a prefix range


class lowered(FunctionElement):
    """``lower(column)`` as the prefix indexes of migration 0014 hold it: byte-wise (``COLLATE "C"``) on PostgreSQL."""

    type = String()
    name = "lowered"
    inherit_cache = True


@compiles(lowered)
def _lowered(element: lowered, compiler, **kw) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(lowered, "postgresql")
def _lowered_postgresql(element: lowered, compiler, **kw) -> str:
    return f'lower({compiler.process(element.clauses, **kw)}) COLLATE "C"'


def new_customer_id() -> str:
    """A fresh id: ``C-`` and eight characters nobody confuses when reading them out (no 0/O, 1/I/L)."""
    alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
    return NEW_ID_PREFIX + "".join(secrets.choice(alphabet) for _ in range(8))


def storable_id(customer_id: str) -> bool:
    """Whether this id can be a customer's in the store: ``web:<e-mail>`` and other contacts with ``:`` cannot."""
    return 0 < len(customer_id) <= MAX_ID and RESERVED_ID not in customer_id


def check_new_customer(
    *, name: object, email: object, phone: object = None, language: object = None, customer_id: object = None
) -> list[str]:
    """What is wrong with these fields for a new customer record (empty: nothing)."""
    problems = []
    for field, value, longest in (("name", name, MAX_NAME), ("email", email, MAX_EMAIL)):
        if not isinstance(value, str) or not value.strip() or len(value.strip()) > longest:
            problems.append(f"customer.{field} must be a non-empty string of at most {longest} characters")
    if isinstance(email, str) and email.strip() and not EMAIL.fullmatch(email.strip()):
        problems.append("customer.email must be an e-mail address")
    if phone is not None and (not isinstance(phone, str) or len(phone.strip()) > MAX_PHONE):
        problems.append(f"customer.phone must be a string of at most {MAX_PHONE} characters")
    if language is not None and (not isinstance(language, str) or not LANGUAGE.fullmatch(language)):
        problems.append("customer.language must be a language code such as en, de or cs")
    if customer_id is not None:
        if not isinstance(customer_id, str) or not customer_id.strip() or len(customer_id.strip()) > MAX_ID:
            problems.append(f"a new customer's id must be a non-empty string of at most {MAX_ID} characters")
        elif RESERVED_ID in customer_id:
            problems.append("a new customer's id must not contain ':' (web:<e-mail> names an unverified contact)")
    return problems


def create_customer(
    session: Session,
    *,
    name: str,
    email: str,
    phone: str | None = None,
    language: str | None = None,
    customer_id: str | None = None,
    at: datetime | None = None,
) -> Customer:
    """File a new customer (tier standard, language as given or ``en``) in the caller's transaction.

    ``customer_id`` is the id a trusted channel already uses for them; without one a new id is made.
    ``at`` is when (the engine's clock; now by default), for the ``customer.changed`` event.
    Raises InvalidRequest for fields that cannot be stored.
    """
    problems = check_new_customer(name=name, email=email, phone=phone, language=language, customer_id=customer_id)
    if problems:
        raise InvalidRequest("; ".join(problems))
    customer = Customer(
        id=customer_id.strip() if customer_id else _unused_id(session),
        name=name.strip(),
        email=email.strip(),
        tier=TIERS[0],
        language=language or "en",
        postcode=None,
        phone=(phone or "").strip() or None,
    )
    session.add(customer)
    session.flush()
    search.index_customer(session, customer)  # found by the staff search from this transaction on
    events.customer_changed(session, customer.id, "created", customer_dict(customer), at or datetime.now(UTC))
    return customer


def _unused_id(session: Session) -> str:
    for _ in range(10):
        candidate = new_customer_id()
        if session.get(Customer, candidate) is None:
            return candidate
    raise Unprocessable("no unused customer id found; try again")  # 31**8 ids: never in practice


def known_customer(session: Session, customer_id: str) -> Customer:
    """The customer with this id; Unprocessable (422) names the problem for an unknown one."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise Unprocessable(
            f"no customer has the id '{customer_id}'; name a known customer by id, or give name and email for a new one"
        )
    return customer


def with_email(session: Session, email: str, limit: int = 5) -> list[Customer]:
    """Customers whose e-mail address is this one, in any case (by the prefix index): a caller already filed?"""
    key = lowered(Customer.email)
    return list(session.scalars(select(Customer).where(key == func.lower(email.strip())).order_by(key).limit(limit)))


def beginning_with(prefix: str) -> ColumnElement[bool]:
    """Customers whose name, e-mail address or id begins with ``prefix``, in any case: three index range scans."""
    start = func.lower(prefix)
    end = func.lower(prefix) + LAST_CHARACTER
    return or_(
        *(
            and_(lowered(column) >= start, lowered(column) < end)
            for column in (Customer.name, Customer.email, Customer.id)
        )
    )


@dataclass(frozen=True)
class CustomerList:
    items: list[dict]
    next_after: str | None  # the id of the last customer shown, when more follow


def list_customers(session: Session, prefix: str, limit: int, after: str | None) -> CustomerList:
    """Customers by name (then id), optionally only those whose name, e-mail or id begins with ``prefix``.

    ``after`` is the id of the last customer of the previous page.
    """
    name_key = lowered(Customer.name)
    query = select(Customer).order_by(name_key, Customer.id).limit(limit + 1)
    if prefix.strip():
        query = query.where(beginning_with(prefix.strip()))
    if after is not None:
        last_key = select(name_key).where(Customer.id == after).scalar_subquery()
        query = query.where(tuple_(name_key, Customer.id) > tuple_(last_key, after))
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return CustomerList([customer_dict(c) for c in rows], rows[-1].id if more else None)
