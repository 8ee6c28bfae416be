"""Data lifecycle: ended instances are kept for the retention period, then archived (if asked) and purged.

An instance that completed or was cancelled longer ago than ``CARECENTER_RETENTION`` (an ISO 8601
duration such as ``P2Y``) goes, with every row that only describes its run:

- the instance row (its state: the process variables), its human tasks and their candidates, its
  history, incidents, timers, service jobs, message subscriptions, what the customer saw of it
  (status and stages) and its search row (:data:`WITH_THE_INSTANCE`);
- the raw inbound mails of the case (the contact keeps what the mail said), the closed chats filed
  into it with their lines (the transcript is in the case's contact), and the case's notes when the
  case had no customer (notes with a customer are on the customer's page).

What stays is what the care center keeps about the customer and its business, and what other
systems were told (:data:`KEPT`): contacts (the customer's record of who said what, when), notes
with a customer, calls, dispatches, orders, account changes, the event log, and the analytics facts
(counts and durations the reports read, :mod:`engine.analytics_facts`). Those rows name
the instance by a plain number without a foreign key, so they outlive it.

The worker purges in small batches in its housekeeping round; ``carecenter purge --older-than``
does the same at once (``--dry-run`` counts only). With ``CARECENTER_ARCHIVE_DIR``, each batch is
first written there as one gzipped JSON-lines file (an instance per line, with its history, tasks,
incidents, jobs and timers) and flushed to disk before the rows are deleted; a crash between the two
can archive a batch twice, never lose one. On PostgreSQL the batch is claimed with ``FOR UPDATE SKIP
LOCKED``, so two workers never archive the same instance. Each purge is recorded in ``data_removals``
(when, by whom, up to which end time, how many of what), never what was purged.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import isodate
from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.db import Database
from engine.models import (
    Base,
    CaseSearch,
    Chat,
    ChatMessage,
    CustomerStageEvent,
    CustomerStatus,
    DataRemoval,
    HistoryEvent,
    HumanTask,
    HumanTaskCandidate,
    InboundMail,
    Incident,
    MessageSubscription,
    Note,
    ProcessInstance,
    ServiceJob,
    Timer,
)

log = logging.getLogger(__name__)

ENDED = ("completed", "cancelled")
BATCH = 200
# The tables whose rows describe one instance's run and go with it (children before parents).
WITH_THE_INSTANCE: tuple[type[Base], ...] = (
    HistoryEvent,
    Incident,
    Timer,
    ServiceJob,
    MessageSubscription,
    CustomerStageEvent,
    CustomerStatus,
    CaseSearch,
)
# Tables that name an instance and keep their rows when it goes (see the module's docstring); a test
# checks that every table naming an instance is in one of the two lists.
KEPT = (
    "contacts",
    "calls",
    "dispatches",
    "orders",
    "customer_changes",
    "events",
    "messages",
    "analytics_instances",
    "analytics_visits",
    "analytics_flows",
)
ARCHIVED = (HistoryEvent, HumanTask, Incident, ServiceJob, Timer, CustomerStatus, CustomerStageEvent)


def parse_period(text: str) -> isodate.Duration | timedelta:
    """An ISO 8601 duration such as ``P2Y``, ``P18M`` or ``P30D`` (years and months by the calendar).

    ValueError for anything else, and for a period that is not longer than zero.
    """
    try:
        period = isodate.parse_duration(text.strip())
    except (isodate.ISO8601Error, ValueError, AttributeError):
        raise ValueError(f"'{text}' is not an ISO 8601 duration such as P2Y, P18M or P30D") from None
    reference = datetime(2000, 1, 1)
    if reference + period <= reference:
        raise ValueError(f"'{text}' is not longer than zero")
    return period


@dataclass
class PurgeResult:
    """How many rows of each table went (or would go, for a dry run), and the archive files written."""

    cutoff: datetime
    counts: dict[str, int] = field(default_factory=dict)
    archives: list[Path] = field(default_factory=list)

    @property
    def instances(self) -> int:
        return self.counts.get(ProcessInstance.__tablename__, 0)

    def add(self, counts: dict[str, int]) -> None:
        for table, count in counts.items():
            self.counts[table] = self.counts.get(table, 0) + count


class Lifecycle:
    """Purging ended instances past a cutoff, with everything that was only theirs."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def cutoff(self, period: str) -> datetime:
        """The end time before which instances are past a retention of ``period`` (an ISO 8601 duration)."""
        return self.clock.now() - parse_period(period)

    def count(self, cutoff: datetime) -> PurgeResult:
        """What a purge up to ``cutoff`` would remove, changing nothing (``carecenter purge --dry-run``)."""
        result = PurgeResult(cutoff)
        with self.db.read() as session:
            ids = select(ProcessInstance.id).where(*_past(cutoff)).scalar_subquery()
            result.add(_counts(session, ids, count_only=True))
        return result

    def purge(
        self,
        cutoff: datetime,
        principal: str,
        archive_dir: Path | None = None,
        max_batches: int | None = None,
        batch: int = BATCH,
    ) -> PurgeResult:
        """Remove ended instances up to ``cutoff`` in batches (all of them, or ``max_batches``), recording the purge."""
        result = PurgeResult(cutoff)
        rounds = 0
        while max_batches is None or rounds < max_batches:
            rounds += 1
            with self.db.write() as session:
                query = select(ProcessInstance).where(*_past(cutoff)).order_by(ProcessInstance.id).limit(batch)
                if not self.db.is_sqlite:
                    query = query.with_for_update(skip_locked=True)
                instances = list(session.scalars(query))
                if not instances:
                    break
                ids = [instance.id for instance in instances]
                if archive_dir is not None:
                    result.archives.append(_archive(session, instances, archive_dir, self.clock.now()))
                result.add(remove_instances(session, ids))
            if len(instances) < batch:
                break
        if result.instances:
            with self.db.write() as session:
                session.add(
                    DataRemoval(
                        kind="purge",
                        principal=principal,
                        at=self.clock.now(),
                        cutoff=cutoff,
                        counts=dict(sorted(result.counts.items())),
                    )
                )
            log.info("purged %d instances that ended before %s", result.instances, cutoff.isoformat())
        return result


def _past(cutoff: datetime) -> tuple:
    return ProcessInstance.status.in_(ENDED), ProcessInstance.ended_at < cutoff


def remove_instances(session: Session, ids: list[int]) -> dict[str, int]:
    """Delete these instances and what goes with them, in the caller's transaction; rows removed per table."""
    return _counts(session, ids, count_only=False)


def _counts(session: Session, ids, count_only: bool) -> dict[str, int]:
    """Per table, the rows of the instances ``ids`` (a list or a subquery) that go with them; deleted unless told."""
    tasks = select(HumanTask.id).where(HumanTask.instance_id.in_(ids))
    chats = select(Chat.id).where(Chat.status == "closed", Chat.filed_instance_id.in_(ids))
    statements: list[tuple[Table, object]] = [
        (HumanTaskCandidate.__table__, HumanTaskCandidate.task_id.in_(tasks)),
        (HumanTask.__table__, HumanTask.instance_id.in_(ids)),
        *((model.__table__, model.instance_id.in_(ids)) for model in WITH_THE_INSTANCE),
        (Note.__table__, Note.instance_id.in_(ids) & Note.customer_id.is_(None)),
        (InboundMail.__table__, InboundMail.instance_id.in_(ids)),
        (ChatMessage.__table__, ChatMessage.chat_id.in_(chats)),
        (Chat.__table__, Chat.id.in_(chats)),
        (ProcessInstance.__table__, ProcessInstance.id.in_(ids)),
    ]
    counts = {}
    for table, where in statements:
        if count_only:
            found = session.scalar(select(func.count()).select_from(table).where(where))
        else:
            found = session.execute(delete(table).where(where).execution_options(synchronize_session=False)).rowcount
        counts[table.name] = found or 0
    return counts


def _archive(session: Session, instances: list[ProcessInstance], folder: Path, now: datetime) -> Path:
    """Write the instances with their rows as one gzipped JSON-lines file, on disk before the delete commits."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = [instance.id for instance in instances]
    related: dict[str, dict[int, list[dict]]] = {}
    for model in ARCHIVED:
        rows: dict[int, list[dict]] = {}
        for row in session.scalars(select(model).where(model.instance_id.in_(ids))):
            rows.setdefault(row.instance_id, []).append(row_dict(row))
        related[model.__tablename__] = rows
    path = folder / f"instances-{now.strftime('%Y%m%dT%H%M%S%fZ')}-{ids[0]}-{ids[-1]}.jsonl.gz"
    partial = path.with_name(path.name + ".partial")
    with gzip.open(partial, "wt", encoding="utf-8") as out:
        for instance in instances:
            line = row_dict(instance)
            line["state"] = json.loads(instance.state)
            for table, rows in related.items():
                line[table] = rows.get(instance.id, [])
            out.write(json.dumps(line, sort_keys=True, default=str) + "\n")
    with open(partial, "rb") as written:
        os.fsync(written.fileno())
    partial.rename(path)
    return path


def row_dict(row: Base) -> dict:
    """A row's columns as JSON-ready values (times in ISO 8601, decimals as text, bytes left out)."""
    values = {}
    for column in row.__table__.columns:
        value = getattr(row, column.key)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, bytes):
            continue
        values[column.key] = value
    return values
