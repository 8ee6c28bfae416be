"""The names of the events carecenter tells other systems about, and which history entries they come from.

Most changes write a history entry in their transaction already (:mod:`engine.history`), so most
events are derived from those in one place: :data:`FROM_HISTORY` maps a history entry's type to
the event type it is published as. The others are written where their change happens: stage
changes (:mod:`engine.status`), contacts (:mod:`engine.contacts`), customers
(:mod:`process_library.customers`), undeliverable mail (:mod:`engine.delivery_failures`), and the
events a BPMN model publishes itself (:mod:`engine.event_specs`).
"""

from __future__ import annotations

import re

INSTANCE_STARTED = "instance.started"
INSTANCE_COMPLETED = "instance.completed"
INSTANCE_CANCELLED = "instance.cancelled"
STAGE_CHANGED = "stage.changed"
TASK_CREATED = "task.created"
TASK_COMPLETED = "task.completed"
CONTACT_LOGGED = "contact.logged"
CUSTOMER_CHANGED = "customer.changed"
INCIDENT_OPENED = "incident.opened"
INCIDENT_RESOLVED = "incident.resolved"

# Built-in types, in the order the pages and docs list them.
BUILT_IN = (
    INSTANCE_STARTED,
    INSTANCE_COMPLETED,
    INSTANCE_CANCELLED,
    STAGE_CHANGED,
    TASK_CREATED,
    TASK_COMPLETED,
    CONTACT_LOGGED,
    CUSTOMER_CHANGED,
    INCIDENT_OPENED,
    INCIDENT_RESOLVED,
)

# history event type -> event type (engine/history.py calls engine/events.py with every entry it writes)
FROM_HISTORY = {
    "instance_started": INSTANCE_STARTED,
    "instance_completed": INSTANCE_COMPLETED,
    "instance_cancelled": INSTANCE_CANCELLED,
    "task_created": TASK_CREATED,
    "task_completed": TASK_COMPLETED,
    "instance_failed": INCIDENT_OPENED,
    "incident_retried": INCIDENT_RESOLVED,
}

# A model's own event names: lower case words joined by dots, at least two of them (``order.shipped``).
NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
MAX_NAME = 100


def name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as the type of an event a model publishes (None: nothing)."""
    if len(name) > MAX_NAME or not NAME.fullmatch(name):
        return (
            f"event name '{name}' must be lower-case words joined by dots, such as order.shipped "
            f"(at most {MAX_NAME} characters)"
        )
    if name in BUILT_IN:
        return f"event name '{name}' is one of carecenter's own events; choose another, such as order.shipped"
    return None


def type_problem(name: object) -> str | None:
    """What is wrong with ``name`` in an endpoint's list of types (None: nothing); built-in or a model's own."""
    if not isinstance(name, str):
        return "event types must be strings"
    if name in BUILT_IN:
        return None
    if len(name) > MAX_NAME or not NAME.fullmatch(name):
        return f"'{name}' is no event type (e.g. {INSTANCE_STARTED}, or a model's own such as order.shipped)"
    return None
