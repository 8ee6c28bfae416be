"""Who did what when in one case, told with names: the history log turned into readable steps.

The history log (:mod:`engine.history`) stores what the engine needs: element ids, principals such
as ``sam``, ``token:bootstrap``, ``customer`` or ``worker``, and details as JSON. People reading a
case need the task's or step's name, a person's display name, and for everyone else the kind of
actor (an API token, the customer, the portal, the engine itself). This module makes that
translation once, without loading the workflow; the pages put the words to it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import HistoryEvent, HumanTask, User
from engine.repository import LoadedDefinition
from process_library.store import Customer

TOKEN_PREFIX = "token:"
CUSTOMER = "customer"
PORTAL = "portal"
AUTOMATIC = frozenset({"worker", "timer", "system"})  # the engine's own principals (engine/jobs.py, timers.py)
# What the process did by itself as the consequence of someone's step: its principal is whoever took that
# step (the one who started the case "created" its first task), so these are told as automatic.
CONSEQUENCES = frozenset(
    {
        "task_created",
        "task_cancelled",
        "timer_fired",
        "job_completed",
        "job_retry_scheduled",
        "message_expired",
        "instance_failed",
        "instance_completed",
    }
)


def actor(principal: str, people: dict[str, str]) -> dict:
    """``{"kind", "name"}``: kind is person, token, customer, portal, automatic or other (named as given)."""
    if principal in people:
        return {"kind": "person", "name": people[principal]}
    if principal.startswith(TOKEN_PREFIX):
        return {"kind": "token", "name": None}
    if principal == CUSTOMER:
        return {"kind": "customer", "name": None}
    if principal == PORTAL:
        return {"kind": "portal", "name": None}
    if principal in AUTOMATIC:
        return {"kind": "automatic", "name": None}
    return {"kind": "other", "name": principal}


def display_names(session: Session, usernames: set[str]) -> dict[str, str]:
    """Username -> display name, for those of ``usernames`` that are users."""
    if not usernames:
        return {}
    rows = session.execute(select(User.username, User.display_name).where(User.username.in_(sorted(usernames))))
    return {username: display or username for username, display in rows}


def step_name(definition: LoadedDefinition, element_id: str | None) -> str | None:
    """The name the model gives an element (in the process or any subprocess it calls), or None."""
    if not element_id:
        return None
    for spec in (definition.spec, *definition.subprocess_specs.values()):
        task_spec = spec.task_specs.get(element_id)
        if task_spec is not None:
            return getattr(task_spec, "bpmn_name", None) or None
    return None


def case_history(session: Session, instance_id: int, definition: LoadedDefinition) -> list[dict]:
    """Every history event of the instance, oldest first: when, who (an :func:`actor`), what, which step."""
    events = list(
        session.scalars(select(HistoryEvent).where(HistoryEvent.instance_id == instance_id).order_by(HistoryEvent.id))
    )
    task_names = {
        i: n
        for i, n in session.execute(select(HumanTask.id, HumanTask.name).where(HumanTask.instance_id == instance_id))
    }
    assignees = {str(e.details.get("assignee")) for e in events if e.event_type == "task_assigned"}
    people = display_names(session, {e.principal for e in events} | assignees)
    customer_ids = {str(e.details.get("customer_id")) for e in events if e.event_type == "customer_linked"}
    customers = {
        i: n
        for i, n in session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(sorted(customer_ids))))
    }
    entries = []
    for event in events:
        details = event.details or {}
        entry = {
            "at": event.at,
            "event": event.event_type,
            "actor": {"kind": "automatic", "name": None}
            if event.event_type in CONSEQUENCES
            else actor(event.principal, people),
            "step": task_names.get(event.human_task_id) or step_name(definition, event.element_id),
        }
        if event.event_type == "task_assigned":
            assignee = details.get("assignee")
            entry["assignee"] = people.get(assignee, assignee) if assignee else None
        elif event.event_type == "instance_started":
            entry["version"] = details.get("version")
        elif event.event_type == "instance_migrated":
            entry["from_version"], entry["to_version"] = details.get("from_version"), details.get("to_version")
        elif event.event_type == "customer_linked":
            linked = details.get("customer_id")
            entry["customer_id"], entry["customer_name"] = linked, customers.get(linked)
        entries.append(entry)
    return entries
