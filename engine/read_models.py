"""Which per-instance read models a process definition can ever write rows to.

After every step the executor re-reads an instance's rows of each read model (open human tasks,
timers, service jobs, message subscriptions) to compare them with the workflow. A definition
without user tasks, timers, service tasks or message catches can never have such rows, so its
steps skip those reads: fewer round trips for automatic and timer-driven processes. An instance
moved to another version may still carry rows written under the old one; then everything is read.

The instance row keeps a digest of what its step left behind (``read_model_digest``): the workflow
task ids of its open human tasks, and whether it has pending timers and subscriptions. The next step reads only
what the digest says is there; an open task the step itself just closed (completing it) is in the
session already and is not read again. Rows are only ever made by a step's sync, so the digest can
name more than is stored (a task cancelled or a subscription taken meanwhile: the read finds it
gone) but never less. Service jobs are always read: the worker moves them between states itself.
An instance without a digest (from before it existed) reads what its definition can have.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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


def not_stored(digest: dict[str, Any] | None) -> frozenset[str]:
    """The read models a step need not read, by the digest its instance's last step left (none without one)."""
    if digest is None:
        return frozenset()
    return frozenset(name for name in (HUMAN_TASKS, TIMERS, SUBSCRIPTIONS) if not digest.get(name))


def digest_of(open_task_guids: list[str], timers_pending: bool, subscriptions_waiting: bool) -> dict[str, Any]:
    """What a step leaves behind, for the next one (see the module's docstring)."""
    return {HUMAN_TASKS: sorted(open_task_guids), TIMERS: timers_pending, SUBSCRIPTIONS: subscriptions_waiting}


def open_task_guids(digest: dict[str, Any] | None) -> list[str] | None:
    """The workflow task ids of the open human tasks the last step left, or None when unknown (no digest)."""
    return None if digest is None else list(digest.get(HUMAN_TASKS) or [])
