"""Camunda Modeler files run as their authors meant: JUEL and FEEL deployed through the API and run on the engine."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from engine.bpmn import SourceFile
from engine.errors import DeploymentInvalid
from engine.runtime import StartRequest
from process_library.registry import REGISTRY
from tests.conftest import upload

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
    ' xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://carecenter.example/test">\n'
)

# Line numbers matter: the test names them.
REFUSED = HEAD + (
    '  <bpmn:process id="refused" isExecutable="true">\n'  # 3
    '    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>\n'
    '    <bpmn:exclusiveGateway id="gw"><bpmn:incoming>f1</bpmn:incoming>'
    "<bpmn:outgoing>f2</bpmn:outgoing><bpmn:outgoing>f3</bpmn:outgoing></bpmn:exclusiveGateway>\n"
    '    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="gw" />\n'
    '    <bpmn:sequenceFlow id="f2" sourceRef="gw" targetRef="ask">\n'
    "      <bpmn:conditionExpression>${bean.isBig(amount)}</bpmn:conditionExpression>\n"  # 8
    "    </bpmn:sequenceFlow>\n"
    '    <bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="end">\n'
    "      <bpmn:conditionExpression>=amount &lt;= 100 and\n"
    "        kind in [1, 2]</bpmn:conditionExpression>\n"  # 12
    "    </bpmn:sequenceFlow>\n"
    '    <bpmn:userTask id="ask" camunda:assignee="${user.getName()}"'
    ' camunda:candidateGroups="support, ${teams.get(0)}">\n'
    '      <bpmn:multiInstanceLoopCharacteristics camunda:collection="${order.items}" />\n'  # 15
    "    </bpmn:userTask>\n"
    '    <bpmn:boundaryEvent id="late" attachedToRef="ask"><bpmn:timerEventDefinition>'
    "<bpmn:timeDuration>PT${hours = 2}H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>\n"  # 17
    '    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>\n'
    "  </bpmn:process>\n"
    "</bpmn:definitions>\n"
)


def deploy(client, name: str, content: str):
    return client.post("/api/deployments", data={"files": [(io.BytesIO(content.encode()), name)]})


def test_expressions_outside_the_subset_are_refused_at_deploy_with_line_element_and_construct(client):
    response = deploy(client, "refused.bpmn", REFUSED)

    assert response.status_code == 422
    found = [(e["file"], e["line"], e["element_id"], e["message"]) for e in response.json["errors"]]
    expected = [
        (8, "f2", "conditionExpression '${bean.isBig(amount)}': JUEL: the method call bean.isBig() is not supported"),
        (12, "f3", "unexpected 'in' at character 33: the FEEL in operator (unary tests) is not supported"),
        (14, "ask", "camunda:assignee '${user.getName()}': JUEL: the method call user.getName() is not supported"),
        (14, "ask", "camunda:candidateGroups '${teams.get(0)}': JUEL: the method call teams.get() is not supported"),
        (15, "ask", "camunda:collection '${order.items}': only a variable may stand here, such as ${items}"),
        (17, "late", "timeDuration 'PT${hours = 2}H': JUEL: unexpected '=' at character 11: assignment (=)"),
    ]
    assert len(found) == len(expected), found
    for (line, element, message), problem in zip(expected, found, strict=True):
        assert problem[:3] == ("refused.bpmn", line, element), problem
        assert message in problem[3], problem
    assert client.get("/api/process-definitions").json["items"] == []


def test_a_refusal_reads_as_file_line_element_message(care):
    text = REFUSED.replace("${bean.isBig(amount)}", "${amount &gt; 100}")
    try:
        care.repository.check([SourceFile("refused.bpmn", text.encode())])
    except DeploymentInvalid as invalid:
        first = str(invalid.problems[0])
    assert first.startswith("refused.bpmn:12: f3: conditionExpression '=amount <= 100 and kind in [1, 2]': FEEL:")


def test_python_conditions_still_deploy_and_a_non_python_one_names_the_languages(client):
    python = REFUSED.replace("${bean.isBig(amount)}", "amount &gt; 100").replace(
        "=amount &lt;= 100 and\n        kind in [1, 2]", "priority = 'Emergency'"
    )
    response = deploy(client, "refused.bpmn", python)

    messages = {(e["line"], e["element_id"]): e["message"] for e in response.json["errors"]}
    assert (8, "f2") not in messages
    assert messages[(11, "f3")].startswith("Python syntax error in conditionExpression: invalid syntax")
    assert messages[(11, "f3")].endswith("(line 1); write Python, JUEL as ${...} or FEEL as =...")


def process(body: str, key: str = "p") -> SourceFile:
    return SourceFile(
        f"{key}.bpmn",
        (
            HEAD + f'  <bpmn:process id="{key}" isExecutable="true">\n{body}</bpmn:process>\n</bpmn:definitions>'
        ).encode(),
    )


CONDITIONAL = """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:conditionalEventDefinition>
        <bpmn:condition>${ready &amp;&amp; copies > 1}</bpmn:condition>
      </bpmn:conditionalEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="copy" />
    <bpmn:userTask id="copy" name="Make a copy"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics>
        <bpmn:loopCardinality>${copies}</bpmn:loopCardinality>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="copy" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
"""


def test_conditional_events_wait_for_a_missing_variable_and_cardinality_coerces_text(care):
    care.repository.deploy([process(CONDITIONAL)], "conditional", "tester")

    waiting, _ = care.runtime.start(StartRequest("p", {}), "tester")
    assert (waiting["status"], waiting["tasks"]) == ("active", [])  # Camunda: false while `ready` does not exist
    assert care.incidents.list("open", waiting["id"], 10, None).items == []

    going, _ = care.runtime.start(StartRequest("p", {"ready": True, "copies": "3"}), "tester")
    assert [task["element_id"] for task in going["tasks"]] == ["copy"] * 3


def test_a_conditional_event_fails_as_camunda_would_when_its_condition_is_not_boolean(care):
    care.repository.deploy([process(CONDITIONAL.replace("${ready &amp;&amp; copies > 1}", "${copies}"))], "c", "t")

    view, _ = care.runtime.start(StartRequest("p", {"copies": 2}), "tester")

    assert view["status"] == "failed"
    [incident] = care.incidents.list("open", view["id"], 10, None).items
    # The incident shows the expression as written, and why it failed.
    assert incident["message"] == (
        "Error evaluating expression '${copies}': ExpressionFailure: the condition gave int 2, not true or false"
    )


# -- a Camunda Modeler process, in JUEL and in FEEL, through the API ---------------------------------

ORDER = {
    "owner": "olga",
    "team": "billing",
    "hours": 2,  # JUEL: PT${hours}H
    "approval_time": "PT2H",  # FEEL: =approval_time
    "items": ["cable", "plug"],
    "customer": {"tier": "gold", "email": "ann@example.org", "manager": "mia"},
}


@pytest.fixture(params=["juel", "feel"])
def order(request, client) -> str:
    """The same process written in JUEL (Camunda 7) and in FEEL (Camunda 8), deployed through the API."""
    response = client.post("/api/deployments", data=upload(f"camunda_order_{request.param}.bpmn"))
    assert response.status_code == 201, response.json
    return f"order_{request.param}"


def start(client, key: str, **variables) -> dict:
    response = client.post(f"/api/process-definitions/{key}/instances", json={"variables": {**ORDER, **variables}})
    assert response.status_code == 201, response.json
    return response.json


def complete(client, task: dict, data: dict | None = None) -> dict:
    response = client.post(f"/api/tasks/{task['id']}/complete", json={"data": data or {}})
    assert response.status_code == 200, response.json
    return response.json["instance"]


def test_a_big_order_goes_to_its_owner_then_is_packed_per_item_then_a_gold_customer_gets_a_gift(client, clock, order):
    view = start(client, order, amount=150)

    [approve] = view["tasks"]  # ${amount > 100}
    assert (approve["element_id"], approve["assignee"], approve["candidate_groups"]) == (
        "approve",
        "olga",  # ${owner}
        ["billing", "team_lead"],  # ${team}, team_lead
    )
    assert approve["due_at"] == (clock.now() + timedelta(hours=2)).isoformat()  # the boundary timer: PT${hours}H

    packing = complete(client, approve)["tasks"]  # one task per item of ${items}
    assert [(t["element_id"], t["candidate_groups"]) for t in packing] == [("pack", ["billing"])] * 2
    complete(client, packing[0])
    [gift] = complete(client, packing[1])["tasks"]  # ${customer.tier == 'gold' && !empty customer.email}

    assert (gift["element_id"], gift["candidate_users"]) == ("send_gift", ["mia"])  # ${customer.manager}
    assert complete(client, gift)["status"] == "completed"


def test_a_small_order_skips_approval_and_packing_stops_when_the_completion_condition_holds(client, order):
    view = start(client, order, amount=100, customer={"tier": "silver", "email": "bo@example.org"})

    packing = view["tasks"]  # ${amount <= 100}
    assert [t["element_id"] for t in packing] == ["pack", "pack"]
    done = complete(client, packing[0], {"stop_packing": True})  # the completion condition

    assert (done["status"], done["tasks"]) == ("completed", [])  # the other item is cancelled; not gold: no gift
    history = client.get(f"/api/instances/{view['id']}/history").json["items"]
    assert [e["element_id"] for e in history if e["event_type"] == "task_cancelled"] == ["pack"]


def test_an_approval_not_given_in_time_ends_the_order(client, care, clock, order):
    view = start(client, order, amount=500)
    assert [t["element_id"] for t in view["tasks"]] == ["approve"]

    clock.advance(timedelta(hours=2))
    assert care.timers.fire_due() == 1

    instance = client.get(f"/api/instances/{view['id']}").json
    assert (instance["status"], instance["tasks"]) == ("completed", [])


def echo(context, *, text: str) -> dict:
    """Test operation: answers what it was given."""
    return {"text": text}


if REGISTRY.get("test_echo") is None:
    REGISTRY.register(echo, name="test_echo", parameters={"text": "what to answer"})

SERVICE_AND_DUE = """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call" />
    <bpmn:serviceTask id="call" camunda:type="external" camunda:topic="test_echo" camunda:resultVariable="answer">
      <bpmn:extensionElements>
        <camunda:inputOutput>
          <camunda:inputParameter name="text">Case ${id}: ${amount > 100 ? 'big' : 'small'}</camunda:inputParameter>
        </camunda:inputOutput>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="review" />
    <bpmn:userTask id="review">
      <bpmn:extensionElements>
        <camunda:properties><camunda:property name="due" value="P${days}D" /></camunda:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="review" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
"""


def test_input_parameters_and_due_dates_take_composite_juel(care, clock):
    care.repository.deploy([process(SERVICE_AND_DUE)], "service", "tester")
    view, _ = care.runtime.start(StartRequest("p", {"id": 7, "amount": 150, "days": 3}), "tester")

    assert care.jobs.run_due("test-worker") == 1
    instance = care.runtime.get(view["id"])
    assert instance["data"]["answer"] == {"text": "Case 7: big"}
    [review] = instance["tasks"]
    assert review["due_at"] == (clock.now() + timedelta(days=3)).isoformat()


def test_input_parameters_with_lists_maps_or_scripts_are_refused(care):
    listed = SERVICE_AND_DUE.replace(
        "Case ${id}: ${amount > 100 ? 'big' : 'small'}",
        "<camunda:list><camunda:value>a</camunda:value></camunda:list>",
    )
    with pytest.raises(DeploymentInvalid) as caught:
        care.repository.deploy([process(listed)], "service", "tester")

    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.element_id) == ("p.bpmn", 10, "call")
    assert "camunda:inputParameter 'text': camunda:list, camunda:map and camunda:script values are not supported" in (
        problem.message
    )
