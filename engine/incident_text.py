"""Incident messages that say what to fix: the error, the expression that failed (JUEL or FEEL as
written, not the Python it became), and for a missing variable the closest names the task's data
does have ("did you mean ...").

A designer reads these on an instance page or in a scenario's failure; "NameError: name 'divisor' is
not defined" alone does not say where, nor that the data holds ``divisr``.
"""

from __future__ import annotations

import difflib
import re

from SpiffWorkflow.exceptions import WorkflowException

from engine.expressions import as_written

MAX_ERROR_MESSAGE = 2000
MAX_LISTED_NAMES = 12
_MISSING_NAME = re.compile(r"name '([^']+)' is not defined")


def describe(error: Exception) -> str:
    """One paragraph: the error, the failing expression or script line, suggestions, SpiffWorkflow's notes."""
    if isinstance(error, WorkflowException):
        text = str(error.args[0] if error.args else type(error).__name__)
    else:
        text = f"{type(error).__name__}: {error}"
    cause = error.__cause__ or error.__context__  # SpiffWorkflow wraps what an expression raised
    if cause is not None and not isinstance(cause, WorkflowException) and str(cause) and str(cause) not in text:
        text += f": {type(cause).__name__}: {cause}"
    line = getattr(error, "error_line", None)
    if line:
        number = getattr(error, "line_number", None)
        text += f" in `{line.strip()}`" + (f" (line {number})" if number else "")
    parts = [text]
    missing = _MISSING_NAME.search(text)
    task = getattr(error, "task", None)
    if missing and task is not None:
        parts.append(_suggestion(missing.group(1), sorted(k for k in task.data if isinstance(k, str))))
    parts.extend(note.strip() for note in getattr(error, "__notes__", []) if note and "Did you mean" not in note)
    return as_written("; ".join(part for part in parts if part))[:MAX_ERROR_MESSAGE]


def _suggestion(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    guess = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listed = ", ".join(names[:MAX_LISTED_NAMES]) + (", ..." if len(names) > MAX_LISTED_NAMES else "")
    known = f"(the data holds: {listed})" if names else "(the task's data is empty)"
    return f"{guess} {known}".strip()
