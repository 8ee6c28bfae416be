"""Bulk-load stored instances for the scale section: copies of real instances, inserted with SQLAlchemy Core.

Two template instances of the lifecycle process run through the engine (one completed, one
waiting at its staff task); their rows (instance with its serialized state, human tasks and
their candidates, history) are then copied with new ids, tracking codes and task GUIDs.
Running 110,000 instances through the engine would measure the engine, not the database size.
"""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import func, insert, select, text

from engine.core import CareEngine
from engine.models import HistoryEvent, HumanTask, HumanTaskCandidate, ProcessInstance
from engine.runtime import StartRequest

CHUNK = 5000
PROCESS = "inquiry_lifecycle"


def _template(care: CareEngine, complete: bool) -> dict:
    view, _ = care.runtime.start(StartRequest(PROCESS, {"topic": "bench"}), "bench")
    if complete:
        task_id = view["tasks"][0]["id"]
        second = care.tasks.complete(task_id, {"answer": "ok"}, "bench")["instance"]["tasks"][0]["id"]
        care.tasks.complete(second, {"confirmed": True}, "bench")
    with care.db.read() as session:
        instance = session.execute(select(ProcessInstance.__table__).where(ProcessInstance.id == view["id"])).one()
        tasks = session.execute(select(HumanTask.__table__).where(HumanTask.instance_id == view["id"])).all()
        task_ids = [t.id for t in tasks]
        candidates = session.execute(
            select(HumanTaskCandidate.__table__).where(HumanTaskCandidate.task_id.in_(task_ids))
        ).all()
        history = session.execute(select(HistoryEvent.__table__).where(HistoryEvent.instance_id == view["id"])).all()
    return {
        "instance": dict(instance._mapping),
        "tasks": [dict(t._mapping) for t in tasks],
        "candidates": [dict(c._mapping) for c in candidates],
        "history": [dict(h._mapping) for h in history],
    }


def _next_id(session, table) -> int:
    return (session.scalar(select(func.max(table.c.id))) or 0) + 1


def load(care: CareEngine, completed: int, open_: int) -> None:
    """Insert ``completed`` finished and ``open_`` waiting copies of real lifecycle instances."""
    templates = [(_template(care, True), completed), (_template(care, False), open_)]
    tables = {
        "instance": ProcessInstance.__table__,
        "task": HumanTask.__table__,
        "candidate": HumanTaskCandidate.__table__,
        "history": HistoryEvent.__table__,
    }
    for template, count in templates:
        for offset in range(0, count, CHUNK):
            size = min(CHUNK, count - offset)
            with care.db.write() as session:
                next_instance = _next_id(session, tables["instance"])
                next_task = _next_id(session, tables["task"])
                next_event = _next_id(session, tables["history"])
                rows: dict[str, list[dict]] = {name: [] for name in tables}
                for index in range(size):
                    instance_id = next_instance + index
                    instance = {**template["instance"], "id": instance_id, "tracking_code": secrets.token_urlsafe(24)}
                    rows["instance"].append(instance)
                    for task in template["tasks"]:
                        task_id = next_task
                        next_task += 1
                        rows["task"].append(
                            {**task, "id": task_id, "instance_id": instance_id, "task_guid": str(uuid.uuid4())}
                        )
                        rows["candidate"].extend(
                            {**c, "task_id": task_id} for c in template["candidates"] if c["task_id"] == task["id"]
                        )
                    for event in template["history"]:
                        rows["history"].append({**event, "id": next_event, "instance_id": instance_id})
                        next_event += 1
                for name in ("instance", "task", "candidate", "history"):
                    if rows[name]:
                        session.execute(insert(tables[name]), rows[name])
    if not care.db.is_sqlite:
        _fix_sequences(care)
    with care.db.engine.begin() as connection:
        connection.execute(text("ANALYZE"))


def _fix_sequences(care: CareEngine) -> None:
    """PostgreSQL: explicit ids bypass the sequences; move them past the copies."""
    with care.db.engine.begin() as connection:
        for table in ("process_instances", "human_tasks", "history_events"):
            connection.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            )
