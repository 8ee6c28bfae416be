"""RuntimeService: start, read, list and cancel process instances."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from engine import human_tasks, search, state
from engine.clock import Clock
from engine.db import Database
from engine.errors import Conflict, IdempotencyKeyReused, NotExecutable
from engine.execution import Executor
from engine.history import History
from engine.models import HumanTask, IdempotencyRecord, ProcessInstance
from engine.pagination import Page, page_of
from engine.repository import Repository
from engine.views import instance_view
from engine.visibility import TaskScope, visible_instance

STATUSES = ("active", "completed", "cancelled", "failed")


@dataclass(frozen=True)
class StartRequest:
    process_key: str
    variables: dict
    business_key: str | None = None
    customer_id: str | None = None

    def fingerprint(self) -> str:
        body = json.dumps(self.__dict__, sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class InstanceFilter:
    status: str | None = None
    process_key: str | None = None
    business_key: str | None = None
    customer_id: str | None = None
    reference: str | None = None  # canonical (engine.case_reference.parse)


class Runtime:
    def __init__(
        self, db: Database, repository: Repository, executor: Executor, history: History, clock: Clock
    ) -> None:
        self.db = db
        self.repository = repository
        self.executor = executor
        self.history = history
        self.clock = clock

    def start(
        self,
        request: StartRequest,
        principal: str,
        idempotency_scope: str | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[dict, bool]:
        """Start an instance of the latest version and run it to its first wait state.

        Returns the instance view and whether it was created now (False: an earlier request
        with the same idempotency key already created it, and its first response is returned).
        """
        try:
            with self.db.write() as session:
                if idempotency_key:
                    earlier = self._earlier(session, idempotency_scope, idempotency_key, request)
                    if earlier is not None:
                        return earlier, False
                row = self.repository.latest(session, request.process_key)
                if not row.executable:
                    raise NotExecutable(
                        f"process '{row.key}' version {row.version} is not executable (isExecutable=false)"
                    )
                definition = self.repository.load(row.id)
                instance, tasks = self.executor.create(
                    session,
                    definition,
                    variables=request.variables,
                    business_key=request.business_key,
                    customer_id=request.customer_id,
                    principal=principal,
                )
                view = instance_view(instance, tasks)
                if idempotency_key:
                    session.add(
                        IdempotencyRecord(
                            scope=idempotency_scope,
                            key=idempotency_key,
                            request_hash=request.fingerprint(),
                            response=view,
                            created_at=self.clock.now(),
                        )
                    )
                return view, True
        except IntegrityError:
            if not idempotency_key:
                raise
        # A concurrent request with the same key won the race: answer with its response.
        with self.db.read() as session:
            earlier = self._earlier(session, idempotency_scope, idempotency_key, request)
        if earlier is None:
            raise Conflict("the instance could not be started because of a concurrent request; retry")
        return earlier, False

    @staticmethod
    def _earlier(session, scope: str | None, key: str, request: StartRequest) -> dict | None:
        record = session.scalar(
            select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
        )
        if record is None:
            return None
        if record.request_hash != request.fingerprint():
            raise IdempotencyKeyReused(f"Idempotency-Key '{key}' was already used for a different request")
        return record.response

    def get(self, instance_id: int, with_data: bool = True, scope: TaskScope | None = None) -> dict:
        with self.db.read() as session:
            row = visible_instance(session, instance_id, scope)
            data = None
            if with_data:
                definition = self.repository.load(row.definition_id)
                workflow = state.load(
                    row.state, definition.spec, definition.subprocess_specs, self.executor.script_engine
                )
                data = visible_data(workflow)
            return instance_view(row, human_tasks.open_tasks(session, row.id), data)

    def list(
        self, filters: InstanceFilter, limit: int, after: int | None, scope: TaskScope | None = None
    ) -> Page[dict]:
        query = select(ProcessInstance).order_by(ProcessInstance.id.desc()).limit(limit + 1)
        if scope is not None:
            query = query.where(scope.instance_predicate(ProcessInstance.id))
        for column, value in (
            (ProcessInstance.status, filters.status),
            (ProcessInstance.process_key, filters.process_key),
            (ProcessInstance.business_key, filters.business_key),
            (ProcessInstance.customer_id, filters.customer_id),
            (ProcessInstance.reference, filters.reference),
        ):
            if value is not None:
                query = query.where(column == value)
        if after is not None:
            query = query.where(ProcessInstance.id < after)
        with self.db.read() as session:
            page = page_of(list(session.scalars(query)), limit)
            return Page([instance_view(row, None) for row in page.items], page.next_after)

    def open_instances(
        self,
        *,
        process_key: str | None = None,
        business_key: str | None = None,
        version: int | None = None,
        ids: list[int] | None = None,
        first: int = 0,
        limit: int | None = None,
    ) -> list[dict]:
        """Instances that have not ended (active, or failed with an incident), oldest first, by offset.

        What Camunda's runtime process-instance query lists: ended instances belong to history there.
        """
        query = (
            select(ProcessInstance)
            .where(ProcessInstance.status.in_(("active", "failed")))
            .order_by(ProcessInstance.id)
            .offset(first)
            .limit(limit)
        )
        for column, value in (
            (ProcessInstance.process_key, process_key),
            (ProcessInstance.business_key, business_key),
            (ProcessInstance.definition_version, version),
        ):
            if value is not None:
                query = query.where(column == value)
        if ids is not None:
            query = query.where(ProcessInstance.id.in_(ids))
        with self.db.read() as session:
            return [instance_view(row, None) for row in session.scalars(query)]

    def states(self, instance_id: int, scope: TaskScope | None = None) -> dict[str, str]:
        """Where the instance stands, per element (loads the workflow: for single-instance pages)."""
        with self.db.read() as session:
            row = visible_instance(session, instance_id, scope)
            definition = self.repository.load(row.definition_id)
            workflow = state.load(row.state, definition.spec, definition.subprocess_specs, self.executor.script_engine)
            return element_states(workflow)

    def customers_of(self, instance_ids: list[int]) -> dict[int, str | None]:
        with self.db.read() as session:
            rows = session.execute(
                select(ProcessInstance.id, ProcessInstance.customer_id).where(ProcessInstance.id.in_(instance_ids))
            )
            return {key: value for key, value in rows}

    def waiting_counts(self, process_key: str) -> dict[str, int]:
        """Open human tasks per element of a process: where its running instances wait."""
        with self.db.read() as session:
            rows = session.execute(
                select(HumanTask.element_id, func.count())
                .where(HumanTask.process_key == process_key, HumanTask.status == "open")
                .group_by(HumanTask.element_id)
            )
            return {key: value for key, value in rows}

    def cancel(self, instance_id: int, principal: str) -> dict:
        def change(session, row, workflow, definition):
            if row.status in ("completed", "cancelled"):
                raise Conflict(f"instance {instance_id} is already {row.status}")
            workflow.cancel()
            row.status = "cancelled"
            row.ended_at = self.clock.now()
            self.history.record(session, row.id, "instance_cancelled", principal)

        _, row, tasks = self.executor.mutate(instance_id, change, principal)
        return instance_view(row, tasks)

    def link_customer(self, instance_id: int, customer_id: str, principal: str, scope: TaskScope | None = None) -> dict:
        """File the instance under ``customer_id``: its row, the customer's status, and the process variable.

        For contacts whose identity was confirmed later (a portal inquiry from a known customer's address,
        confirmed by mail or by staff): the running process reads the new ``customer_id`` from its next step on.
        """
        self.get(instance_id, with_data=False, scope=scope)  # NotFound unless the caller may see it

        def change(session, row, workflow, definition):
            if row.status in ("completed", "cancelled"):
                raise Conflict(f"instance {instance_id} is already {row.status}")
            previous = row.customer_id
            row.customer_id = customer_id
            # What runs next reads it from the unfinished tasks; what staff see, also from the last completed one.
            for task in [*workflow.get_tasks(state=TaskState.NOT_FINISHED_MASK), workflow.last_task]:
                if task is not None:
                    task.data["customer_id"] = customer_id
            self.history.record(session, row.id, "customer_linked", principal, customer_id=customer_id, was=previous)
            search.index_instance(session, row)  # the case is found by its new customer's name

        _, row, tasks = self.executor.mutate(instance_id, change, principal)
        return instance_view(row, tasks)


def visible_data(workflow) -> dict:
    """The data of the instance: the workflow's own data, overlaid with the newest task data."""
    data = dict(workflow.data)
    newest = [workflow.last_task] if workflow.last_task is not None else []
    for task in newest + human_tasks.ready_human_tasks(workflow):
        data.update(task.data)
    return json.loads(json.dumps(data, default=str))


def element_states(workflow) -> dict[str, str]:
    """Element id -> "completed", "active" or "failed", for drawing where an instance stands."""
    states: dict[str, str] = {}
    rank = {"completed": 0, "active": 1, "failed": 2}
    for task in workflow.get_tasks():
        if task.state == TaskState.ERROR:
            state = "failed"
        elif task.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED):
            state = "active"
        elif task.state == TaskState.COMPLETED:
            state = "completed"
        else:
            continue
        name = task.task_spec.name
        if rank[state] >= rank.get(states.get(name, "completed"), 0):
            states[name] = state
    return states
