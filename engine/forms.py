"""Task forms as JSON Schema (draft 2020-12) files, deployed and versioned with the processes using them.

A user task names its form (``formJsonSchemaFilename`` / ``camunda:formKey`` ending in ``.json``),
optionally a UI file (``formUiSchemaFilename``, or ``<form>.ui.json`` beside it).  Data sent to
complete a task is validated on the server against the form of the instance's version.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from engine.errors import CareError

FORM_SUFFIX = ".json"
UI_SUFFIX = ".ui.json"
_format_checker = FormatChecker()


@_format_checker.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.tzinfo is not None


@_format_checker.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    return not isinstance(value, str) or bool(date.fromisoformat(value))


class FormDataInvalid(CareError):
    problem_type = "/problems/invalid-form-data"
    status = 422
    title = "The form data is invalid"

    def __init__(self, errors: list[dict]) -> None:
        super().__init__(f"{len(errors)} field(s) need attention; nothing was changed", errors=errors)
        self.errors = errors


def ui_name_for(form_name: str) -> str:
    return form_name[: -len(FORM_SUFFIX)] + UI_SUFFIX


def field_label(name: str, spec: dict) -> str:
    """The label a field shows: its ``title``, else its name made readable (``minutes_spent`` -> Minutes spent)."""
    return spec.get("title") or name.replace("_", " ").capitalize()


def field_help(spec: dict, hints: dict) -> str:
    """The help text under a field: the UI document's ``ui:help``, else the schema's ``description``."""
    return hints.get("ui:help", spec.get("description", ""))


def option_labels(spec: dict, hints: dict) -> list[tuple[str, str]]:
    """``(value, label)`` of each choice of an enum field: ``ui:enumNames``, else the value made readable."""
    labels = hints.get("ui:enumNames") or []
    return [
        (str(value), str(labels[i]) if i < len(labels) else str(value).replace("_", " "))
        for i, value in enumerate(spec.get("enum", []))
    ]


def parse_form(name: str, content: bytes) -> dict:
    """The schema or UI document in a form file; ValueError with a readable message if it is not usable."""
    try:
        document = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{name} is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise ValueError(f"{name} must hold a JSON object")
    if not name.endswith(UI_SUFFIX):
        try:
            Draft202012Validator.check_schema(document)
        except SchemaError as error:
            where = "/".join(str(p) for p in error.path) or "(top)"
            raise ValueError(f"{name} is not a valid JSON Schema at {where}: {error.message}") from None
        if document.get("type", "object") != "object":
            raise ValueError(f"{name}: a form schema must describe an object")
    return document


def validate(schema: dict, data: dict) -> None:
    """Raise :class:`FormDataInvalid` listing every field that does not match the schema (or is ``readOnly``)."""
    validator = Draft202012Validator(schema, format_checker=_format_checker)
    errors = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        path = list(error.absolute_path)
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            path = [*path, missing]
            message = "This field is required."
        else:
            message = _friendly(error)
        errors.append({"field": ".".join(str(p) for p in path), "message": message})
    for name, spec in schema.get("properties", {}).items():
        if isinstance(spec, dict) and spec.get("readOnly") and name in data:
            errors.append({"field": name, "message": "This field is read-only."})
    if errors:
        raise FormDataInvalid(errors)


def _friendly(error) -> str:
    kind, expected = error.validator, error.validator_value
    messages = {
        "type": f"Expected {expected}.",
        "enum": "Choose one of: " + ", ".join(str(v) for v in expected) + "." if isinstance(expected, list) else "",
        "minimum": f"Must be at least {expected}.",
        "maximum": f"Must be at most {expected}.",
        "exclusiveMinimum": f"Must be more than {expected}.",
        "exclusiveMaximum": f"Must be less than {expected}.",
        "minLength": f"Needs at least {expected} characters.",
        "maxLength": f"At most {expected} characters.",
        "pattern": "Does not have the expected form.",
        "format": f"Not a valid {expected}.",
        "minItems": f"Needs at least {expected} entries.",
        "maxItems": f"At most {expected} entries.",
        "additionalProperties": "Unexpected field(s): " + error.message.split("(")[-1].rstrip(")") + ".",
    }
    return messages.get(kind) or error.message
