"""Decision tables from Camunda Modeler and other DMN tools are read as their authors meant (engine/dmn_entries.py).

FEEL's unary tests — lists of values, not(...), ranges, true/false/null — decide as FEEL says, through the
whole engine: deploy, start, the business rule task, the instance's data. Entries nothing could evaluate are
refused at deploy with file, line, rule and entry, and nothing is stored.
"""

from __future__ import annotations

import pytest

from engine.bpmn import SourceFile
from engine.dmn_entries import python_test
from engine.errors import DeploymentInvalid
from engine.models import ProcessDefinition
from engine.runtime import StartRequest

DMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="routing_defs" name="Routing"
    namespace="http://camunda.org/schema/1.0/dmn" exporter="Camunda Modeler" exporterVersion="5.17.0">
  <decision id="route" name="Route the order">
    <decisionTable id="table" hitPolicy="FIRST">
      <input id="in_tier" label="Tier">
        <inputExpression id="ie_tier" typeRef="string"><text>tier</text></inputExpression></input>
      <input id="in_amount" label="Amount">
        <inputExpression id="ie_amount" typeRef="number"><text>amount</text></inputExpression></input>
      <input id="in_vip" label="VIP">
        <inputExpression id="ie_vip" typeRef="boolean"><text>vip</text></inputExpression></input>
      <output id="out_lane" label="Lane" name="lane" typeRef="string" />
      <rule id="r_vip">
        <inputEntry id="e1"><text>-</text></inputEntry><inputEntry id="e2"><text>-</text></inputEntry>
        <inputEntry id="e3"><text>true</text></inputEntry>
        <outputEntry id="o1"><text>"vip"</text></outputEntry>
      </rule>
      <rule id="r_fast">
        <inputEntry id="e4"><text>"gold", "silver"</text></inputEntry>
        <inputEntry id="e5"><text>[1000..5000]</text></inputEntry>
        <inputEntry id="e6"><text>-</text></inputEntry>
        <outputEntry id="o2"><text>"fast"</text></outputEntry>
      </rule>
      <rule id="r_manual">
        <inputEntry id="e7"><text>not("bronze")</text></inputEntry>
        <inputEntry id="e8"><text>&gt; 5000</text></inputEntry>
        <inputEntry id="e9"><text>-</text></inputEntry>
        <outputEntry id="o3"><text>"manual"</text></outputEntry>
      </rule>
      <rule id="r_small">
        <inputEntry id="e10"><text>-</text></inputEntry><inputEntry id="e11"><text>(0..1000[</text></inputEntry>
        <inputEntry id="e12"><text>-</text></inputEntry>
        <outputEntry id="o4"><text>"auto"</text></outputEntry>
      </rule>
      <rule id="r_rest">
        <inputEntry id="e13"><text>-</text></inputEntry><inputEntry id="e14"><text>-</text></inputEntry>
        <inputEntry id="e15"><text>-</text></inputEntry>
        <outputEntry id="o5"><text>"basic"</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://carecenter.example/test"
    exporter="Camunda Modeler" exporterVersion="5.17.0">
  <bpmn:process id="routing" name="Route an order" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:businessRuleTask id="decide" name="Route the order" camunda:decisionRef="route">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:businessRuleTask>
    <bpmn:userTask id="look" name="Look at the route"><bpmn:incoming>f2</bpmn:incoming></bpmn:userTask>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide" />
    <bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="look" />
  </bpmn:process>
</bpmn:definitions>
"""


def line_of(text: str) -> int:
    """The line of the DMN file that holds ``text``."""
    return next(number for number, line in enumerate(DMN.splitlines(), start=1) if text in line)


def deploy(care, dmn: str = DMN):
    return care.repository.deploy(
        [SourceFile("routing.bpmn", BPMN.encode()), SourceFile("routing.dmn", dmn.encode())], "t", "test"
    )


@pytest.mark.parametrize(
    ("tier", "amount", "vip", "lane"),
    [
        ("bronze", 10, True, "vip"),  # true: the literal, not a variable named true
        ("gold", 1000, False, "fast"),  # "gold", "silver": either value; [1000..5000]: both ends in
        ("silver", 5000, False, "fast"),
        ("gold", 5001, False, "manual"),  # not("bronze"): any tier but bronze
        ("bronze", 5001, False, "basic"),
        ("bronze", 999.5, False, "auto"),  # (0..1000[: both ends out
        ("bronze", 1000, False, "basic"),
        ("platinum", 0, False, "basic"),
    ],
)
def test_feel_unary_tests_decide_as_feel_says(care, tier, amount, vip, lane):
    deploy(care)
    view, _ = care.runtime.start(StartRequest("routing", {"tier": tier, "amount": amount, "vip": vip}), "test")
    assert view["status"] == "active", view
    assert care.runtime.get(view["id"], with_data=True)["data"]["lane"] == lane


@pytest.mark.parametrize(
    ("entry", "python"),
    [
        ('"gold"', '"gold"'),  # Python reads these as meant: kept exactly
        (">= 100", ">= 100"),
        ('"PEANUTS" in ?', '"PEANUTS" in ?'),
        ('("a", "b")', '("a", "b")'),  # a Python tuple, as its author wrote it
        ('"a, b"', '"a, b"'),
        ("-", "-"),
        ('"a", "b"', '(? == ("a")) or (? == ("b"))'),
        ('not("a", "b")', 'not ((? == ("a")) or (? == ("b")))'),
        ("[1..5], >= 10", "((1) <= ? <= (5)) or (? >= (10))"),
        ("]1..5]", "(1) < ? <= (5)"),
        ("null", "? == (None)"),
    ],
)
def test_only_what_python_would_misread_is_rewritten(entry, python):
    assert python_test(entry) == python


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("= 1", "it is neither a value nor a test of the input"),
        ("count(Ratings[Lender Name=?.Lender Name])>0", "not Python the engine can read"),
        ("not(1), not(2)", "not(...) stands for a whole entry"),
        ('__import__("os")', "refused by the script sandbox"),
    ],
)
def test_an_entry_nothing_could_evaluate_is_refused_at_deploy_and_nothing_is_stored(care, entry, reason):
    broken = DMN.replace('<text>"gold", "silver"</text>', f"<text>{entry}</text>")
    with pytest.raises(DeploymentInvalid) as refused:
        deploy(care, broken)
    mine = [p for p in refused.value.problems if p.file == "routing.dmn"]
    assert len(mine) == 1 and mine[0].element_id == "r_fast" and mine[0].line == line_of('id="e4"')
    assert mine[0].message.startswith(f"input entry '{entry}' of rule 2: {reason}")
    caller = [p for p in refused.value.problems if p.file == "routing.bpmn"]
    assert [p.message for p in caller] == [
        "calls decision 'route' of routing.dmn, which is refused for its own problems (listed with that file)"
    ]
    with care.db.read() as session:
        assert session.query(ProcessDefinition).count() == 0
