"""A case's data as staff read it: each variable under the label the process gives it, values in words.

Why it exists: the staff's case page listed an instance's variables by their technical names with
raw values (``confirmed True``, ``2026-03-04T09:30:00+00:00``), and staff are not process designers.
The model already labels most variables where people meet them: the fields of its task forms
(JSON Schema with its ``.ui.json``, or Camunda's generated forms) and the fields its customers see
(``customer_fields``, labelled as on the customer's status page). :func:`case_data` finds those
labels in the definition version the instance runs, in the page's language through the model's
catalogs, and keeps each variable's name beside its label so a designer can still find it in the
model; a variable the model does not label is shown by its name, as before.

Values come out as text (yes/no in the page's language, a choice by its label, the tracking code
hidden from those who may not read it), ``{"time": iso}`` for a moment the template shows in the
viewer's zone, and ``{"pairs": [...]}`` / ``{"items": [...]}`` for objects and lists: never a repr
or JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from api.pages.locale import gettext, page_language
from api.pages.model_words import translations
from engine import forms, status
from engine.model_translations import Translations
from engine.repository import LoadedDefinition

Shown = str | dict  # text, {"time": iso}, {"pairs": [Entry, ...]} or {"items": [Shown, ...]}


@dataclass(frozen=True)
class Entry:
    """One variable (or object key) as the template lists it."""

    label: str  # the model's label in the page's language, else the technical name
    name: str | None  # the technical name beside a label; None where the label is the name
    value: Shown


@dataclass(frozen=True)
class _Field:
    """What the model says about one variable: its label (translated) and its form field's schema and UI hints."""

    label: str
    spec: dict = field(default_factory=dict)
    hints: dict = field(default_factory=dict)


@dataclass(frozen=True)
class _Reading:
    """What a value is read with: the model's catalogs, the page's language, the secret to hide."""

    texts: Translations
    language: str
    secret: str | None


def case_data(data: dict, definition: LoadedDefinition, secret: str | None) -> dict:
    """``data`` (an instance's variables) as ``{"pairs": [Entry, ...]}`` in the data's order, labelled by
    ``definition`` (the version the instance runs); ``secret`` (the tracking code, for those who may not
    read it) is shown as dots wherever a value holds it."""
    reading = _Reading(translations(definition.key, definition.version), page_language(), secret)
    return _pairs(data, _labelled_variables(definition, reading), reading)


def _labelled_variables(definition: LoadedDefinition, reading: _Reading) -> dict[str, _Field]:
    """The variables the model labels: its forms' fields first (the first form naming one wins), then the
    fields its customers see."""
    known: dict[str, _Field] = {}
    for schema, ui in _forms_of(definition):
        for name, described in _fields_of(schema, ui, reading).items():
            known.setdefault(name, described)
    for name in definition.customer.fields:
        known.setdefault(name, _Field(status.field_label(reading.texts, name, reading.language)))
    return known


def _forms_of(definition: LoadedDefinition) -> Iterator[tuple[dict, dict]]:
    """Schema and UI document of each user task form of the process, its subprocesses and the processes it
    calls (a deployment's other processes share its parsed elements: their forms are left out)."""
    containers = {definition.key, *definition.subprocess_specs}
    for (container, _), info in definition.elements.items():
        schema = definition.forms.get(info.form_key or "")
        if container in containers and schema:
            yield schema, definition.forms.get(info.form_ui_key or forms.ui_name_for(info.form_key)) or {}


def _fields_of(schema: dict, ui: dict, reading: _Reading) -> dict[str, _Field]:
    """The properties of an object schema by name, each with its label as the task form shows it."""
    found = {}
    for name, spec in (schema.get("properties") or {}).items():
        if isinstance(spec, dict):
            hints = ui.get(name) if isinstance(ui.get(name), dict) else {}
            found[name] = _Field(reading.texts.text(reading.language, forms.field_label(name, spec)), spec, hints)
    return found


def _pairs(value: dict, known: dict[str, _Field], reading: _Reading) -> dict:
    entries = []
    for key, item in value.items():
        name = str(key)
        described = known.get(name)
        label = described.label if described else name
        entries.append(Entry(label, name if label != name else None, _shown(item, described, reading)))
    return {"pairs": entries}


def _shown(value: object, described: _Field | None, reading: _Reading) -> Shown:
    if isinstance(value, dict):
        nested = _fields_of(described.spec, described.hints, reading) if described else {}
        return _pairs(value, nested, reading)
    if isinstance(value, list | tuple):
        return {"items": [_shown(item, None, reading) for item in value]}
    if described is not None and "enum" in described.spec:
        choices = dict(forms.option_labels(described.spec, described.hints))
        if str(value) in choices:
            return _hidden(reading.texts.text(reading.language, choices[str(value)]), reading.secret)
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if value is None:
        return "—"
    text = str(value)
    moment = _moment(text)
    return {"time": moment.isoformat()} if moment else _hidden(text, reading.secret)


def _moment(text: str) -> datetime | None:
    """A date and time with its offset (``2026-03-04T09:30:00+00:00``, ``...Z``, or with a space as the
    instance data holds a datetime); None for anything else, a day or a time without offset included."""
    if len(text) < 16 or text[10] not in "T ":
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _hidden(text: str, secret: str | None) -> str:
    return text.replace(secret, "•••") if secret else text
