"""The figures of the analytics reports, read from the facts the worker keeps (:mod:`engine.analytics_facts`).

Every figure is about the instances *started* in the report's window ``[from, to)`` unless it
says otherwise (the backlog counts open instances at the end of each day; "overdue now" is
read live from the open tasks).  Times are seconds.  Percentiles use the nearest-rank
definition: the p-th percentile of n sorted values is the value at rank ⌈p/100 · n⌉ (1-based),
always one of the measured values; PostgreSQL computes it with ``percentile_disc``, which is
the same definition, SQLite in Python.  Days are UTC days; weeks are ISO weeks (Monday first).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, select, text
from sqlalchemy.orm import Session

from engine.analytics_facts import AnalyticsFacts
from engine.clock import Clock
from engine.db import Database
from engine.errors import NotFound, Unprocessable
from engine.models import (
    AnalyticsFlow,
    AnalyticsInstance,
    AnalyticsVisit,
    HumanTask,
    HumanTaskCandidate,
    ProcessDefinition,
)
from engine.views import iso

PERCENTILES = (50, 90, 99)
DEFAULT_DAYS = 30
MAX_DAYS = 731  # a report's window: two years at most
STATUSES = ("completed", "active", "failed", "cancelled")
TIMED_KINDS = ("user", "service", "timer", "message", "call")  # the elements that wait; the others pass through
DIMENSIONS = ("channel", "process", "team")
NONE = "(none)"  # the series of requests without a channel, tasks without a team


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def days(self) -> list[str]:
        first, last = self.start.date(), (self.end - timedelta(microseconds=1)).date()
        return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]

    def as_dict(self) -> dict:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest rank: the value at rank ⌈p/100 · n⌉ of the sorted values (None for none)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(round(p / 100 * len(sorted_values), 9)))
    return sorted_values[rank - 1]


def week_of(day: str) -> str:
    year, week, _ = date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


class Reports:
    def __init__(self, db: Database, facts: AnalyticsFacts, clock: Clock) -> None:
        self.db = db
        self.facts = facts
        self.clock = clock

    def window(self, start: datetime | None, end: datetime | None) -> Window:
        """The window asked for; by default the last 30 days up to now. 422 when it is empty or too long."""
        end = end or self.clock.now()
        start = start or end - timedelta(days=DEFAULT_DAYS)
        if start >= end:
            raise Unprocessable("'from' must be before 'to'")
        if end - start > timedelta(days=MAX_DAYS):
            raise Unprocessable(f"a report's window is at most {MAX_DAYS} days")
        return Window(start, end)

    def freshness(self) -> dict:
        last = self.facts.last_run()
        return {"counted_at": iso(last)}

    # -- the process report ---------------------------------------------------------------------

    def process(self, key: str, window: Window, version: int | None = None) -> dict:
        """Counts, lead time and the figures per element and sequence flow of one process."""
        with self.db.read() as session:
            definition = _definition(session, key, version)
            outline = self.facts.outline(definition.id)
            pg = session.bind.dialect.name == "postgresql"
            if pg:
                session.execute(text("SET LOCAL work_mem = '64MB'"))  # the percentiles' sorts stay in memory
            where = _of_process(AnalyticsInstance, key, window, version)
            counts = {status: 0 for status in STATUSES}
            for status, number in session.execute(
                select(AnalyticsInstance.status, func.count()).where(*where).group_by(AnalyticsInstance.status)
            ):
                counts[status] = number
            started = sum(counts.values())
            lead = _percentiles(session, pg, {"lead": AnalyticsInstance.lead_seconds}, None, where)
            lead = lead.get(None, {}).get("lead", {})
            elements = self._elements(session, pg, _of_process(AnalyticsVisit, key, window, version), outline.names)
            flows = self._flows(session, _of_process(AnalyticsFlow, key, window, version), outline, started)
        return {
            "process_key": key,
            "version": version,
            **window.as_dict(),
            **self.freshness(),
            "counts": {"started": started, **counts},
            "lead_time": {"count": counts["completed"], **{f"p{p}": lead.get(p) for p in PERCENTILES}},
            "elements": elements,
            "flows": flows,
        }

    def _elements(self, session, pg, where: list, names: dict[str, str]) -> list[dict]:
        # spent is null for elements that pass through, waiting and working for all but user tasks
        columns = {
            "spent": AnalyticsVisit.spent_seconds,
            "wait": AnalyticsVisit.wait_seconds,
            "work": AnalyticsVisit.work_seconds,
        }
        figures = [
            AnalyticsVisit.element_id,
            func.min(AnalyticsVisit.kind),
            func.count(),
            func.count(AnalyticsVisit.completed_at),
            *(func.avg(column) for column in columns.values()),
        ]
        if pg:  # one pass: the percentiles in the same query
            figures += [func.percentile_disc(0.9).within_group(column) for column in columns.values()]
        found = session.execute(select(*figures).where(*where).group_by(AnalyticsVisit.element_id)).all()
        rows = [row[:7] for row in found]
        if pg:
            p90 = {row[0]: {name: {90: _float(v)} for name, v in zip(columns, row[7:], strict=True)} for row in found}
        else:
            p90 = _percentiles(session, pg, columns, AnalyticsVisit.element_id, where, (90,))
        elements = []
        for element_id, kind, entered, completed, mean_spent, mean_wait, mean_work in rows:
            figures = p90.get(element_id, {})
            item = {
                "id": element_id,
                "name": names.get(element_id, ""),
                "kind": kind,
                "entered": entered,
                "completed": completed,
                "time_spent": _mean_p90(mean_spent, figures.get("spent")) if kind in TIMED_KINDS else None,
            }
            if kind == "user":
                item["waiting"] = _mean_p90(mean_wait, figures.get("wait"))
                item["working"] = _mean_p90(mean_work, figures.get("work"))
            elements.append(item)
        elements.sort(key=lambda item: (-item["entered"], item["id"]))
        return elements

    @staticmethod
    def _flows(session, where: list, outline, started: int) -> list[dict]:
        taken = {
            flow_id: (times, instances)
            for flow_id, times, instances in session.execute(
                select(AnalyticsFlow.flow_id, func.sum(AnalyticsFlow.taken), func.count())
                .where(*where)
                .group_by(AnalyticsFlow.flow_id)
            )
        }
        flows = []
        for flow_id, (source, target) in sorted(outline.ends.items()):
            times, instances = taken.get(flow_id, (0, 0))
            flows.append(
                {
                    "id": flow_id,
                    "name": outline.names.get(flow_id, ""),
                    "source": source,
                    "target": target,
                    "taken": int(times or 0),
                    "instances": instances,
                    "share": round(instances / started, 4) if started else None,
                }
            )
        return flows

    # -- the care-center dashboard --------------------------------------------------------------

    def volumes(self, window: Window, by: str, bucket: str = "day") -> dict:
        """Requests started per day or week, by channel or process; or user tasks created, by team."""
        if by not in DIMENSIONS:
            raise Unprocessable(f"'by' must be one of {', '.join(DIMENSIONS)}")
        with self.db.read() as session:
            if by == "team":
                query = select(AnalyticsVisit.day, AnalyticsVisit.team, func.count()).where(
                    AnalyticsVisit.kind == "user",
                    AnalyticsVisit.entered_at >= window.start,
                    AnalyticsVisit.entered_at < window.end,
                )
                query = query.group_by(AnalyticsVisit.day, AnalyticsVisit.team)
            else:
                column = AnalyticsInstance.channel if by == "channel" else AnalyticsInstance.process_key
                query = select(AnalyticsInstance.started_day, column, func.count()).where(
                    AnalyticsInstance.started_at >= window.start, AnalyticsInstance.started_at < window.end
                )
                query = query.group_by(AnalyticsInstance.started_day, column)
            rows = session.execute(query).all()
        buckets = window.days() if bucket == "day" else list(dict.fromkeys(week_of(d) for d in window.days()))
        series: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(buckets, 0))
        for day, name, number in rows:
            series[name or NONE][day if bucket == "day" else week_of(day)] += number
        return {
            **window.as_dict(),
            "by": by,
            "bucket": bucket,
            "buckets": buckets,
            "series": [{"name": name, "counts": [series[name][b] for b in buckets]} for name in sorted(series)],
        }

    def sla(self, window: Window) -> dict:
        """Per team: user tasks completed in the window that had a due time, and the share completed by it;
        and the open tasks overdue now."""
        now = self.clock.now()
        with self.db.read() as session:
            on_time = case((AnalyticsVisit.completed_at <= AnalyticsVisit.due_at, 1), else_=0)
            teams: dict[str, dict] = {}
            for team, total, met in session.execute(
                select(AnalyticsVisit.team, func.count(), func.sum(on_time))
                .where(
                    AnalyticsVisit.kind == "user",
                    AnalyticsVisit.due_at.is_not(None),
                    AnalyticsVisit.completed_at >= window.start,
                    AnalyticsVisit.completed_at < window.end,
                )
                .group_by(AnalyticsVisit.team)
            ):
                teams[team or NONE] = {"team": team or NONE, "with_due": total, "on_time": int(met or 0)}
            overdue = _overdue_now(session, now)
        for name, number in overdue.items():
            teams.setdefault(name, {"team": name, "with_due": 0, "on_time": 0})["overdue_now"] = number
        rows = []
        for name in sorted(teams):
            row = teams[name]
            row.setdefault("overdue_now", 0)
            row["share_on_time"] = round(row["on_time"] / row["with_due"], 4) if row["with_due"] else None
            rows.append(row)
        total = sum(r["with_due"] for r in rows)
        met = sum(r["on_time"] for r in rows)
        return {
            **window.as_dict(),
            "now": now.isoformat(),
            "share_on_time": round(met / total, 4) if total else None,
            "teams": rows,
        }

    def backlog(self, window: Window) -> dict:
        """Open instances at the end of each day of the window (started by then, not yet ended)."""
        with self.db.read() as session:
            # started before the window, less those that also ended before it (two counts on indexes)
            open_before = session.scalar(
                select(func.count()).where(AnalyticsInstance.started_at < window.start)
            ) - session.scalar(select(func.count()).where(AnalyticsInstance.ended_at < window.start))
            started = dict(
                session.execute(
                    select(AnalyticsInstance.started_day, func.count())
                    .where(AnalyticsInstance.started_at >= window.start, AnalyticsInstance.started_at < window.end)
                    .group_by(AnalyticsInstance.started_day)
                ).all()
            )
            ended = dict(
                session.execute(
                    select(AnalyticsInstance.ended_day, func.count())
                    .where(AnalyticsInstance.ended_at >= window.start, AnalyticsInstance.ended_at < window.end)
                    .group_by(AnalyticsInstance.ended_day)
                ).all()
            )
        days, level = [], open_before or 0
        for day in window.days():
            level += started.get(day, 0) - ended.get(day, 0)
            days.append({"day": day, "started": started.get(day, 0), "ended": ended.get(day, 0), "open": level})
        return {**window.as_dict(), "open_before": open_before or 0, "days": days}

    def first_contact(self, window: Window) -> dict:
        """Inquiries (instances started on a channel) completed without escalation or reopening, per channel;
        and the median time from the start to the first answer sent to the customer."""
        with self.db.read() as session:
            in_window = [
                AnalyticsInstance.channel.is_not(None),
                AnalyticsInstance.started_at >= window.start,
                AnalyticsInstance.started_at < window.end,
            ]
            done = AnalyticsInstance.status == "completed"
            at_first = and_(done, AnalyticsInstance.escalated.is_(False), AnalyticsInstance.reopened.is_(False))
            closed, answered = {}, {}
            for channel, total, first, with_answer in session.execute(
                select(
                    AnalyticsInstance.channel,
                    func.count(case((done, 1))),
                    func.count(case((at_first, 1))),
                    func.count(AnalyticsInstance.first_answer_seconds),
                )
                .where(*in_window)
                .group_by(AnalyticsInstance.channel)
            ):
                closed[channel] = (total, first)
                answered[channel] = with_answer
            pg = session.bind.dialect.name == "postgresql"
            answer = {"answer": AnalyticsInstance.first_answer_seconds}
            answers = _percentiles(session, pg, answer, AnalyticsInstance.channel, in_window, (50,))
            overall = _percentiles(session, pg, answer, None, in_window, (50,)).get(None, {}).get("answer", {})
        rows = []
        for channel in sorted(closed):
            total, first = closed.get(channel, (0, 0))
            rows.append(
                {
                    "channel": channel,
                    "closed": total,
                    "first_contact": first,
                    "share": round(first / total, 4) if total else None,
                    "answered": answered.get(channel, 0),
                    "median_first_answer": answers.get(channel, {}).get("answer", {}).get(50),
                }
            )
        closed_total = sum(r["closed"] for r in rows)
        first_total = sum(r["first_contact"] for r in rows)
        return {
            **window.as_dict(),
            "closed": closed_total,
            "first_contact": first_total,
            "share": round(first_total / closed_total, 4) if closed_total else None,
            "median_first_answer": overall.get(50),
            "channels": rows,
        }


def _of_process(facts, key: str, window: Window, version: int | None) -> list:
    """Conditions for the rows of one fact table (instances, visits, flows) that belong to the process report:
    the process (all versions, or one) and instances started in the window."""
    where = [facts.process_key == key, facts.started_at >= window.start, facts.started_at < window.end]
    if version is not None:
        where.append(facts.version == version)
    return where


def _definition(session: Session, key: str, version: int | None) -> ProcessDefinition:
    query = select(ProcessDefinition).where(ProcessDefinition.key == key)
    if version is not None:
        query = query.where(ProcessDefinition.version == version)
    found = session.scalar(query.order_by(ProcessDefinition.version.desc()).limit(1))
    if found is None:
        raise NotFound(f"no process definition with key '{key}'" + (f" and version {version}" if version else ""))
    return found


def _float(value) -> float | None:
    return None if value is None else float(value)


def _mean_p90(mean: float | None, figures: dict | None) -> dict:
    return {"mean": round(mean, 3) if mean is not None else None, "p90": (figures or {}).get(90)}


def _percentiles(
    session: Session, pg: bool, values: dict[str, object], group, where: list, ps: Iterable[int] = PERCENTILES
) -> dict[object, dict[str, dict[int, float | None]]]:
    """{group value: {name: {p: percentile}}} of each column in ``values`` over the rows ``where`` selects,
    in one pass (nulls are left out of each column's figures)."""
    ps = tuple(ps)
    keys = [group] if group is not None else []
    result: dict[object, dict[str, dict[int, float | None]]] = {}
    if pg:
        figures = [func.percentile_disc(p / 100).within_group(column) for column in values.values() for p in ps]
        query = select(*keys, *figures).where(*where)
        if group is not None:
            query = query.group_by(group)
        for row in session.execute(query):
            name, found = (row[0], row[1:]) if group is not None else (None, row)
            cells = iter(found)
            result[name] = {
                column: {p: (None if (v := next(cells)) is None else float(v)) for p in ps} for column in values
            }
        return result
    collected: dict[object, dict[str, list[float]]] = defaultdict(lambda: {column: [] for column in values})
    for row in session.execute(select(*keys, *values.values()).where(*where)):
        name, found = (row[0], row[1:]) if group is not None else (None, row)
        for column, value in zip(values, found, strict=True):
            if value is not None:
                collected[name][column].append(float(value))
    for name, columns in collected.items():
        result[name] = {column: {p: percentile(sorted(v), p) for p in ps} for column, v in columns.items()}
    return result


def _overdue_now(session: Session, now: datetime) -> dict[str, int]:
    """Open tasks past their due time now, per team (the first candidate group, or the lane)."""
    tasks = session.execute(
        select(HumanTask.id, HumanTask.lane).where(HumanTask.status == "open", HumanTask.due_at < now)
    ).all()
    if not tasks:
        return {}
    groups: dict[int, str] = {}
    for task_id, name in session.execute(
        select(HumanTaskCandidate.task_id, HumanTaskCandidate.name)
        .where(HumanTaskCandidate.task_id.in_([t.id for t in tasks]), HumanTaskCandidate.kind == "group")
        .order_by(HumanTaskCandidate.task_id, HumanTaskCandidate.name)
    ):
        groups.setdefault(task_id, name)
    counts: dict[str, int] = defaultdict(int)
    for task_id, lane in tasks:
        counts[groups.get(task_id) or lane or NONE] += 1
    return dict(counts)
