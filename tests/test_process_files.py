"""The shipped process files: they deploy together, and each opens with its diagram in a modeler.

Camunda Modeler and bpmn.io draw only what the diagram interchange (BPMNDI) places: every flow
node, boundary event and lane needs a shape, every sequence flow an edge.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from engine.bpmn import SourceFile
from engine.config import PROJECT_ROOT

PROCESSES = PROJECT_ROOT / "processes"
BPMN_FILES = sorted(PROCESSES.glob("*.bpmn"))
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
NOT_DRAWN = {"laneSet", "sequenceFlow", "extensionElements", "documentation", "ioSpecification", "property"}


@pytest.mark.parametrize("path", BPMN_FILES, ids=[p.stem for p in BPMN_FILES])
def test_every_element_has_its_place_in_the_diagram(path: Path):
    tree = etree.parse(str(path))
    drawn = set(tree.xpath("//bpmndi:BPMNShape/@bpmnElement | //bpmndi:BPMNEdge/@bpmnElement", namespaces=NS))
    elements = [
        node.get("id")
        for process in tree.xpath("//bpmn:process", namespaces=NS)
        for node in process
        if isinstance(node.tag, str) and etree.QName(node).localname not in NOT_DRAWN
    ]
    flows = tree.xpath("//bpmn:sequenceFlow/@id", namespaces=NS)
    lanes = tree.xpath("//bpmn:lane/@id", namespaces=NS)
    missing = [element for element in [*elements, *flows, *lanes] if element not in drawn]
    assert elements and not missing, f"{path.name}: not in the diagram: {missing}"


def test_the_process_folder_deploys_as_one_deployment(care):
    sources = [SourceFile(p.name, p.read_bytes()) for p in sorted(PROCESSES.iterdir()) if p.suffix in (".bpmn", ".dmn")]
    result = care.repository.deploy(sources, "shipped", "test")
    assert {outcome.key for outcome in result.definitions} >= {p.stem for p in BPMN_FILES}
