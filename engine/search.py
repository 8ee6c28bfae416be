"""The staff search's index: the words each case and customer is found by, written with the rows they come from.

One search box finds cases by reference, business key, subject and customer, and customers by id,
name, e-mail address and phone number. Each case has one ``search_cases`` row and each customer
one ``search_customers`` row holding its *words*; the database's own text index sits on those
(a GIN index on ``to_tsvector('simple', words)`` on PostgreSQL, an FTS5 table kept by triggers on
SQLite; migration 0016). Like every read model, the rows are written in the same transaction as
the rows they mirror:

- :func:`index_instance` when an instance starts (:meth:`engine.execution.Executor.create`) and
  when it is filed under another customer (:meth:`engine.runtime.Runtime.link_customer`);
- :func:`index_customer` wherever a customer row is created or changed (CSV import, channel
  intake, ...): it also refreshes the customer's cases, whose words carry the customer's name.

Words are tokens as :func:`tokens` makes them: lower case, accents removed, cut at everything that
is neither letter nor digit, so that the query side (:mod:`engine.search_query`) makes its terms
the same way and both databases see only plain tokens. Identifiers add their run-together form
(``cc7k4m2qxe`` beside ``cc 7k4m 2qxe``), and phone numbers a token of the digits of their E.164
form written backwards (:func:`phone_tokens`), so that every notation of a number finds it, and so
does its end.

:func:`start_facts` reads the subject and the intake customer's name from the stored state, so
the words of a case can be computed from its rows alone: migration 0016 fills the index that way
and :func:`from_scratch` recomputes all of it to compare with what was kept step by step.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import phone_numbers, row_writes
from engine.models import CaseSearch, CustomerSearch, ProcessInstance
from process_library.store import Customer

MAX_TOKEN = 60  # longer tokens are cut: nobody types more, and both indexes have a limit
MAX_SUBJECT = 300  # the search_cases.subject column
MIN_PHONE_DIGITS = 6
PHONE_MARK = "tel"  # phone tokens are "tel" + the digits backwards, apart from every other word
_NOT_WORD = re.compile(r"[\W_]+")


def tokens(text: str | None) -> list[str]:
    """The words of ``text``: lower case, accents removed, split at everything but letters and digits."""
    if not text:
        return []
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return [token[:MAX_TOKEN] for token in _NOT_WORD.split(plain) if token]


def identifier_tokens(value: str | None) -> list[str]:
    """The tokens of an identifier, and all of them run together (``ORD-2024-17``: ord, 2024, 17, ord202417)."""
    parts = tokens(value)
    joined = "".join(parts)[:MAX_TOKEN]
    return parts + [joined] if len(parts) > 1 else parts


def phone_digits(phone: str | None) -> str:
    """The digits of a phone number without leading zeros: ``+49 30 1234567`` and ``030/1234567`` end alike."""
    return "".join(c for c in phone or "" if c.isdigit() and c.isascii()).lstrip("0")


def phone_token(digits: str) -> str:
    """The word a phone number is found by: its digits backwards, so that typing its end is a prefix query."""
    return PHONE_MARK + digits[::-1][:MAX_TOKEN]


def _words(*groups: list[str]) -> str:
    """The groups' tokens in order (repeats kept: what was typed together is found as a phrase)."""
    return " ".join(token for group in groups for token in group)


def case_words(
    reference: str, business_key: str | None, subject: str | None, customer_id: str | None, customer_name: str | None
) -> str:
    return _words(
        identifier_tokens(reference),
        identifier_tokens(reference.removeprefix("CC-")),
        identifier_tokens(business_key),
        tokens(subject),
        identifier_tokens(customer_id),
        tokens(customer_name),
    )


def customer_words(customer: Customer) -> str:
    return _words(
        identifier_tokens(customer.id),
        tokens(customer.name),
        tokens(customer.email),
        tokens(customer.phone),
        phone_tokens(customer.phone),
    )


def phone_tokens(phone: str | None) -> list[str]:
    """The words a customer's number is found by: its E.164 digits, and the digits as written where they differ.

    The E.164 form (:mod:`engine.phone_numbers`) is what every notation of the number comes to, so
    ``030/1234567`` finds ``+49 30 1234567``; the digits as written keep a number found by its end
    when it was filed without its country code and is typed with another one.
    """
    found = []
    for digits in (e164_digits(phone), phone_digits(phone)):
        if len(digits) >= MIN_PHONE_DIGITS and phone_token(digits) not in found:
            found.append(phone_token(digits))
    return found


def e164_digits(phone: str | None) -> str:
    """The digits of the number's E.164 form (country code first), or "" when it is no phone number."""
    return (phone_numbers.e164(phone) or "").removeprefix("+")


def query_phone_digits(typed: str) -> str:
    """The digits a typed number is looked up by: its E.164 form if it is a whole valid number, else as typed.

    A part of a number (its end, ``1234567``) is no valid number; its digits find the numbers ending so.
    """
    return e164_digits(typed) if phone_numbers.is_valid(typed) else phone_digits(typed)


@dataclass(frozen=True)
class StartFacts:
    """What a case started with that its rows do not hold: the subject, and who wrote in (channel intake)."""

    subject: str | None
    intake_customer_id: str | None
    intake_customer_name: str | None


def start_facts(state: str) -> StartFacts:
    """The ``subject`` variable (or the inquiry's subject) and the inquiry's customer, from the stored state.

    Each is taken where it was first set: SpiffWorkflow's serializer stores the root task's data and,
    for every other task, what it changed (``delta.updates``); the earliest task that set one holds
    what the case started with, whatever later steps change.
    """
    try:
        workflow = json.loads(state)["workflow"]
        tasks = sorted(workflow["tasks"].values(), key=lambda task: task.get("last_state_change") or 0)
        datas = [workflow.get("data") or {}]
        for task in tasks:
            datas += [task.get("data") or {}, (task.get("delta") or {}).get("updates") or {}]
    except (ValueError, KeyError, TypeError, AttributeError):
        return StartFacts(None, None, None)
    subject = inquiry = None
    for data in datas:
        if not isinstance(data, dict):
            continue
        if inquiry is None and isinstance(data.get("inquiry"), dict):
            inquiry = data["inquiry"]
        if subject is None and isinstance(data.get("subject"), str) and data["subject"].strip():
            subject = data["subject"]
    inquiry = inquiry or {}
    if subject is None and isinstance(inquiry.get("subject"), str) and inquiry["subject"].strip():
        subject = inquiry["subject"]
    customer = inquiry.get("customer") if isinstance(inquiry.get("customer"), dict) else {}
    name, customer_id = customer.get("name"), customer.get("id")
    return StartFacts(
        " ".join(subject.split())[:MAX_SUBJECT] if subject else None,
        customer_id if isinstance(customer_id, str) else None,
        name.strip()[:300] if isinstance(name, str) and name.strip() else None,
    )


def case_row(instance: ProcessInstance, facts: StartFacts, customer: Customer | None) -> dict:
    """The ``search_cases`` row of an instance: the store's name of its customer, else the name it wrote in with."""
    if customer is not None:
        name = customer.name
    elif instance.customer_id is not None and instance.customer_id == facts.intake_customer_id:
        name = facts.intake_customer_name
    else:
        name = None
    return {
        "instance_id": instance.id,
        "customer_id": instance.customer_id,
        "customer_name": name,
        "subject": facts.subject,
        "words": case_words(instance.reference, instance.business_key, facts.subject, instance.customer_id, name),
    }


def index_instance(session: Session, instance: ProcessInstance, new_instance: bool = False) -> None:
    """Write the search row of ``instance`` (flushed already), in the caller's transaction.

    ``new_instance``: it was inserted in this transaction, so it has no search row yet to read.
    """
    customer = session.get(Customer, instance.customer_id) if instance.customer_id else None
    values = case_row(instance, start_facts(instance.state), customer)
    stored = None if new_instance else session.get(CaseSearch, instance.id)
    if stored is None:
        row_writes.insert_new(session, [CaseSearch(**values)])
        return
    for name, value in values.items():
        if getattr(stored, name) != value:
            setattr(stored, name, value)
    row_writes.write_changes(session, stored)


def index_customer(session: Session, customer: Customer) -> None:
    """Write the search row of ``customer`` and, if its words changed, refresh its cases (they carry its name).

    The one entry point for every place that creates or changes a customer row, in that place's transaction.
    """
    words = customer_words(customer)
    stored = session.scalar(select(CustomerSearch).where(CustomerSearch.customer_id == customer.id))
    if stored is not None and (stored.name, stored.words) == (customer.name, words):
        return
    if stored is None:
        session.add(CustomerSearch(customer_id=customer.id, name=customer.name, words=words))
    else:
        stored.name, stored.words = customer.name, words
    cases = session.execute(
        select(CaseSearch, ProcessInstance.reference, ProcessInstance.business_key)
        .join(ProcessInstance, ProcessInstance.id == CaseSearch.instance_id)
        .where(CaseSearch.customer_id == customer.id)
    )
    for case, reference, business_key in cases:
        words = case_words(reference, business_key, case.subject, customer.id, customer.name)
        if (case.customer_name, case.words) != (customer.name, words):
            case.customer_name, case.words = customer.name, words


def from_scratch(session: Session) -> tuple[dict[int, dict], dict[str, tuple[str, str]]]:
    """What the index would hold if it were built now from the instances and customers.

    The cases' rows by instance, and the customers' (name, words) by customer.

    For checks: the index kept step by step must equal this.
    """
    customers = {customer.id: customer for customer in session.scalars(select(Customer))}
    cases = {
        instance.id: case_row(instance, start_facts(instance.state), customers.get(instance.customer_id))
        for instance in session.scalars(select(ProcessInstance))
    }
    return cases, {customer_id: (c.name, customer_words(c)) for customer_id, c in customers.items()}


def stored(session: Session) -> tuple[dict[int, dict], dict[str, tuple[str, str]]]:
    """What the index holds, in the form of :func:`from_scratch`."""
    columns = ("instance_id", "customer_id", "customer_name", "subject", "words")
    cases = {
        row.instance_id: {name: getattr(row, name) for name in columns} for row in session.scalars(select(CaseSearch))
    }
    customers = {row.customer_id: (row.name, row.words) for row in session.scalars(select(CustomerSearch))}
    return cases, customers
