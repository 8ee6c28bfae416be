"""Camunda extension elements carecenter does not run, refused at deploy so that no model is misread in silence.

A Camunda Modeler file may carry behaviour in ``camunda:`` extension elements: listeners that run
code when an element starts or ends, input and output mappings that create and copy variables, the
variables a call activity passes to the process it calls and takes back, and the form a start event
asks its starter to fill in. carecenter runs
external service tasks with their input parameters, and call activities that pass every variable
both ways (what ``camunda:in variables="all"`` and ``camunda:out variables="all"`` say); an element
asking for more would run without it, and the instance would go on with other data than its author
meant. So each is refused at deploy, with file, line, element and what to model instead.

Left as they are, since they change nothing an instance computes: ``camunda:in businessKey`` (a
called process runs inside its caller's instance, with its business key), input parameters without
a value (a local variable that stays null), and ``camunda:asyncBefore``/``asyncAfter`` (every step
is committed anyway; :mod:`engine.jobs` retries service tasks).
"""

from __future__ import annotations

from lxml import etree

from engine.errors import DeploymentProblem
from engine.extensions import CAMUNDA_NS, NS, is_flow_node

LISTENER = "{kind} listeners are not run by carecenter: model their work as a script task or a service task in the flow"
OUTPUT_MAPPING = (
    "output mappings are not applied by carecenter: write the variable in a script task after the element, "
    "or let an external task's worker return it"
)
INPUT_MAPPING = (
    "input mappings are applied on external service tasks only: set the variable in a script task before the element"
)
START_FORM = (
    "start forms are not shown by carecenter: pass the data when the process is started (API, channel, portal), "
    "or ask for it in a user task after the start event"
)
CALL_MAPPING = (
    "variable mappings of call activities are not applied by carecenter: the called process gets every variable "
    'of the caller and gives back all of its own (say so with camunda:in variables="all" and '
    'camunda:out variables="all")'
)


def problems(filename: str, tree: etree._ElementTree) -> list[DeploymentProblem]:
    """What of ``tree``'s Camunda extension elements carecenter would not run (empty for other files)."""
    root = tree.getroot()
    found: list[DeploymentProblem] = []

    def refuse(node: etree._Element, what: str, reason: str) -> None:
        owner = next((a for a in node.iterancestors() if is_flow_node(a) or _is_process(a)), None)
        element_id = owner.get("id") if owner is not None else None
        found.append(DeploymentProblem(filename, node.sourceline, element_id, f"{what}: {reason}"))

    for listener in root.xpath("//camunda:executionListener | //camunda:taskListener", namespaces=NS):
        kind = "execution" if etree.QName(listener).localname == "executionListener" else "task"
        event = listener.get("event") or "?"
        refuse(listener, f"camunda:{etree.QName(listener).localname} on {event}", LISTENER.format(kind=kind.title()))
    for mapping in root.xpath("//camunda:outputParameter", namespaces=NS):
        refuse(mapping, f"camunda:outputParameter {mapping.get('name')!r}", OUTPUT_MAPPING)
    for mapping in root.xpath("//camunda:inputParameter", namespaces=NS):
        if _has_value(mapping) and not _on_service_task(mapping):
            refuse(mapping, f"camunda:inputParameter {mapping.get('name')!r}", INPUT_MAPPING)
    for start in root.xpath(
        "//bpmn:startEvent[@camunda:formKey or @camunda:formRef or bpmn:extensionElements/camunda:formData]",
        namespaces=NS,
    ):
        form = start.get(f"{{{CAMUNDA_NS}}}formKey") or start.get(f"{{{CAMUNDA_NS}}}formRef") or "camunda:formData"
        found.append(DeploymentProblem(filename, start.sourceline, start.get("id"), f"start form {form}: {START_FORM}"))
    for mapping in root.xpath("//bpmn:callActivity//camunda:in | //bpmn:callActivity//camunda:out", namespaces=NS):
        if _passes_named_variables(mapping):
            described = " ".join(f'{name}="{mapping.get(name)}"' for name in sorted(mapping.keys()))
            refuse(mapping, f"camunda:{etree.QName(mapping).localname} {described}", CALL_MAPPING)
    return sorted(found, key=lambda problem: problem.line or 0)


def _has_value(mapping: etree._Element) -> bool:
    return bool((mapping.text or "").strip()) or len(mapping) > 0


def _on_service_task(mapping: etree._Element) -> bool:
    """Whether the input parameter belongs to a service task (external tasks read theirs: engine.service_specs)."""
    owner = next((a for a in mapping.iterancestors() if is_flow_node(a)), None)
    return owner is not None and etree.QName(owner).localname == "serviceTask"


def _passes_named_variables(mapping: etree._Element) -> bool:
    """A ``camunda:in``/``camunda:out`` that maps single variables (not ``variables="all"``, not the business key)."""
    if mapping.get("businessKey") is not None and not (mapping.get("source") or mapping.get("sourceExpression")):
        return False
    return mapping.get("variables") != "all"


def _is_process(node: etree._Element) -> bool:
    return etree.QName(node).localname == "process"
