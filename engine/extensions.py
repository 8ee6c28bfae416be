"""BPMN namespaces and the extension properties both dialects write, read the same way everywhere.

Spiff files carry ``spiffworkflow:properties``, Camunda Modeler files ``camunda:properties``
(Camunda 7) or ``zeebe:properties`` (Camunda 8, :mod:`engine.zeebe`); deploy checks
(:mod:`engine.bpmn`) and task-spec parsers (:mod:`engine.service_specs`) both read them, so the
reading lives here once.
"""

from __future__ import annotations

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"  # the diagram interchange: shapes and edges as drawn
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS, "spiffworkflow": SPIFF_NS, "zeebe": ZEEBE_NS}
CONTAINERS = {"process", "subProcess", "transaction", "adHocSubProcess"}  # elements that hold flow elements
ACTIVITIES = {"subProcess", "transaction", "adHocSubProcess", "callActivity"}  # flow nodes not named *Task


def is_flow_node(node: etree._Element) -> bool:
    """An activity, event or gateway: what sequence flows connect (not flows, lanes, data or the process)."""
    local = etree.QName(node).localname
    return local.endswith(("Task", "task", "Event", "Gateway")) or local in ACTIVITIES


def properties(node: etree._Element) -> dict[str, str]:
    """The ``name -> value`` extension properties of a flow node, in either dialect (and Camunda 8's)."""
    found: dict[str, str] = {}
    for prop in node.xpath(
        "./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property"
        " | ./bpmn:extensionElements/camunda:properties/camunda:property"
        " | ./bpmn:extensionElements/zeebe:properties/zeebe:property",
        namespaces=NS,
    ):
        if prop.get("name") is not None:
            found[prop.get("name")] = prop.get("value", "")
    return found
