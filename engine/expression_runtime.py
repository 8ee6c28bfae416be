"""What JUEL's and FEEL's operators mean, for the Python that :mod:`engine.expressions` writes.

``${amount > 100}`` is translated once, at deploy, into
``camunda_el.condition(camunda_el.gt(camunda_el.var('amount'), 100))``.  The sandbox gives every
evaluation a fresh :class:`ExpressionRuntime` under the name ``camunda_el`` (see
:func:`expression_scope`), whose methods apply the rules of Camunda's engines where Python's differ:

- JUEL (the EL 2.2 specification, as Camunda 7 runs it) coerces operands: ``'5' + 1`` is 6, null
  is 0 in arithmetic and false in logic, ``7 / 2`` is 3.5, ``%`` keeps the dividend's sign,
  ``==`` between a number and a numeric string compares numbers, ``empty`` is true for null, ""
  and empty collections, ``a.b`` on a map reads a key (null when missing), an index beyond a
  list is null, and a variable that does not exist is an error;
- FEEL (Camunda 8) is three-valued and decimal: a missing variable or key is null, comparing
  values of different types gives null, ``and``/``or`` treat anything but true and false as
  null, and ``0.1 + 0.2 = 0.3`` holds.

Where Camunda would wrap a 64-bit integer or divide by zero into Infinity, evaluation fails
instead (an incident): never a silently different number.
"""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from decimal import Decimal

RUNTIME_NAME = "camunda_el"  # the name translated expressions call; data of the same name hides it
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
_LONG_TEXT = re.compile(r"[+-]?\d+")
_DOUBLE_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_FEEL_CONTEXT = decimal.Context(prec=34, rounding=decimal.ROUND_HALF_EVEN)  # FEEL numbers are IEEE 754 decimal128


class ExpressionFailure(Exception):
    """A translated expression failed while it ran; the message says why, in Camunda's terms."""


class UnknownVariable(ExpressionFailure):
    """JUEL names a variable the task data does not have."""


def _is_number(value) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _describe(value) -> str:
    return "null" if value is None else f"{type(value).__name__} {value!r}"


# -- JUEL coercions (EL 2.2, section 1.18) ------------------------------------------------------


def _long(value: int) -> int:
    if not LONG_MIN <= value <= LONG_MAX:
        raise ExpressionFailure(f"integer overflow: {value} is beyond the range of a Java long")
    return value


def to_long(value) -> int:
    """Coerce to a Java long: null and "" are 0, a double is cut toward zero, text must be an integer."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ExpressionFailure(f"cannot coerce the boolean {str(value).lower()} to a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        if not math.isfinite(value):
            raise ExpressionFailure(f"cannot coerce {value} to an integer")
        return _long(int(value))
    if isinstance(value, str) and _LONG_TEXT.fullmatch(value):
        return _long(int(value))
    raise ExpressionFailure(f"cannot coerce {_describe(value)} to a number")


def to_double(value) -> float:
    """Coerce to a Java double: null and "" are 0.0, text must be a decimal number."""
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool):
        raise ExpressionFailure(f"cannot coerce the boolean {str(value).lower()} to a number")
    if _is_number(value):
        return float(value)
    if isinstance(value, str) and _DOUBLE_TEXT.fullmatch(value.strip()):
        return float(value)
    raise ExpressionFailure(f"cannot coerce {_describe(value)} to a number")


def _to_decimal(value) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        return Decimal(repr(to_double(value))) if _floaty(value) else Decimal(to_long(value))
    return Decimal(to_long(value))


def to_boolean(value) -> bool:
    """Coerce to a Java boolean: null and "" are false, text is true only if it says "true"."""
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    raise ExpressionFailure(f"cannot coerce {_describe(value)} to a boolean")


def _java_double(value: float) -> str:
    """``Double.toString``: plain between 10^-3 and 10^7, else computerized scientific notation (1.0E7)."""
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(float(value)).replace("e", "E")
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    power = exponent + len(digits) - 1
    return f"{'-' if sign else ''}{text[0]}.{text[1:] or '0'}E{power}"


def _java_string(value, nested: bool = False) -> str:
    if value is None:
        return "null" if nested else ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _java_double(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_java_string(item, True) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_java_string(k, True)}={_java_string(v, True)}" for k, v in value.items()) + "}"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def to_text(value) -> str:
    """Coerce to a Java string: null is "", booleans are true/false, lists [a, b], maps {k=v}."""
    return _java_string(value)


def _floaty(value) -> bool:
    return isinstance(value, float | Decimal) or (isinstance(value, str) and any(c in value for c in ".eE"))


# -- JUEL operators ------------------------------------------------------------------------------


def _arithmetic(a, b, operation: Callable):
    """EL 1.7.1: null with null is 0; BigDecimal, then double (also for text with . e E), else long."""
    if a is None and b is None:
        return 0
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return operation(_to_decimal(a), _to_decimal(b))
    if _floaty(a) or _floaty(b):
        return operation(to_double(a), to_double(b))
    return _long(operation(to_long(a), to_long(b)))


def add(a, b):
    return _arithmetic(a, b, lambda x, y: x + y)


def sub(a, b):
    return _arithmetic(a, b, lambda x, y: x - y)


def mul(a, b):
    return _arithmetic(a, b, lambda x, y: x * y)


def div(a, b):
    """EL 1.7.2: always a double (or BigDecimal); division by zero fails instead of giving Infinity."""
    if a is None and b is None:
        return 0
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        x, y = _to_decimal(a), _to_decimal(b)
        if not y:
            raise ExpressionFailure("division by zero")
        # BigDecimal.divide(divisor, ROUND_HALF_UP): the result keeps the dividend's scale
        quotient = _FEEL_CONTEXT.divide(x, y)
        return quotient.quantize(Decimal(1).scaleb(x.as_tuple().exponent), rounding=decimal.ROUND_HALF_UP)
    y = to_double(b)
    if y == 0:
        raise ExpressionFailure("division by zero")
    return to_double(a) / y


def mod(a, b):
    """EL 1.7.3: the remainder takes the sign of the dividend, as in Java."""
    if a is None and b is None:
        return 0
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        x, y = _to_decimal(a), _to_decimal(b)
        if not y:
            raise ExpressionFailure("division by zero")
        return _FEEL_CONTEXT.remainder(x, y)
    if _floaty(a) or _floaty(b):
        x, y = to_double(a), to_double(b)
        if y == 0:
            raise ExpressionFailure("division by zero")
        return math.fmod(x, y)
    x, y = to_long(a), to_long(b)
    if y == 0:
        raise ExpressionFailure("division by zero")
    remainder = abs(x) % abs(y)
    return -remainder if x < 0 else remainder


def neg(a):
    """EL 1.7.5: -null is 0; text is read as a number."""
    if a is None:
        return 0
    if isinstance(a, str):
        return -to_double(a) if _floaty(a) else _long(-to_long(a))
    if not _is_number(a):
        raise ExpressionFailure(f"cannot negate {_describe(a)}")
    return _long(-a) if isinstance(a, int) else -a


def concat(a, b) -> str:
    """EL 3.0's ``+=``: both sides as text, joined."""
    return to_text(a) + to_text(b)


def _compare(a, b) -> int:
    """EL 1.8.1's order of a and b (neither null): numbers by value, then text, then like with like."""
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        x, y = _to_decimal(a), _to_decimal(b)
    elif isinstance(a, float) or isinstance(b, float):
        x, y = to_double(a), to_double(b)
    elif (isinstance(a, int) and not isinstance(a, bool)) or (isinstance(b, int) and not isinstance(b, bool)):
        x, y = to_long(a), to_long(b)
    elif isinstance(a, str) or isinstance(b, str):
        x, y = to_text(a), to_text(b)
    elif type(a) is type(b) and isinstance(a, bool | datetime | date | time):
        x, y = a, b
    else:
        raise ExpressionFailure(f"cannot compare {_describe(a)} with {_describe(b)}")
    try:
        return (x > y) - (x < y)
    except TypeError:  # an aware and a naive datetime
        raise ExpressionFailure(f"cannot compare {a!r} with {b!r}") from None


def lt(a, b) -> bool:
    return a is not None and b is not None and _compare(a, b) < 0


def gt(a, b) -> bool:
    return a is not None and b is not None and _compare(a, b) > 0


def le(a, b) -> bool:
    if a is None and b is None:
        return True
    return a is not None and b is not None and _compare(a, b) <= 0


def ge(a, b) -> bool:
    if a is None and b is None:
        return True
    return a is not None and b is not None and _compare(a, b) >= 0


def eq(a, b) -> bool:
    """EL 1.8.2: numbers by value (a numeric string too), booleans and text after coercion, else equals()."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return _to_decimal(a) == _to_decimal(b)
    if isinstance(a, float) or isinstance(b, float):
        return to_double(a) == to_double(b)
    if (isinstance(a, int) and not isinstance(a, bool)) or (isinstance(b, int) and not isinstance(b, bool)):
        return to_long(a) == to_long(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return to_boolean(a) == to_boolean(b)
    if isinstance(a, str) or isinstance(b, str):
        return to_text(a) == to_text(b)
    return a == b


def ne(a, b) -> bool:
    return not eq(a, b)


def empty(value) -> bool:
    """EL 1.10: true for null, "" and empty lists, maps and sets."""
    if value is None:
        return True
    if isinstance(value, str | list | tuple | set | frozenset | Mapping):
        return len(value) == 0
    return False


def prop(base, key):
    """``a.b`` and ``a[b]`` (EL 1.6): a map's value (null if missing), a list's item (null out of range)."""
    if base is None or key is None:
        return None
    if isinstance(base, Mapping):
        try:
            return base.get(key)
        except TypeError:
            raise ExpressionFailure(f"{_describe(key)} cannot be a map key") from None
    if isinstance(base, list | tuple):
        index = to_long(key)
        return base[index] if 0 <= index < len(base) else None
    raise ExpressionFailure(f"property {key!r} not found on {_describe(base)}")


def compose(*parts) -> str:
    """A composite expression (``PT${hours}H``): each part as text, joined."""
    return "".join(to_text(part) for part in parts)


def condition(value) -> bool:
    """A JUEL condition must give a boolean, as Camunda requires."""
    if isinstance(value, bool):
        return value
    raise ExpressionFailure(f"the condition gave {_describe(value)}, not true or false")


def event_condition(evaluate: Callable[[], object]) -> bool:
    """A conditional event's condition: false while a variable it names does not exist yet (as in Camunda)."""
    try:
        value = evaluate()
    except UnknownVariable:
        return False
    return condition(value)


def integer(value) -> int:
    """A loop cardinality: a number (cut to an integer) or text holding one."""
    if isinstance(value, bool) or value is None or not (_is_number(value) or isinstance(value, str)):
        raise ExpressionFailure(f"the cardinality gave {_describe(value)}, not a number")
    return to_long(value.strip() if isinstance(value, str) else value)


# -- FEEL ----------------------------------------------------------------------------------------


def _feel_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if _is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "context"
    if isinstance(value, datetime):
        return "date and time"
    return type(value).__name__


def _feel_decimal(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else value)


def feel_number(text: str) -> Decimal:
    """A FEEL number literal, exact."""
    return Decimal(text)


def feel_path(base, key: str):
    """``a.b``: a context's entry (null if missing); on a list, the entry of every item."""
    if isinstance(base, Mapping):
        return base.get(key)
    if isinstance(base, list | tuple):
        return [feel_path(item, key) for item in base]
    return None


def feel_eq(a, b) -> bool | None:
    """``=``: null equals only null; values of different types are not comparable (null)."""
    if a is None or b is None:
        return a is None and b is None
    kind = _feel_type(a)
    if kind != _feel_type(b):
        return None
    if kind == "number":
        return _feel_decimal(a) == _feel_decimal(b)
    if kind == "list":
        if len(a) != len(b):
            return False
        results = [feel_eq(x, y) for x, y in zip(a, b, strict=True)]
        return None if None in results else all(results)
    if kind == "context":
        if set(a) != set(b):
            return False
        results = [feel_eq(a[k], b[k]) for k in a]
        return None if None in results else all(results)
    return a == b


def feel_ne(a, b) -> bool | None:
    result = feel_eq(a, b)
    return None if result is None else not result


def _feel_order(a, b) -> int | None:
    kind = _feel_type(a)
    if kind != _feel_type(b) or kind not in ("number", "string", "date and time"):
        return None
    if kind == "number":
        a, b = _feel_decimal(a), _feel_decimal(b)
    try:
        return (a > b) - (a < b)
    except TypeError:  # an aware and a naive datetime
        return None


def feel_lt(a, b) -> bool | None:
    order = _feel_order(a, b)
    return None if order is None else order < 0


def feel_gt(a, b) -> bool | None:
    order = _feel_order(a, b)
    return None if order is None else order > 0


def feel_le(a, b) -> bool | None:
    order = _feel_order(a, b)
    return None if order is None else order <= 0


def feel_ge(a, b) -> bool | None:
    order = _feel_order(a, b)
    return None if order is None else order >= 0


def feel_and(a, b) -> bool | None:
    if a is False or b is False:
        return False
    return True if a is True and b is True else None


def feel_or(a, b) -> bool | None:
    if a is True or b is True:
        return True
    return False if a is False and b is False else None


def feel_not(value) -> bool | None:
    return (not value) if isinstance(value, bool) else None


def feel_true(value) -> bool:
    """The test of ``if c then a else b``: only true takes the then branch."""
    return value is True


def _feel_numbers(a, b) -> tuple[Decimal, Decimal] | None:
    if _feel_type(a) == "number" and _feel_type(b) == "number":
        return _feel_decimal(a), _feel_decimal(b)
    return None


def feel_add(a, b):
    """``+``: numbers add, strings join; anything else (null included) is null."""
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    numbers = _feel_numbers(a, b)
    return None if numbers is None else _FEEL_CONTEXT.add(*numbers)


def feel_sub(a, b):
    numbers = _feel_numbers(a, b)
    return None if numbers is None else _FEEL_CONTEXT.subtract(*numbers)


def feel_mul(a, b):
    numbers = _feel_numbers(a, b)
    return None if numbers is None else _FEEL_CONTEXT.multiply(*numbers)


def feel_div(a, b):
    """``/``: division by zero is null."""
    numbers = _feel_numbers(a, b)
    if numbers is None or not numbers[1]:
        return None
    return _FEEL_CONTEXT.divide(*numbers)


def feel_neg(value):
    return _FEEL_CONTEXT.minus(_feel_decimal(value)) if _feel_type(value) == "number" else None


def feel_value(value):
    """A FEEL result as task data: decimals become int when written without fraction, else float."""
    if isinstance(value, Decimal):
        return int(value) if value.as_tuple().exponent >= 0 else float(value)
    if isinstance(value, list | tuple):
        return [feel_value(item) for item in value]
    if isinstance(value, Mapping):
        return {key: feel_value(item) for key, item in value.items()}
    return value


def feel_condition(value) -> bool:
    """A FEEL condition must give true or false; null (a missing variable, a type mismatch) is an error."""
    if isinstance(value, bool):
        return value
    raise ExpressionFailure(f"the condition gave {_describe(feel_value(value))}, not true or false")


# -- the object translated expressions call -------------------------------------------------------


class ExpressionRuntime:
    """``camunda_el`` for one evaluation: variable lookups over its task data, and the operators above."""

    add, sub, mul, div, mod, neg, concat = map(staticmethod, (add, sub, mul, div, mod, neg, concat))
    lt, gt, le, ge, eq, ne = map(staticmethod, (lt, gt, le, ge, eq, ne))
    empty, prop, compose, integer = map(staticmethod, (empty, prop, compose, integer))
    condition, event_condition, truth = map(staticmethod, (condition, event_condition, to_boolean))
    feel_eq, feel_ne, feel_lt, feel_gt, feel_le, feel_ge = map(
        staticmethod, (feel_eq, feel_ne, feel_lt, feel_gt, feel_le, feel_ge)
    )
    feel_add, feel_sub, feel_mul, feel_div, feel_neg = map(
        staticmethod, (feel_add, feel_sub, feel_mul, feel_div, feel_neg)
    )
    feel_and, feel_or, feel_not, feel_true = map(staticmethod, (feel_and, feel_or, feel_not, feel_true))
    feel_number, feel_path, feel_value, feel_condition = map(
        staticmethod, (feel_number, feel_path, feel_value, feel_condition)
    )

    def __init__(self, data: Mapping, external: Mapping | None) -> None:
        self._data = data
        self._external = external or {}

    def _find(self, name: str) -> tuple[bool, object]:
        if name in self._data:
            return True, self._data[name]
        if name in self._external:
            return True, self._external[name]
        return False, None

    def var(self, name: str):
        """A JUEL identifier: an error when the variable does not exist."""
        found, value = self._find(name)
        if not found:
            raise UnknownVariable(f"Cannot resolve identifier '{name}'")
        return value

    def variable(self, name):
        """``execution.getVariable(name)``: null when the variable does not exist."""
        return self._find(to_text(name))[1]

    def feel_var(self, name: str):
        """A FEEL name: null when the variable does not exist."""
        return self._find(name)[1]


def expression_scope(data: Mapping, external: Mapping | None) -> dict:
    """The names translated expressions need, for one evaluation (see ``SandboxedEnvironment``)."""
    return {RUNTIME_NAME: ExpressionRuntime(data, external)}
