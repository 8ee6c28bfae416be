"""The words the instance pages use for what the engine stores as codes: statuses, actors, history events.

The engine keeps ``failed``, ``token:bootstrap`` and ``task_assigned``; a person reads "Stopped by an
error", "API token" and "Assigned the task to Sam Miller", in their own language.
"""

from __future__ import annotations

from api.pages.locale import gettext
from api.pages.team_names import team_labels
from engine import chat, mail_threading


def status_label(status: str) -> str:
    labels = {
        "active": gettext("Active"),
        "completed": gettext("Completed"),
        "cancelled": gettext("Cancelled"),
        "failed": gettext("Stopped by an error"),
    }
    return labels.get(status, status)


# the portal's (and the chat's) and the mail channel's contacts nobody vouched for
UNVERIFIED_PREFIXES = (chat.CONTACT_PREFIX, mail_threading.UNVERIFIED_PREFIX)


def customer_label(customer_id: str | None, customer_name: str | None) -> str:
    """The customer as staff read it: the store's name; an unverified contact as its address, said to be one."""
    if customer_name:
        return customer_name
    if not customer_id:
        return "—"
    for prefix in UNVERIFIED_PREFIXES:
        if customer_id.startswith(prefix):
            return gettext("%(address)s (unverified contact)", address=customer_id[len(prefix) :])
    return customer_id


def incident_status_label(status: str) -> str:
    return {"open": gettext("Open"), "resolved": gettext("Resolved")}.get(status, status)


def actor_label(actor: dict) -> str:
    """Who acted, from :func:`engine.case_history.actor`."""
    kind = actor["kind"]
    if kind in ("person", "other"):
        return actor["name"]
    words = {
        "token": gettext("API token"),
        "customer": gettext("The customer"),
        "portal": gettext("The customer portal"),
        "automatic": gettext("Automatic"),
    }
    return words[kind]


def waiting_label(task: dict, people: dict[str, str]) -> str:
    """Whom an open task waits for: its assignee, else its candidate teams and people, or the customer."""
    if task["lane"] == "customer":
        return gettext("The customer")
    if task["assignee"]:
        return people.get(task["assignee"], task["assignee"])
    named = team_labels(task["groups"])
    named += [people.get(user, user) for user in task["users"]]
    return ", ".join(named) if named else gettext("Nobody named yet")


def event_label(entry: dict) -> str:
    """What happened, from one entry of :func:`engine.case_history.case_history`."""
    match entry["event"]:
        case "instance_started":
            if entry.get("version"):
                return gettext("Started the case (version %(version)s)", version=entry["version"])
            return gettext("Started the case")
        case "task_created":
            return gettext("Task ready")
        case "task_claimed":
            return gettext("Claimed the task")
        case "task_unclaimed":
            return gettext("Released the task")
        case "task_assigned":
            if entry.get("assignee"):
                return gettext("Assigned the task to %(name)s", name=entry["assignee"])
            return gettext("Took the task back from its assignee")
        case "task_draft_saved":
            return gettext("Saved a draft")
        case "task_completed":
            return gettext("Completed the task")
        case "task_cancelled":
            return gettext("Task no longer needed")
        case "message_received":
            return gettext("Message received")
        case "signal_received":
            return gettext("Signal received")
        case "message_expired":
            return gettext("A message expired before the case took it")
        case "timer_fired":
            return gettext("Time was up")
        case "job_completed" | "external_task_completed":
            return gettext("Step done")
        case "job_retry_scheduled":
            return gettext("Step failed; it will be tried again")
        case "external_task_failed":
            return gettext("Step failed in an external system")
        case "bpmn_error_thrown":
            return gettext("Step reported a business error")
        case "instance_failed":
            return gettext("Stopped by an error")
        case "incident_retried":
            return gettext("Tried the failed step again")
        case "instance_migrated":
            old, new = entry.get("from_version"), entry.get("to_version")
            return gettext("Moved the case from version %(old)s to version %(new)s", old=old, new=new)
        case "instance_completed":
            return gettext("Case completed")
        case "instance_cancelled":
            return gettext("Cancelled the case")
        case "answer_mailed":
            return gettext("Sent the customer an e-mail")
        case "customer_linked":
            customer = entry.get("customer_name") or entry.get("customer_id")
            return gettext("Filed the case under customer %(name)s", name=customer)
    return gettext("Changed the case")
