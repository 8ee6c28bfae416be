"""Row-level visibility of tasks and instances for a scoped principal, as SQL and as a check on a row.

The policy (``api/policy.py``) decides *who* gets which scope; this module only applies a scope,
so lists are filtered in the query (indexed) and single rows are checked the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from engine.errors import CareError, NotFound
from engine.models import HumanTask, HumanTaskCandidate, ProcessInstance


class Forbidden(CareError):
    problem_type = "/problems/forbidden"
    status = 403
    title = "Forbidden"


@dataclass(frozen=True)
class TaskScope:
    """A staff member: sees tasks assigned to them, and unclaimed tasks of their groups or naming them.

    ``oversees`` names teams whose every task the principal sees, whoever holds it: a team lead's
    view for handing work around (the policy gives it only where a lead may do that).
    """

    username: str
    groups: frozenset[str]
    oversees: frozenset[str] = frozenset()

    def task_predicate(self) -> ColumnElement[bool]:
        candidate = exists(
            select(HumanTaskCandidate.task_id).where(
                HumanTaskCandidate.task_id == HumanTask.id,
                or_(
                    and_(HumanTaskCandidate.kind == "group", HumanTaskCandidate.name.in_(sorted(self.groups))),
                    and_(HumanTaskCandidate.kind == "user", HumanTaskCandidate.name == self.username),
                ),
            )
        )
        visible = [
            HumanTask.assignee == self.username,
            HumanTask.completed_by == self.username,
            and_(HumanTask.assignee.is_(None), candidate),
        ]
        if self.oversees:
            overseen = exists(
                select(HumanTaskCandidate.task_id).where(
                    HumanTaskCandidate.task_id == HumanTask.id,
                    HumanTaskCandidate.kind == "group",
                    HumanTaskCandidate.name.in_(sorted(self.oversees)),
                )
            )
            visible.append(overseen)
        return or_(*visible)

    def allows_task(self, task: HumanTask) -> bool:
        if set(task.candidate_names("group")) & self.oversees:
            return True
        if task.assignee is not None:
            return task.assignee == self.username
        if task.completed_by == self.username:
            return True
        return bool(set(task.candidate_names("group")) & self.groups) or self.username in task.candidate_names("user")

    def instance_predicate(self, instance_id_column) -> ColumnElement[bool]:
        """Instances in which the principal has (or had) a visible task."""
        return exists(select(HumanTask.id).where(HumanTask.instance_id == instance_id_column, self.task_predicate()))

    def require_task(self, task: HumanTask) -> None:
        if not self.allows_task(task):
            raise Forbidden(f"task {task.id} is not for you: it belongs to other teams or is claimed by someone else")

    def require_instance(self, session: Session, instance_id: int) -> None:
        visible = session.scalar(select(self.instance_predicate(instance_id)))
        if not visible:
            raise Forbidden(f"instance {instance_id} has no task of yours or your teams")


def visible_instance(session: Session, instance_id: int, scope: TaskScope | None) -> ProcessInstance:
    """The instance row: NotFound if there is none, Forbidden if ``scope`` (None: everything) does not show it."""
    row = session.get(ProcessInstance, instance_id)
    if row is None:
        raise NotFound(f"no instance with id {instance_id}")
    if scope is not None:
        scope.require_instance(session, instance_id)
    return row
