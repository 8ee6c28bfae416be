"""The input entries of DMN decision tables, read as their authors meant and checked when deployed.

SpiffWorkflow's DMN engine reads an input entry as Python: ``"gold"`` or ``100`` is compared with
the input by ``==``, a comparison such as ``>= 100`` is appended to the input, and an entry with
``?`` is a Python condition in which ``?`` stands for the input. DMN tables written in Camunda
Modeler or any other DMN tool use FEEL's unary tests, which Python misreads: ``"gold", "silver"``
(either value) became a tuple no value equals, ``not("gold")`` compared the input with ``False``,
and ``[1..10]`` (a range) or ``true`` failed only when a rule was evaluated. So:

- :func:`translate` rewrites those FEEL forms, before SpiffWorkflow parses the file, into the
  Python condition over ``?`` they mean: lists of tests (any of them), ``not(...)`` (none of them),
  ranges with open or closed ends, and the literals ``true``, ``false`` and ``null``. Entries that
  Python reads as their authors meant (one value, one comparison, a condition with ``?``) are left
  exactly as they are;
- :func:`problems` refuses, at deploy, every input entry the engine could not evaluate (``= 1``,
  FEEL functions over lists, what the script sandbox refuses), naming file, line, rule and entry,
  where before it failed only in the instance that reached the rule.
"""

from __future__ import annotations

import ast
import re

from lxml import etree

from engine.errors import DeploymentProblem
from engine.expression_specs import quoted
from engine.sandbox import restriction_problems

DMN_NAMESPACE_PREFIX = ("http://www.omg.org/spec/DMN/", "https://www.omg.org/spec/DMN/")
INPUT = "dmninputexpr"  # the name SpiffWorkflow's DMN engine gives the input where an entry says ?
# A ? outside quoted text, as SpiffWorkflow's DMN engine finds it.
PLACEHOLDER = re.compile(r"\?(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)")
INTERVAL = re.compile(r"^([\[\]\(])\s*(.+?)\s*\.\.\s*(.+?)\s*([\[\]\)])$", re.S)
COMPARISON = re.compile(r"^(<=|>=|<|>)\s*(.+)$", re.S)
NEGATION = re.compile(r"^not\s*\((.*)\)$", re.S)
LITERALS = {"true": "True", "false": "False", "null": "None"}
HOW_TO_WRITE = (
    'write a value ("gold", 100), a comparison (>= 100), a list ("gold", "silver"), a range ([1..10]), '
    "not(...) of these, or a Python condition with ? for the input"
)


class EntryError(ValueError):
    """An input entry the DMN engine cannot evaluate."""


def translate(root: etree._Element) -> None:
    """Rewrite, in place, the input entries of a DMN file that Python would misread (see the module)."""
    for entry in _input_entry_texts(root):
        try:
            python = python_test(entry.text or "")
        except EntryError:
            continue  # refused by problems() with the reason
        if python != (entry.text or ""):
            entry.text = python


def problems(filename: str, tree: etree._ElementTree) -> list[DeploymentProblem]:
    """Every input entry and input expression of a DMN file that the engine could not evaluate."""
    root = tree.getroot()
    if not (etree.QName(root).namespace or "").startswith(DMN_NAMESPACE_PREFIX):
        return []
    found = []
    for expression in root.xpath("//*[local-name()='inputExpression']/*[local-name()='text']"):
        text = (expression.text or "").strip()
        reason = _python_problem(text, text) if text else None  # empty: only rules saying "-" may use it
        if reason:
            owner = expression.getparent().getparent()
            message = f"input expression {quoted(text)} of input {owner.get('label') or owner.get('id')}: {reason}"
            found.append(DeploymentProblem(filename, expression.sourceline, owner.get("id"), message))
    for table in root.xpath("//*[local-name()='decisionTable']"):
        rules = table.xpath("./*[local-name()='rule']")
        for row, rule in enumerate(rules, start=1):
            for entry in rule.xpath("./*[local-name()='inputEntry']/*[local-name()='text']"):
                text = entry.text or ""
                try:
                    _check(text)
                except EntryError as error:
                    message = f"input entry {quoted(text)} of rule {row}: {error}"
                    found.append(DeploymentProblem(filename, entry.sourceline, rule.get("id"), message))
    return found


def python_test(text: str) -> str:
    """The input entry as SpiffWorkflow's DMN engine must read it; ``text`` itself where Python reads it as meant.
    Raises :class:`EntryError` for FEEL that has no such reading (a ``not(...)`` inside a list)."""
    stripped = text.strip()
    if not stripped or stripped == "-" or PLACEHOLDER.search(stripped):
        return text
    negation = NEGATION.match(stripped)
    body = negation.group(1).strip() if negation and _closes_at_end(stripped) else None
    tests = _split(body if body is not None else stripped)
    if body is None and len(tests) == 1 and not INTERVAL.match(stripped) and stripped not in LITERALS:
        return text  # one value or one comparison: Python reads it as meant
    condition = " or ".join(f"({_one_test(test)})" for test in tests) if len(tests) > 1 else _one_test(tests[0])
    return f"not ({condition})" if body is not None else condition


def _check(text: str) -> None:
    """Raise :class:`EntryError` if the engine could not evaluate the input entry ``text``."""
    stripped = text.strip()
    if not stripped or stripped == "-":
        return
    python = python_test(stripped)  # raises EntryError itself for FEEL without a reading
    if PLACEHOLDER.search(python):
        code = PLACEHOLDER.sub(INPUT, python)
        reason = _python_problem(code, code)
    elif _parses(python):
        reason = _python_problem(python, f"({INPUT}) == ({python})")
    else:  # a comparison the engine appends to the input
        reason = _python_problem(f"{INPUT} {python}", f"{INPUT} {python}")
        if reason and reason.startswith("not "):
            reason = f"it is neither a value nor a test of the input: {HOW_TO_WRITE}"
    if reason:
        raise EntryError(reason)


def _python_problem(code: str, evaluated: str) -> str | None:
    """Why ``code`` is no Python expression, or why the sandbox refuses ``evaluated``; None if neither."""
    if not _parses(code):
        return f"not Python the engine can read: {HOW_TO_WRITE}"
    refused = restriction_problems(evaluated, "eval")
    return f"refused by the script sandbox: {'; '.join(refused)}" if refused else None


def _parses(code: str) -> bool:
    try:
        ast.parse(code, mode="eval")
    except SyntaxError:
        return False
    return True


def _one_test(test: str) -> str:
    """One FEEL positive unary test as a Python condition over ``?``."""
    if NEGATION.match(test):
        raise EntryError(f"not(...) stands for a whole entry, not for one test of a list: {HOW_TO_WRITE}")
    interval = INTERVAL.match(test)
    if interval:
        opening, low, high, closing = interval.groups()
        low_op = "<=" if opening == "[" else "<"
        high_op = "<=" if closing == "]" else "<"
        return f"({_value(low)}) {low_op} ? {high_op} ({_value(high)})"
    comparison = COMPARISON.match(test)
    if comparison:
        return f"? {comparison.group(1)} ({_value(comparison.group(2))})"
    return f"? == ({_value(test)})"


def _value(text: str) -> str:
    text = text.strip()
    return LITERALS.get(text, text)


def _split(text: str) -> list[str]:
    """``text`` split at its commas outside quotes and brackets."""
    parts, depth, quote, start = [], 0, None, 0
    for index, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return parts


def _closes_at_end(text: str) -> bool:
    """Whether the parenthesis after ``not`` closes at the very end (``not(1), not(2)`` is no negation)."""
    depth, quote = 0, None
    opening = text.index("(")
    for index, char in enumerate(text[opening:], start=opening):
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index == len(text) - 1
    return False


def _input_entry_texts(root: etree._Element) -> list[etree._Element]:
    return root.xpath("//*[local-name()='rule']/*[local-name()='inputEntry']/*[local-name()='text']")
