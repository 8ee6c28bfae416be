"""Reading request input strictly: JSON bodies, integers, pagination arguments, with clear 400s."""

from __future__ import annotations

from flask import request, url_for

from engine.case_reference import InvalidReference, parse
from engine.errors import InvalidRequest
from engine.pagination import Page, clamp_limit


def json_object(optional: bool = False) -> dict:
    """The request body as a JSON object (empty when ``optional`` and no body was sent)."""
    if optional and not request.get_data():
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object (Content-Type: application/json)")
    return body


def optional_str(body: dict, name: str) -> str | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > 200):
        raise InvalidRequest(f"'{name}' must be a non-empty string of at most 200 characters")
    return value


def optional_object(body: dict, name: str) -> dict:
    value = body.get(name, {})
    if not isinstance(value, dict):
        raise InvalidRequest(f"'{name}' must be a JSON object")
    return value


def case_reference(value: str | None, name: str = "reference") -> str | None:
    """A case reference as typed (see :mod:`engine.case_reference`) in its canonical form; 400 saying what is wrong."""
    if value is None:
        return None
    try:
        return parse(value)
    except InvalidReference as invalid:
        raise InvalidRequest(f"'{name}': {invalid}") from None


def int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidRequest(f"query parameter '{name}' must be an integer") from None


def choice_arg(name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
    value = request.args.get(name, default)
    if value is not None and value not in choices:
        raise InvalidRequest(f"query parameter '{name}' must be one of: {', '.join(choices)}")
    return value


def limit_arg() -> int:
    return clamp_limit(int_arg("limit"))


def paged(page: Page, endpoint: str, **values: object) -> dict:
    """``{"items": [...], "next": url-or-null}`` with the filters of this request carried over."""
    next_url = None
    if page.next_after is not None:
        args = {k: v for k, v in request.args.items() if k != "after"}
        next_url = url_for(endpoint, **values, **args, after=page.next_after)
    return {"items": page.items, "next": next_url}
