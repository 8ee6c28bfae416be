"""Flow nodes a token can never reach, or never leave towards an end: warnings, not refusals.

A model with a task no sequence flow leads to, or a loop without a way out, deploys and runs, but
not as its author meant.  Each process and each sub-process is checked on its own: tokens enter at
its start events (at every node without incoming flows when it has none, as BPMN says), pass along
sequence flows, boundary events and link events, and leave at end events or nodes without outgoing
flows.  Event sub-processes are entered by their own start events; compensation handlers, which
only associations lead to, are left alone.
"""

from __future__ import annotations

from collections import defaultdict

from lxml import etree

from engine.errors import DeploymentProblem
from engine.extensions import BPMN_NS, CONTAINERS, is_flow_node


def reachability_warnings(filename: str, root: etree._Element) -> list[DeploymentProblem]:
    """Warnings for every flow node of every process in ``root`` that no token reaches or that leads nowhere."""
    warnings: list[DeploymentProblem] = []
    for process in root.iterfind(f"{{{BPMN_NS}}}process"):
        warnings.extend(_container_warnings(filename, process))
    return warnings


def _container_warnings(filename: str, container: etree._Element) -> list[DeploymentProblem]:
    nodes = {
        node.get("id"): node
        for node in container.iterchildren(f"{{{BPMN_NS}}}*")
        if node.get("id") and is_flow_node(node)
    }
    forward: dict[str, set[str]] = defaultdict(set)
    backward: dict[str, set[str]] = defaultdict(set)

    def link(source: str, target: str) -> None:
        forward[source].add(target)
        backward[target].add(source)

    for flow in container.iterfind(f"{{{BPMN_NS}}}sequenceFlow"):
        if flow.get("sourceRef") in nodes and flow.get("targetRef") in nodes:
            link(flow.get("sourceRef"), flow.get("targetRef"))
    for node_id, node in nodes.items():
        host = node.get("attachedToRef")
        if host in nodes:
            link(host, node_id)
    throws, catches = _links(nodes)
    for name, sources in throws.items():
        for source in sources:
            for target in catches.get(name, ()):
                link(source, target)

    candidates = {
        node_id
        for node_id, node in nodes.items()
        if node.get("triggeredByEvent") != "true" and node.get("isForCompensation") != "true"
    }
    starts = {i for i in candidates if _local(nodes[i]) == "startEvent"} or {i for i in candidates if not backward[i]}
    ends = {i for i in candidates if _local(nodes[i]) == "endEvent" or not forward[i]}
    reached = _closure(starts, forward)
    finishing = _closure(ends, backward)
    warnings = []
    order = {node_id: position for position, node_id in enumerate(nodes)}  # document order
    for node_id in sorted(candidates, key=order.__getitem__):
        node = nodes[node_id]
        if node_id not in reached:
            message = "no path from a start event leads here: this element never runs"
        elif node_id not in finishing:
            message = "no path leads from here to an end: a token that arrives here never finishes"
        else:
            message = None
        if message:
            warnings.append(DeploymentProblem(filename, node.sourceline, node_id, message))
    for node in nodes.values():
        if _local(node) in CONTAINERS:
            warnings.extend(_container_warnings(filename, node))
    return warnings


def _links(nodes: dict[str, etree._Element]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    throws: dict[str, list[str]] = defaultdict(list)
    catches: dict[str, list[str]] = defaultdict(list)
    for node_id, node in nodes.items():
        definition = node.find(f"{{{BPMN_NS}}}linkEventDefinition")
        if definition is None:
            continue
        name = definition.get("name") or node.get("name") or ""
        (throws if _local(node) == "intermediateThrowEvent" else catches)[name].append(node_id)
    return throws, catches


def _closure(seeds: set[str], edges: dict[str, set[str]]) -> set[str]:
    seen, todo = set(seeds), list(seeds)
    while todo:
        for following in edges[todo.pop()]:
            if following not in seen:
                seen.add(following)
                todo.append(following)
    return seen


def _local(node: etree._Element) -> str:
    return etree.QName(node).localname
