"""The script engine that runs BPMN scripts and conditions.

Scripts see only task data and a short list of helpers.
TODO([service]): compile with RestrictedPython, time and memory limits, import allow-list.
"""

from __future__ import annotations

import datetime
import json
import math

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

SCRIPT_GLOBALS = {
    "datetime": datetime,
    "json": json,
    "math": math,
}


def create_script_engine() -> PythonScriptEngine:
    return PythonScriptEngine(environment=TaskDataEnvironment(dict(SCRIPT_GLOBALS)))
