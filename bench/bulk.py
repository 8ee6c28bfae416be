"""Bulk-load stored instances for the scale section: copies of real instances, inserted with SQLAlchemy Core.

Two template instances of the lifecycle process run through the engine (one completed, one
waiting at its staff task); all their rows (the instance with its serialized state, human tasks
and their candidates, history, customer status and stages, message subscriptions) are then
copied with new ids, tracking codes, case references and task GUIDs. Running 110,000 instances through the engine
would measure the engine, not the database size.
"""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import func, insert, select, text

from engine import case_reference
from engine.core import CareEngine
from engine.models import (
    CustomerStageEvent,
    CustomerStatus,
    HistoryEvent,
    HumanTask,
    HumanTaskCandidate,
    MessageSubscription,
    ProcessInstance,
)
from engine.runtime import StartRequest

CHUNK = 5000
PROCESS = "inquiry_lifecycle"
# Rows that belong to one instance, by their table, copied with the instance (insert order).
PER_INSTANCE = {
    "task": HumanTask,
    "history": HistoryEvent,
    "status": CustomerStatus,
    "stage": CustomerStageEvent,
    "subscription": MessageSubscription,
}
SEQUENCED = ("process_instances", "human_tasks", "history_events", "customer_stage_events", "message_subscriptions")


def _template(care: CareEngine, complete: bool) -> dict:
    view, _ = care.runtime.start(StartRequest(PROCESS, {"topic": "bench"}), "bench")
    if complete:
        task_id = view["tasks"][0]["id"]
        second = care.tasks.complete(task_id, {"answer": "ok"}, "bench")["instance"]["tasks"][0]["id"]
        care.tasks.complete(second, {"confirmed": True}, "bench")
    with care.db.read() as session:

        def rows(model, column) -> list[dict]:
            return [dict(r._mapping) for r in session.execute(select(model.__table__).where(column == view["id"]))]

        template = {"instance": rows(ProcessInstance, ProcessInstance.id)[0]}
        for name, model in PER_INSTANCE.items():
            template[name] = rows(model, model.instance_id)
        task_ids = [t["id"] for t in template["task"]]
        template["candidate"] = [
            dict(c._mapping)
            for c in session.execute(
                select(HumanTaskCandidate.__table__).where(HumanTaskCandidate.task_id.in_(task_ids))
            )
        ]
    return template


def _next_id(session, model) -> int:
    return (session.scalar(select(func.max(model.id))) or 0) + 1


def load(care: CareEngine, completed: int, open_: int) -> None:
    """Insert ``completed`` finished and ``open_`` waiting copies of real lifecycle instances."""
    templates = [(_template(care, True), completed), (_template(care, False), open_)]
    with care.db.read() as session:
        references = set(session.scalars(select(ProcessInstance.reference)))  # drawn: those taken and the copies'
    for template, count in templates:
        for offset in range(0, count, CHUNK):
            with care.db.write() as session:
                _insert_copies(session, template, min(CHUNK, count - offset), references)
    if not care.db.is_sqlite:
        _fix_sequences(care)
    # A database that has held these rows for a while has been vacuumed: measure that state, not autovacuum
    # catching up with 110,000 fresh inserts while the loaded figures are taken. VACUUM runs outside a transaction.
    command = "ANALYZE" if care.db.is_sqlite else "VACUUM (ANALYZE)"
    with care.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(command))


def _insert_copies(session, template: dict, size: int, references: set[str]) -> None:
    next_ids = {
        name: _next_id(session, model)
        for name, model in [("instance", ProcessInstance), *PER_INSTANCE.items()]
        if hasattr(model, "id")
    }
    copies: dict[str, list[dict]] = {name: [] for name in ("instance", "candidate", *PER_INSTANCE)}

    def new_id(name: str) -> int:
        next_ids[name] += 1
        return next_ids[name] - 1

    for _ in range(size):
        instance_id = new_id("instance")
        tracking_code = secrets.token_urlsafe(24)
        reference = case_reference.unused(references.__contains__)
        references.add(reference)
        codes = {"tracking_code": tracking_code, "reference": reference}
        copies["instance"].append({**template["instance"], "id": instance_id, **codes})
        for name in PER_INSTANCE:
            for row in template[name]:
                copy = {**row, "instance_id": instance_id}
                if name in next_ids:
                    copy["id"] = new_id(name)
                if "tracking_code" in row:
                    copy.update(codes)
                if "task_guid" in row:
                    copy["task_guid"] = str(uuid.uuid4())
                copies[name].append(copy)
                if name == "task":
                    copies["candidate"].extend(
                        {**c, "task_id": copy["id"]} for c in template["candidate"] if c["task_id"] == row["id"]
                    )
    for name in ("instance", "task", "candidate", "history", "status", "stage", "subscription"):
        if copies[name]:
            model = HumanTaskCandidate if name == "candidate" else PER_INSTANCE.get(name, ProcessInstance)
            session.execute(insert(model.__table__), copies[name])


def _fix_sequences(care: CareEngine) -> None:
    """PostgreSQL: explicit ids bypass the sequences; move them past the copies."""
    with care.db.engine.begin() as connection:
        for table in SEQUENCED:
            highest = f"(SELECT coalesce(max(id), 1) FROM {table})"
            connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {highest})"))
