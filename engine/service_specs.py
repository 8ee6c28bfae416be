"""Service tasks that wait for the worker: reaching one records the call, the worker makes it.

SpiffWorkflow's service task calls its operation inside ``do_engine_steps``, that is inside the
request that led there and inside its database transaction.  carecenter's service task only
evaluates the parameters (in the script sandbox) and leaves the task ``STARTED``; the executor
then writes a job row for it (:mod:`engine.jobs`), and a worker calls the operation and
completes the task later.

Both dialects build the same task spec:

- Spiff: ``spiffworkflow:serviceTaskOperator id="notify_customer" resultVariable="..."`` with
  ``spiffworkflow:parameter id=... value="<expression>"`` and optionally
  ``spiffworkflow:retry retries="2" backoff_base="10"``;
- Camunda: ``camunda:type="external" camunda:topic="notify_customer"`` with
  ``camunda:inputOutput/camunda:inputParameter`` (literal text, or JUEL such as ``${customer_id}``
  and ``Case ${case_id}``, or FEEL such as ``=customer_id``) and ``camunda:resultVariable``.

Parameters written in JUEL or FEEL are translated to Python when the file is parsed
(:mod:`engine.expressions`).

Either may set the properties ``retries`` (tries after the first, default 2) and
``retry_backoff`` (first delay, ISO 8601 duration or seconds, doubled per try, default 10 s).

A Camunda external task whose topic names no registered operation is left to outside workers
(:func:`runs_outside`): Camunda 7 external-task clients fetch and lock it over ``/engine-rest``
(:mod:`engine.external_tasks`); its input parameters are variables the worker receives, and
``camunda:taskPriority`` orders fetches that ask for priority.

A Camunda 8 service task (``zeebe:taskDefinition type="..."``, :mod:`engine.zeebe`) is the same
external task: its type is the topic, its retries how many times the job is tried, its task
headers the properties its workers are told, ``zeebe:jobPriorityDefinition`` its priority.  As
Camunda 8 merges what a job worker completes with into the instance, the result of an operation
called this way is merged into the task's data rather than kept under a result variable.
"""

from __future__ import annotations

from datetime import UTC, datetime

from lxml import etree
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser
from SpiffWorkflow.spiff.specs.defaults import ServiceTask as SpiffServiceTask

from engine import zeebe
from engine.errors import DeploymentProblem
from engine.expressions import TEXT, VALUE, ExpressionError, translate
from engine.extensions import CAMUNDA_NS, NS
from engine.extensions import properties as extension_properties
from engine.timer_specs import duration_from
from process_library.registry import Registry

CALL_KEY = "carecenter_call"  # task.internal_data: the evaluated arguments of the pending call
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF_SECONDS = 10.0


class CareServiceTask(SpiffServiceTask):
    """A service task whose operation runs in the worker; the task waits (STARTED) until then.

    ``external_topic`` marks Camunda external tasks (``camunda:type="external"``), whose topic may
    name an operation or be left to outside workers; ``priority`` and ``properties`` (the element's
    extension properties) are what such workers are told.  Camunda 8 jobs also tell outside workers
    their ``initial_retries`` at the first fetch.  ``merges_result`` (Camunda 8 jobs, and Camunda 7
    external tasks without ``camunda:resultVariable``): the operation's result, an object, becomes
    variables of the instance, as what a Camunda worker completes the task with does.
    """

    def __init__(
        self,
        wf_spec,
        name,
        *,
        max_attempts: int,
        backoff_seconds: float,
        external_topic: bool = False,
        priority: int = 0,
        properties: dict[str, str] | None = None,
        initial_retries: int | None = None,
        merges_result: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(wf_spec, name, **kwargs)
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.external_topic = external_topic
        self.priority = priority
        self.properties = properties or {}
        self.initial_retries = initial_retries
        self.merges_result = merges_result

    def _execute(self, task) -> None:
        task.internal_data[CALL_KEY] = {
            name: task.workflow.script_engine.evaluate(task, param["value"])
            for name, param in self.operation_params.items()
        }
        return None  # STARTED: the job row is written with the instance, the worker completes the task


def _retry_settings(node, retries: int | None, backoff: float | None) -> tuple[int, float]:
    properties = extension_properties(node)
    try:
        if properties.get("retries", "").strip():
            retries = int(properties["retries"])
        text = properties.get("retry_backoff", "").strip()
        if text:
            backoff = float(text) if text.replace(".", "", 1).isdigit() else _seconds(text)
    except ValueError as error:
        raise ValidationException(f"invalid retry property: {error}", node=node) from None
    retries = DEFAULT_RETRIES if retries is None else retries
    if retries < 0:
        raise ValidationException("retries must be 0 or more", node=node)
    return retries + 1, DEFAULT_BACKOFF_SECONDS if backoff is None else float(backoff)


def _seconds(duration: str) -> float:
    return duration_from(duration, datetime(2000, 1, 1, tzinfo=UTC)).total_seconds()


class CareSpiffServiceTaskParser(ServiceTaskParser):
    def create_task(self) -> CareServiceTask:
        extensions = self.parse_extensions()
        operator = extensions.get("serviceTaskOperator")
        if operator is None:
            raise ValidationException("A Service Task must have an operator", node=self.node, file_name=self.filename)
        attempts, backoff = _retry_settings(self.node, operator.get("retries"), operator.get("retryBackoffBase"))
        return CareServiceTask(
            self.spec,
            self.bpmn_id,
            operation_name=operator["name"],
            operation_params={
                name: {**param, "value": _translated(param["value"], VALUE, self.node, self.filename) or param["value"]}
                for name, param in operator["parameters"].items()
            },
            result_variable=operator["resultVariable"],
            max_attempts=attempts,
            backoff_seconds=backoff,
            prescript=extensions.get("preScript"),
            postscript=extensions.get("postScript"),
            **self.bpmn_attributes,
        )


def _translated(value: str, use: str, node, filename: str) -> str | None:
    """A parameter written in JUEL or FEEL as Python, None for other text."""
    try:
        return translate(value, use)
    except ExpressionError as error:
        raise ValidationException(f"parameter: {error}", node=node, file_name=filename) from None


def _camunda_parameter(param, task, filename: str) -> str:
    """A Camunda input parameter as a Python expression: JUEL or FEEL translated, other text a string."""
    if any(isinstance(child.tag, str) for child in param):
        raise ValidationException(
            f"camunda:inputParameter '{param.get('name')}': camunda:list, camunda:map and camunda:script values "
            "are not supported; write the value as text or an expression",
            file_name=filename,
            id=task.get("id"),
            line_number=param.sourceline,
        )
    value = (param.text or "").strip()
    python = _translated(value, TEXT, task, filename)
    return repr(value) if python is None else python


class CareCamundaServiceTaskParser(TaskParser):
    def create_task(self) -> CareServiceTask:
        try:
            job = zeebe.job_definition(self.node)
        except zeebe.Unreadable as error:  # refused at deploy (zeebe.problems) already
            raise ValidationException(str(error), node=self.node, file_name=self.filename) from None
        if job is not None:
            return self._job_task(job)
        kind = self.node.get(f"{{{CAMUNDA_NS}}}type")
        topic = (self.node.get(f"{{{CAMUNDA_NS}}}topic") or "").strip()
        if kind != "external" or not topic:
            wanted = (
                'needs a job type: zeebe:taskDefinition type="<type>"'
                if zeebe.declares_zeebe(self.node)
                else 'must be an external task: camunda:type="external" and camunda:topic="<topic>"'
            )
            raise ValidationException(
                f"a service task {wanted} (an operation of the process library, or a topic for outside workers)",
                node=self.node,
                file_name=self.filename,
            )
        priority_text = (self.node.get(f"{{{CAMUNDA_NS}}}taskPriority") or "0").strip()
        if not priority_text.lstrip("-").isdigit():
            raise ValidationException(
                f"camunda:taskPriority must be a whole number, not '{priority_text}'",
                node=self.node,
                file_name=self.filename,
            )
        params = {
            param.get("name"): {"value": _camunda_parameter(param, self.node, self.filename), "type": "any"}
            for param in self.node.xpath(
                "./bpmn:extensionElements/camunda:inputOutput/camunda:inputParameter",
                namespaces=NS,
            )
            if param.get("name")
        }
        attempts, backoff = _retry_settings(self.node, None, None)
        result_variable = (self.node.get(f"{{{CAMUNDA_NS}}}resultVariable") or "").strip() or None
        return CareServiceTask(
            self.spec,
            self.bpmn_id,
            operation_name=topic,
            operation_params=params,
            result_variable=result_variable,
            max_attempts=attempts,
            backoff_seconds=backoff,
            external_topic=True,
            priority=int(priority_text),
            properties=extension_properties(self.node),
            # without a result variable, what the operation answers becomes variables, as what a Camunda
            # worker completes an external task with does
            merges_result=result_variable is None,
            **self.bpmn_attributes,
        )

    def _job_input(self, source: str) -> str:
        """A Camunda 8 input mapping's source as Python: FEEL (``=...``) translated, other text a string."""
        python = _translated(source, TEXT, self.node, self.filename) if source.startswith("=") else None
        return repr(source) if python is None else python

    def _job_task(self, job: zeebe.JobDefinition) -> CareServiceTask:
        """A Camunda 8 service task: the job's type as topic, tried as often as its retries say."""
        attempts, backoff = _retry_settings(self.node, job.retries - 1, None)
        return CareServiceTask(
            self.spec,
            self.bpmn_id,
            operation_name=job.topic,
            operation_params={
                name: {"value": self._job_input(source), "type": "any"} for name, source in job.inputs.items()
            },
            result_variable=None,
            max_attempts=attempts,
            backoff_seconds=backoff,
            external_topic=True,
            priority=job.priority,
            properties=job.headers,
            initial_retries=attempts,
            merges_result=True,
            **self.bpmn_attributes,
        )


def runs_outside(task_spec: CareServiceTask, operations: Registry | None) -> bool:
    """Whether outside workers run this service task: a Camunda external task whose topic is no operation."""
    return task_spec.external_topic and (operations is None or operations.get(task_spec.operation_name) is None)


def with_worker_service_tasks(overrides: dict, dialect: str) -> dict:
    """A copy of a parser's ``OVERRIDE_PARSER_CLASSES`` whose service tasks wait for the worker."""
    parser = CareCamundaServiceTaskParser if dialect == "camunda" else CareSpiffServiceTaskParser
    return {**overrides, full_tag("serviceTask"): (parser, CareServiceTask)}


def service_task_problems(
    specs: list, files: dict[str, etree._ElementTree], registry: Registry
) -> list[DeploymentProblem]:
    """Service tasks that name an unknown operation or pass the wrong parameters (external tasks may not)."""
    problems = []
    for spec in specs:
        for task_spec in spec.task_specs.values():
            if not isinstance(task_spec, CareServiceTask) or runs_outside(task_spec, registry):
                continue
            operation = registry.get(task_spec.operation_name)
            messages = (
                [f"service task calls unknown operation '{task_spec.operation_name}' (see GET /api/operations)"]
                if operation is None
                else operation.problems(set(task_spec.operation_params))
            )
            line = _line(files.get(spec.file), task_spec.name)
            problems.extend(DeploymentProblem(spec.file, line, task_spec.name, message) for message in messages)
    return problems


def _line(tree: etree._ElementTree | None, element_id: str) -> int | None:
    if tree is None:
        return None
    found = tree.getroot().xpath("//*[@id=$id]", id=element_id)
    return found[0].sourceline if found else None
