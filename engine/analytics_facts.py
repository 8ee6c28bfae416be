"""The facts the reports read, brought up to date by the worker at an interval (not by each request).

Reports must not scan history per view, and the executor's hot path stays as it is: so the
worker's ``analytics`` run (every ``CARECENTER_ANALYTICS_SECONDS``, 60 by default) takes the
instances changed since its mark and rewrites their rows in three narrow tables:

- ``analytics_instances``: one row per instance (status, start, end, lead time, channel,
  customer, time to the first answer, escalated or reopened);
- ``analytics_visits``: one row per element an instance entered (:mod:`engine.analytics_paths`),
  with the user tasks' claim, due time and team from the human-task rows;
- ``analytics_flows``: how often an instance took each sequence flow.

Rewriting an instance's rows is idempotent, so each run re-reads the changes of a short overlap
before the previous run began: a change committed late (a long transaction) is still counted, and
an instance nobody touches is recounted only by the runs within that overlap, not forever.  With several workers on
PostgreSQL, one counts at a time (an advisory lock per batch); the first run after an upgrade
counts every instance there is, in batches.  Figures are as fresh as
the last run that finished; the pages say when that was.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, text, tuple_
from sqlalchemy.orm import Session

from engine.analytics_paths import Outline, Path, outline, walk
from engine.clock import Clock, utc
from engine.db import Database, try_lock
from engine.models import (
    AnalyticsFlow,
    AnalyticsInstance,
    AnalyticsMark,
    AnalyticsVisit,
    Contact,
    HistoryEvent,
    HumanTask,
    HumanTaskCandidate,
    ProcessDefinition,
    ProcessInstance,
)
from engine.repository import Repository

log = logging.getLogger(__name__)
MARK = "instances"  # every instance change before this moment is counted
RUN = "run"  # when the last run finished
OVERLAP = timedelta(minutes=2)
BATCH = 50  # instances per transaction: about 20 ms of work, the longest a request waits for the counting
# A long run (the first after an upgrade or an import) grows the facts' tables from nothing; PostgreSQL plans
# each batch's DELETE by instance id from statistics taken while they were empty (a scan of the whole table,
# which made such a run quadratic) until autovacuum comes round. The run has them analysed itself after this
# many instances, and again each time it has counted ten times as many.
ANALYZE_AFTER = 1_000
FACT_TABLES = "analytics_instances, analytics_visits, analytics_flows"
CLAIM_EVENTS = ("task_claimed", "task_assigned")
PATH_EVENTS = (
    "task_completed",
    "job_completed",
    "external_task_completed",
    "timer_fired",
    "message_received",
    "signal_received",
    *CLAIM_EVENTS,
)
# What a visit takes from its human task: plain rows (loading the tasks as objects, with their candidates, cost
# as much as counting the instances)
_TASKS_OF = select(
    HumanTask.id,
    HumanTask.instance_id,
    HumanTask.task_guid,
    HumanTask.status,
    HumanTask.completed_at,
    HumanTask.due_at,
    HumanTask.lane,
)


def day(moment: datetime) -> str:
    return moment.date().isoformat()


def seconds(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start is not None and end is not None else None


class AnalyticsFacts:
    def __init__(self, db: Database, repository: Repository, clock: Clock) -> None:
        self.db = db
        self.repository = repository
        self.clock = clock
        self._outlines: dict[int, Outline] = {}
        self._lock = threading.Lock()  # one run at a time in this process

    def refresh(self, between_batches: Callable[[], bool] | None = None) -> int:
        """Bring the facts of every instance changed since the mark up to date; returns how many were written.

        ``between_batches`` is called after each batch is committed (the worker's: give way to web requests);
        when it answers False the run stops there, and the next run goes on from the mark.
        """
        with self._lock:
            # Changes not yet committed when this run reads were stamped after ``settled``: the next
            # run reads from there on.  Within a run, batches go in order of change, so a run cut
            # short by a crash leaves the mark at the newest change it counted.
            settled = self.clock.now() - OVERLAP
            with self.db.read() as session:
                mark = session.get(AnalyticsMark, MARK)
                since = mark.at if mark is not None else None
            written, after, complete, analyze_at = 0, None, False, ANALYZE_AFTER
            while True:
                with self.db.write() as session:
                    if not _alone(session):
                        log.info("analytics: another worker is counting; this run stops")
                        break
                    rows = self._changed(session, since, after)
                    if not rows:
                        complete = True
                        break
                    self._write(session, rows)
                    newest = rows[-1]
                    after = (newest.updated_at, newest.id)
                    _set_mark(session, MARK, min(newest.updated_at, settled))
                    written += len(rows)
                if written >= analyze_at:
                    self._analyze()
                    analyze_at *= 10
                if between_batches is not None and not between_batches():
                    log.info("analytics: the run stops after %d instances; the next run goes on", written)
                    break
            if complete:  # a run stopped half-way leaves the time the pages show at the last one that finished
                with self.db.write() as session:
                    _set_mark(session, MARK, settled)
                    _set_mark(session, RUN, self.clock.now())
            if written:
                log.info("analytics: %d instances counted", written)
            return written

    def _analyze(self) -> None:
        """Fresh statistics for the facts' tables (PostgreSQL; SQLite plans by the indexes without them)."""
        if self.db.is_sqlite:
            return
        with self.db.write() as session:
            session.execute(text(f"ANALYZE {FACT_TABLES}"))

    def last_run(self) -> datetime | None:
        """When the last run that counted everything changed until then finished (None: none has yet)."""
        with self.db.read() as session:
            mark = session.get(AnalyticsMark, RUN)
            return mark.at if mark is not None else None

    @staticmethod
    def _changed(session: Session, since: datetime | None, after: tuple[datetime, int] | None) -> list:
        query = select(
            ProcessInstance.id,
            ProcessInstance.definition_id,
            ProcessInstance.process_key,
            ProcessInstance.definition_version,
            ProcessInstance.channel,
            ProcessInstance.customer_id,
            ProcessInstance.status,
            ProcessInstance.started_at,
            ProcessInstance.ended_at,
            ProcessInstance.updated_at,
            ProcessInstance.state,
        ).order_by(ProcessInstance.updated_at, ProcessInstance.id)
        if since is not None:
            query = query.where(ProcessInstance.updated_at >= since)
        if after is not None:  # one row-value comparison: an index range scan even where thousands share a time
            query = query.where(tuple_(ProcessInstance.updated_at, ProcessInstance.id) > tuple_(*after))
        return list(session.execute(query.limit(BATCH)))

    def _write(self, session: Session, rows: list) -> None:
        ids = [row.id for row in rows]
        history: dict[int, list[tuple[str, str, datetime]]] = defaultdict(list)
        claims: dict[int, datetime] = {}
        for instance_id, event_type, element_id, task_id, at in session.execute(
            select(
                HistoryEvent.instance_id,
                HistoryEvent.event_type,
                HistoryEvent.element_id,
                HistoryEvent.human_task_id,
                HistoryEvent.at,
            )
            .where(HistoryEvent.instance_id.in_(ids), HistoryEvent.event_type.in_(PATH_EVENTS))
            .order_by(HistoryEvent.id)
        ):
            if event_type in CLAIM_EVENTS:
                if task_id is not None and task_id not in claims:
                    claims[task_id] = at
            else:
                history[instance_id].append((event_type, element_id, at))
        tasks = {task.task_guid: task for task in session.execute(_TASKS_OF.where(HumanTask.instance_id.in_(ids)))}
        teams = _teams(session, [task.id for task in tasks.values()])
        guids: dict[int, frozenset[str]] = defaultdict(frozenset)
        for task in tasks.values():
            guids[task.instance_id] = guids[task.instance_id] | {task.task_guid}
        answers = dict(
            session.execute(
                select(Contact.instance_id, func.min(Contact.created_at))
                .where(Contact.instance_id.in_(ids), Contact.direction == "out")
                .group_by(Contact.instance_id)
            ).all()
        )
        for table in (AnalyticsVisit, AnalyticsFlow, AnalyticsInstance):
            session.execute(delete(table).where(table.instance_id.in_(ids)))
        instances, visits, flows = [], [], []
        for row in rows:
            path = self._path(row, history[row.id], guids.get(row.id, frozenset()))
            user_visits = [v.element_id for v in path.visits if v.kind == "user"]
            first_answer = answers.get(row.id)
            instances.append(
                {
                    "instance_id": row.id,
                    "process_key": row.process_key,
                    "version": row.definition_version,
                    "channel": row.channel,
                    "customer_id": row.customer_id,
                    "status": row.status,
                    "started_at": row.started_at,
                    "started_day": day(row.started_at),
                    "ended_at": row.ended_at,
                    "ended_day": day(row.ended_at) if row.ended_at else None,
                    "lead_seconds": seconds(row.started_at, row.ended_at) if row.status == "completed" else None,
                    "first_answer_seconds": seconds(row.started_at, utc(first_answer)),
                    "escalated": path.escalated,
                    "reopened": len(user_visits) != len(set(user_visits)),
                }
            )
            for visit in path.visits:
                task = tasks.get(visit.guid)
                claimed = claims.get(task.id) if task is not None else None
                completed = visit.completed_at
                if task is not None and task.status == "completed" and task.completed_at is not None:
                    completed = task.completed_at
                work_from = claimed if claimed is not None and completed is not None and claimed <= completed else None
                visits.append(
                    {
                        "instance_id": row.id,
                        "process_key": row.process_key,
                        "version": row.definition_version,
                        "started_at": row.started_at,
                        "element_id": visit.element_id,
                        "kind": visit.kind,
                        "team": (teams.get(task.id) or task.lane) if task is not None else None,
                        "day": day(visit.entered_at),
                        "entered_at": visit.entered_at,
                        "claimed_at": claimed,
                        "completed_at": completed,
                        "due_at": task.due_at if task is not None else None,
                        "spent_seconds": seconds(visit.entered_at, completed) if visit.kind != "other" else None,
                        "wait_seconds": seconds(visit.entered_at, work_from or completed) if task is not None else None,
                        "work_seconds": (seconds(work_from, completed) if work_from else 0.0)
                        if task is not None and completed is not None
                        else None,
                    }
                )
            for flow_id, taken in path.flows.items():
                flows.append(
                    {
                        "instance_id": row.id,
                        "flow_id": flow_id,
                        "process_key": row.process_key,
                        "version": row.definition_version,
                        "started_at": row.started_at,
                        "taken": taken,
                    }
                )
        session.execute(insert(AnalyticsInstance.__table__), instances)
        if visits:
            session.execute(insert(AnalyticsVisit.__table__), visits)
        if flows:
            session.execute(insert(AnalyticsFlow.__table__), flows)

    def _path(self, row, history: list[tuple[str, str, datetime]], guids: frozenset[str]) -> Path:
        try:
            definition = self.repository.load(row.definition_id)
            workflow = json.loads(row.state)["workflow"]
            return walk(
                workflow,
                definition.spec,
                definition.subprocess_specs,
                self.outline(row.definition_id).flows,
                row.started_at,
                history,
                guids,
            )
        except Exception:  # one unreadable instance must not stop the counting of the others
            log.exception("analytics: the path of instance %s could not be read", row.id)
            return Path()

    def outline(self, definition_id: int) -> Outline:
        """The names and sequence flows of a definition's file, read once per definition."""
        found = self._outlines.get(definition_id)
        if found is None:
            with self.db.read() as session:
                definition = session.get(ProcessDefinition, definition_id)
                if definition is None:
                    return Outline({}, {}, {})
                found = self._outlines[definition_id] = outline(definition.resource.content)
        return found


def _teams(session: Session, task_ids: list[int]) -> dict[int, str]:
    """The first candidate group (by name) of each task: the team it counts for."""
    teams: dict[int, str] = {}
    if not task_ids:
        return teams
    query = (
        select(HumanTaskCandidate.task_id, HumanTaskCandidate.name)
        .where(HumanTaskCandidate.task_id.in_(task_ids), HumanTaskCandidate.kind == "group")
        .order_by(HumanTaskCandidate.task_id, HumanTaskCandidate.name)
    )
    for task_id, name in session.execute(query):
        teams.setdefault(task_id, name)
    return teams


def _alone(session: Session) -> bool:
    """Whether this transaction holds the analytics lock (two workers counting the same instances would
    insert the same rows)."""
    return try_lock(session, "carecenter_analytics")


def _set_mark(session: Session, name: str, at: datetime) -> None:
    mark = session.get(AnalyticsMark, name)
    if mark is None:
        session.add(AnalyticsMark(name=name, at=at))
    elif at > mark.at or name == RUN:
        mark.at = at
