"""Reading request input strictly: JSON bodies, integers, pagination arguments, with clear 400s."""

from __future__ import annotations

from flask import request, url_for
from werkzeug.routing import BaseConverter

from engine.errors import InvalidRequest
from engine.models import MAX_ID
from engine.pagination import Page, clamp_limit


def numbers_up_to(limit: int) -> str:
    """A regular expression for the decimal numbers 1 to ``limit`` (``limit`` >= 10), without leading zeros."""
    text = str(limit)
    shorter = f"[1-9][0-9]{{0,{len(text) - 2}}}"
    same_length = [
        f"{text[:i]}[{1 if i == 0 else 0}-{int(digit) - 1}][0-9]{{{len(text) - i - 1}}}"
        for i, digit in enumerate(text)
        if int(digit) > (1 if i == 0 else 0)
    ]
    return "|".join([shorter, *same_length, text])


class DatabaseId(BaseConverter):
    """``<id:name>`` in a route: a row id, 1 to MAX_ID. Other numbers match no route at all (404).

    The range is in the pattern rather than checked after matching: werkzeug answers 405 instead of
    404 when a path matches one method's rule and another method's rule refuses the value.
    """

    regex = numbers_up_to(MAX_ID)
    part_isolating = True

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


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
