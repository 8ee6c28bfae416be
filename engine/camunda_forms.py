"""Camunda's generated task forms (``camunda:formData``) as the JSON Schema forms carecenter renders.

Camunda Modeler describes a user task's form as ``camunda:formField`` elements (id, label, type,
default, validation constraints, enum values).  Rather than ignore them, carecenter turns each such
task's fields into a JSON Schema document and a UI document at deploy time, stored with the
deployment like an uploaded form, so the task page shows the fields and completion is validated on
the server.  What has no faithful JSON Schema form (custom field types, validators, expression
defaults) is refused with the element and the field named.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lxml import etree

from engine.extensions import CAMUNDA_NS
from engine.forms import ui_name_for

FORMDATA_PREFIX = "camunda-form."
_C = f"{{{CAMUNDA_NS}}}"
# Camunda field type -> JSON Schema of the value (textarea: a multi-line string some tools write)
TYPES = {
    "string": {"type": "string"},
    "textarea": {"type": "string"},
    "long": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
}
NUMERIC_CONSTRAINTS = {"min": "minimum", "max": "maximum"}
LENGTH_CONSTRAINTS = {"minlength": "minLength", "maxlength": "maxLength"}


class FormDataUnsupported(ValueError):
    """A form field carecenter cannot render faithfully; the message names the field."""


@dataclass(frozen=True)
class GeneratedForm:
    name: str  # the form's file name, e.g. camunda-form.billing.review.json
    schema: dict
    ui: dict

    def files(self) -> list[tuple[str, bytes]]:
        return [(self.name, _dump(self.schema)), (ui_name_for(self.name), _dump(self.ui))]


def has_form_data(task: etree._Element) -> bool:
    return etree.QName(task).localname == "userTask" and bool(task.findall(f"./{{*}}extensionElements/{_C}formData"))


def form_name(bpmn_filename: str, element_id: str) -> str:
    stem = bpmn_filename.rsplit("/", 1)[-1].split(".", 1)[0]
    return f"{FORMDATA_PREFIX}{stem}.{element_id}.json"


def generate(task: etree._Element, bpmn_filename: str) -> GeneratedForm:
    """The JSON Schema and UI documents of a user task's ``camunda:formData``; FormDataUnsupported otherwise."""
    properties: dict[str, dict] = {}
    ui: dict = {"ui:order": []}
    required: list[str] = []
    for field in task.findall(f"./{{*}}extensionElements/{_C}formData/{_C}formField"):
        name = (field.get("id") or "").strip()
        if not name:
            raise FormDataUnsupported("a camunda:formField has no id")
        if name in properties:
            raise FormDataUnsupported(f"form field '{name}' is defined twice")
        spec, hints, is_required = _field(field, name)
        properties[name] = spec
        ui["ui:order"].append(name)
        if hints:
            ui[name] = hints
        if is_required:
            required.append(name)
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": task.get("name") or task.get("id"),
        "type": "object",
        "properties": properties,
    }
    if required:
        schema["required"] = required
    return GeneratedForm(form_name(bpmn_filename, task.get("id")), schema, ui)


def _field(field: etree._Element, name: str) -> tuple[dict, dict, bool]:
    kind = (field.get("type") or "string").strip()  # Camunda treats a field without a type as a string
    values = field.findall(f"{_C}value")
    if kind == "enum":  # without camunda:value nothing can be chosen, as in Camunda
        spec: dict = {"type": "string", "enum": [v.get("id") for v in values]}
    elif kind in TYPES:
        spec = dict(TYPES[kind])
    else:
        raise FormDataUnsupported(f"form field '{name}' has type '{kind}'; supported: {', '.join(['enum', *TYPES])}")
    spec["title"] = field.get("label") or name
    hints: dict = {}
    if kind == "textarea":
        hints["ui:widget"] = "textarea"
    if kind == "enum":
        hints["ui:enumNames"] = [v.get("name") or v.get("id") for v in values]
    for prop in field.findall(f"{_C}properties/{_C}property"):
        if prop.get("id") == "description" and prop.get("value"):
            spec["description"] = prop.get("value")
    default = field.get("defaultValue")
    if default is not None:
        if "${" in default or "#{" in default:
            raise FormDataUnsupported(
                f"form field '{name}' has the expression default '{default}'; the task page shows the field's "
                "current value already, so drop the default or give a plain value"
            )
        spec["default"] = _typed_default(default, spec, name)
    return spec, hints, _constraints(field, name, spec)


def _typed_default(text: str, spec: dict, name: str) -> object:
    kind = spec["type"]
    if kind == "boolean":
        return text.strip().lower() == "true"  # as Camunda reads it: anything else is false
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise FormDataUnsupported(f"form field '{name}' has the default '{text}', not a whole number") from None
    if "enum" in spec and text not in spec["enum"]:
        raise FormDataUnsupported(f"form field '{name}' has the default '{text}', which is none of its values")
    return text


def _constraints(field: etree._Element, name: str, spec: dict) -> bool:
    """Apply the validation constraints to ``spec``; whether the field is required."""
    required = False
    for constraint in field.findall(f"{_C}validation/{_C}constraint"):
        kind, config = constraint.get("name"), constraint.get("config")
        if kind == "required":
            required = (config or "true").lower() != "false"
        elif kind == "readonly":
            spec["readOnly"] = True  # shown, never asked for: not required then
        elif kind in NUMERIC_CONSTRAINTS and spec["type"] == "integer":
            spec[NUMERIC_CONSTRAINTS[kind]] = _number(config, name, kind)
        elif kind in LENGTH_CONSTRAINTS and spec["type"] == "string":
            spec[LENGTH_CONSTRAINTS[kind]] = int(_number(config, name, kind))
        else:
            raise FormDataUnsupported(f"form field '{name}' has the constraint '{kind}', which is not supported here")
    return required and not spec.get("readOnly")


def _number(config: str | None, name: str, kind: str) -> int:
    try:
        return int(config or "")
    except ValueError:
        raise FormDataUnsupported(f"form field '{name}': constraint '{kind}' needs a whole number") from None


def _dump(document: dict) -> bytes:
    return json.dumps(document, indent=2, ensure_ascii=False).encode()
