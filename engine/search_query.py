"""The staff search: what someone typed, turned into safe text-search queries, answered in three groups.

Typed text never reaches a query as it was typed. :meth:`Terms.parse` keeps only tokens made as
:func:`engine.search.tokens` makes the indexed words (letters and digits, lower case, no
accents), so quotes, ``*``, ``NEAR``, ``OR``, ``-``, parentheses or NUL characters are no syntax
to either database; each token is then quoted into the database's own query language (FTS5 on
SQLite, a ``tsquery`` on PostgreSQL) as a prefix query, all of them required. Identifiers are
also looked up exactly (indexed equality): a case reference typed as forgivingly as
:func:`engine.case_reference.parse` reads it, a business key, a customer id, and, for those
allowed, a tracking code; exact hits come first.

Cases and tasks are filtered by the viewer's :class:`~engine.visibility.TaskScope` in the query;
customers are visible to all staff. Each group answers the first :data:`SHOWN` rows with the
number of further matches, counted up to :data:`COUNTED`.
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass

from sqlalchemy import ColumnElement, column, func, literal_column, or_, select, table
from sqlalchemy.orm import Session

from engine import case_reference
from engine.db import Database
from engine.models import CaseSearch, CustomerSearch, CustomerStatus, HumanTask, ProcessInstance
from engine.search import MAX_TOKEN, MIN_PHONE_DIGITS, PHONE_MARK, phone_digits, phone_token, tokens
from engine.visibility import TaskScope
from process_library.store import Customer

MAX_QUERY = 200  # characters of the typed text that are read
MAX_TERMS = 8
MIN_TERM = 2  # a one-character word is matched whole, never as a prefix, and is no query alone
MAX_PHONE_DIGITS = 20
SHOWN = 10
COUNTED = 100
_PHONE_LIKE = re.compile(r"[\d\s+\-()./]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# A phrase: tokens that follow each other (what was typed without a space: ``C-1``, ``ada.lovelace@example.com``),
# the last one matched as a prefix or whole. A query: alternatives (OR) of groups of phrases that must all match.
Phrase = tuple[tuple[str, ...], bool]
Query = list[list[Phrase]]


def phrases(text: str, tokenize=tokens) -> tuple[tuple[str, ...], ...]:
    """The tokens of each space-separated part of ``text``, at most :data:`MAX_TERMS` tokens in all."""
    found: list[tuple[str, ...]] = []
    budget = MAX_TERMS
    for part in text.split():
        words = tuple(tokenize(part))[:budget]
        if words and words not in found:
            found.append(words)
            budget -= len(words)
    return tuple(found)


def _phrase(words: tuple[str, ...]) -> Phrase:
    return words, len(words[-1]) >= MIN_TERM


@dataclass(frozen=True)
class Terms:
    """What the search looks for, read from typed text."""

    text: str  # as typed: whitespace collapsed, control characters removed, at most MAX_QUERY characters
    phrases: tuple[tuple[str, ...], ...]  # tokens as the index has them, by the parts that were typed
    reference: str | None  # a case reference in its canonical form
    phone: str | None  # the digits of a phone number, when the text is one

    @classmethod
    def parse(cls, typed: str | None) -> Terms:
        text = " ".join(_CONTROL.sub(" ", (typed or "")[:MAX_QUERY]).split())
        reference = None
        if text:
            with suppress(case_reference.InvalidReference):
                reference = case_reference.parse(text)
        digits = phone_digits(text) if _PHONE_LIKE.fullmatch(text) else ""
        phone = digits[:MAX_PHONE_DIGITS] if len(digits) >= MIN_PHONE_DIGITS else None
        return cls(text, phrases(text), reference, phone)

    @property
    def usable(self) -> bool:
        """Whether there is anything to look for: two letters or digits at least (``C-1`` has two)."""
        return sum(len(word) for words in self.phrases for word in words) >= MIN_TERM

    def all_words(self) -> Query:
        return [[_phrase(words) for words in self.phrases]] if self.phrases else []

    def phone_numbers(self) -> Query:
        """Numbers that end with the typed one, or with which the typed one ends (+49 30 1234567 and 030 1234567)."""
        if self.phone is None:
            return []
        typed = phone_token(self.phone)
        shorter = [typed[: len(PHONE_MARK) + n] for n in range(MIN_PHONE_DIGITS, len(self.phone))]
        return [[((typed,), True)]] + [[((token,), False)] for token in shorter]


@dataclass(frozen=True)
class Group:
    """The first matches of one kind, and how many there are (``capped``: at least that many)."""

    items: list[dict]
    total: int
    capped: bool

    @property
    def more(self) -> int:
        return self.total - len(self.items)


@dataclass(frozen=True)
class Results:
    cases: Group
    customers: Group
    tasks: Group


def fts5_query(query: Query) -> str:
    """SQLite FTS5 syntax: each phrase one quoted string (nothing in it is syntax), ``*`` for a prefix."""

    def phrase(words: tuple[str, ...], prefix: bool) -> str:
        return '"' + " ".join(words).replace('"', '""') + '"' + (" *" if prefix else "")

    return " OR ".join("(" + " AND ".join(phrase(*p) for p in group) + ")" for group in query)


def tsquery(query: Query) -> str:
    """PostgreSQL ``to_tsquery`` syntax: quoted lexemes, ``<->`` between those of a phrase, ``:*`` for a prefix."""

    def lexeme(word: str) -> str:
        return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"

    def phrase(words: tuple[str, ...], prefix: bool) -> str:
        return "(" + " <-> ".join(lexeme(word) for word in words) + (":*" if prefix else "") + ")"

    return " | ".join("(" + " & ".join(phrase(*p) for p in group) + ")" for group in query)


class Search:
    """Finds cases, customers and tasks for the staff search box."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def find(self, terms: Terms, scope: TaskScope | None, with_tracking_codes: bool = False) -> Results:
        """What ``terms`` find that the viewer may see (``scope`` None: everything).

        ``with_tracking_codes``: the text may also be a tracking code (for admins; staff never find a case by it).
        """
        with self.db.read() as session:
            return Results(
                self._cases(session, terms, scope, with_tracking_codes),
                self._customers(session, terms),
                self._tasks(session, terms, scope),
            )

    def _matches(self, words_of, rowid, query: Query, fts_table: str) -> ColumnElement[bool]:
        """The database's text search: the FTS5 table's rowids on SQLite, the GIN-indexed tsvector on PostgreSQL."""
        if self.db.is_sqlite:
            fts = table(fts_table, column("rowid"), column(fts_table))
            return rowid.in_(select(fts.c.rowid).where(fts.c[fts_table].op("MATCH")(fts5_query(query))))
        simple = literal_column("'simple'")
        return func.to_tsvector(simple, words_of).op("@@")(func.to_tsquery(simple, tsquery(query)))

    def _cases(self, session: Session, terms: Terms, scope: TaskScope | None, with_tracking_codes: bool) -> Group:
        exact = [ProcessInstance.business_key == terms.text]
        if terms.reference:
            exact.append(ProcessInstance.reference == terms.reference)
        if with_tracking_codes:
            exact.append(ProcessInstance.tracking_code == terms.text)
        first = select(ProcessInstance.id).where(or_(*exact)).order_by(ProcessInstance.id.desc()).limit(SHOWN)
        found: list[int] = []
        if terms.phrases:
            match = self._matches(CaseSearch.words, CaseSearch.instance_id, terms.all_words(), "search_cases_fts")
            newest = select(CaseSearch.instance_id).where(match).order_by(CaseSearch.instance_id.desc())
            if scope is not None:
                newest = newest.where(scope.instance_predicate(CaseSearch.instance_id))
            found = list(session.scalars(newest.limit(COUNTED + 1)))
        if scope is not None:
            first = first.where(scope.instance_predicate(ProcessInstance.id))
        ids, total = _merge(list(session.scalars(first)), found)
        rows = session.execute(
            select(
                ProcessInstance.id,
                ProcessInstance.reference,
                ProcessInstance.status,
                ProcessInstance.started_at,
                CustomerStatus.title,
                CustomerStatus.stage,
                CaseSearch.subject,
                CaseSearch.customer_name,
            )
            .outerjoin(CustomerStatus, CustomerStatus.instance_id == ProcessInstance.id)
            .outerjoin(CaseSearch, CaseSearch.instance_id == ProcessInstance.id)
            .where(ProcessInstance.id.in_(ids))
        )
        return _group(ids, {row.id: dict(row._mapping) for row in rows}, total, len(found) > COUNTED)

    def _customers(self, session: Session, terms: Terms) -> Group:
        exact = list(session.scalars(select(Customer.id).where(Customer.id == terms.text)))
        query = terms.all_words() + terms.phone_numbers()
        found: list[str] = []
        if query:
            match = self._matches(CustomerSearch.words, CustomerSearch.id, query, "search_customers_fts")
            found = list(
                session.scalars(
                    select(Customer.id)
                    .join(CustomerSearch, CustomerSearch.customer_id == Customer.id)
                    .where(match)
                    .order_by(Customer.name, Customer.id)
                    .limit(COUNTED + 1)
                )
            )
        ids, total = _merge(exact, found)
        rows = session.execute(
            select(Customer.id, Customer.name, Customer.email, Customer.phone).where(Customer.id.in_(ids))
        )
        return _group(ids, {row.id: dict(row._mapping) for row in rows}, total, len(found) > COUNTED)

    def _tasks(self, session: Session, terms: Terms, scope: TaskScope | None) -> Group:
        if not terms.phrases:
            return Group([], 0, False)
        query = terms.all_words()
        if not self.db.is_sqlite:  # PostgreSQL's 'simple' configuration keeps accents: try the words as typed, too
            typed = [[_phrase(words) for words in phrases(terms.text, _lowered)]]
            query += typed if typed != query else []
        match = self._matches(HumanTask.name, HumanTask.id, query, "human_tasks_fts")
        ids_query = (
            select(HumanTask.id)
            .where(HumanTask.status == "open", match)
            .order_by(HumanTask.id.desc())
            .limit(COUNTED + 1)
        )
        if scope is not None:
            ids_query = ids_query.where(scope.task_predicate())
        found = list(session.scalars(ids_query))
        ids = found[:SHOWN]
        rows = session.execute(
            select(
                HumanTask.id,
                HumanTask.name,
                HumanTask.assignee,
                HumanTask.due_at,
                ProcessInstance.reference,
                CustomerStatus.title,
                CaseSearch.customer_name,
            )
            .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .outerjoin(CustomerStatus, CustomerStatus.instance_id == HumanTask.instance_id)
            .outerjoin(CaseSearch, CaseSearch.instance_id == HumanTask.instance_id)
            .where(HumanTask.id.in_(ids))
        )
        return _group(ids, {row.id: dict(row._mapping) for row in rows}, len(found), len(found) > COUNTED)


def _lowered(text: str) -> list[str]:
    """Words as PostgreSQL's 'simple' configuration makes them: lower case, accents kept."""
    return [word[:MAX_TOKEN] for word in re.split(r"[\W_]+", text.lower()) if word]


def _merge(exact: list, found: list) -> tuple[list, int]:
    """Exact hits first, then the others: the ids to show, and how many distinct ones (of the counted) there are."""
    counted = found[:COUNTED] if len(found) > COUNTED else found
    every = list(dict.fromkeys([*exact, *counted]))
    return every[:SHOWN], len(every)


def _group(ids: list, rows: dict, total: int, capped: bool) -> Group:
    return Group([rows[i] for i in ids if i in rows], total, capped)
