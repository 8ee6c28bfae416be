"""Four eyes in the engine: a user task's ``excluded_users`` never claim, are given or complete it.

Any process can name them, literally or as an expression over the task data (``${requested_by}``,
a list, comma-separated text), as candidates are named; the process ``account_change`` uses it for
its approval (tests/test_account_change.py).
"""

from __future__ import annotations

import pytest

from engine.bpmn import SourceFile
from engine.errors import DeploymentInvalid, Unprocessable
from engine.runtime import StartRequest
from engine.tasks import TaskFilter

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://x">
  <bpmn:process id="approval" name="Approval" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="approve" name="Approve">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="candidate_groups" value="support" />
        <spiffworkflow:property name="excluded_users" value="EXCLUDED" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="approve" />
    <bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def deploy(care, excluded: str) -> None:
    care.repository.deploy([SourceFile("approval.bpmn", BPMN.replace("EXCLUDED", excluded).encode())], "t", "t")


@pytest.fixture
def team(care):
    care.identity.add_group("support")
    for name in ("ana", "lea", "max"):
        care.identity.add_user(name, "staff", ["support"], password="correct horse battery")
    return care


@pytest.mark.parametrize(
    ("excluded", "variables", "left"),
    [
        ("ana", {}, ["lea", "max"]),
        ("${requested_by}", {"requested_by": "lea"}, ["ana", "max"]),
        ("=people", {"people": ["ana", "max"]}, ["lea"]),
        ("${people}", {"people": "ana, lea"}, ["max"]),
    ],
)
def test_excluded_users_cannot_claim_be_given_or_complete_the_task(team, excluded, variables, left):
    care = team
    deploy(care, excluded)
    instance, _ = care.runtime.start(StartRequest("approval", variables), "test")
    [task] = care.tasks.list(TaskFilter(instance_id=instance["id"]), limit=5, after=None).items
    assert [person["username"] for person in care.tasks.assignable(task["id"])] == left
    for name in sorted({"ana", "lea", "max"} - set(left)):
        with pytest.raises(Unprocessable, match=f"not for {name}"):
            care.tasks.claim(task["id"], name)
        with pytest.raises(Unprocessable, match=f"not for {name}"):
            care.tasks.assign(task["id"], name, "admin")
        with pytest.raises(Unprocessable, match=f"not for {name}"):
            care.tasks.complete(task["id"], {}, name)
    assert care.runtime.get(instance["id"], with_data=False)["status"] == "active"
    care.tasks.claim(task["id"], left[0])
    care.tasks.complete(task["id"], {}, left[0])
    assert care.runtime.get(instance["id"], with_data=False)["status"] == "completed"


def test_an_expression_that_cannot_be_read_refuses_the_deployment(care):
    with pytest.raises(DeploymentInvalid) as refused:
        deploy(care, "${requested_by +}")
    [problem] = refused.value.problems
    assert problem.element_id == "approve" and "excluded_users" in problem.message, problem
