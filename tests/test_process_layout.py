"""The shipped processes' diagrams can be read right: no flow runs through an element it does not connect.

Staff read these diagrams on every case page ("where the case stands"). A flow drawn through a gateway
or an event it does not touch reads as leading into it: license renewal's first "License renewed" ran
through "Fewer than 3 reminders?", system update's "yes" behind "Record the failure". Checked on the
diagram interchange (DI) of every file in processes/, as drawn by engine/diagram.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from engine.config import PROJECT_ROOT
from engine.extensions import BPMN_NS, is_flow_node

DI = {
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "bpmn": BPMN_NS,
}
MARGIN = 3  # a line may touch an element's outline where it ends or bends beside it
PROCESSES = sorted((PROJECT_ROOT / "processes").glob("*.bpmn"))


def _boxes(tree: etree._ElementTree) -> dict[str, tuple[float, float, float, float]]:
    """Each flow node's box, by element id."""
    nodes = {node.get("id"): node for node in tree.iter(f"{{{BPMN_NS}}}*") if node.get("id") and is_flow_node(node)}
    boxes = {}
    for shape in tree.xpath("//bpmndi:BPMNShape", namespaces=DI):
        if shape.get("bpmnElement") in nodes:
            bounds = shape.find("dc:Bounds", DI)
            boxes[shape.get("bpmnElement")] = tuple(float(bounds.get(k)) for k in ("x", "y", "width", "height"))
    return boxes


def _crosses(start, end, box) -> bool:
    """Whether the axis-parallel segment from ``start`` to ``end`` passes inside ``box`` (shrunk by MARGIN)."""
    x, y, width, height = box
    left, top, right, bottom = x + MARGIN, y + MARGIN, x + width - MARGIN, y + height - MARGIN
    (x1, y1), (x2, y2) = start, end
    if x1 == x2:
        return left < x1 < right and max(min(y1, y2), top) < min(max(y1, y2), bottom)
    if y1 == y2:
        return top < y1 < bottom and max(min(x1, x2), left) < min(max(x1, x2), right)
    raise AssertionError(f"a diagonal segment {start} -> {end}: the shipped diagrams draw flows at right angles")


@pytest.mark.parametrize("path", PROCESSES, ids=lambda path: path.name)
def test_no_flow_runs_through_an_element_it_does_not_connect(path: Path):
    tree = etree.parse(str(path))
    boxes = _boxes(tree)
    flows = {flow.get("id"): flow for flow in tree.iter(f"{{{BPMN_NS}}}sequenceFlow")}
    hosts = {event.get("id"): event.get("attachedToRef") for event in tree.iter(f"{{{BPMN_NS}}}boundaryEvent")}
    through = []
    for edge in tree.xpath("//bpmndi:BPMNEdge", namespaces=DI):
        flow = flows.get(edge.get("bpmnElement"))
        if flow is None:
            continue
        ends = {flow.get("sourceRef"), flow.get("targetRef"), hosts.get(flow.get("sourceRef"))}
        points = [(float(p.get("x")), float(p.get("y"))) for p in edge.findall("di:waypoint", DI)]
        for start, end in zip(points, points[1:], strict=False):
            through += [
                (flow.get("id"), node) for node, box in boxes.items() if node not in ends and _crosses(start, end, box)
            ]
    assert through == [], f"{path.name}: flows drawn through elements they do not connect: {through}"
