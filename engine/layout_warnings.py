"""Flows drawn through elements they do not connect: a warning at check and deploy, never a refusal.

Staff and designers read a process from its diagram, and a sequence flow whose line runs through a
gateway, event or task it does not touch reads as leading into it (the shipped license renewal had
its first "License renewed" drawn through "Fewer than 3 reminders?"). The process runs as modelled,
so this only warns, naming the flow and the element, where the diagram interchange (``bpmndi``)
draws it so.
"""

from __future__ import annotations

from lxml import etree

from engine.diagram import shape_bounds, waypoints
from engine.errors import DeploymentProblem
from engine.extensions import BPMN_NS, BPMNDI_NS, is_flow_node

MARGIN = 3.0  # a line may touch an outline where it ends at, or bends beside, an element
Box = tuple[float, float, float, float]  # left, top, right, bottom


def layout_warnings(filename: str, root: etree._Element) -> list[DeploymentProblem]:
    """One warning per flow and element its drawn line passes through without connecting it."""
    nodes = {node.get("id"): node for node in root.iter(f"{{{BPMN_NS}}}*") if node.get("id") and is_flow_node(node)}
    boxes = _boxes(root, nodes)
    flows = {flow.get("id"): flow for flow in root.iter(f"{{{BPMN_NS}}}sequenceFlow")}
    warnings = []
    for edge in root.iter(f"{{{BPMNDI_NS}}}BPMNEdge"):
        flow = flows.get(edge.get("bpmnElement"))
        if flow is None:
            continue
        source = nodes.get(flow.get("sourceRef"))
        host = source.get("attachedToRef") if source is not None else None  # a boundary event's line leaves its task
        ends = {flow.get("sourceRef"), flow.get("targetRef"), host}
        points = waypoints(edge)
        crossed = [
            node_id
            for node_id, box in boxes.items()
            if node_id not in ends and any(_crosses(a, b, box) for a, b in zip(points, points[1:], strict=False))
        ]
        for node_id in crossed:
            node = nodes[node_id]
            what = f"'{node.get('name')}'" if node.get("name") else node_id
            message = (
                f"the diagram draws this flow through {what}, which it does not connect: "
                "people read it as leading there; move the line around it"
            )
            warnings.append(DeploymentProblem(filename, flow.sourceline, flow.get("id"), message))
    return warnings


def _boxes(root: etree._Element, nodes: dict[str, etree._Element]) -> dict[str, Box]:
    """Each flow node's drawn box, shrunk by MARGIN, as (left, top, right, bottom)."""
    boxes = {}
    for shape in root.iter(f"{{{BPMNDI_NS}}}BPMNShape"):
        bounds = shape_bounds(shape) if shape.get("bpmnElement") in nodes else None
        if bounds is not None:
            x, y, width, height = bounds
            boxes[shape.get("bpmnElement")] = (x + MARGIN, y + MARGIN, x + width - MARGIN, y + height - MARGIN)
    return boxes


def _crosses(start: tuple[float, float], end: tuple[float, float], box: Box) -> bool:
    """Whether the segment from ``start`` to ``end`` passes through the inside of ``box`` (Liang–Barsky clipping)."""
    left, top, right, bottom = box
    if left >= right or top >= bottom:
        return False
    (x1, y1), (x2, y2) = start, end
    dx, dy = x2 - x1, y2 - y1
    low, high = 0.0, 1.0
    for p, q in ((-dx, x1 - left), (dx, right - x1), (-dy, y1 - top), (dy, bottom - y1)):
        if p == 0:
            if q <= 0:
                return False
            continue
        t = q / p
        if p < 0:
            low = max(low, t)
        else:
            high = min(high, t)
        if low >= high:
            return False
    return True
