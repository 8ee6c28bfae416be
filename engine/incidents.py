"""Incidents: failures at one element that stopped an instance, listed for operators and retried."""

from __future__ import annotations

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select

from engine import delivery_failures, state
from engine.clock import Clock
from engine.db import Database
from engine.errors import Conflict, NotFound
from engine.execution import Executor
from engine.history import History
from engine.jobs import rearm
from engine.models import HistoryEvent, Incident, ProcessDefinition, ProcessInstance, ServiceJob
from engine.pagination import Page, page_of
from engine.repository import Repository
from engine.views import incident_view, instance_view


class Incidents:
    def __init__(
        self, db: Database, repository: Repository, executor: Executor, history: History, clock: Clock
    ) -> None:
        self.db = db
        self.repository = repository
        self.executor = executor
        self.history = history
        self.clock = clock

    def list(self, status: str | None, instance_id: int | None, limit: int, after: int | None) -> Page[dict]:
        query = select(Incident).order_by(Incident.id.desc()).limit(limit + 1)
        if status is not None:
            query = query.where(Incident.status == status)
        if instance_id is not None:
            query = query.where(Incident.instance_id == instance_id)
        if after is not None:
            query = query.where(Incident.id < after)
        with self.db.read() as session:
            page = page_of(list(session.scalars(query)), limit)
            return Page([incident_view(i) for i in page.items], page.next_after)

    def overview(self, status: str | None, process_key: str | None, limit: int, after: int | None) -> Page[dict]:
        """Incidents for the operator's list: each with its case's reference, process name and process key, and
        ``retries``, how often this element of this case was retried so far (one query per page, no workflows)."""
        query = (
            select(Incident, ProcessInstance.reference, ProcessInstance.process_key, ProcessDefinition.name)
            .join(ProcessInstance, ProcessInstance.id == Incident.instance_id)
            .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .order_by(Incident.id.desc())
            .limit(limit + 1)
        )
        if status is not None:
            query = query.where(Incident.status == status)
        if process_key is not None:
            query = query.where(ProcessInstance.process_key == process_key)
        if after is not None:
            query = query.where(Incident.id < after)
        with self.db.read() as session:
            page = page_of(list(session.execute(query)), limit, key=lambda row: row[0].id)
            instance_ids = {row[0].instance_id for row in page.items}
            counted = session.execute(
                select(HistoryEvent.instance_id, HistoryEvent.element_id, func.count())
                .where(HistoryEvent.instance_id.in_(instance_ids), HistoryEvent.event_type == "incident_retried")
                .group_by(HistoryEvent.instance_id, HistoryEvent.element_id)
            )
            retries = {(instance_id, element_id): count for instance_id, element_id, count in counted}
            items = [
                {
                    **incident_view(incident),
                    "reference": reference,
                    "process_key": process_key,
                    "process_name": name,
                    "retries": retries.get((incident.instance_id, incident.element_id), 0),
                }
                for incident, reference, process_key, name in page.items
            ]
        return Page(items, page.next_after)

    def get(self, incident_id: int) -> dict:
        with self.db.read() as session:
            incident = session.get(Incident, incident_id)
            if incident is None:
                raise NotFound(f"no incident with id {incident_id}")
            return incident_view(incident)

    def retry(self, incident_id: int, principal: str, data: dict | None = None, latest_version: bool = False) -> dict:
        """Run the failed element again, optionally with corrected data or on the newest deployed version.

        An incident of a mail that could not be delivered sends the mail again instead; the case is left as it is.
        """
        with self.db.read() as session:
            found = session.get(Incident, incident_id)
            if found is None:
                raise NotFound(f"no incident with id {incident_id}")
            instance_id, outbox_id = found.instance_id, found.outbox_id
        if outbox_id is not None:
            return self._resend(incident_id, principal)

        def change(session, row, workflow, definition):
            incident = session.get(Incident, incident_id)
            if incident.status != "open":
                raise Conflict(f"incident {incident_id} is already {incident.status}")
            if row.status == "cancelled":
                raise Conflict(f"instance {row.id} was cancelled")
            if latest_version:
                workflow = self._move_to_latest(session, row, workflow, definition, principal)
            if incident.job_id is not None:  # a service call that ran out of tries: call it again, same key
                job = session.get(ServiceJob, incident.job_id)
                if job is not None and job.status == "failed":
                    rearm(session, job, workflow, data, self.clock.now())
            failed = workflow.get_tasks(state=TaskState.ERROR)
            for task in failed:
                workflow.reset_from_task_id(task.id, data=None)
            for task in workflow.get_tasks(state=TaskState.READY):
                if data and task.task_spec.name in {t.task_spec.name for t in failed}:
                    task.data.update(data)
            incident.status = "resolved"
            incident.resolved_at = self.clock.now()
            incident.resolved_by = principal
            row.status = "active"
            self.history.record(
                session, row.id, "incident_retried", principal, element_id=incident.element_id, incident_id=incident.id
            )
            return workflow

        # The change may rebuild the workflow on a newer spec; mutate runs on whatever it returns.
        _, row, tasks = self.executor.mutate(instance_id, change, principal, use_returned_workflow=True)
        with self.db.read() as session:
            incidents = list(session.scalars(select(Incident).where(Incident.instance_id == row.id)))
        view = instance_view(row, tasks)
        view["incidents"] = [incident_view(i) for i in incidents]
        return view

    def _resend(self, incident_id: int, principal: str) -> dict:
        with self.db.write() as session:
            incident = session.get(Incident, incident_id, with_for_update=True)
            if incident.status != "open":
                raise Conflict(f"incident {incident_id} is already {incident.status}")
            delivery_failures.resend(session, incident)
            incident.status, incident.resolved_at, incident.resolved_by = "resolved", self.clock.now(), principal
            self.history.record(
                session, incident.instance_id, "incident_retried", principal, element_id=None, incident_id=incident.id
            )
            row = session.get(ProcessInstance, incident.instance_id)
            incidents = list(session.scalars(select(Incident).where(Incident.instance_id == row.id)))
            view = instance_view(row, None)
            view["incidents"] = [incident_view(i) for i in incidents]
            return view

    def _move_to_latest(self, session, row, workflow, definition, principal):
        latest_row = self.repository.latest(session, row.process_key)
        if latest_row.id == row.definition_id:
            return workflow
        latest = self.repository.load(latest_row.id)
        known = set(latest.spec.task_specs)
        for sub in latest.subprocess_specs.values():
            known.update(sub.task_specs)
        missing = sorted({t.task_spec.name for t in workflow.get_tasks()} - known)
        if missing:
            raise Conflict(
                f"version {latest.version} lacks elements this instance has passed or waits in: {', '.join(missing)}"
            )
        moved = state.load(state.dump(workflow), latest.spec, latest.subprocess_specs, self.executor.script_engine)
        self.history.record(
            session,
            row.id,
            "instance_migrated",
            principal,
            from_version=row.definition_version,
            to_version=latest.version,
        )
        row.definition_id, row.definition_version = latest.id, latest.version
        return moved
