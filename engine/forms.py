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
# A top-level string field with this keyword set to true holds the staff's answer to the customer: when the
# task is completed with it filled in, it goes to the case's customer by e-mail (engine/mail_answers.py).
REPLY_KEYWORD = "x-reply-to-customer"
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

    def __init__(self, errors: list[dict], texts: list[tuple[str, dict]] | None = None) -> None:
        super().__init__(f"{len(errors)} field(s) need attention; nothing was changed", errors=errors)
        self.errors = errors
        # each message as a template of MESSAGES and its values, so that pages can show it in the viewer's language
        self.texts = texts if texts is not None else [(error["message"], {}) for error in errors]


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
        _check_reply_field(name, document)
    return document


def reply_field(schema: dict | None) -> str | None:
    """The name of the field the designer marked as the reply to the customer, if any."""
    for name, spec in ((schema or {}).get("properties") or {}).items():
        if isinstance(spec, dict) and spec.get(REPLY_KEYWORD) is True:
            return name
    return None


def _check_reply_field(name: str, schema: dict) -> None:
    marked = []
    for field, spec in (schema.get("properties") or {}).items():
        if not isinstance(spec, dict) or REPLY_KEYWORD not in spec:
            continue
        if not isinstance(spec[REPLY_KEYWORD], bool):
            raise ValueError(f"{name}: {REPLY_KEYWORD} of field '{field}' must be true or false")
        if spec[REPLY_KEYWORD]:
            if spec.get("type") != "string":
                raise ValueError(f"{name}: field '{field}' is the reply to the customer, so it must be of type string")
            marked.append(field)
    if len(marked) > 1:
        raise ValueError(f"{name}: only one field can be the reply to the customer ({', '.join(marked)} are marked)")


# What a failed check says; %(name)s placeholders take the schema's values. The pages translate these.
MESSAGES = {
    "required": "This field is required.",
    "readOnly": "This field is read-only.",
    "type": "Expected %(expected)s.",
    "enum": "Choose one of: %(expected)s.",
    "minimum": "Must be at least %(expected)s.",
    "maximum": "Must be at most %(expected)s.",
    "exclusiveMinimum": "Must be more than %(expected)s.",
    "exclusiveMaximum": "Must be less than %(expected)s.",
    "minLength": "Needs at least %(expected)s characters.",
    "maxLength": "At most %(expected)s characters.",
    "pattern": "Does not have the expected form.",
    "format": "Not a valid %(expected)s.",
    "minItems": "Needs at least %(expected)s entries.",
    "maxItems": "At most %(expected)s entries.",
    "additionalProperties": "Unexpected field(s): %(expected)s.",
}


def validate(schema: dict, data: dict) -> None:
    """Raise :class:`FormDataInvalid` listing every field that does not match the schema (or is ``readOnly``)."""
    validator = Draft202012Validator(schema, format_checker=_format_checker)
    errors: list[dict] = []
    texts: list[tuple[str, dict]] = []

    def add(path: list, template: str, values: dict) -> None:
        errors.append({"field": ".".join(str(p) for p in path), "message": template % values if values else template})
        texts.append((template, values))

    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        path = list(error.absolute_path)
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            add([*path, missing], MESSAGES["required"], {})
        elif error.validator in MESSAGES:
            template = MESSAGES[error.validator]
            add(path, template, {"expected": _expected(error)} if "%(" in template else {})
        else:
            add(path, error.message, {})
    for name, spec in schema.get("properties", {}).items():
        if isinstance(spec, dict) and spec.get("readOnly") and name in data:
            add([name], MESSAGES["readOnly"], {})
    if errors:
        raise FormDataInvalid(errors, texts)


def _expected(error) -> str:
    """The schema's value a message names, as a person reads it: ``a, b`` rather than ``['a', 'b']``."""
    if error.validator == "additionalProperties":
        return error.message.split("(")[-1].rstrip(")")
    expected = error.validator_value
    if isinstance(expected, list):
        return ", ".join(str(v) for v in expected)
    return str(expected)
