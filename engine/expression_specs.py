"""Parser classes that translate Camunda's expressions (JUEL, FEEL) while a BPMN file is parsed.

Specs are parsed once per definition version and cached (DESIGN.md, decision 2), so translating
here, through SpiffWorkflow's ``OVERRIDE_PARSER_CLASSES``, means the task specs hold Python from
the start and no evaluation reads JUEL or FEEL again.  Every parser class of a dialect gets
:class:`ExpressionParserMixin`, which translates what SpiffWorkflow reads as an expression:
sequence-flow conditions, conditional events, loop and multi-instance conditions, loop
cardinality and message payloads; in the Camunda dialect also ``camunda:collection``, which
names a variable (``${items}`` is read as ``items``).  Timers translate theirs in
:mod:`engine.timer_specs`, service-task parameters in :mod:`engine.service_specs`.

Text that is neither JUEL nor FEEL (SpiffWorkflow's Python) is left exactly as it is.  Deploys
report untranslatable expressions before parsing, all at once, with file, line and element
(:func:`expression_problems`); the ``ValidationException`` here only guards files that reach the
parser another way.
"""

from __future__ import annotations

from functools import cache

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference

from engine.errors import DeploymentProblem
from engine.expressions import (
    CONDITION,
    EVENT_CONDITION,
    INTEGER,
    TEXT,
    VALUE,
    ExpressionError,
    split_list,
    translate,
    variable_name,
)
from engine.extensions import CAMUNDA_NS, CONTAINERS, NS, SPIFF_NS, ZEEBE_NS
from engine.sandbox import restriction_problems


class ExpressionParserMixin:
    """Translates JUEL and FEEL where SpiffWorkflow's task and event parsers read expressions."""

    def parse_condition(self, sequence_flow):
        return self._python(super().parse_condition(sequence_flow), CONDITION, sequence_flow)

    def parse_conditional_event(self, event):
        definition = super().parse_conditional_event(event)
        definition.expression = self._python(definition.expression, EVENT_CONDITION)
        return definition

    def parse_message_event(self, message_event):
        definition = super().parse_message_event(message_event)
        if getattr(definition, "expression", None) is not None:
            definition.expression = self._python(definition.expression, VALUE)
        return definition

    def _add_loop_task(self, loop_characteristics):
        super()._add_loop_task(loop_characteristics)
        self.task.condition = self._python(self.task.condition, CONDITION)

    def _add_multiinstance_task(self, loop_characteristics):
        super()._add_multiinstance_task(loop_characteristics)
        self.task.cardinality = self._python(self.task.cardinality, INTEGER)
        self.task.condition = self._python(self.task.condition, CONDITION)

    def _python(self, text: str | None, use: str, node=None) -> str | None:
        try:
            python = translate(text, use)
        except ExpressionError as error:
            node = self.node if node is None else node
            raise ValidationException(str(error), node=node, file_name=self.filename) from None
        return text if python is None else python


class CamundaExpressionParserMixin(ExpressionParserMixin):
    """The Camunda dialect also reads ``camunda:collection``: a variable, written plain or as ``${items}``."""

    def _add_multiinstance_task(self, loop_characteristics):
        super()._add_multiinstance_task(loop_characteristics)
        collection = self.attribute("collection", "camunda", loop_characteristics)
        try:
            name = variable_name(collection)
        except ExpressionError as error:
            message = f"camunda:collection: {error}"
            raise ValidationException(message, node=self.node, file_name=self.filename) from None
        if name is not None:
            self.task.data_output = TaskDataReference(name)


@cache
def _translating(mixin: type, parser_class: type) -> type:
    return type(f"Translating{parser_class.__name__}", (mixin, parser_class), {})


def with_expressions(overrides: dict, dialect: str) -> dict:
    """A copy of a parser's ``OVERRIDE_PARSER_CLASSES`` in which every element's parser translates expressions."""
    mixin = CamundaExpressionParserMixin if dialect == "camunda" else ExpressionParserMixin
    return {
        tag: (_translating(mixin, parser_class), spec_class)
        for tag, (parser_class, spec_class) in {**BpmnParser.PARSER_CLASSES, **overrides}.items()
    }


# -- deploy-time checks --------------------------------------------------------------------------


def sandbox_problems(
    filename: str, line: int | None, element_id: str | None, kind: str, code: str, mode: str
) -> list[DeploymentProblem]:
    """What the script sandbox refuses in ``code`` (a script, a condition, a translated expression)."""
    problems = []
    for refusal in restriction_problems(code, mode):
        where, _, what = refusal.partition(": ")
        at = where.removeprefix("Line ")
        message = f"refused by the script sandbox in {kind}: {what} (line {at})" if what else refusal
        problems.append(DeploymentProblem(filename, line, element_id, message))
    return problems


def _properties(*names: str) -> str:
    """XPath to the values of the named extension properties, in either dialect (and Camunda 8's)."""
    return " | ".join(
        f"//bpmn:extensionElements/{prefix}:properties/{prefix}:property[@name='{name}']/@value"
        for prefix in ("camunda", "spiffworkflow", "zeebe")
        for name in names
    )


def _feel(element: str, attribute: str) -> str:
    """XPath to a Camunda 8 setting written as FEEL (``=...``): plain text there is not an expression."""
    return f"//zeebe:{element}/@{attribute}[starts-with(normalize-space(), '=')]"


# Where a BPMN file may hold JUEL or FEEL, and what the expression must give there: every place the
# engine reads expressions (the parser classes here, engine.timer_specs, engine.service_specs and
# engine.bpmn.ElementInfo), so everything refused later is refused here first.  Camunda 8's settings
# hold FEEL or plain text, never JUEL (engine.zeebe refuses ${...} in their plain text).
EXPRESSION_SITES = (
    ("//bpmn:conditionExpression", CONDITION),
    ("//bpmn:conditionalEventDefinition/bpmn:condition", EVENT_CONDITION),
    ("//bpmn:completionCondition | //bpmn:loopCondition", CONDITION),
    ("//bpmn:loopCardinality", INTEGER),
    ("//bpmn:timeDate | //bpmn:timeDuration | //bpmn:timeCycle", TEXT),
    ("//bpmn:messageEventDefinition/@camunda:expression | //spiffworkflow:messagePayload", VALUE),
    ("//camunda:inputOutput/camunda:inputParameter", TEXT),
    ("//spiffworkflow:serviceTaskOperator//spiffworkflow:parameter/@value", VALUE),
    ("//bpmn:multiInstanceLoopCharacteristics/@camunda:collection", "collection"),
    ("//@camunda:assignee", TEXT),
    ("//@camunda:candidateGroups | //@camunda:candidateUsers", "names"),
    (_properties("assignee", "due"), TEXT),
    (_properties("candidate_groups", "candidate_users", "excluded_users"), "names"),
    (_feel("assignmentDefinition", "assignee") + " | " + _feel("taskSchedule", "dueDate"), TEXT),
    (
        _feel("assignmentDefinition", "candidateGroups") + " | " + _feel("assignmentDefinition", "candidateUsers"),
        "names",
    ),
)


def expression_problems(filename: str, tree: etree._ElementTree) -> list[DeploymentProblem]:
    """JUEL and FEEL that cannot be translated, at every place the engine reads expressions."""
    problems = []
    for path, use in EXPRESSION_SITES:
        for found in tree.getroot().xpath(path, namespaces=NS):
            is_attribute = isinstance(found, etree._ElementUnicodeResult)
            node = found.getparent() if is_attribute else found
            text = str(found) if is_attribute else (found.text or "")
            what = _site_name(found, node)
            owner = next((a for a in (node, *node.iterancestors()) if _is_flow_element(a)), node)
            for item in split_list(text) if use == "names" else [text]:
                try:
                    if use == "collection":
                        variable_name(item)
                        continue
                    python = translate(item, TEXT if use == "names" else use)
                except ExpressionError as error:
                    line = node.sourceline + (0 if is_attribute else text[: error.offset].count("\n"))
                    message = f"{what} {quoted(item)}: {error}"
                    problems.append(DeploymentProblem(filename, line, owner.get("id"), message))
                    continue
                if python is not None:
                    problems.extend(sandbox_problems(filename, node.sourceline, owner.get("id"), what, python, "eval"))
    return sorted(problems, key=lambda problem: problem.line or 0)


def _site_name(found, node: etree._Element) -> str:
    if not isinstance(found, etree._ElementUnicodeResult):
        return etree.QName(node).localname
    attribute = etree.QName(found.attrname)
    if attribute.localname == "value":  # a property's or parameter's value: name it by its owner
        return f"{etree.QName(node).localname} {node.get('name') or node.get('id')}"
    if etree.QName(node).namespace == ZEEBE_NS:  # a Camunda 8 setting: its element and attribute
        return f"zeebe:{etree.QName(node).localname} {attribute.localname}"
    prefix = {CAMUNDA_NS: "camunda:", SPIFF_NS: "spiffworkflow:"}.get(attribute.namespace, "")
    return f"{prefix}{attribute.localname}"


def _is_flow_element(node: etree._Element) -> bool:
    """A flow node or sequence flow: an element a process or subprocess holds directly."""
    parent = node.getparent()
    return parent is not None and etree.QName(parent).localname in CONTAINERS and bool(node.get("id"))


def quoted(text: str, limit: int = 80) -> str:
    """An expression as a deploy problem quotes it: on one line, cut at ``limit`` characters."""
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
