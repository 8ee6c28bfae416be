"""Filling the customer store from CSV exports (``carecenter customers import``).

A care center's customers, systems and licenses live in some CRM, its order catalog in some shop;
a CSV export of each is the common ground.  One file holds one kind of row; rows are upserted by
id.  A file is checked as a whole first and imported in one transaction, so a bad row (reported
with its line number) means nothing of that file is imported.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import events, search
from engine.db import Database
from process_library.store import (
    CATALOG_KINDS,
    LEVELS,
    LICENSE_STATUSES,
    TIERS,
    CatalogItem,
    Customer,
    License,
    System,
    customer_dict,
)

END_OF_DAY = time(23, 59, 59, tzinfo=UTC)


@dataclass(frozen=True)
class RowProblem:
    """Why line ``line`` of the file (the header is line 1) cannot be imported."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class CsvImportError(Exception):
    """The file was refused; ``problems`` says why."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s) found; nothing was imported")
        self.problems = problems


@dataclass(frozen=True)
class ImportResult:
    kind: str
    created: int
    updated: int
    unchanged: int

    def __str__(self) -> str:
        return f"{self.kind}: {self.created} created, {self.updated} updated, {self.unchanged} unchanged"


def _choice(allowed: tuple[str, ...]) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"'{value}' is not one of {', '.join(allowed)}")
        return value

    return check


def _email(value: str) -> str:
    local, at, domain = value.partition("@")
    if not (local and at and "." in domain) or any(c.isspace() for c in value):
        raise ValueError(f"'{value}' is not an email address")
    return value


def _optional(value: str) -> str | None:
    return value or None


def _valid_until(value: str) -> datetime:
    """A date means the end of that day (UTC); a date-time without offset is UTC."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), END_OF_DAY)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"'{value}' is not an ISO 8601 date or date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _price(value: str) -> Decimal:
    try:
        price = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"'{value}' is not a price such as 490.00") from None
    if not price.is_finite() or price < 0 or price != price.quantize(Decimal("0.01")) or price >= 10**10:
        raise ValueError(f"'{value}' is not a price such as 490.00 (at most two decimals, not negative)")
    return price


def _months(value: str) -> int:
    if not value.isdigit() or int(value) > 120:
        raise ValueError(f"'{value}' is not a number of months from 0 to 120")
    return int(value)


def _currency(value: str) -> str:
    if len(value) != 3 or not value.isalpha() or not value.isupper():
        raise ValueError(f"'{value}' is not a currency code such as EUR")
    return value


@dataclass(frozen=True)
class Column:
    name: str
    convert: Callable[[str], object] = str
    default: str | None = None  # None: required; otherwise the file may leave the column out, or a field empty


@dataclass(frozen=True)
class Kind:
    model: type[Customer | System | License | CatalogItem]
    columns: tuple[Column, ...]

    @property
    def references_customers(self) -> bool:
        return any(column.name == "customer_id" for column in self.columns)


KINDS: dict[str, Kind] = {
    "customers": Kind(
        Customer,
        (
            Column("id"),
            Column("name"),
            Column("email", _email),
            Column("tier", _choice(TIERS), "standard"),
            Column("language", default="en"),
            Column("postcode", _optional, ""),
            Column("phone", _optional, ""),
        ),
    ),
    "systems": Kind(
        System,
        (Column("id"), Column("customer_id"), Column("product"), Column("version"), Column("hostname", default="")),
    ),
    "licenses": Kind(
        License,
        (
            Column("id"),
            Column("customer_id"),
            Column("product"),
            Column("level", _choice(LEVELS)),
            Column("valid_until", _valid_until),
            Column("status", _choice(LICENSE_STATUSES), "active"),
        ),
    ),
    "catalog": Kind(
        CatalogItem,
        (
            Column("id"),
            Column("name"),
            Column("kind", _choice(CATALOG_KINDS)),
            Column("product"),
            Column("level", _choice(LEVELS)),
            Column("requires", _optional, ""),
            Column("price", _price),
            Column("currency", _currency, "EUR"),
            Column("term_months", _months, "12"),
        ),
    ),
}


def import_csv(db: Database, kind: str, text: str) -> ImportResult:
    """Upsert the rows of ``text`` (CSV with a header line) as ``kind``; raises CsvImportError, importing nothing."""
    spec = KINDS[kind]
    rows, errors = _parse(spec, text)
    with db.write() as session:
        if spec.references_customers:
            errors += _unknown_customers(session, rows)
        if errors:
            raise CsvImportError(errors)
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        for _line, values in rows:
            counts[_upsert(session, spec, values)] += 1
    return ImportResult(kind, **counts)


def _parse(spec: Kind, text: str) -> tuple[list[tuple[int, dict]], list[RowProblem]]:
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = [name.strip().lower() for name in next(reader, [])]
    if not header:
        return [], [RowProblem(1, "the file is empty (expected a header line)")]
    known = {column.name for column in spec.columns}
    missing = [c.name for c in spec.columns if c.default is None and c.name not in header]
    unknown = [name for name in header if name not in known]
    errors = []
    if missing:
        errors.append(RowProblem(1, f"missing column(s) {', '.join(missing)}"))
    if unknown:
        errors.append(RowProblem(1, f"unknown column(s) {', '.join(unknown)} (expected: {', '.join(sorted(known))})"))
    if errors:
        return [], errors
    rows: list[tuple[int, dict]] = []
    first_line: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        if not any(field.strip() for field in record):
            continue
        if len(record) != len(header):
            errors.append(RowProblem(line, f"{len(record)} field(s), the header has {len(header)}"))
            continue
        given = dict(zip(header, (field.strip() for field in record), strict=True))
        values, problems = _row(spec, given)
        if values.get("id") in first_line:
            problems.append(f"id '{values['id']}' is on line {first_line[values['id']]} already")
        if problems:
            errors.extend(RowProblem(line, problem) for problem in problems)
            continue
        first_line[values["id"]] = line
        rows.append((line, values))
    return rows, errors


def _row(spec: Kind, given: dict[str, str]) -> tuple[dict, list[str]]:
    values: dict = {}
    problems = []
    table = spec.model.__table__
    for column in spec.columns:
        if column.name not in given:
            continue  # an optional column the file leaves out: existing rows keep their value
        raw = given[column.name] or (column.default or "")
        if not raw and column.default is None:
            problems.append(f"{column.name} is empty")
            continue
        length = getattr(table.c[column.name].type, "length", None)
        if length and len(raw) > length:
            problems.append(f"{column.name} is longer than {length} characters")
            continue
        try:
            values[column.name] = column.convert(raw)
        except ValueError as error:
            problems.append(f"{column.name}: {error}")
    return values, problems


def _unknown_customers(session: Session, rows: list[tuple[int, dict]]) -> list[RowProblem]:
    wanted = {values["customer_id"] for _, values in rows}
    known = set(session.scalars(select(Customer.id).where(Customer.id.in_(wanted)))) if wanted else set()
    return [
        RowProblem(line, f"customer '{values['customer_id']}' does not exist (import customers first)")
        for line, values in rows
        if values["customer_id"] not in known
    ]


def _upsert(session: Session, spec: Kind, values: dict) -> str:
    row = session.get(spec.model, values["id"])
    if row is None:
        defaults = {
            column.name: column.convert(column.default) for column in spec.columns if column.default is not None
        }
        row = spec.model(**{**defaults, **values})
        session.add(row)
        _indexed(session, row, "created")
        return "created"
    if all(getattr(row, name) == value for name, value in values.items()):
        return "unchanged"
    for name, value in values.items():
        setattr(row, name, value)
    _indexed(session, row, "updated")
    return "updated"


def _indexed(session: Session, row: Customer | System | License | CatalogItem, change: str) -> None:
    """Customers are found by the staff search: their search row is written with them; other systems learn of it."""
    if isinstance(row, Customer):
        search.index_customer(session, row)
        events.customer_changed(session, row.id, change, customer_dict(row), datetime.now(UTC))
