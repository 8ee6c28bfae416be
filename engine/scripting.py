"""The script engine that runs BPMN scripts and conditions.

Scripts see only task data and a short list of helpers.  The engine also carries the timer
settings (the engine clock, the catch-up cap) that the timer event definitions of
:mod:`engine.timer_specs` ask for when they decide whether a timer is due.
TODO([service]): compile with RestrictedPython, time and memory limits, import allow-list.
"""

from __future__ import annotations

import datetime
import json
import math

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from engine.timer_specs import TimerSettings

SCRIPT_GLOBALS = {
    "datetime": datetime,
    "json": json,
    "math": math,
}


def create_script_engine(timer_settings: TimerSettings | None = None) -> PythonScriptEngine:
    engine = PythonScriptEngine(environment=TaskDataEnvironment(dict(SCRIPT_GLOBALS)))
    engine.timer_settings = timer_settings
    return engine
