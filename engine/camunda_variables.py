"""Camunda 7's typed variables, read and written as its REST API and external-task clients expect.

Camunda clients send every variable as ``{"value": ..., "type": "Integer", "valueInfo": {}}`` and
read them back the same way; carecenter keeps plain values in the task data that scripts and
conditions read.  :func:`from_typed` turns the one into the other (refusing what does not fit the
type it claims), :func:`to_typed` the other way round.

| Camunda type | carecenter value |
|---|---|
| ``String`` | ``str`` |
| ``Integer``, ``Short``, ``Long`` | ``int`` (in the type's range) |
| ``Double`` | ``float`` |
| ``Boolean`` | ``bool`` |
| ``Null`` | ``None`` |
| ``Date`` | ISO 8601 text with offset, as carecenter keeps times (naive text is UTC): it comes back as ``String`` |
| ``Json`` | the parsed object or list; written back as JSON text, as Camunda's Spin values are |
| no type | the JSON value as sent |

``Object`` values serialized as JSON (``valueInfo.serializationDataFormat`` ``application/json``, as
Camunda's Java client writes objects) are read as JSON; serialized Java, ``Bytes``, ``File`` and ``Xml``
have no carecenter counterpart: refused.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from engine.errors import InvalidRequest

RANGES = {"short": 2**15, "integer": 2**31, "long": 2**63}
UNSUPPORTED = ("bytes", "file", "xml")
JSON_FORMAT = "application/json"
TYPE_NAMES = ("String", "Integer", "Short", "Long", "Double", "Boolean", "Null", "Date", "Json")


def from_typed(variables: Any, field: str = "variables") -> dict[str, Any]:
    """Camunda's ``{"name": {"value": ..., "type": ...}}`` as plain values; InvalidRequest names what is wrong."""
    if variables is None:
        return {}
    if not isinstance(variables, dict):
        raise InvalidRequest(f'\'{field}\' must be an object of variable names to {{"value", "type"}} objects')
    return {name: _value(field, name, entry) for name, entry in variables.items()}


def _value(field: str, name: str, entry: Any) -> Any:
    if not isinstance(entry, dict):
        raise InvalidRequest(f"{field}: variable '{name}' must be an object with 'value' and 'type'")
    value, type_name = entry.get("value"), entry.get("type")
    if type_name is None:
        return value  # untyped: Camunda infers the type from the JSON value
    if not isinstance(type_name, str):
        raise InvalidRequest(f"{field}: the type of variable '{name}' must be a string")
    kind = type_name.lower()
    if kind == "object" and (entry.get("valueInfo") or {}).get("serializationDataFormat") == JSON_FORMAT:
        kind = "json"  # an object the client serialized as JSON
    if kind in UNSUPPORTED or kind == "object":
        raise InvalidRequest(f"{field}: variable '{name}': type {type_name} is not supported by carecenter")
    try:
        return _convert(kind, value)
    except KeyError:
        raise InvalidRequest(
            f"{field}: variable '{name}': unsupported value type '{type_name}' (supported: {', '.join(TYPE_NAMES)})"
        ) from None
    except (TypeError, ValueError) as error:
        raise InvalidRequest(f"{field}: variable '{name}': cannot read {value!r} as {type_name}: {error}") from None


def _convert(kind: str, value: Any) -> Any:
    if value is None:
        if kind not in CONVERTERS:
            raise KeyError(kind)
        return None  # every Camunda type may be null
    return CONVERTERS[kind](kind, value)


def _string(kind: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _whole(kind: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError("not a whole number")
    number = int(value)
    if not -RANGES[kind] <= number < RANGES[kind]:
        raise ValueError("out of range")
    return number


def _double(kind: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError("not a number")
    return float(value)


def _boolean(kind: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise TypeError("not true or false")


def _null(kind: str, value: Any) -> None:
    raise TypeError("a Null variable has no value")


def _date(kind: str, value: Any) -> str:
    """A date as ISO 8601 text with its offset: instance data is stored as JSON, and times in it are text."""
    if not isinstance(value, str) or "T" not in value:
        raise TypeError("not a date and time such as 2015-10-06T16:34:42.000+0200")
    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).isoformat()


def _json(kind: str, value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


CONVERTERS = {
    "string": _string,
    "short": _whole,
    "integer": _whole,
    "long": _whole,
    "double": _double,
    "boolean": _boolean,
    "null": _null,
    "date": _date,
    "json": _json,
}


def to_typed(values: dict[str, Any]) -> dict[str, dict]:
    """Plain values as Camunda's typed variables."""
    return {name: typed(value) for name, value in values.items()}


def typed(value: Any) -> dict:
    """One value as ``{"type": ..., "value": ..., "valueInfo": {}}``."""
    if value is None:
        kind = "Null"
    elif isinstance(value, bool):
        kind = "Boolean"
    elif isinstance(value, int):
        kind = "Integer" if -RANGES["integer"] <= value < RANGES["integer"] else "Long"
    elif isinstance(value, float):
        kind = "Double"
    elif isinstance(value, str):
        kind = "String"
    elif isinstance(value, dict | list):
        kind, value = "Json", json.dumps(value, default=str)
    else:  # what a script may leave besides JSON values: its text
        kind, value = "String", str(value)
    return {"type": kind, "value": value, "valueInfo": {}}


def camunda_date(moment: datetime) -> str:
    """A date in Camunda's default REST format, ``2015-10-06T16:34:42.000+0200`` (naive values are UTC)."""
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}" + moment.strftime("%z")
