"""The staff's instance list: every case filtered, sorted and paged in SQL, without loading a workflow.

Filters (all optional, combined with AND): process, version, status, the customer's stage, who the
case waits for (a group or a user named by one of its open human tasks: candidate group, candidate
user or assignee), when it started, whether it has an open incident, and the customer (by id or part
of the name). A team scope limits the rows to instances the scoped principal has a task in, in the
same query.

Pages are keyset pages in both directions: a cursor holds the sort, its direction and the sort value
and id of the row to continue from, so paging stays stable and cheap however deep it goes.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from engine.models import (
    CustomerStatus,
    HumanTask,
    HumanTaskCandidate,
    Incident,
    ProcessDefinition,
    ProcessInstance,
)
from engine.visibility import TaskScope
from process_library.store import Customer

SORTS = {
    "started": ProcessInstance.started_at,
    "updated": ProcessInstance.updated_at,
    "process": ProcessDefinition.name,
    "status": ProcessInstance.status,
}
DATETIME_SORTS = ("started", "updated")


@dataclass(frozen=True)
class InstanceListFilter:
    process_key: str | None = None
    version: int | None = None
    status: str | None = None  # the engine's: active, completed, cancelled, failed
    stage: str | None = None  # a customer stage key (customer_status.stage)
    waiting_group: str | None = None
    waiting_user: str | None = None
    started_from: datetime | None = None  # inclusive
    started_before: datetime | None = None  # exclusive
    open_incident: bool = False  # True: only instances with an open incident
    customer: str | None = None  # a customer id, or part of a customer's name (any case)
    sort: str = "started"
    descending: bool = True


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after (or, going back, before) the row with this sort value and id."""

    sort: str
    descending: bool
    value: str | datetime
    id: int

    def encode(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        text = json.dumps([self.sort, self.descending, value, self.id], separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str | None, filters: InstanceListFilter) -> Cursor | None:
        """The cursor in ``text`` if it belongs to this sort and direction; None for anything else."""
        if not text:
            return None
        try:
            sort, descending, value, row_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            if sort != filters.sort or descending != filters.descending or not isinstance(value, str):
                return None
            if type(row_id) is not int or not 0 < row_id < 2**31:
                return None
            moment = datetime.fromisoformat(value) if sort in DATETIME_SORTS else None
            if moment is not None and moment.tzinfo is None:
                return None
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            return None
        return cls(sort, descending, moment or value, row_id)


@dataclass
class InstancePage:
    items: list[dict]
    next: str | None = None  # cursor of the following page
    previous: str | None = None  # cursor of the page before


def _open_incident():
    return exists(select(Incident.id).where(Incident.instance_id == ProcessInstance.id, Incident.status == "open"))


def _columns():
    return (
        select(
            ProcessInstance.id,
            ProcessInstance.reference,
            ProcessInstance.tracking_code,
            ProcessInstance.process_key,
            ProcessInstance.definition_id,
            ProcessInstance.definition_version,
            ProcessInstance.business_key,
            ProcessInstance.customer_id,
            ProcessInstance.channel,
            ProcessInstance.status,
            ProcessInstance.started_at,
            ProcessInstance.updated_at,
            ProcessInstance.ended_at,
            ProcessDefinition.name.label("title"),
            CustomerStatus.stage,
            Customer.name.label("customer_name"),
            _open_incident().label("open_incident"),
        )
        .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
        .outerjoin(CustomerStatus, CustomerStatus.instance_id == ProcessInstance.id)
        .outerjoin(Customer, Customer.id == ProcessInstance.customer_id)
    )


def _filtered(query, filters: InstanceListFilter, scope: TaskScope | None):
    for column, value in (
        (ProcessInstance.process_key, filters.process_key),
        (ProcessInstance.definition_version, filters.version),
        (ProcessInstance.status, filters.status),
        (CustomerStatus.stage, filters.stage),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.started_from is not None:
        query = query.where(ProcessInstance.started_at >= filters.started_from)
    if filters.started_before is not None:
        query = query.where(ProcessInstance.started_at < filters.started_before)
    if filters.waiting_group is not None:
        query = query.where(
            ProcessInstance.id.in_(
                select(HumanTask.instance_id)
                .join(HumanTaskCandidate, HumanTaskCandidate.task_id == HumanTask.id)
                .where(
                    HumanTaskCandidate.kind == "group",
                    HumanTaskCandidate.name == filters.waiting_group,
                    HumanTaskCandidate.task_open.is_(True),
                    HumanTask.status == "open",
                )
            )
        )
    if filters.waiting_user is not None:
        named = select(HumanTaskCandidate.task_id).where(
            HumanTaskCandidate.kind == "user",
            HumanTaskCandidate.name == filters.waiting_user,
            HumanTaskCandidate.task_open.is_(True),
        )
        query = query.where(
            ProcessInstance.id.in_(
                select(HumanTask.instance_id).where(
                    HumanTask.status == "open",
                    or_(HumanTask.assignee == filters.waiting_user, HumanTask.id.in_(named)),
                )
            )
        )
    if filters.open_incident:
        query = query.where(_open_incident())
    if filters.customer:
        text = filters.customer.strip()
        by_name = select(Customer.id).where(func.lower(Customer.name).contains(text.lower(), autoescape=True))
        query = query.where(or_(ProcessInstance.customer_id == text, ProcessInstance.customer_id.in_(by_name)))
    if scope is not None:
        query = query.where(scope.instance_predicate(ProcessInstance.id))
    return query


def _ordered(query, sort: str, descending: bool, cursor: Cursor | None, backwards: bool):
    """Order by the sort column then id; ``backwards`` walks the other way (the page before a cursor)."""
    column = SORTS[sort]
    down = descending != backwards
    if cursor is not None:
        beyond = (
            or_(column < cursor.value, and_(column == cursor.value, ProcessInstance.id < cursor.id))
            if down
            else or_(column > cursor.value, and_(column == cursor.value, ProcessInstance.id > cursor.id))
        )
        query = query.where(beyond)
    if down:
        return query.order_by(column.desc(), ProcessInstance.id.desc())
    return query.order_by(column.asc(), ProcessInstance.id.asc())


def find(
    session: Session,
    filters: InstanceListFilter,
    limit: int,
    after: str | None = None,
    before: str | None = None,
    scope: TaskScope | None = None,
) -> InstancePage:
    """One page of instances: the first, the one after cursor ``after``, or the one before cursor ``before``."""
    if filters.sort not in SORTS:
        filters = replace(filters, sort="started")
    base = _filtered(_columns(), filters, scope)

    def fetch(cursor: Cursor | None, backwards: bool) -> list:
        query = _ordered(base, filters.sort, filters.descending, cursor, backwards)
        return list(session.execute(query.limit(limit + 1)))

    going_back = Cursor.decode(before, filters)
    if going_back is not None:
        rows = fetch(going_back, True)
        if len(rows) < limit:  # back at the beginning: show a full first page instead
            return find(session, filters, limit, scope=scope)
        more_before = len(rows) > limit
        rows = list(reversed(rows[:limit]))
        return InstancePage(
            _listed(session, rows),
            next=_cursor(filters, rows[-1]),
            previous=_cursor(filters, rows[0]) if more_before else None,
        )
    start = Cursor.decode(after, filters)
    rows = fetch(start, False)
    more_after = len(rows) > limit
    rows = rows[:limit]
    return InstancePage(
        _listed(session, rows),
        next=_cursor(filters, rows[-1]) if more_after else None,
        previous=_cursor(filters, rows[0]) if start is not None and rows else None,
    )


def summary(session: Session, instance_id: int) -> dict | None:
    """The list's row for one instance (title, stage, customer name, open incident, what it waits for)."""
    rows = list(session.execute(_columns().where(ProcessInstance.id == instance_id)))
    return _listed(session, rows)[0] if rows else None


def _cursor(filters: InstanceListFilter, row) -> str:
    value = {"started": row.started_at, "updated": row.updated_at, "process": row.title, "status": row.status}
    return Cursor(filters.sort, filters.descending, value[filters.sort], row.id).encode()


def _listed(session: Session, rows: list) -> list[dict]:
    waiting = waiting_for(session, [row.id for row in rows])
    return [
        {
            "id": row.id,
            "reference": row.reference,
            "tracking_code": row.tracking_code,
            "process_key": row.process_key,
            "title": row.title,
            "definition_id": row.definition_id,
            "version": row.definition_version,
            "business_key": row.business_key,
            "customer_id": row.customer_id,
            "customer_name": row.customer_name,
            "channel": row.channel,
            "status": row.status,
            "stage": row.stage,
            "open_incident": bool(row.open_incident),
            "started_at": row.started_at,
            "updated_at": row.updated_at,
            "ended_at": row.ended_at,
            "waiting": waiting.get(row.id, []),
        }
        for row in rows
    ]


def waiting_for(session: Session, instance_ids: list[int]) -> dict[int, list[dict]]:
    """The open human tasks of these instances, by instance: task name and whom it waits for."""
    if not instance_ids:
        return {}
    result: dict[int, list[dict]] = {}
    tasks = session.scalars(
        select(HumanTask)
        .where(HumanTask.instance_id.in_(instance_ids), HumanTask.status == "open")
        .order_by(HumanTask.id)
    )
    for task in tasks:
        result.setdefault(task.instance_id, []).append(
            {
                "id": task.id,
                "name": task.name,
                "lane": task.lane,
                "assignee": task.assignee,
                "groups": task.candidate_names("group"),
                "users": task.candidate_names("user"),
                "due_at": task.due_at,
            }
        )
    return result
