"""Which per-instance read models a process definition can ever write rows to.

After every step the executor re-reads an instance's rows of each read model (open human tasks,
timers, service jobs, message subscriptions) to compare them with the workflow. A definition
without user tasks, timers, service tasks or message catches can never have such rows, so its
steps skip those reads: fewer round trips for automatic and timer-driven processes. An instance
moved to another version may still carry rows written under the old one; then everything is read.
"""

from __future__ import annotations

from collections.abc import Iterable

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition

from engine.service_specs import CareServiceTask
from engine.timer_specs import ClockTimer

HUMAN_TASKS = "human_tasks"
TIMERS = "timers"
JOBS = "jobs"
SUBSCRIPTIONS = "subscriptions"
ALL = frozenset({HUMAN_TASKS, TIMERS, JOBS, SUBSCRIPTIONS})


def read_models_of(process_specs: Iterable) -> frozenset[str]:
    """The read models the elements of these process specs (a process and all it calls) can write."""
    found: set[str] = set()
    for process_spec in process_specs:
        for task_spec in process_spec.task_specs.values():
            if getattr(task_spec, "manual", False):
                found.add(HUMAN_TASKS)
            if isinstance(task_spec, CareServiceTask):
                found.add(JOBS)
            definition = getattr(task_spec, "event_definition", None)
            branches = definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]
            for branch in branches:
                if isinstance(branch, ClockTimer):
                    found.add(TIMERS)
                elif isinstance(branch, MessageEventDefinition | SignalEventDefinition):
                    found.add(SUBSCRIPTIONS)
    return frozenset(found)
