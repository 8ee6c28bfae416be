"""The one path by which an instance changes: load, change, run to the next wait state, write back.

Every change (start, task completion, cancel, incident retry) goes through :class:`Executor`,
so the version check, the read models, history and incidents are handled in one place and
always in the same transaction as the instance row.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Select, bindparam, event, select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.exc import StaleDataError

from engine import (
    case_reference,
    events,
    human_tasks,
    job_rows,
    message_rows,
    read_models,
    row_writes,
    search,
    state,
    status,
    timer_rows,
)
from engine.clock import Clock
from engine.db import Database
from engine.errors import ConcurrentModification, NotFound
from engine.history import History
from engine.incident_text import describe
from engine.models import CustomerStatus, HumanTask, Incident, ProcessInstance
from engine.repository import LoadedDefinition, Repository
from engine.script_context import StepContext, running_for
from engine.timer_specs import fire_horizon, fired_timers, set_fire_horizon, start_now, timer_definitions

T = TypeVar("T")
CONFLICT_RETRIES = 5
# A timer that fires in SpiffWorkflow's closing refresh of ``do_engine_steps`` runs in the next round;
# a cycle that missed occurrences fires one per round (up to its catch-up cap).
MAX_ENGINE_ROUNDS = 1000

Change = Callable[[Session, ProcessInstance, BpmnWorkflow, LoadedDefinition], T]


class Executor:
    def __init__(self, db: Database, repository: Repository, history: History, clock: Clock, script_engine) -> None:
        self.db = db
        self.repository = repository
        self.history = history
        self.clock = clock
        self.script_engine = script_engine
        # Called with the due times of new timer rows once their transaction committed (wakes a local worker).
        self.timer_listeners: list[Callable[[list], None]] = []
        # Called once a transaction that wrote new service-task jobs committed (wakes a local worker, and
        # fetchAndLock requests waiting for external tasks).
        self.job_listeners: list[Callable[[], None]] = []
        # Called with the messages and signals an instance threw, once their transaction committed (delivers them).
        self.message_listeners: list[Callable[[list], None]] = []
        self.message_ttl = timedelta(hours=1)  # how long a thrown message nobody waits for yet is kept

    def new_workflow(
        self, definition: LoadedDefinition, variables: dict, start_event: str | None = None
    ) -> BpmnWorkflow:
        """A new workflow; ``start_event`` names the timer start event that started it (the worker's case).

        Started by hand, a process whose start events all carry timers starts at once, as if its
        first timer start event had fired (as in Camunda); with a none start event, that one
        starts it and the timer start events are left to the schedule.
        """
        workflow = BpmnWorkflow(definition.spec, definition.subprocess_specs, script_engine=self.script_engine)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(variables)
        starts = [t for t in workflow.get_tasks() if isinstance(t.task_spec, StartEvent) and t.workflow is workflow]
        timed = [t for t in starts if timer_definitions(t.task_spec.event_definition)]
        if start_event is not None:
            timed = [t for t in timed if t.task_spec.name == start_event]
            if not timed:
                raise NotFound(f"process '{definition.key}' has no timer start event '{start_event}'")
        elif len(timed) < len(starts):
            timed = []
        for task in timed[:1]:
            start_now(task)
        return workflow

    def create(
        self,
        session: Session,
        definition: LoadedDefinition,
        *,
        variables: dict,
        business_key: str | None,
        customer_id: str | None,
        principal: str,
        start_event: str | None = None,
        deliver: Callable[[BpmnWorkflow], None] | None = None,
        prepare: Callable[[ProcessInstance], None] | None = None,
    ) -> tuple[ProcessInstance, list[HumanTask]]:
        """Insert a new instance and run it to its first wait state, in the caller's transaction.

        ``deliver`` hands the new workflow the message or signal that starts it; ``prepare`` sets
        columns of the new row (e.g. the channel) before it first runs.
        """
        now = self.clock.now()
        workflow = self.new_workflow(definition, variables, start_event)
        if deliver is not None:
            deliver(workflow)
        row = ProcessInstance(
            definition_id=definition.id,
            process_key=definition.key,
            definition_version=definition.version,
            business_key=business_key,
            customer_id=customer_id,
            tracking_code=secrets.token_urlsafe(24),
            status="active",
            state=state.dump(workflow),
            version=1,
            started_by=principal,
            started_at=now,
            updated_at=now,
        )
        if prepare is not None:
            prepare(row)
        # the INSERT is the check: it stores nothing while the reference drawn is taken, and another is drawn
        case_reference.unused(lambda candidate: not _inserted_with_reference(session, row, candidate))
        self.history.record(session, row.id, "instance_started", principal, version=definition.version)
        with running_for(StepContext(principal, principal, row.id, row.process_key)):
            tasks = self.advance(session, row, workflow, definition, principal, new_instance=True)
        search.index_instance(session, row, new_instance=True)  # its subject is in the state the first steps stored
        return row, tasks

    def mutate(
        self,
        instance_id: int | None,
        change: Change,
        principal: str,
        use_returned_workflow: bool = False,
        *,
        of_task: int | None = None,
    ) -> tuple[T, ProcessInstance, list[HumanTask]]:
        """Apply ``change`` to a fresh copy of the instance, run on, and commit; retried if a concurrent writer won.

        ``change`` must check its preconditions against the rows it reads, so that a retry after
        losing a race fails cleanly (e.g. the task is no longer open) instead of applying twice.
        With ``use_returned_workflow`` the change returns the workflow to run on (e.g. rebuilt on
        a newer version). With ``of_task`` (and no ``instance_id``) the instance is the one holding
        that human task, found in the statement that locks it.
        """
        lock = _lock_statement(by_task=of_task is not None)
        key = {"key": of_task if of_task is not None else instance_id}
        missing = f"no task with id {of_task}" if of_task is not None else f"no instance with id {instance_id}"
        for _ in range(CONFLICT_RETRIES):
            try:
                with self.db.write() as session:
                    # The row lock (PostgreSQL; SQLite's writers are serialized already) makes every writer of
                    # one instance take its locks in the same order: no deadlocks, and losers see the new version.
                    found = session.execute(lock, key).unique().all()
                    if not found:
                        raise NotFound(missing)
                    row = found[0][0]
                    definition = self.repository.load(row.definition_id)
                    workflow = state.load(row.state, definition.spec, definition.subprocess_specs, self.script_engine)
                    with running_for(StepContext(principal, row.started_by, row.id, row.process_key)):
                        result = change(session, row, workflow, definition)
                        if use_returned_workflow:
                            workflow = result
                            definition = self.repository.load(row.definition_id)
                        tasks = self.advance(session, row, workflow, definition, principal, moved=use_returned_workflow)
                    return result, row, tasks
            except StaleDataError:
                continue
        raise ConcurrentModification(f"instance {instance_id or row.id} kept changing concurrently; try again")

    def advance(
        self,
        session: Session,
        row: ProcessInstance,
        workflow: BpmnWorkflow,
        definition: LoadedDefinition,
        principal: str,
        new_instance: bool = False,
        moved: bool = False,
    ) -> list[HumanTask]:
        """Run engine steps to the next wait state, then write state, read models, history and incidents.

        Read models the instance cannot have rows of are not read: none of a ``new_instance`` (inserted in
        this transaction), none its definition has no elements for, unless it ``moved`` to another version.
        """
        error: Exception | None = None
        if row.status != "cancelled":
            try:
                _run_engine_steps(workflow)
                # a catch that became active may take a buffered message at once; then run on
                for _ in range(MAX_ENGINE_ROUNDS):
                    if not message_rows.take_buffered(session, row, workflow, self.history, self.clock.now()):
                        break
                    _run_engine_steps(workflow)
            except Exception as exc:  # any failure in model code becomes an incident, never a lost instance
                error = exc
        now = self.clock.now()
        stored = True
        last_digest = row.read_model_digest
        try:
            row.state = state.dump(workflow)
        except Exception as exc:  # unserializable data must not lose the instance
            exc.add_note("the instance data could not be stored as JSON; the state before this step is kept")
            error, stored = exc, False
        row.updated_at = now
        ready_tasks = human_tasks.ready_human_tasks(workflow) if stored else []  # for the digest and the task sync
        if stored:  # set with the state, before anything flushes: one UPDATE of the instance row per step
            row.read_model_digest = _digest(row, workflow, ready_tasks, definition.read_models)
            events.published(session, row, workflow, now)  # what the model's own elements published in this step
        if error is not None:
            self._open_incident(session, row, workflow, error, principal)
        elif row.status not in ("cancelled", "failed", "completed") and workflow.is_completed():
            row.status = "completed"
            row.ended_at = now
            self.history.record(session, row.id, "instance_completed", principal)
        elif row.status == "failed" and not self._has_open_incident(session, row.id):
            row.status = "active"
        if stored and row.customer_id is None and definition.customer.customer_variable:
            self._file_under_named_customer(session, row, workflow, definition, principal)
        # before the read models' statements: any ORM query among them would first flush the row the slow way
        row_writes.write_changes(session, row, version="version")
        if stored:
            stored_guids = None
            if new_instance:
                none_stored = read_models.ALL
            elif moved:
                none_stored = frozenset()
            else:
                none_stored = (read_models.ALL - definition.read_models) | read_models.not_stored(last_digest)
                stored_guids = read_models.open_task_guids(last_digest)
            tasks = human_tasks.sync(
                session,
                row,
                ready_tasks,
                definition,
                principal,
                self.history,
                self.clock,
                none_stored=read_models.HUMAN_TASKS in none_stored,
                stored_guids=stored_guids,
            )
            # a read model the definition cannot have and none of whose rows are stored has nothing to sync: its
            # walk of the workflow's tasks is skipped too
            can_have = definition.read_models | (read_models.ALL - none_stored)
            if read_models.TIMERS in can_have:
                new_timers = timer_rows.sync(
                    session, row, workflow, self.history, self.clock, none_stored=read_models.TIMERS in none_stored
                )
                if new_timers and self.timer_listeners:
                    self._announce_after_commit(session, new_timers)
            if read_models.JOBS in can_have:
                new_jobs = job_rows.sync(
                    session, row, workflow, self.clock, self.repository.operations, read_models.JOBS in none_stored
                )
                if new_jobs and self.job_listeners:
                    event.listen(session, "after_commit", lambda _: [wake() for wake in self.job_listeners], once=True)
            if read_models.SUBSCRIPTIONS in can_have:
                message_rows.sync(
                    session, row, workflow, self.clock, none_stored=read_models.SUBSCRIPTIONS in none_stored
                )
            thrown = message_rows.thrown_messages(session, row, workflow, self.message_ttl, now)
            if thrown and self.message_listeners:
                event.listen(
                    session,
                    "after_commit",
                    lambda _: [deliver(thrown) for deliver in self.message_listeners],
                    once=True,
                )
            status.sync(session, row, workflow, definition, tasks, now, new_instance)
        else:
            tasks = human_tasks.open_tasks(session, row.id)
        session.flush()
        return tasks

    def _announce_after_commit(self, session: Session, due_times: list) -> None:
        pending = session.info.setdefault("carecenter_new_timers", [])
        if not pending:

            def announce(committed: Session) -> None:
                due = committed.info.pop("carecenter_new_timers", [])
                for listener in self.timer_listeners:
                    listener(due)

            event.listen(session, "after_commit", announce, once=True)
        pending.extend(due_times)

    def _file_under_named_customer(
        self, session: Session, row: ProcessInstance, workflow: BpmnWorkflow, definition: LoadedDefinition, principal
    ) -> None:
        """File an instance that has no customer under the one its ``customer_variable`` names (once it does)."""
        customer_id = status.named_customer(workflow, definition)
        if customer_id is not None:
            row.customer_id = customer_id
            details = {"customer_id": customer_id, "variable": definition.customer.customer_variable}
            self.history.record(session, row.id, "customer_linked", principal, **details)

    def _open_incident(
        self, session: Session, row: ProcessInstance, workflow: BpmnWorkflow, error: Exception, principal: str
    ) -> None:
        task = getattr(error, "task", None)
        if task is None:
            failed = workflow.get_tasks(state=TaskState.ERROR)
            task = failed[0] if failed else None
        element_id = task.task_spec.name if task is not None else None
        element_name = (task.task_spec.bpmn_name or element_id) if task is not None else None
        message = describe(error)
        session.add(
            Incident(
                instance_id=row.id,
                element_id=element_id,
                element_name=element_name,
                error_type=type(error).__name__,
                message=message,
                status="open",
                created_at=self.clock.now(),
            )
        )
        row.status = "failed"
        self.history.record(session, row.id, "instance_failed", principal, element_id=element_id, message=message)

    @staticmethod
    def _has_open_incident(session: Session, instance_id: int) -> bool:
        query = select(Incident.id).where(Incident.instance_id == instance_id, Incident.status == "open").limit(1)
        return session.scalar(query) is not None


@functools.cache
def _lock_statement(by_task: bool) -> Select:
    """The statement that locks an instance (by its id, or by a human task's id: parameter ``key``), built once.

    It also reads the instance's customer-status row, which every step updates, and the human task it was
    found by. Mind PostgreSQL's READ COMMITTED here: a statement that waited for the lock returns the
    newest version of the instance row, but the joined rows as they were when the statement began. So
    nothing joined may decide anything that another step can change meanwhile: a completion decides by
    the task's state in the workflow (read from the locked row), not by the task row's status, and the
    customer-status row is recomputed from the workflow (status.sync does not trust its stage). Rows
    that steps change and that decide (a timer firing's pending timers) are read after the lock.
    """
    lock = select(ProcessInstance, CustomerStatus).outerjoin(
        CustomerStatus, CustomerStatus.instance_id == ProcessInstance.id
    )
    if by_task:  # the task and its candidates (names that never change) too: the change checks them
        lock = lock.add_columns(HumanTask).join(HumanTask, HumanTask.instance_id == ProcessInstance.id)
        lock = lock.where(HumanTask.id == bindparam("key")).options(joinedload(HumanTask.candidates))
    else:
        lock = lock.where(ProcessInstance.id == bindparam("key"))
    return lock.with_for_update(of=ProcessInstance).execution_options(populate_existing=True)


def _digest(row: ProcessInstance, workflow: BpmnWorkflow, ready_tasks: list, possible: frozenset[str]) -> dict:
    """What the read-model syncs of this step will leave stored (:mod:`engine.read_models`), from the workflow;
    timers and catches are looked for only when the definition can have them (``possible``)."""
    ended = row.status == "cancelled" or workflow.is_completed()
    return read_models.digest_of(
        [str(task.id) for task in ready_tasks],
        read_models.TIMERS in possible and bool(timer_rows.waiting_timers(workflow)),
        not ended and read_models.SUBSCRIPTIONS in possible and bool(message_rows.waiting_catches(workflow)),
    )


def _inserted_with_reference(session: Session, row: ProcessInstance, reference: str) -> bool:
    """Insert the new instance row with this case reference; False (nothing stored) if an instance has it."""
    row.reference = reference
    return row_writes.insert_unless_taken(session, row, "reference")


def _run_engine_steps(workflow: BpmnWorkflow) -> None:
    """Run to the next wait state; with a fire horizon, first fire the timers due by then in due order."""
    horizon = fire_horizon(workflow)
    if horizon is not None:
        seen = None
        for _ in range(MAX_ENGINE_ROUNDS):
            due = [w for w in timer_rows.waiting_timers(workflow) if w.due_at <= horizon]
            state_now = {(w.task_guid, w.due_at) for w in due}
            if not due or state_now == seen:
                break
            seen = state_now
            set_fire_horizon(workflow, min(w.due_at for w in due))
            workflow.refresh_timers()
            _engine_rounds(workflow)
        set_fire_horizon(workflow, horizon)
    _engine_rounds(workflow)


def _engine_rounds(workflow: BpmnWorkflow) -> None:
    """``do_engine_steps``, repeated while its closing timer refresh made catching events ready."""
    for _ in range(MAX_ENGINE_ROUNDS):
        fired_before = len(fired_timers(workflow))
        workflow.do_engine_steps()
        if len(fired_timers(workflow)) == fired_before and not any(
            isinstance(task.task_spec, CatchingEvent) for task in workflow.get_tasks(state=TaskState.READY)
        ):
            return
