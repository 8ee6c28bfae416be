"""Events a BPMN model publishes itself: an ``event`` property on an intermediate throw event or an end event.

A designer marks the element with the extension property ``event`` (``spiffworkflow:property`` or
``camunda:property``), e.g. ``order.shipped``; optionally ``event_data`` names the process variables
(comma-separated) the event carries. Each time the element completes, the instance publishes
that event to the event log, in the transaction of the step (:func:`engine.events.published`).

The property is read when a file is parsed (deploy and the spec cache alike): :func:`problems`
checks it at deploy time, :func:`attach` hooks the element's spec. The hook only remembers what
completed on the workflow object in memory; nothing is stored in the workflow's state.
"""

from __future__ import annotations

import json
import re

from lxml import etree

from engine.errors import DeploymentProblem
from engine.event_types import name_problem
from engine.extensions import NS, properties

EVENT_PROPERTY = "event"
DATA_PROPERTY = "event_data"
PUBLISHING_ELEMENTS = ("intermediateThrowEvent", "endEvent")
PENDING = "carecenter_published"  # attribute of the running BpmnWorkflow object: what completed in this step
VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _marked(tree: etree._ElementTree) -> list[tuple[etree._Element, dict[str, str]]]:
    found = []
    for node in tree.getroot().xpath("//*[bpmn:extensionElements]", namespaces=NS):
        props = properties(node)
        if EVENT_PROPERTY in props or DATA_PROPERTY in props:
            found.append((node, props))
    return found


def variables_of(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def problems(filename: str, tree: etree._ElementTree) -> list[DeploymentProblem]:
    """What is wrong with the ``event`` and ``event_data`` properties of a BPMN file."""
    found = []
    for node, props in _marked(tree):
        element = node.get("id")
        name = props.get(EVENT_PROPERTY, "").strip()
        message = None
        if etree.QName(node).localname not in PUBLISHING_ELEMENTS:
            message = "the 'event' property publishes an event from an intermediate throw event or an end event only"
        elif not name:
            message = "'event_data' needs an 'event' property naming the event, such as order.shipped"
        else:
            message = name_problem(name)
            bad = [v for v in variables_of(props.get(DATA_PROPERTY, "")) if not VARIABLE.fullmatch(v)]
            if message is None and bad:
                message = f"'event_data' must name process variables separated by commas, not {', '.join(bad)}"
        if message:
            found.append(DeploymentProblem(filename, node.sourceline, element, message))
    return found


def attach(spec, tree: etree._ElementTree | None) -> None:
    """Hook the elements of ``spec`` that publish an event (checked by :func:`problems` before)."""
    if tree is None:
        return
    for node, props in _marked(tree):
        name = props.get(EVENT_PROPERTY, "").strip()
        task_spec = spec.task_specs.get(node.get("id") or "")
        if not name or task_spec is None or etree.QName(node).localname not in PUBLISHING_ELEMENTS:
            continue
        extensions = getattr(task_spec, "extensions", None) or {}
        if extensions.get("carecenter_event"):
            continue  # hooked already
        task_spec.extensions = {**extensions, "carecenter_event": name}
        task_spec.completed_event.connect(_completed, name, tuple(variables_of(props.get(DATA_PROPERTY, ""))))


def _completed(workflow, task, name: str, variables: tuple[str, ...]) -> None:
    top = getattr(workflow, "top_workflow", None) or workflow
    values = {v: task.data[v] for v in variables if v in task.data}
    spec = task.task_spec
    pending = top.__dict__.setdefault(PENDING, [])
    pending.append((name, spec.bpmn_id or spec.name, spec.bpmn_name, json.loads(json.dumps(values, default=str))))


def take_published(workflow) -> list[tuple[str, str, str | None, dict]]:
    """What completed since the last call: (event name, element id, element name, variables), oldest first."""
    return workflow.__dict__.pop(PENDING, None) or []
