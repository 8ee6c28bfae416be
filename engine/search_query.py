"""The staff search: what someone typed, turned into safe text-search queries, answered in three groups.

Typed text never reaches a query as it was typed. :meth:`Terms.parse` keeps only tokens made as
:func:`engine.search.tokens` makes the indexed words (letters and digits, lower case, no
accents), so quotes, ``*``, ``NEAR``, ``OR``, ``-``, parentheses or NUL characters are no syntax
to either database. The tokens of each part typed without a space form a phrase (they must follow
each other, the last one matched as a prefix), every phrase is required, and each is quoted into
the database's own query language (FTS5 on SQLite, a ``tsquery`` on PostgreSQL). Identifiers are
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
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    bindparam,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    union_all,
)
from sqlalchemy.orm import Session

from engine import case_reference
from engine.db import Database
from engine.models import CaseSearch, CustomerSearch, CustomerStatus, HumanTask, ProcessInstance
from engine.search import (
    MAX_TOKEN,
    MIN_PHONE_DIGITS,
    PHONE_MARK,
    phone_digits,
    phone_token,
    query_phone_digits,
    tokens,
)
from engine.visibility import TaskScope
from process_library.store import Customer

MAX_QUERY = 200  # characters of the typed text that are read
MAX_TERMS = 8
MIN_TERM = 2  # a one-character word is matched whole, never as a prefix, and is no query alone
MAX_PHONE_DIGITS = 20
SHOWN = 10
COUNTED = 30  # staff narrow the search rather than read on: "more than 20 further matches" is enough
PROBE = 1200  # PostgreSQL: up to this many matches are collected from the text index, more found walking the rows
_PHONE_LIKE = re.compile(r"[\d\s+\-()./]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SIMPLE = literal_column("'simple'")  # PostgreSQL's text-search configuration without stemming or stop words
EMPTY_TSVECTOR = literal_column("''::tsvector")

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
    # the digits a phone number is looked up by, when the text is one: its E.164 form where it reads as a whole
    # number, and the digits as typed (a number's last digits, "234567", may read as a whole short number too)
    phones: tuple[str, ...]

    @classmethod
    def parse(cls, typed: str | None) -> Terms:
        text = " ".join(_CONTROL.sub(" ", (typed or "")[:MAX_QUERY]).split())
        reference = None
        if text:
            with suppress(case_reference.InvalidReference):
                reference = case_reference.parse(text)
        looked_up = (query_phone_digits(text), phone_digits(text)) if _PHONE_LIKE.fullmatch(text) else ()
        phones = tuple(dict.fromkeys(d[:MAX_PHONE_DIGITS] for d in looked_up if len(d) >= MIN_PHONE_DIGITS))
        return cls(text, phrases(text), reference, phones)

    @property
    def usable(self) -> bool:
        """Whether there is anything to look for: two letters or digits at least (``C-1`` has two)."""
        return sum(len(word) for words in self.phrases for word in words) >= MIN_TERM

    def all_words(self) -> Query:
        return [[_phrase(words) for words in self.phrases]] if self.phrases else []

    def phone_numbers(self) -> Query:
        """Numbers that end with the typed one, or with which the typed one ends (+49 30 1234567 and 030 1234567)."""
        query: Query = []
        for phone in self.phones:
            typed = phone_token(phone)
            shorter = [typed[: len(PHONE_MARK) + n] for n in range(MIN_PHONE_DIGITS, len(phone))]
            query += [[((typed,), True)]] + [[((token,), False)] for token in shorter]
        return query


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


@dataclass
class _Matching:
    """The rows of one table whose text matches a query, and what each database needs to find them."""

    rowid: Any  # the table's id column (SQLite: the rowid of its FTS5 table)
    tsvectors: tuple  # PostgreSQL: the tsvector the GIN index covers, and the same as an expression it does not
    query: Query
    filters: tuple = ()
    ids: list[int] = field(default_factory=list)  # PostgreSQL: what the index found, up to PROBE

    def probe(self) -> Select:
        return select(self.rowid).where(*self.filters, _tsquery_match(self.tsvectors[0], self.query)).limit(PROBE)


class Search:
    """Finds cases, customers and tasks for the staff search box."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def find(self, terms: Terms, scope: TaskScope | None, with_tracking_codes: bool = False) -> Results:
        """What ``terms`` find that the viewer may see (``scope`` None: everything).

        ``with_tracking_codes``: the text may also be a tracking code (for admins; staff never find a case by it).
        """
        cases = tasks = None
        if terms.phrases:
            words = literal_column("search_cases.words_tsv")  # PostgreSQL: generated from words (migration 0016)
            cases = _Matching(CaseSearch.instance_id, (words, words.op("||")(EMPTY_TSVECTOR)), terms.all_words())
            names = (func.to_tsvector(SIMPLE, HumanTask.name), func.to_tsvector(SIMPLE, HumanTask.name + ""))
            tasks = _Matching(HumanTask.id, names, self._task_query(terms), (HumanTask.status == "open",))
        with self.db.read() as session:
            if not self.db.is_sqlite and terms.phrases:
                probes = [select(func.array_agg(m.probe().subquery().c[0])).scalar_subquery() for m in (cases, tasks)]
                for matching, ids in zip((cases, tasks), session.execute(select(*probes)).one(), strict=True):
                    matching.ids = ids or []
                tasks = tasks if tasks.ids else None  # most searches name no task: no query for them
            return Results(
                self._cases(session, terms, cases, scope, with_tracking_codes),
                self._customers(session, terms),
                self._tasks(session, tasks, scope),
            )

    def _task_query(self, terms: Terms) -> Query:
        query = terms.all_words()
        if not self.db.is_sqlite:  # PostgreSQL's 'simple' configuration keeps accents: try the words as typed, too
            typed = [[_phrase(words) for words in phrases(terms.text, _lowered)]]
            query += typed if typed != query else []
        return query

    def _plan(self, matching: _Matching) -> tuple:
        """The id column to select and the conditions that find the matching rows.

        On SQLite, the rowids of the FTS5 table (``<table>_fts``) that match. On PostgreSQL the plan that
        is quick depends on how many rows match, which the planner cannot tell well (nor how few of
        them the viewer's scope lets through, nor what testing a row costs): a few hundred are quickest
        collected from the GIN index and then checked, many are quickest found by walking the rows newest
        first until enough are visible. So :meth:`find` first collects up to :data:`PROBE` matches from the
        indexes (one statement for both tables): fewer than that are all there are, and only they are
        checked, while for more the rows are walked newest first through a tsvector expression the
        index does not cover (so that the planner cannot pick the index).
        """
        rowid, filters = matching.rowid, matching.filters
        if self.db.is_sqlite:
            return rowid, [*filters, _fts5_match(rowid, matching.query)]
        if len(matching.ids) >= PROBE:
            return rowid, [*filters, _tsquery_match(matching.tsvectors[1], matching.query)]
        ids = bindparam("matched", matching.ids, type_=ARRAY(Integer))
        return func.unnest(ids).table_valued("id").render_derived(name="matched").c.id, list(filters)

    def _cases(
        self,
        session: Session,
        terms: Terms,
        matching: _Matching | None,
        scope: TaskScope | None,
        with_tracking_codes: bool,
    ) -> Group:
        exact = [ProcessInstance.business_key == terms.text]
        if terms.reference:
            exact.append(ProcessInstance.reference == terms.reference)
        if with_tracking_codes:
            exact.append(ProcessInstance.tracking_code == terms.text)
        first = select(ProcessInstance.id.label("id"), literal(0).label("rank"), (-ProcessInstance.id).label("pos"))
        first = first.where(or_(*exact))
        if scope is not None:
            first = first.where(scope.instance_predicate(ProcessInstance.id))
        branches = [first.order_by(ProcessInstance.id.desc()).limit(SHOWN)]
        if matching is not None:
            found, where = self._plan(matching)
            newest = select(found.label("id"), literal(1).label("rank"), (-found).label("pos")).where(*where)
            if scope is not None:
                newest = newest.where(scope.instance_predicate(found))
            branches.append(newest.order_by(found.desc()).limit(COUNTED + 1))
        ids, total, capped = _ranked(session.execute(_either(branches)))
        rows = ids and session.execute(
            select(
                ProcessInstance.id,
                ProcessInstance.reference,
                ProcessInstance.status,
                ProcessInstance.started_at,
                ProcessInstance.definition_id,
                ProcessInstance.process_key,
                ProcessInstance.definition_version.label("version"),
                CustomerStatus.title,
                CustomerStatus.stage,
                CaseSearch.subject,
                CaseSearch.customer_name,
            )
            .outerjoin(CustomerStatus, CustomerStatus.instance_id == ProcessInstance.id)
            .outerjoin(CaseSearch, CaseSearch.instance_id == ProcessInstance.id)
            .where(ProcessInstance.id.in_(ids))
        )
        shown = {row.id: dict(row._mapping) for row in rows or []}
        return Group([shown[i] for i in ids if i in shown], total, capped)

    def _customers(self, session: Session, terms: Terms) -> Group:
        shown = (Customer.id, Customer.name, Customer.email, Customer.phone)
        branches = [select(*shown, literal(0).label("rank"), literal(0).label("pos")).where(Customer.id == terms.text)]
        query = terms.all_words() + terms.phone_numbers()
        if query:
            # Customers are few beside cases: all that match are sorted by name (in the database's collation).
            if self.db.is_sqlite:
                match = _fts5_match(CustomerSearch.id, query)
            else:
                match = _tsquery_match(literal_column("search_customers.words_tsv"), query)
            by_name = (CustomerSearch.name, CustomerSearch.customer_id)
            first = (
                select(CustomerSearch.customer_id, func.row_number().over(order_by=by_name).label("pos"))
                .where(match)
                .order_by(*by_name)
                .limit(COUNTED + 1)
                .subquery("first")
            )  # sorted in the search rows alone; the customers' rows are read for these only
            branches.append(
                select(*shown, literal(1).label("rank"), first.c.pos).join(first, first.c.customer_id == Customer.id)
            )
        rows = {}
        ids, total, capped = _ranked(session.execute(_either(branches)), rows)
        return Group([rows[i] for i in ids], total, capped)

    def _tasks(self, session: Session, matching: _Matching | None, scope: TaskScope | None) -> Group:
        if matching is None:
            return Group([], 0, False)
        found, where = self._plan(matching)
        ids_query = select(HumanTask.id).where(*where).order_by(HumanTask.id.desc()).limit(COUNTED + 1)
        if found is not HumanTask.id:
            ids_query = ids_query.where(HumanTask.id == found)
        if scope is not None:
            ids_query = ids_query.where(scope.task_predicate())
        found = list(session.scalars(ids_query))
        ids = found[:SHOWN]
        rows = ids and session.execute(
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
        shown = {row.id: dict(row._mapping) for row in rows or []}
        return Group([shown[i] for i in ids if i in shown], min(len(found), COUNTED), len(found) > COUNTED)


def _fts5_match(rowid, query: Query) -> ColumnElement[bool]:
    """SQLite: the row is among those the table's FTS5 index (``<table>_fts``, migration 0016) finds."""
    fts = table(f"{rowid.table.name}_fts", column("rowid"), column(f"{rowid.table.name}_fts"))
    return rowid.in_(select(fts.c.rowid).where(fts.c[fts.name].op("MATCH")(fts5_query(query))))


def _tsquery_match(tsvector, query: Query) -> ColumnElement[bool]:
    return tsvector.op("@@")(func.to_tsquery(SIMPLE, tsquery(query)))


def _either(branches: list[Select]) -> CompoundSelect | Select:
    """One statement for the exact hits and the text-search ones, each branch with its own order and limit."""
    if len(branches) == 1:
        return branches[0]
    return union_all(*(select(branch.subquery()) for branch in branches))


def _ranked(rows, keep: dict | None = None) -> tuple[list, int, bool]:
    """Exact hits (rank 0) first, then the found ones in their order (``pos``), each once: the ids to show, how
    many there are (counted up to :data:`COUNTED`), and whether there are more. ``keep`` collects the rows shown.
    """
    rows = sorted(rows, key=lambda row: (row.rank, row.pos))
    found = [row for row in rows if row.rank == 1]
    counted = [row for row in rows if row.rank == 0] + found[:COUNTED]
    ids = list(dict.fromkeys(row.id for row in counted))
    if keep is not None:
        keep.update((row.id, dict(row._mapping)) for row in counted if row.id in ids[:SHOWN])
    return ids[:SHOWN], len(ids), len(found) > COUNTED


def _lowered(text: str) -> list[str]:
    """Words as PostgreSQL's 'simple' configuration makes them: lower case, accents kept."""
    return [word[:MAX_TOKEN] for word in re.split(r"[\W_]+", text.lower()) if word]
