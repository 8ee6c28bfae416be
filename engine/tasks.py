"""TaskService: list, read, claim, unclaim and complete human tasks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Row, and_, or_, select, update
from sqlalchemy.orm import joinedload

from engine import forms, human_tasks, mail_answers, state
from engine.clock import Clock
from engine.config import Settings
from engine.db import Database
from engine.errors import Conflict, NotFound, TaskNotOpen, Unprocessable
from engine.execution import Executor
from engine.history import History
from engine.models import Group, HumanTask, HumanTaskCandidate, ProcessInstance, User, UserGroup
from engine.pagination import Page, page_of
from engine.status import CUSTOMER_LANE
from engine.views import instance_view, task_view
from engine.visibility import TaskScope

TASK_STATUSES = ("open", "completed", "cancelled")
WORKER_ROLES = ("staff", "admin")  # who works on tasks (designers and integration accounts do not)
_WITH_CANDIDATES = [joinedload(HumanTask.candidates)]  # built once: every task action loads a task this way


@dataclass(frozen=True)
class TaskFilter:
    status: str = "open"
    candidate_group: str | None = None
    assignee: str | None = None
    process_key: str | None = None
    instance_id: int | None = None
    sort: str = "id"  # "due": by due date (tasks without one last), then id


TASK_SORTS = ("id", "due")


class Tasks:
    def __init__(self, db: Database, executor: Executor, history: History, clock: Clock, settings: Settings) -> None:
        self.db = db
        self.executor = executor
        self.history = history
        self.clock = clock
        self.settings = settings

    def list(self, filters: TaskFilter, limit: int, after: int | None, scope: TaskScope | None = None) -> Page[dict]:
        """Tasks matching ``filters``; with a ``scope``, only those the scoped principal may see."""
        query = (
            select(*LISTED_COLUMNS).where(HumanTask.status == filters.status).order_by(HumanTask.id).limit(limit + 1)
        )
        if filters.candidate_group is not None:
            query = query.where(
                HumanTask.id.in_(
                    select(HumanTaskCandidate.task_id).where(
                        HumanTaskCandidate.kind == "group",
                        HumanTaskCandidate.name == filters.candidate_group,
                        HumanTaskCandidate.task_open.is_(filters.status == "open"),
                    )
                )
            )
        if filters.assignee is not None:
            query = query.where(HumanTask.assignee == filters.assignee)
        if filters.process_key is not None:
            query = query.where(HumanTask.process_key == filters.process_key)
        if filters.instance_id is not None:
            query = query.where(HumanTask.instance_id == filters.instance_id)
        else:  # customer tasks (lane "customer") are the customer's work: not in staff work lists
            query = query.where(HumanTask.lane.is_(None) | (HumanTask.lane != CUSTOMER_LANE))
        if after is not None and filters.sort != "due":
            query = query.where(HumanTask.id > after)
        if scope is not None:
            query = query.where(scope.task_predicate())
        now = self.clock.now()
        with self.db.read() as session:
            if filters.sort == "due":
                query = _by_due(session, query, after)
            page = page_of(list(session.execute(query)), limit)
            listed = _with_candidates(session, page.items)
            return Page([task_view(task, now) for task in listed], page.next_after)

    def get(self, task_id: int, scope: TaskScope | None = None) -> dict:
        with self.db.read() as session:
            task = self._visible(session, task_id, scope)
            return task_view(task, self.clock.now())

    @staticmethod
    def _visible(session, task_id: int, scope: TaskScope | None) -> HumanTask:
        # the candidates (checked by the scope and the four-eyes rule) come in the same statement
        task = session.get(HumanTask, task_id, options=_WITH_CANDIDATES)
        if task is None:
            raise NotFound(f"no task with id {task_id}")
        if scope is not None:
            scope.require_task(task)
        return task

    @staticmethod
    def _refuse_excluded(task: HumanTask, person: str | None) -> None:
        """Four eyes: the model's ``excluded_users`` (e.g. who requested what the task approves) never work on it."""
        if person is not None and person in task.candidate_names(human_tasks.EXCLUDED):
            raise Unprocessable(
                f"task {task.id} is not for {person}: the process excludes them from it (someone else must decide "
                "what they requested)"
            )

    def claim(self, task_id: int, principal: str, scope: TaskScope | None = None) -> dict:
        return self._set_assignee(task_id, principal, principal, "task_claimed", "unassigned", scope)

    def unclaim(self, task_id: int, principal: str, scope: TaskScope | None = None) -> dict:
        return self._set_assignee(task_id, None, principal, "task_unclaimed", "assigned", scope)

    def assign(self, task_id: int, assignee: str | None, principal: str, scope: TaskScope | None = None) -> dict:
        """Give a task to someone (or back to its groups with ``None``), whoever holds it now.

        With a ``scope`` (a team lead's), only a task the scope shows, and only to one of :meth:`assignable`.
        """
        if scope is not None and assignee is not None and assignee not in self._assignable_names(task_id):
            raise Unprocessable(f"'{assignee}' is not an active member of the teams of task {task_id}")
        return self._set_assignee(task_id, assignee, principal, "task_assigned", "any", scope)

    def assignable(self, task_id: int) -> list[dict]:
        """Who may be given the task: active staff (and admins) in its candidate groups or named as candidates."""
        with self.db.read() as session:
            task = self._visible(session, task_id, None)
            groups, users = task.candidate_names("group"), task.candidate_names("user")
            excluded = task.candidate_names(human_tasks.EXCLUDED)
            members = select(UserGroup.user_id).join(Group, Group.id == UserGroup.group_id)
            members = members.where(Group.name.in_(groups))
            query = (
                select(User.username, User.display_name)
                .where(
                    User.disabled.is_(False),
                    User.role.in_(WORKER_ROLES),
                    or_(User.id.in_(members), User.username.in_(users)),
                    User.username.not_in(excluded),
                )
                .order_by(User.display_name, User.username)
            )
            return [{"username": name, "display_name": shown or name} for name, shown in session.execute(query)]

    def _assignable_names(self, task_id: int) -> set[str]:
        return {person["username"] for person in self.assignable(task_id)}

    def next_open(self, done: dict, username: str, scope: TaskScope | None = None) -> dict | None:
        """The task to take after ``done`` (a task view): an open one of the same team(s) that ``username`` may do.

        Unclaimed or already theirs, never the customer's; the soonest due first, then the oldest.
        """
        groups = done["candidate_groups"]
        if not groups:
            return None
        query = (
            select(*LISTED_COLUMNS)
            .where(
                HumanTask.status == "open",
                HumanTask.id != done["id"],
                HumanTask.lane.is_(None) | (HumanTask.lane != CUSTOMER_LANE),
                HumanTask.assignee.is_(None) | (HumanTask.assignee == username),
                HumanTask.id.in_(
                    select(HumanTaskCandidate.task_id).where(
                        HumanTaskCandidate.kind == "group",
                        HumanTaskCandidate.name.in_(groups),
                        HumanTaskCandidate.task_open.is_(True),
                    )
                ),
            )
            .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
            .limit(1)
        )
        if scope is not None:
            query = query.where(scope.task_predicate())
        with self.db.read() as session:
            found = _with_candidates(session, list(session.execute(query)))
            return task_view(found[0], self.clock.now()) if found else None

    def _set_assignee(
        self, task_id: int, assignee: str | None, principal: str, event: str, expect: str, scope: TaskScope | None
    ) -> dict:
        with self.db.write() as session:
            task = self._visible(session, task_id, scope)
            if task.status != "open":
                raise TaskNotOpen(f"task {task_id} is {task.status}")
            self._refuse_excluded(task, assignee)
            condition = {
                "unassigned": HumanTask.assignee.is_(None),
                "assigned": HumanTask.assignee.is_not(None),
                "any": HumanTask.id == task_id,
            }[expect]
            changed = session.execute(
                update(HumanTask)
                .where(HumanTask.id == task_id, HumanTask.status == "open", condition)
                .values(assignee=assignee)
                .execution_options(synchronize_session=False)
            ).rowcount
            if changed != 1:
                state = f"claimed by {task.assignee}" if task.assignee else "not claimed"
                raise Conflict(f"task {task_id} is {state}")
            details = {"assignee": assignee} if event == "task_assigned" else {}
            self.history.record(
                session,
                task.instance_id,
                event,
                principal,
                element_id=task.element_id,
                human_task_id=task.id,
                **details,
            )
            session.refresh(task)
            return task_view(task, self.clock.now())

    def complete(self, task_id: int, data: dict, principal: str, scope: TaskScope | None = None) -> dict:
        """Merge ``data`` into the task, run the instance to its next wait state; 409 if the task is not open."""

        def change(session, row, workflow, definition):  # visibility is checked here, under the instance lock
            task = self._visible(session, task_id, scope)
            if task.status != "open":
                raise TaskNotOpen(f"task {task_id} is {task.status}")
            self._refuse_excluded(task, principal)
            spiff_task = workflow.get_task_from_id(UUID(task.task_guid))
            if spiff_task is None or spiff_task.state != TaskState.READY:
                raise TaskNotOpen(f"task {task_id} is no longer waiting in its instance")
            schema = definition.forms.get(task.form_key or "")
            if schema is not None:
                forms.validate(schema, data)
                self._mail_reply(session, row, task, schema, data, principal)
            spiff_task.data.update(data)
            spiff_task.run()
            human_tasks.close(session, [task], "completed", self.clock.now(), by=principal)
            self.history.record(
                session, row.id, "task_completed", principal, element_id=task.element_id, human_task_id=task.id
            )
            return task

        task, row, open_tasks = self.executor.mutate(None, change, principal, of_task=task_id)
        return {"task": task_view(task, self.clock.now()), "instance": instance_view(row, open_tasks)}

    def _mail_reply(self, session, row, task: HumanTask, schema: dict, data: dict, principal: str) -> None:
        """Send the field the designer marked as the reply to the customer, when it is filled in."""
        field = forms.reply_field(schema)
        text = data.get(field, "") if field else ""
        if isinstance(text, str) and text.strip():
            mail_answers.queue(
                session,
                row,
                subject="",
                body=text.strip(),
                author=principal,
                key=f"{mail_answers.PURPOSE}:task:{task.id}",
                settings=self.settings,
                history=self.history,
                now=self.clock.now(),
            )

    def save_draft(self, task_id: int, data: dict, principal: str, scope: TaskScope | None = None) -> dict:
        """Keep unfinished form input with the task; it is not validated and changes nothing else."""
        with self.db.write() as session:
            task = self._visible(session, task_id, scope)
            if task.status != "open":
                raise TaskNotOpen(f"task {task_id} is {task.status}")
            task.draft = data
            self.history.record(
                session,
                task.instance_id,
                "task_draft_saved",
                principal,
                element_id=task.element_id,
                human_task_id=task.id,
            )
            session.flush()
            return task_view(task, self.clock.now())

    def form(self, task_id: int, scope: TaskScope | None = None) -> dict:
        """The task's form (schema and UI document of its version) and the data to prefill it with."""
        with self.db.read() as session:
            task = self._visible(session, task_id, scope)
            instance = session.get(ProcessInstance, task.instance_id)
            definition = self.executor.repository.load(instance.definition_id)
            workflow = state.load(
                instance.state, definition.spec, definition.subprocess_specs, self.executor.script_engine
            )
            spiff_task = workflow.get_task_from_id(UUID(task.task_guid))
            data = dict(spiff_task.data) if spiff_task is not None else {}
            key = task.form_key or ""
            ui_key = forms.ui_name_for(key) if key.endswith(forms.FORM_SUFFIX) else ""
            info = definition.element(spiff_task.workflow.spec.name, task.element_id) if spiff_task else None
            if info is not None and info.form_ui_key:
                ui_key = info.form_ui_key
            return {
                "task": task_view(task, self.clock.now()),
                "schema": definition.forms.get(key),
                "ui": definition.forms.get(ui_key, {}),
                "data": _jsonable(data),
                "draft": task.draft,
            }


# A list reads plain rows (no ORM objects, no drafts) and the candidates of the page in one query.
LISTED_COLUMNS = [column for column in HumanTask.__table__.columns if column.key != "draft"]


@dataclass(frozen=True)
class ListedTask:
    """A task row of a list with its candidates: what :func:`task_view` reads."""

    row: Row
    candidates: dict[str, list[str]]

    def __getattr__(self, name: str):
        return getattr(self.row, name)

    def candidate_names(self, kind: str) -> list[str]:
        return self.candidates.get(kind, [])


def _with_candidates(session, rows: list[Row]) -> list[ListedTask]:
    names: dict[int, dict[str, list[str]]] = {row.id: {} for row in rows}
    if names:
        query = select(HumanTaskCandidate.task_id, HumanTaskCandidate.kind, HumanTaskCandidate.name).where(
            HumanTaskCandidate.task_id.in_(list(names))
        )
        for task_id, kind, name in session.execute(query):
            names[task_id].setdefault(kind, []).append(name)
    return [ListedTask(row, {kind: sorted(found) for kind, found in names[row.id].items()}) for row in rows]


def _jsonable(data: dict) -> dict:
    return json.loads(json.dumps(data, default=str))


def _by_due(session, query, after: int | None):
    """Order by due date, undated tasks last; ``after`` (a task id) continues after that task in this order."""
    query = query.order_by(None).order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
    last = session.get(HumanTask, after) if after is not None else None
    if last is None:
        return query if after is None else query.where(HumanTask.id > after)
    if last.due_at is None:
        return query.where(HumanTask.due_at.is_(None), HumanTask.id > last.id)
    return query.where(
        or_(
            HumanTask.due_at > last.due_at,
            and_(HumanTask.due_at == last.due_at, HumanTask.id > last.id),
            HumanTask.due_at.is_(None),
        )
    )
