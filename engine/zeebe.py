"""Camunda 8 files: their ``zeebe:`` extension elements read as Camunda 8 means them, or refused at deploy.

Camunda Modeler's Camunda 8 flavour (``modeler:executionPlatform="Camunda Cloud"``) writes into
``zeebe:`` extension elements what its Camunda 7 flavour writes into ``camunda:`` attributes.
Skipped, they would leave a user task without its team, a service task without its topic, a call
activity without the process it calls and a message catch correlating on nothing, and an instance
would compute other things than its author meant.  Files declaring the zeebe namespace are parsed
in the Camunda dialect (:mod:`engine.bpmn`), and each element is read onto what carecenter does for
its Camunda 7 counterpart:

- ``zeebe:assignmentDefinition`` (assignee, candidateGroups, candidateUsers), ``zeebe:taskSchedule
  dueDate`` and ``zeebe:formDefinition formKey`` (a ``.json`` form): the user task's assignee,
  candidates, due date and form, as ``camunda:assignee`` and its kin (:func:`setting`, read by
  ``engine.bpmn.ElementInfo``);
- ``zeebe:taskDefinition`` (type, retries), ``zeebe:taskHeaders`` and ``zeebe:jobPriorityDefinition``
  of a service task: an external task of that topic, or the operation of that name, as
  ``camunda:type="external" camunda:topic`` is (:func:`job_definition`, read by :mod:`engine.service_specs`);
- ``zeebe:calledElement processId``: the call activity's ``calledElement`` (:func:`name_called_processes`);
- ``zeebe:subscription correlationKey="=name"`` of a message: the ``correlation_key`` of the catches
  of that message (:func:`correlation_keys`, docs/messages.md);
- ``zeebe:properties``: extension properties (:func:`engine.extensions.properties`).

Everything else that changes what an instance computes is refused by :func:`problems`, as
:mod:`engine.camunda_refusals` does for Camunda 7, with file, line, element and what to do: input
and output mappings, Camunda 8 multi-instance, listeners, FEEL script tasks, decisions of Camunda 8
business rule tasks, Camunda Forms, the settings of those elements carecenter cannot honour, and
any ``zeebe:`` element or attribute this module does not know, so that what a newer Modeler writes
is refused rather than skipped.  Accepted as they are, since they change nothing an instance
computes: ``zeebe:versionTag``, the ``zeebe:userTask`` marker and the modeler's template attributes.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from engine.errors import DeploymentProblem
from engine.expressions import ExpressionError, variable_name
from engine.extensions import BPMN_NS, CAMUNDA_NS, NS, SPIFF_NS, ZEEBE_NS, is_flow_node
from engine.extensions import properties as extension_properties
from engine.timer_specs import is_duration, is_iso_literal, parse_datetime

DEFAULT_JOB_RETRIES = 3  # Camunda 8 tries a job three times unless its task definition says otherwise

# Elements that change nothing an instance computes, and attributes that only the modeler reads.
ACCEPTED = {"versionTag", "userTask", "properties", "property"}
MODELER_ATTRIBUTES = {
    "modelerTemplate",
    "modelerTemplateVersion",
    "modelerTemplateIcon",
    "modelerConfigurationTemplate",
    "modelerConfigurationName",
}
# Elements checked with the element that holds them.
CHILDREN = {"header", "ioMapping", "executionListeners", "taskListeners", "linkedResource"}

# zeebe:<element> <attribute> -> what else says the same in a file: a camunda: attribute, an extension property.
SAME_AS = {
    ("assignmentDefinition", "assignee"): ("assignee", "assignee"),
    ("assignmentDefinition", "candidateGroups"): ("candidateGroups", "candidate_groups"),
    ("assignmentDefinition", "candidateUsers"): ("candidateUsers", "candidate_users"),
    ("taskSchedule", "dueDate"): (None, "due"),
    ("formDefinition", "formKey"): ("formKey", "formJsonSchemaFilename"),
}
# Where carecenter takes a fixed name that Camunda 8 would evaluate when it starts with '='.
FIXED_NAMES = (("message", "name"), ("signal", "name"), ("error", "errorCode"), ("escalation", "escalationCode"))

INPUT_ELSEWHERE = (
    "input mappings are applied on service tasks only (as the job's parameters): every other task sees all "
    "variables of its instance; set the variable before the element (a worker's result, a Python script task)"
)
REFUSED = {
    "output": (
        "output mappings are not applied by carecenter: what a task sets becomes a variable of the instance "
        "under its own name; rename it where it is set (a worker's result, a Python script task)"
    ),
    "loopCharacteristics": (
        "Camunda 8 multi-instance (inputCollection, inputElement, outputCollection, outputElement) is not run "
        "by carecenter: loop with an exclusive gateway, or model the activity in Camunda 7's flavour "
        "(camunda:collection, camunda:elementVariable)"
    ),
    "executionListener": (
        "execution listeners are not run by carecenter: model their work as a service task in the flow"
    ),
    "taskListener": "task listeners are not run by carecenter: model their work as a service task in the flow",
    "script": (
        "FEEL script tasks are not run by carecenter: compute the value where it is used (FEEL in a condition "
        "or an assignee), in a Python script task (bpmn:script), or in a service task's worker"
    ),
    "calledDecision": (
        "Camunda 8 business rule tasks are not run by carecenter: Camunda 8 puts the decision's result into "
        "resultVariable, carecenter merges a decision's outputs into the variables of the instance; call the "
        "decision from a Camunda 7 business rule task (camunda:decisionRef)"
    ),
    "userTaskForm": (
        "embedded Camunda Forms are not shown by carecenter: give the task a JSON Schema form, "
        'zeebe:formDefinition formKey="<name>.json" (docs/forms.md)'
    ),
    "priorityDefinition": (
        "user task priorities are not kept by carecenter (its task lists order by due date): remove it"
    ),
    "linkedResources": "linked resources are not passed to workers by carecenter: remove them",
}
UNKNOWN = "not read by carecenter, and Camunda 8 would act on it: remove it, or model what it does in the flow"
SPIFF_FILE = (
    "zeebe: elements are read in Camunda 8 files only; this file declares the spiffworkflow namespace as well "
    "and is read as a Spiff file: keep one of the two"
)
JOB_ELSEWHERE = (
    "carecenter hands jobs to workers from service tasks only: model the worker's job as a service task "
    "with this zeebe:taskDefinition"
)
LINKED_FORM = (
    "Camunda Forms linked by formId are not supported by carecenter: give the task a JSON Schema form, "
    'formKey="<name>.json" (docs/forms.md)'
)
START_FORM = (
    "start forms are not shown by carecenter: pass the data when the process is started, or ask for it in a user task"
)
JUEL_IN_TEXT = (
    "Camunda 8 reads this as plain text, carecenter would read the ${...} in it as JUEL: write the value as "
    "a FEEL expression (=...)"
)


class Unreadable(ValueError):
    """A ``zeebe:`` setting carecenter cannot read as Camunda 8 means it: what it is, and what to write instead."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"{what}: {reason}")
        self.what = what
        self.reason = reason


@dataclass(frozen=True)
class JobDefinition:
    """A service task's ``zeebe:taskDefinition``: the job's type (a topic or an operation), tries and priority."""

    topic: str
    retries: int  # how many times the job is tried, as Camunda 8 counts (the first try included)
    priority: int
    headers: dict[str, str]  # zeebe:taskHeaders, what its workers are told besides the variables
    inputs: dict[str, str]  # zeebe:input target -> source (FEEL with '=', else text): the job's parameters


def declares_zeebe(node: etree._Element) -> bool:
    """Whether the file holding ``node`` declares Camunda 8's zeebe namespace (a Camunda 8 file)."""
    return ZEEBE_NS in node.getroottree().getroot().nsmap.values()


def setting(node: etree._Element, element: str, attribute: str) -> str | None:
    """The ``attribute`` of the flow node's ``zeebe:<element>`` extension element, stripped; None when not set."""
    found = _extension(node, element)
    value = (found.get(attribute) or "").strip() if found is not None else ""
    return value or None


def job_definition(node: etree._Element) -> JobDefinition | None:
    """What a service task's ``zeebe:taskDefinition`` asks for, None without one; :class:`Unreadable` if refused."""
    definition = _extension(node, "taskDefinition")
    if definition is None:
        return None
    topic = (definition.get("type") or "").strip()
    if not topic:
        raise Unreadable("zeebe:taskDefinition", "it needs a type: the topic its workers fetch, or an operation's name")
    if topic.startswith("="):
        raise Unreadable(
            f"zeebe:taskDefinition type {topic!r}",
            "carecenter needs the job type when the file is deployed: write it as text",
        )
    retries = _whole_number(definition.get("retries"), "zeebe:taskDefinition retries", DEFAULT_JOB_RETRIES)
    if retries < 1:
        raise Unreadable(f"zeebe:taskDefinition retries {retries}", "a job is tried at least once: write 1 or more")
    process = next(node.iterancestors(f"{{{BPMN_NS}}}process"), None)
    priority = next(
        (
            found.get("priority")
            for found in (_extension(node, "jobPriorityDefinition"), _extension(process, "jobPriorityDefinition"))
            if found is not None and found.get("priority") is not None
        ),
        None,
    )
    headers = {
        header.get("key"): header.get("value") or ""
        for header in node.xpath("./bpmn:extensionElements/zeebe:taskHeaders/zeebe:header", namespaces=NS)
        if header.get("key")
    }
    inputs = {
        mapping.get("target").strip(): (mapping.get("source") or "").strip()
        for mapping in node.xpath("./bpmn:extensionElements/zeebe:ioMapping/zeebe:input", namespaces=NS)
        if (mapping.get("target") or "").strip()
    }
    priority_number = _whole_number(priority, "zeebe:jobPriorityDefinition priority", 0)
    return JobDefinition(topic, retries, priority_number, headers, inputs)


def name_called_processes(tree: etree._ElementTree) -> None:
    """Give each call activity whose process ``zeebe:calledElement processId`` names that ``calledElement``.

    ``calledElement`` is the BPMN attribute SpiffWorkflow (and carecenter's deploy checks) read;
    Camunda 8 files leave it out.  A processId written as an expression is refused by :func:`problems`.
    """
    for call in tree.getroot().iter(f"{{{BPMN_NS}}}callActivity"):
        process_id = setting(call, "calledElement", "processId")
        if process_id and not process_id.startswith("=") and not call.get("calledElement"):
            call.set("calledElement", process_id)


def correlation_keys(tree: etree._ElementTree) -> dict[str, str]:
    """The variable each message catch correlates on, by element id, from its message's ``zeebe:subscription``.

    Catches are intermediate catch events, boundary events, receive tasks and the message starts of
    event subprocesses (Camunda 8 ignores the subscription of a process's own message start event);
    an event-based gateway, which is what waits in carecenter, correlates on those of the catches after it.
    """
    root = tree.getroot()
    by_message: dict[str, str] = {}
    for message in root.iterchildren(f"{{{BPMN_NS}}}message"):
        try:
            name = _correlation_variable(setting(message, "subscription", "correlationKey"))
        except Unreadable:
            continue  # refused by problems()
        if name is not None:
            by_message[message.get("id")] = name
    keys = {
        catch.get("id"): by_message[reference]
        for catch, reference in _message_catches(root)
        if reference in by_message and catch.get("id")
    }
    for gateway in root.iter(f"{{{BPMN_NS}}}eventBasedGateway"):
        targets = root.xpath("//bpmn:sequenceFlow[@sourceRef=$id]/@targetRef", namespaces=NS, id=gateway.get("id"))
        names = [keys[target] for target in targets if target in keys]
        if names:
            keys[gateway.get("id")] = ", ".join(dict.fromkeys(names))
    return keys


def problems(filename: str, tree: etree._ElementTree) -> list[DeploymentProblem]:
    """What of ``tree``'s ``zeebe:`` elements carecenter cannot read as Camunda 8 means it (none in other files)."""
    root = tree.getroot()
    found: list[DeploymentProblem] = []

    def refuse(node: etree._Element, what: str, reason: str) -> None:
        owner = node if _is_owner(node) else _owner(node)
        found.append(DeploymentProblem(filename, node.sourceline, _id(owner), f"{what}: {reason}"))

    elements = list(root.iter(f"{{{ZEEBE_NS}}}*"))
    if elements and SPIFF_NS in root.nsmap.values():
        return [DeploymentProblem(filename, elements[0].sourceline, _id(_owner(elements[0])), SPIFF_FILE)]
    for node in elements:
        name = etree.QName(node).localname
        if name in ACCEPTED or name in CHILDREN:
            continue
        if name in REFUSED:
            refuse(node, _described(node), REFUSED[name])
        elif name in CHECKS:
            CHECKS[name](node, refuse)
        else:
            refuse(node, f"zeebe:{name}", UNKNOWN)
    for node in root.iter(etree.Element):
        for attribute in node.attrib:
            qualified = etree.QName(attribute)
            if qualified.namespace == ZEEBE_NS and qualified.localname not in MODELER_ATTRIBUTES:
                refuse(node, f"zeebe:{qualified.localname}", UNKNOWN)
    if declares_zeebe(root):
        for kind, attribute in FIXED_NAMES:
            for named in root.iterchildren(f"{{{BPMN_NS}}}{kind}"):
                if (named.get(attribute) or "").strip().startswith("="):
                    refuse(
                        named,
                        f"{kind} {attribute} {named.get(attribute)!r}",
                        f"carecenter takes a {kind}'s {attribute} as it is written: write it as text, without '='",
                    )
    return sorted(found, key=lambda problem: problem.line or 0)


# -- checks of the elements carecenter reads ----------------------------------------------------------


def _check_assignment(node: etree._Element, refuse) -> None:
    _check_texts(node, ("assignee", "candidateGroups", "candidateUsers"), refuse)


def _check_texts(node: etree._Element, attributes: tuple[str, ...], refuse) -> None:
    """Values read as text or FEEL: plain text with ``${`` would be JUEL here; one value said twice is refused."""
    element = etree.QName(node).localname
    owner = _owner(node)
    for attribute in attributes:
        value = (node.get(attribute) or "").strip()
        if not value:
            continue
        what = f"zeebe:{element} {attribute} {value!r}"
        if not value.startswith("=") and ("${" in value or "#{" in value):
            refuse(node, what, JUEL_IN_TEXT)
        camunda, prop = SAME_AS.get((element, attribute), (None, None))
        if owner is not None and camunda and owner.get(f"{{{CAMUNDA_NS}}}{camunda}"):
            refuse(node, what, f"camunda:{camunda} says the same: keep one of the two")
        if owner is not None and prop and prop in extension_properties(owner):
            refuse(node, what, f"the property {prop!r} says the same: keep one of the two")


def _check_schedule(node: etree._Element, refuse) -> None:
    _check_texts(node, ("dueDate",), refuse)
    due = (node.get("dueDate") or "").strip()
    if due and not due.startswith("=") and "${" not in due and not _is_date_time(due):
        refuse(
            node,
            f"zeebe:taskSchedule dueDate {due!r}",
            "Camunda 8 reads a due date as a date and time, such as 2025-03-31T17:00:00+02:00, or a FEEL "
            "expression; for a time span from the task's start, use a due property (docs/camunda.md)",
        )
    if (node.get("followUpDate") or "").strip():
        refuse(
            node,
            f"zeebe:taskSchedule followUpDate {node.get('followUpDate')!r}",
            "follow-up dates are not kept by carecenter: remove it (a task is due by its dueDate)",
        )


def _check_form(node: etree._Element, refuse) -> None:
    if _local(_owner(node)) == "startEvent":
        refuse(node, "zeebe:formDefinition on a start event", START_FORM)
        return
    if node.get("formId"):
        refuse(node, f"zeebe:formDefinition formId {node.get('formId')!r}", LINKED_FORM)
    if node.get("externalReference"):
        refuse(
            node,
            f"zeebe:formDefinition externalReference {node.get('externalReference')!r}",
            "external forms are not shown by carecenter: give the task a JSON Schema form, "
            'formKey="<name>.json" (docs/forms.md)',
        )
    key = (node.get("formKey") or "").strip()
    if key.startswith("camunda-forms:"):
        refuse(node, f"zeebe:formDefinition formKey {key!r}", REFUSED["userTaskForm"])
    elif key and not key.endswith(".json"):
        refuse(
            node,
            f"zeebe:formDefinition formKey {key!r}",
            "carecenter shows JSON Schema forms: name a .json form uploaded with the deployment or in the "
            'forms folder, such as formKey="answer.json" (docs/forms.md)',
        )
    elif key:
        _check_texts(node, ("formKey",), refuse)


def _check_job(node: etree._Element, refuse) -> None:
    owner = _owner(node)
    if _local(owner) != "serviceTask":
        refuse(node, f"zeebe:taskDefinition on this {_local(owner)}", JOB_ELSEWHERE)
        return
    if owner.get(f"{{{CAMUNDA_NS}}}type") or owner.get(f"{{{CAMUNDA_NS}}}topic"):
        refuse(node, "zeebe:taskDefinition", "camunda:type and camunda:topic say the same: keep one of the two")
    try:
        job_definition(owner)
    except Unreadable as error:
        refuse(node, error.what, error.reason)


def _check_input(node: etree._Element, refuse) -> None:
    """An input mapping: a parameter of a service task's job (a variable name as target, FEEL or text as source)."""
    owner = _owner(node)
    what = _described(node)
    if _local(owner) != "serviceTask" or _extension(owner, "taskDefinition") is None:
        refuse(node, what, INPUT_ELSEWHERE)
        return
    if not (node.get("target") or "").strip().isidentifier():
        refuse(node, what, "its target must be a variable name (letters, digits, _), the parameter of the job")


def _check_headers(node: etree._Element, refuse) -> None:
    owner = _local(_owner(node))
    if owner != "serviceTask":
        refuse(
            node,
            f"zeebe:taskHeaders on this {owner}",
            "carecenter passes task headers to the workers of service tasks only: remove them",
        )


def _check_priority(node: etree._Element, refuse) -> None:
    """A job priority on a service task is read with its task definition; one on the process is every job's default."""
    owner = _local(_owner(node))
    if owner == "process":
        try:
            _whole_number(node.get("priority"), "zeebe:jobPriorityDefinition priority", 0)
        except Unreadable as error:
            refuse(node, error.what, error.reason)
    elif owner != "serviceTask":
        refuse(node, f"zeebe:jobPriorityDefinition on this {owner}", JOB_ELSEWHERE)


def _check_call(node: etree._Element, refuse) -> None:
    process_id = (node.get("processId") or "").strip()
    if node.get("processIdExpression") or process_id.startswith("="):
        expression = node.get("processIdExpression") or process_id
        refuse(
            node,
            f"zeebe:calledElement {expression!r}",
            "carecenter binds a call activity to its process when the file is deployed: name the process id as text",
        )
    elif not process_id:
        refuse(node, "zeebe:calledElement", "it needs a processId: the id of the process to call")
    elif _owner(node).get("calledElement") not in (None, process_id):
        refuse(
            node,
            f"zeebe:calledElement processId {process_id!r}",
            f"calledElement {_owner(node).get('calledElement')!r} names another process: keep one of the two",
        )
    if node.get("propagateAllChildVariables") == "false":
        refuse(
            node,
            'zeebe:calledElement propagateAllChildVariables="false"',
            "carecenter gives the caller every variable of the called process when it ends: set it to true "
            "('Propagate all child process variables' in Camunda Modeler)",
        )
    if node.get("propagateAllParentVariables") == "false":
        refuse(
            node,
            'zeebe:calledElement propagateAllParentVariables="false"',
            "carecenter gives the called process every variable of its caller: set it to true "
            "('Propagate all parent process variables' in Camunda Modeler)",
        )
    if node.get("bindingType") == "versionTag":
        refuse(
            node,
            'zeebe:calledElement bindingType="versionTag"',
            "carecenter calls the process deployed with the caller, else the latest version deployed before it: "
            'remove the binding or use bindingType="deployment"',
        )


def _check_subscription(node: etree._Element, refuse) -> None:
    if _local(_owner(node)) != "message":  # Camunda 8 reads a subscription of a message only
        refuse(node, "zeebe:subscription", "it belongs in the extension elements of a bpmn:message: move it there")
        return
    key = (node.get("correlationKey") or "").strip() or None
    try:
        name = _correlation_variable(key)
    except Unreadable as error:
        refuse(node, error.what, error.reason)
        return
    message_id = _id(_owner(node))
    for catch, reference in _message_catches(node.getroottree().getroot()):
        if reference == message_id and name and "correlation_key" in extension_properties(catch):
            refuse(
                node,
                f"zeebe:subscription correlationKey {key!r}",
                f"the correlation_key property of {catch.get('id')} says what it correlates on: keep one of the two",
            )


CHECKS = {
    "assignmentDefinition": _check_assignment,
    "taskSchedule": _check_schedule,
    "formDefinition": _check_form,
    "taskDefinition": _check_job,
    "input": _check_input,
    "taskHeaders": _check_headers,
    "jobPriorityDefinition": _check_priority,
    "calledElement": _check_call,
    "subscription": _check_subscription,
}


# -- helpers -----------------------------------------------------------------------------------------


def _extension(node: etree._Element | None, element: str) -> etree._Element | None:
    if node is None:
        return None
    return node.find(f"{{{BPMN_NS}}}extensionElements/{{{ZEEBE_NS}}}{element}")


def _whole_number(text: str | None, what: str, default: int) -> int:
    value = (text or "").strip()
    if not value:
        return default
    if not value.lstrip("-").isdigit():
        raise Unreadable(f"{what} {value!r}", "carecenter needs a whole number written as text (not an expression)")
    return int(value)


def _correlation_variable(key: str | None) -> str | None:
    """The variable a correlation key names (``=order_id``); None for none; :class:`Unreadable` for others."""
    if key is None:
        return None
    what = f"zeebe:subscription correlationKey {key!r}"
    if not key.startswith("="):
        raise Unreadable(
            what, "Camunda 8 takes a correlation key as an expression only: write the variable as =order_id"
        )
    try:
        return variable_name(key)
    except ExpressionError:
        raise Unreadable(
            what,
            "carecenter correlates a message on one variable of the instance: write its name, such as =order_id "
            '(a message is then published with correlation_keys {"order_id": ...})',
        ) from None


def _message_catches(root: etree._Element) -> list[tuple[etree._Element, str]]:
    """(element, message id) of every element that catches a message, except a process's own start events."""
    found = []
    for catch in root.xpath(
        "//bpmn:intermediateCatchEvent | //bpmn:boundaryEvent | //bpmn:startEvent | //bpmn:receiveTask",
        namespaces=NS,
    ):
        if catch.tag == f"{{{BPMN_NS}}}startEvent" and catch.getparent().tag == f"{{{BPMN_NS}}}process":
            continue
        reference = catch.get("messageRef") or next(
            iter(catch.xpath("./bpmn:messageEventDefinition/@messageRef", namespaces=NS)), None
        )
        if reference:
            found.append((catch, str(reference)))
    return found


def _is_date_time(text: str) -> bool:
    try:
        parse_datetime(text)
    except ValueError:
        return False
    return is_iso_literal(text) and not is_duration(text)


def _described(node: etree._Element) -> str:
    """``zeebe:input source="=a" target="b"``: an element with what tells it apart from its siblings."""
    shown = " ".join(
        f'{name}="{node.get(name)}"' for name in ("source", "target", "eventType", "type") if node.get(name)
    )
    return f"zeebe:{etree.QName(node).localname}" + (f" {shown}" if shown else "")


_OWNERS = {"process", "message", "signal", "error", "escalation"}


def _is_owner(node: etree._Element) -> bool:
    """A flow node, process or root element: what a problem names as its element."""
    qualified = etree.QName(node)
    return qualified.namespace == BPMN_NS and (is_flow_node(node) or qualified.localname in _OWNERS)


def _owner(node: etree._Element) -> etree._Element | None:
    return next((ancestor for ancestor in node.iterancestors() if _is_owner(ancestor)), None)


def _local(node: etree._Element | None) -> str | None:
    return etree.QName(node).localname if node is not None else None


def _id(node: etree._Element | None) -> str | None:
    return node.get("id") if node is not None else None
