"""Camunda 8 files from Camunda Modeler run as their authors meant, or are refused with file, line, element and reason.

Camunda 8 (Zeebe) carries a model's behaviour in ``zeebe:`` extension elements: the team of a user
task, the job type of a service task, the process a call activity calls, the variable a message
correlates on.  carecenter reads each onto what it does for Camunda 7's ``camunda:`` attributes, and
refuses at deploy whatever it would otherwise skip in silence (engine/zeebe.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine import form_sources
from engine.bpmn import SourceFile
from engine.errors import DeploymentInvalid, Unprocessable
from engine.models import ProcessDefinition, ServiceJob
from engine.runtime import StartRequest
from engine.tasks import TaskFilter
from process_library.registry import REGISTRY

# As Camunda Modeler 5.x writes a Camunda 8 file (the diagram left out).
HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
    ' xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:modeler="http://camunda.org/schema/modeler/1.0"'
    ' id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler"'
    ' exporterVersion="5.20.0" modeler:executionPlatform="Camunda Cloud" modeler:executionPlatformVersion="8.4.0">\n'
)


def model(name: str, body: str) -> SourceFile:
    return SourceFile(name, (HEAD + body + "</bpmn:definitions>\n").encode())


def tasks_of(care, instance_id: int) -> list[dict]:
    return care.tasks.list(TaskFilter(instance_id=instance_id), limit=10, after=None).items


# -- user tasks ------------------------------------------------------------------------------------

SUPPORT_CASE = """  <bpmn:process id="support_case" name="Support case" isExecutable="true">
    <bpmn:extensionElements>
      <zeebe:versionTag value="2025-03" />
    </bpmn:extensionElements>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="answer" />
    <bpmn:userTask id="answer" name="Answer the customer" zeebe:modelerTemplate="care.answer">
      <bpmn:extensionElements>
        <zeebe:userTask />
        <zeebe:assignmentDefinition assignee="=owner" candidateGroups="support, billing"
          candidateUsers="=[lead, &#34;mia&#34;]" />
        <zeebe:taskSchedule dueDate="=deadline" />
        <zeebe:formDefinition formKey="answer_inquiry.json" />
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="answer" targetRef="confirm" />
    <bpmn:userTask id="confirm" name="Confirm the answer">
      <bpmn:extensionElements>
        <zeebe:assignmentDefinition candidateGroups="=team" />
        <zeebe:taskSchedule dueDate="2031-03-31T17:00:00+02:00" />
        <zeebe:properties><zeebe:property name="excluded_users" value="=owner" /></zeebe:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="confirm" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
"""


def test_a_user_task_is_offered_to_the_team_its_assignment_definition_names(care, clock):
    care.repository.deploy([model("support_case.bpmn", SUPPORT_CASE)], "zeebe", "tester")
    deadline = clock.now() + timedelta(days=2)
    variables = {"owner": "olga", "lead": "lars", "deadline": deadline.isoformat(), "team": "escalation"}
    view, _ = care.runtime.start(StartRequest("support_case", variables), "tester")

    offered = care.tasks.list(TaskFilter(candidate_group="support"), limit=10, after=None).items
    assert [task["element_id"] for task in offered] == ["answer"]
    [answer] = offered
    assert answer["candidate_groups"] == ["billing", "support"]  # plain text: a comma-separated list
    assert answer["candidate_users"] == ["lars", "mia"]  # FEEL: a list of a variable and a text
    assert answer["assignee"] == "olga"  # =owner
    assert answer["due_at"] == deadline.isoformat()  # =deadline
    assert answer["form_key"] == "answer_inquiry.json"

    care.tasks.complete(answer["id"], {"answer": "Done"}, "olga")
    [confirm] = tasks_of(care, view["id"])
    assert confirm["candidate_groups"] == ["escalation"]  # =team
    assert confirm["due_at"] == datetime(2031, 3, 31, 15, tzinfo=UTC).isoformat()  # a date and time as written
    with pytest.raises(Unprocessable, match="the process excludes them"):  # zeebe:properties: excluded_users
        care.tasks.claim(confirm["id"], "olga")


def test_the_form_editor_finds_the_camunda_8_tasks_that_show_its_form():
    content = model("support_case.bpmn", SUPPORT_CASE).content
    assert form_sources.names_form(content, "support_case.bpmn", "answer_inquiry.json")
    assert not form_sources.names_form(content, "support_case.bpmn", "confirm_answer.json")


# -- service tasks ---------------------------------------------------------------------------------

CREDIT = """  <bpmn:process id="credit" isExecutable="true">
    <bpmn:extensionElements>
      <zeebe:jobPriorityDefinition priority="20" />
    </bpmn:extensionElements>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check" />
    <bpmn:serviceTask id="check" name="Check the credit">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="credit_check" retries="5" />
        <zeebe:taskHeaders>
          <zeebe:header key="bureau" value="schufa" />
        </zeebe:taskHeaders>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="score" />
    <bpmn:serviceTask id="score" name="Score the customer">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="test_zeebe_score" retries="2" />
        <zeebe:jobPriorityDefinition priority="70" />
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f3" sourceRef="score" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
"""


def score(context) -> dict:
    """Test operation: a Camunda 8 job type may name an operation, whose result becomes variables."""
    return {"score": 7, "grade": "B"}


if REGISTRY.get("test_zeebe_score") is None:
    REGISTRY.register(score, name="test_zeebe_score", parameters={})


def greet(context, *, name: str, channel: str) -> dict:
    """Test operation with parameters: a Camunda 8 job passes them as its input mappings."""
    return {"greeting": f"Hello {name} by {channel}"}


if REGISTRY.get("test_zeebe_greet") is None:
    REGISTRY.register(greet, name="test_zeebe_greet", parameters={"name": "whom", "channel": "how"})

GREET = """  <bpmn:process id="greet" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="say" />
    <bpmn:serviceTask id="say" name="Greet the customer">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="test_zeebe_greet" />
        <zeebe:ioMapping>
          <zeebe:input source="=customer.name" target="name" />
          <zeebe:input source="mail" target="channel" />
        </zeebe:ioMapping>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f2" sourceRef="say" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
"""


def test_an_operation_gets_its_parameters_from_the_input_mappings(care):
    care.repository.deploy([model("greet.bpmn", GREET)], "zeebe", "tester")
    view, _ = care.runtime.start(StartRequest("greet", {"customer": {"name": "Ada"}}), "tester")
    [job] = jobs_of(care, view["id"])
    assert job.arguments == {"name": "Ada", "channel": "mail"}  # FEEL evaluated, text as written
    assert care.jobs.run_due("w1") == 1
    data = care.runtime.get(view["id"])["data"]
    assert data == {"customer": {"name": "Ada"}, "greeting": "Hello Ada by mail"}  # the inputs stay local to the job
    without = GREET.replace('<zeebe:input source="mail" target="channel" />', "")
    with pytest.raises(DeploymentInvalid) as refused:  # the operation's parameters are checked at deploy
        care.repository.deploy([model("greet.bpmn", without)], "zeebe", "tester")
    [problem] = refused.value.problems
    assert problem.element_id == "say" and "channel" in problem.message


def jobs_of(care, instance_id: int) -> list[ServiceJob]:
    with care.db.read() as session:
        return list(session.scalars(select(ServiceJob).where(ServiceJob.instance_id == instance_id)))


def test_a_service_task_is_an_external_task_of_its_job_type_then_an_operation_of_its_name(care, client):
    care.repository.deploy([model("credit.bpmn", CREDIT)], "zeebe", "tester")
    view, _ = care.runtime.start(StartRequest("credit", {"amount": 21}), "tester")

    fetched = client.post(
        "/engine-rest/external-task/fetchAndLock",
        json={
            "workerId": "risk-worker",
            "maxTasks": 5,
            "topics": [{"topicName": "credit_check", "lockDuration": 10000, "includeExtensionProperties": True}],
        },
    )
    assert fetched.status_code == 200, fetched.json
    [task] = fetched.json
    assert (task["activityId"], task["topicName"], task["processInstanceId"]) == (
        "check",
        "credit_check",
        str(view["id"]),
    )
    assert (task["retries"], task["priority"]) == (5, 20)  # the process's job priority is every job's default
    assert task["extensionProperties"] == {"bureau": "schufa"}  # the task headers
    assert task["variables"]["amount"]["value"] == 21

    done = client.post(
        f"/engine-rest/external-task/{task['id']}/complete",
        json={"workerId": "risk-worker", "variables": {"approved": {"value": True, "type": "Boolean"}}},
    )
    assert done.status_code == 204, done.json
    [_, job] = sorted(jobs_of(care, view["id"]), key=lambda job: job.id)
    assert (job.kind, job.operation, job.max_attempts, job.priority) == ("operation", "test_zeebe_score", 2, 70)

    assert care.jobs.run_due("w1") == 1
    instance = care.runtime.get(view["id"])
    assert instance["status"] == "completed"
    assert instance["data"] == {"amount": 21, "approved": True, "score": 7, "grade": "B"}  # merged, as Camunda 8 does


# -- call activities -------------------------------------------------------------------------------

CALLS = """  <bpmn:process id="complaint" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    <bpmn:callActivity id="review" name="Review the complaint">
      <bpmn:extensionElements>
        <zeebe:calledElement processId="complaint_review" propagateAllChildVariables="true" />
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:callActivity>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
  <bpmn:process id="complaint_review" isExecutable="true">
    <bpmn:startEvent id="review_start"><bpmn:outgoing>r1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="r1" sourceRef="review_start" targetRef="judge" />
    <bpmn:userTask id="judge" name="Judge the complaint">
      <bpmn:extensionElements><zeebe:assignmentDefinition candidateGroups="quality" /></bpmn:extensionElements>
      <bpmn:incoming>r1</bpmn:incoming><bpmn:outgoing>r2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="r2" sourceRef="judge" targetRef="review_end" />
    <bpmn:endEvent id="review_end"><bpmn:incoming>r2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
"""


def test_a_call_activity_calls_the_process_its_called_element_names(care):
    care.repository.deploy([model("complaint.bpmn", CALLS)], "zeebe", "tester")
    view, _ = care.runtime.start(StartRequest("complaint", {"complaint": "late"}), "tester")

    [judge] = tasks_of(care, view["id"])
    assert (judge["element_id"], judge["candidate_groups"]) == ("judge", ["quality"])
    care.tasks.complete(judge["id"], {"justified": True}, "qa")

    instance = care.runtime.get(view["id"])
    assert instance["status"] == "completed"
    assert instance["data"] == {"complaint": "late", "justified": True}  # the called process's variables come back


# -- messages --------------------------------------------------------------------------------------

PAYMENT = """  <bpmn:process id="payment" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="{first}" />
{waits}
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
  <bpmn:message id="Message_paid" name="payment_received">
    <bpmn:extensionElements>
      <zeebe:subscription correlationKey="=order_id" />
    </bpmn:extensionElements>
  </bpmn:message>
"""
CATCH = """    <bpmn:intermediateCatchEvent id="paid"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:messageEventDefinition messageRef="Message_paid" />
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="paid" targetRef="end" />"""
GATEWAY = """    <bpmn:eventBasedGateway id="wait"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>g1</bpmn:outgoing><bpmn:outgoing>g2</bpmn:outgoing></bpmn:eventBasedGateway>
    <bpmn:sequenceFlow id="g1" sourceRef="wait" targetRef="paid" />
    <bpmn:sequenceFlow id="g2" sourceRef="wait" targetRef="week" />
    <bpmn:receiveTask id="paid" messageRef="Message_paid"><bpmn:incoming>g1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing></bpmn:receiveTask>
    <bpmn:intermediateCatchEvent id="week"><bpmn:incoming>g2</bpmn:incoming><bpmn:outgoing>g3</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>P7D</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="g3" sourceRef="week" targetRef="end" />
    <bpmn:sequenceFlow id="f2" sourceRef="paid" targetRef="end" />"""


@pytest.mark.parametrize(("first", "waits"), [("paid", CATCH), ("wait", GATEWAY)], ids=["catch", "gateway"])
def test_a_message_reaches_the_instance_whose_variable_its_correlation_key_names(care, first, waits):
    care.repository.deploy([model("payment.bpmn", PAYMENT.format(first=first, waits=waits))], "zeebe", "tester")
    first_order, _ = care.runtime.start(StartRequest("payment", {"order_id": "A-1"}), "tester")
    second_order, _ = care.runtime.start(StartRequest("payment", {"order_id": "B-2"}), "tester")

    published = care.messages.publish(
        "payment_received", principal="shop", correlation={"order_id": "B-2"}, payload={"paid_by": "card"}
    )

    assert (published.status, published.instances) == ("delivered", [second_order["id"]])
    paid = care.runtime.get(second_order["id"])
    assert (paid["status"], paid["data"]) == ("completed", {"order_id": "B-2", "paid_by": "card"})
    assert care.runtime.get(first_order["id"], with_data=False)["status"] == "active"


# -- refusals --------------------------------------------------------------------------------------

# Line numbers matter: the refused element stands on line 10 (an extension of the element "work"), on
# line 12 (in its body) or on line 19 (the message's subscription).
REFUSED = (
    HEAD
    + """  <bpmn:process id="refused" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:{kind} id="work"{attributes}>
      <bpmn:extensionElements>
        {extension}
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>{body}
    </bpmn:{kind}>
  </bpmn:process>
  <bpmn:process id="child" isExecutable="true">
    <bpmn:startEvent id="child_start" />
  </bpmn:process>
  <bpmn:message id="Message_paid" name="{message}">
    <bpmn:extensionElements><zeebe:subscription correlationKey="{key}" /></bpmn:extensionElements>
  </bpmn:message>
</bpmn:definitions>
"""
)


def refused(kind="userTask", extension="", body="", attributes="", message="payment_received", key="=order_id"):
    text = REFUSED.format(kind=kind, extension=extension, body=body, attributes=attributes, message=message, key=key)
    return SourceFile("refused.bpmn", text.encode())


SERVICE = {"kind": "serviceTask"}
JOB = '<zeebe:taskDefinition type="credit_check" />'
CALL = {"kind": "callActivity"}
CATCH_PAID = {"kind": "intermediateCatchEvent", "body": '<bpmn:messageEventDefinition messageRef="Message_paid" />'}


@pytest.mark.parametrize(
    ("model_file", "line", "element", "message"),
    [
        (
            refused(extension='<zeebe:ioMapping><zeebe:input source="=customer.id" target="id" /></zeebe:ioMapping>'),
            10,
            "work",
            'zeebe:input source="=customer.id" target="id": input mappings are applied on service tasks only',
        ),
        (
            refused(
                **SERVICE,
                extension=JOB + '<zeebe:ioMapping><zeebe:input source="=customer.id" target="a b" /></zeebe:ioMapping>',
            ),
            10,
            "work",
            'zeebe:input source="=customer.id" target="a b": its target must be a variable name',
        ),
        (
            refused(extension='<zeebe:ioMapping><zeebe:output source="=answer" target="reply" /></zeebe:ioMapping>'),
            10,
            "work",
            'zeebe:output source="=answer" target="reply": output mappings are not applied by carecenter',
        ),
        (
            refused(
                body="<bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements>"
                '<zeebe:loopCharacteristics inputCollection="=items" inputElement="item" />'
                "</bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>"
            ),
            12,
            "work",
            "zeebe:loopCharacteristics: Camunda 8 multi-instance (inputCollection, inputElement, outputCollection, "
            "outputElement) is not run by carecenter",
        ),
        (
            refused(
                extension='<zeebe:executionListeners><zeebe:executionListener eventType="start" type="audit" />'
                "</zeebe:executionListeners>"
            ),
            10,
            "work",
            'zeebe:executionListener eventType="start" type="audit": execution listeners are not run by carecenter',
        ),
        (
            refused(
                extension='<zeebe:taskListeners><zeebe:taskListener eventType="completing" type="audit" />'
                "</zeebe:taskListeners>"
            ),
            10,
            "work",
            'zeebe:taskListener eventType="completing" type="audit": task listeners are not run by carecenter',
        ),
        (
            refused(kind="scriptTask", extension='<zeebe:script expression="=a + b" resultVariable="sum" />'),
            10,
            "work",
            "zeebe:script: FEEL script tasks are not run by carecenter",
        ),
        (
            refused(
                kind="businessRuleTask",
                extension='<zeebe:calledDecision decisionId="tier" resultVariable="tier" />',
            ),
            10,
            "work",
            "zeebe:calledDecision: Camunda 8 business rule tasks are not run by carecenter",
        ),
        (
            refused(extension='<zeebe:formDefinition formId="answer-form" />'),
            10,
            "work",
            "zeebe:formDefinition formId 'answer-form': Camunda Forms linked by formId are not supported",
        ),
        (
            refused(extension='<zeebe:formDefinition formKey="camunda-forms:bpmn:userTaskForm_1" />'),
            10,
            "work",
            "zeebe:formDefinition formKey 'camunda-forms:bpmn:userTaskForm_1': embedded Camunda Forms are not shown",
        ),
        (
            refused(extension='<zeebe:formDefinition formKey="app:answer" />'),
            10,
            "work",
            "zeebe:formDefinition formKey 'app:answer': carecenter shows JSON Schema forms: name a .json form",
        ),
        (
            refused(kind="sendTask", extension=JOB),
            10,
            "work",
            "zeebe:taskDefinition on this sendTask: carecenter hands jobs to workers from service tasks only",
        ),
        (
            refused(**SERVICE, extension='<zeebe:taskDefinition type="=kind" />'),
            10,
            "work",
            "zeebe:taskDefinition type '=kind': carecenter needs the job type when the file is deployed",
        ),
        (
            refused(**SERVICE, extension='<zeebe:taskDefinition type="credit_check" retries="=tries" />'),
            10,
            "work",
            "zeebe:taskDefinition retries '=tries': carecenter needs a whole number written as text",
        ),
        (
            refused(extension='<zeebe:taskSchedule dueDate="P3D" />'),
            10,
            "work",
            "zeebe:taskSchedule dueDate 'P3D': Camunda 8 reads a due date as a date and time",
        ),
        (
            refused(extension='<zeebe:taskSchedule followUpDate="=tomorrow" />'),
            10,
            "work",
            "zeebe:taskSchedule followUpDate '=tomorrow': follow-up dates are not kept by carecenter",
        ),
        (
            refused(extension='<zeebe:priorityDefinition priority="80" />'),
            10,
            "work",
            "zeebe:priorityDefinition: user task priorities are not kept by carecenter",
        ),
        (
            refused(extension='<zeebe:assignmentDefinition assignee="${owner}" />'),
            10,
            "work",
            "zeebe:assignmentDefinition assignee '${owner}': Camunda 8 reads this as plain text, carecenter would",
        ),
        (
            refused(extension='<zeebe:assignmentDefinition candidateGroups="=upper case(team)" />'),
            10,
            "work",
            "zeebe:assignmentDefinition candidateGroups '=upper case(team)': FEEL:",
        ),
        (
            refused(
                extension='<zeebe:taskSchedule dueDate="=deadline" />'
                '<zeebe:properties><zeebe:property name="due" value="P2D" /></zeebe:properties>'
            ),
            10,
            "work",
            "zeebe:taskSchedule dueDate '=deadline': the property 'due' says the same: keep one of the two",
        ),
        (
            refused(**CALL, extension='<zeebe:calledElement processId="child" propagateAllChildVariables="false" />'),
            10,
            "work",
            'zeebe:calledElement propagateAllChildVariables="false": carecenter gives the caller every variable',
        ),
        (
            refused(**CALL, extension='<zeebe:calledElement processId="=child_id" />'),
            10,
            "work",
            "zeebe:calledElement '=child_id': carecenter binds a call activity to its process when the file",
        ),
        (
            refused(
                **CALL, extension='<zeebe:calledElement processId="child" bindingType="versionTag" versionTag="v1" />'
            ),
            10,
            "work",
            'zeebe:calledElement bindingType="versionTag": carecenter calls the process deployed with the caller',
        ),
        (
            refused(**CATCH_PAID, key="=order.id"),
            19,
            "Message_paid",
            "zeebe:subscription correlationKey '=order.id': carecenter correlates a message on one variable",
        ),
        (
            refused(**CATCH_PAID, key="order_id"),
            19,
            "Message_paid",
            "zeebe:subscription correlationKey 'order_id': Camunda 8 takes a correlation key as an expression only",
        ),
        (
            refused(**CATCH_PAID, message="=&#34;paid-&#34; + order_id"),
            18,
            "Message_paid",
            "message name '=\"paid-\" + order_id': carecenter takes a message's name as it is written",
        ),
        (
            refused(**SERVICE, extension=JOB + '<zeebe:agentDefinition agentType="ai" />'),
            10,
            "work",
            "zeebe:agentDefinition: not read by carecenter, and Camunda 8 would act on it",
        ),
        (
            refused(**SERVICE, extension=JOB, attributes=' zeebe:retryCounter="tries"'),
            8,
            "work",
            "zeebe:retryCounter: not read by carecenter, and Camunda 8 would act on it",
        ),
    ],
)
def test_what_carecenter_would_skip_is_refused_with_line_element_and_reason(care, model_file, line, element, message):
    with pytest.raises(DeploymentInvalid) as caught:
        care.repository.deploy([model_file], "zeebe", "tester")

    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.element_id) == ("refused.bpmn", line, element), problem
    assert problem.message.startswith(message), problem.message
    with care.db.read() as session:
        assert session.scalar(select(func.count()).select_from(ProcessDefinition)) == 0  # nothing stored


def test_the_refusal_model_deploys_without_its_refused_element(care):
    care.repository.deploy([refused(extension='<zeebe:userTask /><zeebe:versionTag value="1" />')], "zeebe", "t")
    view, _ = care.runtime.start(StartRequest("refused", {}), "tester")
    assert [task["element_id"] for task in view["tasks"]] == ["work"]


def test_zeebe_elements_in_a_spiff_file_are_refused_not_skipped(care):
    spiff = SourceFile(
        "spiff.bpmn",
        refused(extension='<zeebe:assignmentDefinition candidateGroups="support" />').content.replace(
            b"xmlns:bpmn=", b'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" xmlns:bpmn='
        ),
    )
    with pytest.raises(DeploymentInvalid) as caught:
        care.repository.deploy([spiff], "zeebe", "tester")

    [problem] = caught.value.problems
    assert (problem.line, problem.element_id) == (10, "work")
    assert problem.message.startswith("zeebe: elements are read in Camunda 8 files only")


def test_a_camunda_8_service_task_without_a_job_type_says_what_it_needs(care):
    with pytest.raises(DeploymentInvalid) as caught:
        care.repository.deploy([refused(**SERVICE)], "zeebe", "tester")

    [problem] = caught.value.problems
    assert (problem.line, problem.element_id) == (8, "work")
    assert 'a service task needs a job type: zeebe:taskDefinition type="<type>"' in problem.message
