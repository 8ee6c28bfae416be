"""Customer stages in the model: what a process tells its customer, read from extension properties.

On the process (``spiffworkflow:properties`` or ``camunda:properties``):

- ``customer_stages``: the stages in order, comma-separated (``received, review, done``);
- ``customer_fields``: the variables a customer may see, comma-separated; messages use only these;
- ``customer_variable``: the variable that names the instance's customer (an id of the customer store,
  or an unverified contact such as ``web:<e-mail>``): an instance started without a customer (by a
  message, a signal, a timer) is filed under it once a step has set it, as staff would link it.

On a flow node:

- ``customer_stage``: the stage the instance is in once this node is reached;
- ``customer_stage_de`` / ``customer_stage_cs``: the stage's label in German / Czech;
- ``customer_message``: a sandboxed Jinja2 template shown while the stage is current;
- ``customer_deadline="true"``: a timer (or task ``due``) whose time is the customer's expected-by.

:func:`stage_problems` is the deploy check; :func:`read_model` the runtime description.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jinja2 import meta
from lxml import etree

from engine import templating
from engine.errors import DeploymentProblem
from engine.extensions import properties

LANGUAGES = ("de", "cs")


@dataclass(frozen=True)
class Stage:
    key: str
    labels: dict[str, str] = field(default_factory=dict)  # language -> label; "en" is the key itself
    message: str | None = None

    def label(self, language: str) -> str:
        return self.labels.get(language) or self.labels.get("en") or self.key


@dataclass(frozen=True)
class StageModel:
    """The stages, the whitelisted fields, and which element marks which stage."""

    stages: tuple[Stage, ...] = ()
    fields: tuple[str, ...] = ()
    element_stages: dict[str, str] = field(default_factory=dict)  # element id -> stage key
    deadline_elements: frozenset[str] = frozenset()
    customer_variable: str | None = None

    def index(self, key: str | None) -> int:
        keys = [s.key for s in self.stages]
        return keys.index(key) if key in keys else -1

    def stage(self, key: str | None) -> Stage | None:
        return next((s for s in self.stages if s.key == key), None)


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _flow_nodes(process: etree._Element) -> list[etree._Element]:
    return [node for node in process.iter() if isinstance(node.tag, str) and node.get("id") and node is not process]


def template_variables(template: str) -> set[str]:
    """The top-level variable names a template reads (``{{ a.b }}`` reads ``a``)."""
    environment = templating._ENVIRONMENTS[False]
    return set(meta.find_undeclared_variables(environment.parse(template)))


def stage_problems(filename: str, process: etree._Element) -> list[DeploymentProblem]:
    """Marked stages not in ``customer_stages``, and messages that are broken or read non-whitelisted variables."""
    own = properties(process)
    stages = _split(own.get("customer_stages"))
    fields = set(_split(own.get("customer_fields")))
    pid = process.get("id")
    problems: list[DeploymentProblem] = []
    if len(set(stages)) != len(stages):
        problems.append(DeploymentProblem(filename, process.sourceline, pid, "customer_stages names a stage twice"))
    variable = own.get("customer_variable")
    if variable is not None and not variable.strip().isidentifier():
        text = f"customer_variable '{variable}' is not the name of one variable (such as customer_id)"
        problems.append(DeploymentProblem(filename, process.sourceline, pid, text))
    for node in _flow_nodes(process):
        props = properties(node)
        stage = props.get("customer_stage")
        where = (filename, node.sourceline, node.get("id"))
        if stage is not None and stage.strip() not in stages:
            listed = ", ".join(stages) or "none"
            text = f"customer_stage '{stage}' is not in the process's customer_stages ({listed})"
            problems.append(DeploymentProblem(*where, text))
        message = props.get("customer_message")
        if message is None:
            continue
        if stage is None:
            problems.append(DeploymentProblem(*where, "customer_message needs a customer_stage on the same element"))
        found = templating.template_problems(message)
        if found:
            problems.extend(DeploymentProblem(*where, f"customer_message: {text}") for text in found)
            continue
        unknown = sorted(template_variables(message) - fields)
        if unknown:
            problems.append(
                DeploymentProblem(
                    *where,
                    f"customer_message uses {', '.join(unknown)}, not in the process's customer_fields"
                    f" ({', '.join(sorted(fields)) or 'none'})",
                )
            )
    return problems


def read_model(process: etree._Element) -> StageModel:
    """The stage model of a deployed (hence valid) process element."""
    own = properties(process)
    keys = _split(own.get("customer_stages"))
    labels: dict[str, dict[str, str]] = {key: {} for key in keys}
    messages: dict[str, str] = {}
    element_stages: dict[str, str] = {}
    deadlines: set[str] = set()
    for node in _flow_nodes(process):
        props = properties(node)
        if props.get("customer_deadline", "").strip().lower() == "true":
            deadlines.add(node.get("id"))
        stage = (props.get("customer_stage") or "").strip()
        if stage not in labels:
            continue
        element_stages[node.get("id")] = stage
        for language in LANGUAGES:
            if props.get(f"customer_stage_{language}"):
                labels[stage].setdefault(language, props[f"customer_stage_{language}"])
        if props.get("customer_message") and stage not in messages:
            messages[stage] = props["customer_message"]
    stages = tuple(Stage(key, labels[key], messages.get(key)) for key in keys)
    fields = tuple(_split(own.get("customer_fields")))
    variable = (own.get("customer_variable") or "").strip() or None
    return StageModel(stages, fields, element_stages, frozenset(deadlines), variable)
