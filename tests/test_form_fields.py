"""Schema-driven form fields and reading submitted values back into typed data."""

from werkzeug.datastructures import MultiDict

from api.pages.form_fields import fields_for, read_form
from engine import forms

SCHEMA = {
    "type": "object",
    "required": ["name", "contact"],
    "properties": {
        "name": {"type": "string", "title": "Name"},
        "count": {"type": "integer", "minimum": 1, "maximum": 9},
        "ratio": {"type": "number"},
        "urgent": {"type": "boolean"},
        "channel": {"type": "string", "enum": ["email", "phone"]},
        "level": {"type": "integer", "enum": [1, 2, 3]},
        "when": {"type": "string", "format": "date-time"},
        "on": {"type": "string", "format": "date"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "contact": {
            "type": "object",
            "required": ["email"],
            "properties": {"email": {"type": "string", "format": "email"}, "phone": {"type": "string"}},
        },
    },
}
UI = {"ui:order": ["contact", "name"], "channel": {"ui:widget": "radio"}, "name": {"ui:placeholder": "Full name"}}


def test_fields_follow_ui_order_and_types():
    fields = fields_for(SCHEMA, UI, {"name": "Ann", "contact": {"email": "a@b.c"}}, {"contact.email": "bad"})
    assert [f.name for f in fields][:3] == ["contact", "name", "count"]
    kinds = {f.name: f.kind for f in fields}
    assert kinds == {
        "contact": "group",
        "name": "text",
        "count": "integer",
        "ratio": "number",
        "urgent": "checkbox",
        "channel": "radio",
        "level": "select",
        "when": "datetime",
        "on": "date",
        "tags": "lines",
    }
    contact = fields[0]
    assert [(c.name, c.kind, c.required, c.value, c.error) for c in contact.children] == [
        ("contact.email", "email", True, "a@b.c", "bad"),
        ("contact.phone", "text", False, None, ""),
    ]
    assert fields[1].placeholder == "Full name" and fields[1].required


def test_read_form_types_values_and_reports_unreadable_numbers():
    submitted = MultiDict(
        {
            "name": " Ann ",
            "count": "3",
            "ratio": "0.5",
            "urgent": "on",
            "channel": "phone",
            "level": "2",
            "when": "2026-11-22T10:30",
            "on": "2026-11-23",
            "tags": "vip\n\n  printer \n",
            "contact.email": "ann@example.com",
            "contact.phone": "",
        }
    )
    data, problems = read_form(SCHEMA, submitted)
    assert problems == {}
    assert data == {
        "name": "Ann",
        "count": 3,
        "ratio": 0.5,
        "urgent": True,
        "channel": "phone",
        "level": 2,
        "when": "2026-11-22T10:30:00+00:00",
        "on": "2026-11-23",
        "tags": ["vip", "printer"],
        "contact": {"email": "ann@example.com"},
    }
    forms.validate(SCHEMA, data)
    _, problems = read_form(SCHEMA, MultiDict({"count": "three", "ratio": "x"}))
    assert problems == {"count": "Expected a whole number.", "ratio": "Expected a number."}


def test_missing_nested_required_field_is_reported_by_path():
    data, _ = read_form(SCHEMA, MultiDict({"name": "Ann", "contact.phone": "123"}))
    try:
        forms.validate(SCHEMA, data)
    except forms.FormDataInvalid as invalid:
        assert {"field": "contact.email", "message": "This field is required."} in invalid.errors
    else:
        raise AssertionError("expected a validation error")
