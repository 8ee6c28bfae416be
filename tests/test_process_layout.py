"""Diagrams can be read right: a flow drawn through an element it does not connect is warned about.

The check is engine/layout_warnings.py.

Staff read the diagrams on every case page ("where the case stands"). A flow drawn through a gateway or
an event it does not touch reads as leading into it: the shipped license renewal's first "License
renewed" ran through "Fewer than 3 reminders?", system update's "yes" behind "Record the failure".
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from engine.bpmn import SourceFile
from engine.config import PROJECT_ROOT
from engine.layout_warnings import layout_warnings

PROCESSES = sorted((PROJECT_ROOT / "processes").glob("*.bpmn"))

MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
    xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="defs" targetNamespace="http://carecenter.example/test">
  <bpmn:process id="drawn" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing><bpmn:outgoing>f2</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="first" name="First"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>a = 1</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first" />
    <bpmn:sequenceFlow id="f2" sourceRef="start" targetRef="end" />
    <bpmn:sequenceFlow id="f3" sourceRef="first" targetRef="end" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="d"><bpmndi:BPMNPlane id="p" bpmnElement="drawn">
    <bpmndi:BPMNShape id="start_di" bpmnElement="start">
      <dc:Bounds x="100" y="132" width="36" height="36" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="first_di" bpmnElement="first">
      <dc:Bounds x="200" y="110" width="100" height="80" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="end_di" bpmnElement="end">
      <dc:Bounds x="400" y="132" width="36" height="36" /></bpmndi:BPMNShape>
    <bpmndi:BPMNEdge id="f1_di" bpmnElement="f1">
      <di:waypoint x="136" y="150" /><di:waypoint x="200" y="150" /></bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge id="f2_di" bpmnElement="f2">{f2}</bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge id="f3_di" bpmnElement="f3">
      <di:waypoint x="300" y="150" /><di:waypoint x="400" y="150" /></bpmndi:BPMNEdge>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>
"""
THROUGH = '<di:waypoint x="118" y="168" /><di:waypoint x="418" y="132" />'  # a diagonal across 'First'
AROUND = (
    '<di:waypoint x="118" y="168" /><di:waypoint x="118" y="240" />'
    '<di:waypoint x="418" y="240" /><di:waypoint x="418" y="168" />'
)


@pytest.mark.parametrize("path", PROCESSES, ids=lambda path: path.name)
def test_no_shipped_process_draws_a_flow_through_an_element_it_does_not_connect(path: Path):
    assert layout_warnings(path.name, etree.parse(str(path)).getroot()) == []


def test_a_flow_drawn_through_another_element_is_a_warning_at_deploy_not_a_refusal(care):
    result = care.repository.deploy([SourceFile("drawn.bpmn", MODEL.format(f2=THROUGH).encode())], "t", "test")
    assert [d.status for d in result.definitions] == ["created"]  # deployed: the process runs as modelled
    [warning] = [w for w in result.warnings if w.message.startswith("the diagram draws")]
    assert (warning.file, warning.element_id, warning.line) == ("drawn.bpmn", "f2", 11)
    assert warning.message.startswith("the diagram draws this flow through 'First', which it does not connect")
    around = care.repository.deploy([SourceFile("drawn.bpmn", MODEL.format(f2=AROUND).encode())], "t", "test")
    assert not [w for w in around.warnings if w.message.startswith("the diagram draws")]
