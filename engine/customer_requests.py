"""A customer's requests as one staff member may see them: every process, with stage, status and open tasks.

The customer page lists the cases of a customer that the viewer's scope lets them open (a task of
theirs or of their teams, see :mod:`engine.visibility`) and counts the others without showing
them, so the person on the phone knows that more is going on elsewhere.  Read from the instance
rows, the customer status read model and the open human tasks; no workflow is loaded.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.messages import OPEN_STATUSES
from engine.models import CustomerStatus, HumanTask, HumanTaskCandidate, ProcessDefinition, ProcessInstance
from engine.visibility import TaskScope


def requests_of(
    session: Session, customer_id: str, scope: TaskScope | None, limit: int, before: int | None
) -> tuple[list[dict], int | None, int]:
    """(requests newest first, the id to pass as ``before`` for older ones or None, how many are not shown)."""
    mine = ProcessInstance.customer_id == customer_id
    visible = mine if scope is None else mine & scope.instance_predicate(ProcessInstance.id)
    query = (
        select(ProcessInstance, CustomerStatus.title, CustomerStatus.stage, ProcessDefinition.name)
        .outerjoin(CustomerStatus, CustomerStatus.instance_id == ProcessInstance.id)
        .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
        .where(visible)
        .order_by(ProcessInstance.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(ProcessInstance.id < before)
    rows = list(session.execute(query))
    more = len(rows) > limit
    rows = rows[:limit]
    hidden = 0
    if scope is not None:
        total = session.scalar(select(func.count()).select_from(ProcessInstance).where(mine))
        shown = session.scalar(select(func.count()).select_from(ProcessInstance).where(visible))
        hidden = total - shown
    tasks = _open_tasks(session, [row[0].id for row in rows], scope)
    items = [
        {
            "instance_id": instance.id,
            "reference": instance.reference,
            "process_key": instance.process_key,
            "definition_id": instance.definition_id,
            "title": title or definition_name or instance.process_key,
            "stage": stage,
            "status": instance.status,
            "open": instance.status in OPEN_STATUSES,
            "channel": instance.channel,
            "started_at": instance.started_at.isoformat(),
            "updated_at": instance.updated_at.isoformat(),
            "tasks": tasks.get(instance.id, []),
        }
        for instance, title, stage, definition_name in rows
    ]
    return items, rows[-1][0].id if more else None, hidden


def _open_tasks(session: Session, instance_ids: list[int], scope: TaskScope | None) -> dict[int, list[dict]]:
    if not instance_ids:
        return {}
    query = (
        select(HumanTask)
        .where(HumanTask.instance_id.in_(instance_ids), HumanTask.status == "open")
        .order_by(HumanTask.id)
    )
    found: dict[int, list[dict]] = {}
    tasks = list(session.scalars(query))
    groups: dict[int, list[str]] = {}
    if tasks:
        candidates = select(HumanTaskCandidate).where(
            HumanTaskCandidate.task_id.in_([t.id for t in tasks]), HumanTaskCandidate.kind == "group"
        )
        for candidate in session.scalars(candidates.order_by(HumanTaskCandidate.name)):
            groups.setdefault(candidate.task_id, []).append(candidate.name)
    for task in tasks:
        found.setdefault(task.instance_id, []).append(
            {
                "id": task.id,
                "name": task.name,
                "assignee": task.assignee,
                "teams": groups.get(task.id, []),
                "due_at": task.due_at.isoformat() if task.due_at else None,
                "yours": scope is None or scope.allows_task(task),
            }
        )
    return found


def open_request(session: Session, customer_id: str, scope: TaskScope | None, instance_id: int | None) -> str | None:
    """The reference of this open request, if it is the customer's and the viewer sees it; else None."""
    if instance_id is None:
        return None
    query = select(ProcessInstance.reference).where(
        ProcessInstance.id == instance_id,
        ProcessInstance.customer_id == customer_id,
        ProcessInstance.status.in_(OPEN_STATUSES),
    )
    if scope is not None:
        query = query.where(scope.instance_predicate(ProcessInstance.id))
    return session.scalar(query)
