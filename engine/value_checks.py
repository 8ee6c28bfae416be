"""One value of a diagram checked on its own, as the properties panel's fields are typed.

The deploy check (run on the whole diagram after each change) names every problem, but a designer
typing a timer, a due date, a condition, a script or a customer message wants to know at once
whether *this* text works. :func:`check` answers for one value with the same rules the deploy
and the engine apply: the timer parser (:func:`engine.timer_specs.timer_expression`), the
expression translation of JUEL and FEEL (:mod:`engine.expressions`), the script sandbox's compile
(:func:`engine.sandbox.restriction_problems`) and the customer-message templates
(:func:`engine.templating.template_problems`). Nothing is evaluated.
"""

from __future__ import annotations

from engine import templating
from engine.expressions import CONDITION, TEXT, ExpressionError, translate
from engine.sandbox import restriction_problems
from engine.timer_specs import duration_from, is_iso_literal, parse_datetime, timer_expression

TIMERS = ("timeDuration", "timeDate", "timeCycle")
KINDS = (*TIMERS, "due", "condition", "script", "customer_message")
MAX_VALUE = 100_000


def check(kind: str, value: str) -> str | None:
    """None when ``value`` works as a ``kind`` (one of :data:`KINDS`), else what is wrong, for designers.

    An empty value is fine where the element may go without it (due, condition, message), not for
    timers and scripts.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind of value '{kind}' (one of: {', '.join(KINDS)})")
    if len(value) > MAX_VALUE:
        return f"longer than {MAX_VALUE} characters"
    text = value.strip()
    if kind in TIMERS:
        return _timer(kind, text)
    if kind == "script":
        return _sandbox(value, "exec") if text else "the script is empty"
    if not text:
        return None
    if kind == "due":
        return _due(text)
    if kind == "condition":
        return _expression(text, CONDITION)
    found = templating.template_problems(value)
    return "; ".join(found) if found else None


def _timer(kind: str, text: str) -> str | None:
    try:
        python, literal = timer_expression(text, kind)
    except ValueError as error:
        return str(error)
    return None if literal is not None else _misread(text) or _sandbox(python, "eval")


def _misread(text: str) -> str | None:
    """``PT1X`` parses as a variable's name: what the engine does, rarely what the designer meant."""
    if text.isidentifier() and text[:1] in ("P", "R") and any(c.isdigit() for c in text):
        return f"'{text}' is not ISO 8601 text (such as PT1H or P2D) and would be read as a variable's name"
    return None


def _due(text: str) -> str | None:
    if is_iso_literal(text):
        try:
            if text.upper().startswith("P"):
                duration_from(text, parse_datetime("2030-01-01T00:00:00+00:00"))
            else:
                parse_datetime(text)
        except ValueError as error:
            return f"invalid due date '{text}': {error}"
        return None
    return _misread(text) or _expression(text, TEXT)


def _expression(text: str, use: str) -> str | None:
    try:
        python = translate(text, use)
    except ExpressionError as error:
        return str(error)
    return _sandbox(python if python is not None else text, "eval")


def _sandbox(source: str, mode: str) -> str | None:
    problems = restriction_problems(source, mode)
    return "; ".join(problems) if problems else None
