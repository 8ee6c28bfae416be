"""The script engine that runs BPMN scripts and conditions.

Scripts see only task data and a short list of helpers, and run in the sandbox of
:mod:`engine.sandbox` (RestrictedPython compilation, safe builtins, an import allow-list,
a time limit and size caps).  Expressions also see ``camunda_el``, the helper that Camunda
expressions translated by :mod:`engine.expressions` call.  The engine also carries the timer
settings (the engine clock, the catch-up cap) that the timer event definitions of
:mod:`engine.timer_specs` ask for when they decide whether a timer is due.
"""

from __future__ import annotations

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

from engine.expression_runtime import expression_scope
from engine.sandbox import DEFAULT_TIME_LIMIT, MODULE_VIEWS, SandboxedEnvironment
from engine.script_helpers import script_helpers
from engine.timer_specs import TimerSettings

SCRIPT_GLOBALS = {
    "datetime": MODULE_VIEWS["datetime"],
    "json": MODULE_VIEWS["json"],
    "math": MODULE_VIEWS["math"],
}


def create_script_engine(
    timer_settings: TimerSettings | None = None, time_limit: float = DEFAULT_TIME_LIMIT, environment: str = "local"
) -> PythonScriptEngine:
    helpers = dict(SCRIPT_GLOBALS)
    if timer_settings is not None:

        def now():
            """The engine clock's current time (timezone-aware, UTC)."""
            return timer_settings.now()

        helpers["now"] = now
        helpers.update(script_helpers(now, environment))
    sandbox = SandboxedEnvironment(helpers, time_limit=time_limit, expression_scope=expression_scope)
    engine = PythonScriptEngine(environment=sandbox)
    engine.timer_settings = timer_settings
    return engine
