"""A case as a conversation: what the customer said and what was answered, oldest first, as plain values.

The contact history (``contacts``, written by the channels) is the record of who said what on
which channel. Cases from before it, or channels that do not write it yet, still have the
customer's words: the inquiry that started the process (its ``inquiry`` message, else the
``subject``/``body``/``text``/``message`` variables) and the ``customer_reply`` messages sent to
it. Earlier answers are the completed human tasks with the values of their form's fields.

Every entry holds strings, numbers, booleans, lists and objects only, for a page to show as text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import forms
from engine.calls import call_view
from engine.contacts import PROCESS_PREFIX
from engine.intake import REPLY
from engine.mail_inbox import PRINCIPAL as MAIL_CHANNEL
from engine.models import Call, Contact, HumanTask, Message, ProcessInstance
from engine.repository import LoadedDefinition
from engine.status import CUSTOMER_LANE

CUSTOMER, CARE_CENTER = "customer", "care_center"
TASK_CHANNEL = "task"  # an answer given in a task's form
# Variables a process may hold the customer's first words in, when there is no ``inquiry`` message.
TEXT_VARIABLES = ("body", "text", "message")


def entry(
    at: datetime,
    side: str,
    channel: str | None,
    *,
    author: str | None = None,
    subject: str | None = None,
    text: str | None = None,
    title: str | None = None,
    answers: list[dict] | None = None,
    call: dict | None = None,
) -> dict:
    """One turn: ``side`` is the customer or the care center; ``answers`` are a form's ``label``/``value`` pairs;
    ``call`` the phone call the turn logs (:func:`engine.calls.call_view`), for a page to describe in its language."""
    return {
        "at": at,
        "side": side,
        "channel": channel,
        "author": author,
        "subject": subject,
        "text": text,
        "title": title,
        "answers": answers or [],
        "call": call,
    }


AUTOMATIC_SENDERS = frozenset({MAIL_CHANNEL})  # what the mail channel sends on its own (confirmations)


def contacts(session: Session, instance_id: int, customer_name: str | None, names: dict[str, str]) -> list[dict]:
    query = (
        select(Contact, Call)
        .outerjoin(Call, Call.contact_id == Contact.id)
        .where(Contact.instance_id == instance_id)
        .order_by(Contact.id)
    )
    return [
        entry(
            contact.created_at,
            CUSTOMER if contact.direction == "in" else CARE_CENTER,
            contact.channel,
            author=_contact_author(contact, customer_name, names),
            subject=contact.subject,
            text=contact.text,
            call=call_view(call) if call is not None else None,
        )
        for contact, call in session.execute(query)
    ]


def _contact_author(contact: Contact, customer_name: str | None, names: dict[str, str]) -> str | None:
    """The customer for what came in, the staff member for what went out, None (the care center) for a process."""
    if contact.direction == "in":
        return customer_name
    if contact.recorded_by.startswith(PROCESS_PREFIX) or contact.recorded_by in AUTOMATIC_SENDERS:
        return None
    return names.get(contact.recorded_by, contact.recorded_by)


def first_words(row: ProcessInstance, data: dict, customer_name: str | None) -> list[dict]:
    """What the customer wrote to start the case, from the instance's variables."""
    inquiry = data.get("inquiry") if isinstance(data.get("inquiry"), dict) else {}
    subject = _text(inquiry.get("subject")) or _text(data.get("subject"))
    body = _text(inquiry.get("body")) or next((_text(data.get(k)) for k in TEXT_VARIABLES if _text(data.get(k))), None)
    if not subject and not body:
        return []
    channel = row.channel or _text(inquiry.get("channel")) or _text(data.get("channel"))
    return [entry(row.started_at, CUSTOMER, channel, author=customer_name, subject=subject, text=body)]


def replies(session: Session, instance_id: int, customer_name: str | None) -> list[dict]:
    """The customer's replies sent to the case (delivered, or still waiting for the process to take them)."""
    query = select(Message).where(Message.name == REPLY, Message.target_instance_id == instance_id).order_by(Message.id)
    found = []
    for message in session.scalars(query):
        payload = message.payload if isinstance(message.payload, dict) else {}
        found.append(
            entry(
                message.created_at,
                CUSTOMER,
                _text(payload.get("channel")),
                author=customer_name,
                subject=_text(payload.get("subject")),
                text=_text(payload.get("body")) or _text(payload.get("text")) or _text(payload.get("message")),
            )
        )
    return found


def answers(
    session: Session,
    row: ProcessInstance,
    workflow,
    definition: LoadedDefinition,
    customer_name: str | None,
    names: dict[str, str],
    translate: Callable[[str], str] = str,
) -> list[dict]:
    """Completed human tasks, each with the values its form asked for (as the task left them).

    ``translate`` gives a model text (task name, field label, choice) in the reader's language.
    """
    query = (
        select(HumanTask)
        .where(HumanTask.instance_id == row.id, HumanTask.status == "completed")
        .order_by(HumanTask.completed_at, HumanTask.id)
    )
    found = []
    for task in session.scalars(query):
        spiff_task = workflow.get_task_from_id(UUID(task.task_guid))
        data = spiff_task.data if spiff_task is not None else {}
        form = definition.forms.get(task.form_key or "") or {}
        ui = definition.forms.get(_ui_key(definition, task, spiff_task), {})
        by_customer = task.lane == CUSTOMER_LANE
        found.append(
            entry(
                task.completed_at or task.created_at,
                CUSTOMER if by_customer else CARE_CENTER,
                TASK_CHANNEL,
                author=customer_name if by_customer else names.get(task.completed_by or "", task.completed_by),
                title=translate(task.name),
                answers=form_answers(form, ui, data, translate),
            )
        )
    return found


def form_answers(schema: dict, ui: dict, data: dict, translate: Callable[[str], str] = str) -> list[dict]:
    """The form's fields in the UI's order with their values; choices by their labels."""
    properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
    order = [n for n in ui.get("ui:order", []) if n in properties] + [
        n for n in properties if n not in ui.get("ui:order", [])
    ]
    result = []
    for name in order:
        if name not in data or data[name] is None or data[name] == "":
            continue
        spec = properties[name] if isinstance(properties[name], dict) else {}
        value = plain(data[name])
        if "enum" in spec:
            labels = dict(forms.option_labels(spec, ui.get(name, {})))
            value = translate(labels[str(value)]) if str(value) in labels else value
        result.append({"label": translate(forms.field_label(name, spec)), "value": value})
    return result


def plain(value: object) -> object:
    """``value`` as JSON-like plain data (what a page renders as text, lists and definition lists)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _ui_key(definition: LoadedDefinition, task: HumanTask, spiff_task) -> str:
    """The task's UI document: the one its element names, else the one beside its form (as the task form does)."""
    info = definition.element(spiff_task.workflow.spec.name, task.element_id) if spiff_task is not None else None
    if info is not None and info.form_ui_key:
        return info.form_ui_key
    key = task.form_key or ""
    return forms.ui_name_for(key) if key.endswith(forms.FORM_SUFFIX) else ""


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None
