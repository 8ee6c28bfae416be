"""Plain-dict representations of engine rows, shared by the API and stored idempotent responses."""

from __future__ import annotations

from datetime import datetime

from engine.models import (
    Deployment,
    HistoryEvent,
    HumanTask,
    Incident,
    ProcessDefinition,
    ProcessInstance,
)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def task_view(task: HumanTask, now: datetime | None = None) -> dict:
    return {
        "id": task.id,
        "instance_id": task.instance_id,
        "process_key": task.process_key,
        "element_id": task.element_id,
        "name": task.name,
        "lane": task.lane,
        "candidate_groups": task.candidate_names("group"),
        "candidate_users": task.candidate_names("user"),
        "assignee": task.assignee,
        "form_key": task.form_key,
        "status": task.status,
        "created_at": iso(task.created_at),
        "due_at": iso(task.due_at),
        "overdue": bool(task.due_at and now and task.status == "open" and task.due_at < now),
        "completed_at": iso(task.completed_at),
        "completed_by": task.completed_by,
    }


def instance_view(instance: ProcessInstance, open_tasks: list[HumanTask] | None, data: dict | None = None) -> dict:
    view = {
        "id": instance.id,
        "process_key": instance.process_key,
        "version": instance.definition_version,
        "business_key": instance.business_key,
        "customer_id": instance.customer_id,
        "channel": instance.channel,
        "status": instance.status,
        "tracking_code": instance.tracking_code,
        "reference": instance.reference,
        "started_at": iso(instance.started_at),
        "updated_at": iso(instance.updated_at),
        "ended_at": iso(instance.ended_at),
        "started_by": instance.started_by,
    }
    if open_tasks is not None:
        view["tasks"] = [task_view(task) for task in open_tasks]
    if data is not None:
        view["data"] = data
    return view


def history_view(event: HistoryEvent) -> dict:
    return {
        "id": event.id,
        "instance_id": event.instance_id,
        "event_type": event.event_type,
        "element_id": event.element_id,
        "task_id": event.human_task_id,
        "principal": event.principal,
        "at": iso(event.at),
        "details": event.details,
    }


def incident_view(incident: Incident) -> dict:
    return {
        "id": incident.id,
        "instance_id": incident.instance_id,
        "element_id": incident.element_id,
        "element_name": incident.element_name,
        "error_type": incident.error_type,
        "message": incident.message,
        "status": incident.status,
        "created_at": iso(incident.created_at),
        "resolved_at": iso(incident.resolved_at),
        "resolved_by": incident.resolved_by,
    }


def definition_view(definition: ProcessDefinition) -> dict:
    return {
        "id": definition.id,
        "key": definition.key,
        "name": definition.name,
        "version": definition.version,
        "executable": definition.executable,
        "deployment_id": definition.deployment_id,
        "checksum": definition.checksum,
        "created_at": iso(definition.created_at),
    }


def deployment_view(deployment: Deployment, definitions: list[ProcessDefinition]) -> dict:
    return {
        "id": deployment.id,
        "name": deployment.name,
        "created_at": iso(deployment.created_at),
        "created_by": deployment.created_by,
        "files": [{"filename": r.filename, "kind": r.kind, "checksum": r.checksum} for r in deployment.resources],
        "definitions": [definition_view(d) for d in definitions],
    }
