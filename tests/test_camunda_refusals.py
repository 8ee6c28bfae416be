"""Camunda extension elements carecenter does not run are refused at deploy, naming line, element and what to do.

A listener, an output mapping, an input mapping outside an external task, or a call activity passing
single variables would be skipped in silence, and the instance would go on with other data than its
author meant (engine/camunda_refusals.py).
"""

from __future__ import annotations

import pytest

from engine.bpmn import SourceFile
from engine.errors import DeploymentInvalid
from engine.models import ProcessDefinition

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://carecenter.example/test"
    exporter="Camunda Modeler" exporterVersion="5.20.0">
  <bpmn:process id="child" isExecutable="true">
    <bpmn:startEvent id="child_start"><bpmn:outgoing>c1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:endEvent id="child_end"><bpmn:incoming>c1</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="c1" sourceRef="child_start" targetRef="child_end" />
  </bpmn:process>
  <bpmn:process id="parent" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
"""
TAIL = """
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def model(element: str) -> SourceFile:
    return SourceFile("camunda_io.bpmn", (HEAD + element + TAIL).encode())


def refusal(care, element: str) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(DeploymentInvalid) as refused:
        care.repository.deploy([model(element)], "t", "test")
    with care.db.read() as session:
        assert session.query(ProcessDefinition).count() == 0  # nothing stored
    return [(p.line, p.element_id, p.message) for p in refused.value.problems]


CALL = """    <bpmn:callActivity id="work" calledElement="child">
      <bpmn:extensionElements>{mapping}</bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:callActivity>"""
SCRIPT = """    <bpmn:scriptTask id="work" scriptFormat="python">
      <bpmn:extensionElements>{extension}</bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>done = True</bpmn:script>
    </bpmn:scriptTask>"""


@pytest.mark.parametrize(
    ("element", "message"),
    [
        (
            SCRIPT.format(extension='<camunda:executionListener class="org.example.Audit" event="start" />'),
            "camunda:executionListener on start: Execution listeners are not run by carecenter",
        ),
        (
            SCRIPT.format(
                extension='<camunda:inputOutput><camunda:outputParameter name="total">${a + b}'
                "</camunda:outputParameter></camunda:inputOutput>"
            ),
            "camunda:outputParameter 'total': output mappings are not applied by carecenter",
        ),
        (
            SCRIPT.format(
                extension='<camunda:inputOutput><camunda:inputParameter name="rate">0.19</camunda:inputParameter>'
                "</camunda:inputOutput>"
            ),
            "camunda:inputParameter 'rate': input mappings are applied on external service tasks only",
        ),
        (
            CALL.format(mapping='<camunda:in source="customer_id" target="customer" />'),
            'camunda:in source="customer_id" target="customer": variable mappings of call activities are not applied',
        ),
        (
            CALL.format(mapping='<camunda:out sourceExpression="${result}" target="answer" />'),
            'camunda:out sourceExpression="${result}" target="answer": variable mappings of call activities',
        ),
    ],
)
def test_what_carecenter_would_skip_is_refused_with_line_and_element(care, element, message):
    [(line, element_id, said)] = refusal(care, element)
    assert element_id == "work" and line == 13 and said.startswith(message), said


@pytest.mark.parametrize(
    "element",
    [
        CALL.format(
            mapping='<camunda:in variables="all" /><camunda:out variables="all" />'
            '<camunda:in businessKey="#{execution.processBusinessKey}" />'
        ),
        SCRIPT.format(extension='<camunda:inputOutput><camunda:inputParameter name="empty" /></camunda:inputOutput>'),
        SCRIPT.format(extension="").replace('id="work"', 'id="work" camunda:asyncBefore="true"'),
    ],
)
def test_what_means_the_same_here_deploys_and_runs(care, element):
    from engine.runtime import StartRequest

    care.repository.deploy([model(element)], "t", "test")
    view, _ = care.runtime.start(StartRequest("parent", {}), "test")
    assert view["status"] == "completed", view


@pytest.mark.parametrize(
    ("start", "named"),
    [
        (
            '<bpmn:startEvent id="start" camunda:formKey="embedded:app:forms/start.html">',
            "embedded:app:forms/start.html",
        ),
        (
            '<bpmn:startEvent id="start"><bpmn:extensionElements><camunda:formData>'
            '<camunda:formField id="amount" type="long" /></camunda:formData></bpmn:extensionElements>',
            "camunda:formData",
        ),
    ],
)
def test_a_start_form_is_refused_rather_than_never_shown(care, start, named):
    element = SCRIPT.format(extension="")
    source = (HEAD + element + TAIL).replace('<bpmn:startEvent id="start">', start, 1)
    with pytest.raises(DeploymentInvalid) as refused:
        care.repository.deploy([SourceFile("camunda_io.bpmn", source.encode())], "t", "test")
    [problem] = refused.value.problems
    assert problem.element_id == "start" and problem.line == 11
    assert problem.message.startswith(f"start form {named}: start forms are not shown by carecenter")
