"""Turn a task's JSON Schema (plus its UI document) into form fields, and submitted form values back into data.

The pages render forms on the server, so they work without JavaScript; the engine validates the
resulting data against the same schema, so nothing bypasses the checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from api.pages.locale import translated
from engine import forms
from engine.forms import FormDataInvalid


@dataclass
class Field:
    name: str  # form input name: "answer", or "contact.email" inside a nested object
    label: str
    kind: str  # text, textarea, email, number, integer, checkbox, select, radio, date, datetime, lines, group, readonly
    required: bool = False
    help: str = ""
    placeholder: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    value: Any = None
    error: str = ""
    children: list[Field] = field(default_factory=list)

    @property
    def dom_id(self) -> str:
        return "field-" + self.name.replace(".", "-")


def fields_for(
    schema: dict | None, ui: dict | None, values: dict, errors: dict[str, str], prefix: str = ""
) -> list[Field]:
    """Fields in the UI's order (then the schema's), carrying current values and error messages."""
    if not schema:
        return []
    ui = ui or {}
    properties = schema.get("properties", {})
    order = [n for n in ui.get("ui:order", []) if n in properties] + [
        n for n in properties if n not in ui.get("ui:order", [])
    ]
    required = set(schema.get("required", []))
    result = []
    for name in order:
        spec, hints, path = properties[name], ui.get(name, {}), prefix + name
        item = Field(
            name=path,
            label=forms.field_label(name, spec),
            kind=_kind(spec, hints),
            required=name in required,
            help=forms.field_help(spec, hints),
            placeholder=hints.get("ui:placeholder", ""),
            minimum=spec.get("minimum"),
            maximum=spec.get("maximum"),
            value=values.get(name, spec.get("default")),
            error=errors.get(path, ""),
        )
        if "enum" in spec:
            item.options = forms.option_labels(spec, hints)
        if item.kind == "group":
            nested = values.get(name) if isinstance(values.get(name), dict) else {}
            item.children = fields_for(spec, hints, nested, errors, prefix=path + ".")
        result.append(item)
    return result


def _kind(spec: dict, hints: dict) -> str:
    kind, widget, fmt = spec.get("type"), hints.get("ui:widget"), spec.get("format")
    if spec.get("readOnly"):
        return "readonly"
    if "enum" in spec:
        return "radio" if widget == "radio" else "select"
    if kind == "object":
        return "group"
    if kind == "array":
        return "lines"
    if kind == "boolean":
        return "checkbox"
    if kind in ("integer", "number"):
        return kind
    if fmt == "date":
        return "date"
    if fmt == "date-time":
        return "datetime"
    if fmt == "email":
        return "email"
    return "textarea" if widget == "textarea" else "text"


def read_form(schema: dict | None, form: MultiDict, prefix: str = "") -> tuple[dict, dict[str, str]]:
    """Typed data from submitted values, and messages for values that could not even be read."""
    data: dict = {}
    problems: dict[str, str] = {}
    for name, spec in (schema or {}).get("properties", {}).items():
        path = prefix + name
        kind = spec.get("type")
        if spec.get("readOnly"):
            continue  # shown, never taken from the form
        if kind == "object":
            nested, nested_problems = read_form(spec, form, prefix=path + ".")
            problems.update(nested_problems)
            if nested:
                data[name] = nested
            continue
        if kind == "boolean" and "enum" not in spec:  # a checkbox; yes and no as a choice are read as one
            data[name] = form.get(path) == "on"
            continue
        raw = form.get(path, "")
        if kind == "array":
            entries = [line.strip() for line in raw.splitlines() if line.strip()]
            if entries:
                data[name] = entries
            continue
        raw = raw.strip()
        if raw == "":
            continue
        try:
            data[name] = _convert(spec, raw)
        except ValueError:
            problems[path] = "Expected a whole number." if kind == "integer" else "Expected a number."
    return data, problems


def _convert(spec: dict, raw: str):
    kind = spec.get("type")
    if "enum" in spec:
        for option in spec["enum"]:
            if str(option) == raw:
                return option
        return raw
    if kind == "integer":
        return int(raw)
    if kind == "number":
        return float(raw)
    if spec.get("format") == "date-time" and len(raw) == 16:
        return raw + ":00+00:00"  # datetime-local has no seconds and no offset: the pages work in UTC
    return raw


def validation_messages(invalid: FormDataInvalid, language: str) -> dict[str, str]:
    """The engine's validation messages by field, in ``language`` (the staff member's, or the customer's)."""
    pairs = zip(invalid.errors, invalid.texts, strict=True)
    return {error["field"]: translated(text, language, **values) for error, (text, values) in pairs}
