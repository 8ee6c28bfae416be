"""Reading request input strictly, as api/openapi.json documents it, with clear 400s.

Query parameters and JSON bodies are checked against the operation the route implements (its
``operationId`` is the Flask endpoint; tests/test_openapi.py keeps the two in step), so the
document and the code cannot disagree on what a well-formed request is. A request that does not
match the document gets 400 naming what is wrong; one that matches but cannot be carried out
(an expiry in the past, a group that does not exist) is for the engine to refuse, with 422.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from flask import request, url_for
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.exceptions import UnsupportedMediaType
from werkzeug.routing import BaseConverter

from api.document import load_document, operations, resolve
from engine.case_reference import InvalidReference, parse
from engine.errors import InvalidRequest, Unprocessable
from engine.models import MAX_ID
from engine.pagination import Page

BASE_URI = "urn:carecenter:openapi"
INTEGER = re.compile(r"-?[0-9]+")
# RFC 3339 date-time, the meaning of ``format: date-time``: an offset is required.
DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
NUL = "\x00"
NUL_REFUSED = "text with a NUL character (U+0000) can be neither stored nor searched for"
MAX_REPORTED = 5  # schema violations named in one 400
MAX_MESSAGE = 200


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


def date_time(text: str) -> datetime:
    """An RFC 3339 date-time (``format: date-time``) as an aware datetime; ValueError if it is not one.

    Lower-case ``t``/``z`` and fractions finer than microseconds are RFC 3339 too; a leap second
    (``:60``) is taken as the last moment of its minute, which Python cannot represent otherwise.
    """
    match = DATE_TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"'{text}' is not an RFC 3339 date-time with offset, e.g. 2027-01-01T00:00:00Z")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = (fraction or "").ljust(6, "0")[:6]
    if second == "60":
        second, micro = "59", "999999"
    offset = "+00:00" if offset in ("Z", "z") else offset
    return datetime.fromisoformat(f"{year}-{month}-{day}T{hour}:{minute}:{second}.{micro}{offset}")


format_checker = FormatChecker(formats=())


@format_checker.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or date_time(value) is not None


@cache
def _registry() -> Registry:
    return Registry().with_resource(BASE_URI, Resource.from_contents(load_document(), DRAFT202012))


def _anchored(node: object) -> object:
    """``node`` with its local ``$ref`` s (``#/components/...``) pointing into the registered document."""
    if isinstance(node, dict):
        return {k: BASE_URI + v if k == "$ref" and v.startswith("#/") else _anchored(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_anchored(v) for v in node]
    return node


def _validator(schema: dict) -> Draft202012Validator:
    return Draft202012Validator(_anchored(schema), registry=_registry(), format_checker=format_checker)


@dataclass(frozen=True)
class Operation:
    """What the document says one operation accepts."""

    parameters: dict[str, dict[str, tuple[dict, Draft202012Validator]]]  # location -> name -> schema, validator
    body: Draft202012Validator | None
    body_required: bool


@cache
def operation(endpoint: str) -> Operation:
    item, documented = operations()[endpoint]
    parameters: dict[str, dict[str, tuple[dict, Draft202012Validator]]] = {"query": {}, "header": {}}
    for parameter in (*item.get("parameters", ()), *documented.get("parameters", ())):
        parameter = resolve(parameter)
        if parameter["in"] in parameters:
            parameters[parameter["in"]][parameter["name"]] = (parameter["schema"], _validator(parameter["schema"]))
    body = documented.get("requestBody", {})
    schema = body.get("content", {}).get("application/json", {}).get("schema")
    return Operation(parameters, _validator(schema) if schema is not None else None, bool(body.get("required")))


def _where(error: ValidationError, root: str) -> str:
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)
    return root + path


# The document's "not blank" pattern: a character that is no whitespace in Python's regular expressions nor in
# ECMAScript's, which the document's readers (and generated clients) use; plain \S differs between the two.
VISIBLE_CHARACTER = r"[^\s\x1c-\x1f\x85\ufeff]"


def _message(error: ValidationError) -> str:
    if error.validator == "pattern" and error.validator_value == VISIBLE_CHARACTER:
        return f"{error.instance!r} is blank: it needs at least one visible character"
    text = error.message
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _check(validator: Draft202012Validator, value: object, root: str) -> list[str]:
    errors = sorted(validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{_where(e, root)}: {_message(e)}" for e in errors[:MAX_REPORTED]]


def _refuse(problems: list[str]) -> None:
    if problems:
        raise InvalidRequest("; ".join(problems))


def query_args() -> dict[str, Any]:
    """Every documented query parameter of this request, typed and checked; absent ones are their default or None."""
    return _parameters("query", request.args.getlist)


def header_args() -> dict[str, Any]:
    """Every documented header parameter of this request, checked; absent ones are their default or None."""
    return _parameters("header", request.headers.getlist)


def _parameters(location: str, getlist: Callable[[str], list[str]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, (schema, validator) in operation(request.endpoint).parameters[location].items():
        given = getlist(name)
        if not given:
            values[name] = schema.get("default")
            continue
        where = f"{location} parameter '{name}'"
        if len(given) > 1:
            problems.append(f"{where} is given more than once")
            continue
        value: object = given[0]
        if schema.get("type") == "integer":
            if not INTEGER.fullmatch(given[0]):
                problems.append(f"{where} must be an integer")
                continue
            value = int(given[0])
        found = _check(validator, value, where)
        problems.extend(found)
        values[name] = value
    _refuse(problems)
    return values


def json_body() -> dict:
    """The request's JSON body, checked against the schema documented for it; ``{}`` for an optional body left out."""
    documented = operation(request.endpoint)
    raw = request.get_data()
    if not raw and not documented.body_required:
        return {}
    if not request.is_json:
        raise UnsupportedMediaType("send the body as JSON (Content-Type: application/json)")
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except ValueError:
        raise InvalidRequest("the body is not valid JSON") from None
    for text in _strings(body):
        if not _encodable(text):
            raise InvalidRequest("the body is not valid JSON: it has an unpaired UTF-16 surrogate (\\ud800-\\udfff)")
        if NUL in text:
            raise Unprocessable(NUL_REFUSED)
    _refuse(_check(documented.body, body, "body"))
    return body


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def contains_nul(value: object) -> bool:
    """Whether a parsed JSON value has a NUL character (U+0000) in any string or key."""
    return any(NUL in text for text in _strings(value))


def _strings(value: object) -> Iterator[str]:
    """Every string in a parsed JSON value, object keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def case_reference(value: str | None, name: str = "reference") -> str | None:
    """A case reference as typed (see :mod:`engine.case_reference`) in its canonical form; 422 saying what is wrong."""
    if value is None:
        return None
    try:
        return parse(value)
    except InvalidReference as invalid:
        raise Unprocessable(f"'{name}': {invalid}") from None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def refuse_nul_characters() -> None:
    """Before every API view: no NUL character (U+0000) in the path, the query, form fields or file names.

    PostgreSQL can neither store nor compare text with NUL in it, so such a request could only fail
    deep inside a query; the API refuses it up front (422), on every database alike. JSON bodies are
    checked by :func:`json_body`.
    """
    texts = [request.path]
    for data in (request.args, request.form):
        texts += [text for pair in data.items(multi=True) for text in pair]
    texts += [f.filename or "" for f in request.files.values()]
    if any(NUL in text for text in texts):
        raise Unprocessable(NUL_REFUSED)


def paged(page: Page, endpoint: str, **values: object) -> dict:
    """``{"items": [...], "next": url-or-null}`` with the filters of this request carried over."""
    next_url = None
    if page.next_after is not None:
        args = {k: v for k, v in request.args.items() if k != "after"}
        next_url = url_for(endpoint, **values, **args, after=page.next_after)
    return {"items": page.items, "next": next_url}
