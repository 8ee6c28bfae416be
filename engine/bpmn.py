"""Parse BPMN and DMN files safely into SpiffWorkflow specs, turning every failure into a precise problem.

A set of files is always parsed together (one deployment), so call activities and business
rule tasks can reach processes and decisions in sibling files.  XML is read with entity
expansion, DTD loading and network access off.  Files made with Camunda Modeler are parsed
with SpiffWorkflow's Camunda dialect (Camunda 8's ``zeebe:`` elements are read by :mod:`engine.zeebe`),
all others with the Spiff dialect; carecenter reads the extension attributes it needs itself
(:class:`ElementInfo`), so both dialects look alike to the rest of the engine.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import re
from dataclasses import dataclass, field, replace

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.spiff.parser.process import VALIDATOR as SPIFF_VALIDATOR
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine import camunda_forms, camunda_refusals, dmn_entries, event_specs, forms, zeebe
from engine.dmn_entries import DMN_NAMESPACE_PREFIX
from engine.errors import DeploymentInvalid, DeploymentProblem
from engine.expression_specs import expression_problems, sandbox_problems, with_expressions
from engine.expressions import CONDITION, TEXT, Expression, expression, language, split_list
from engine.extensions import BPMN_NS, CAMUNDA_NS, CONTAINERS, NS, SPIFF_NS, ZEEBE_NS, is_flow_node
from engine.extensions import properties as extension_properties
from engine.message_specs import with_variable_messages
from engine.service_specs import with_worker_service_tasks
from engine.timer_specs import with_clock_timers

MISSING_DECISION = re.compile(r'No DMN Diagram available with id "([^"]+)"')  # SpiffWorkflow's words
DEPLOYABLE_SUFFIXES = (".bpmn", ".bpmn20.xml", ".dmn", ".json", ".po")  # .po: translations of a model's texts


@functools.cache
def _camunda_validator() -> BpmnValidator:
    """The BPMN XSD, loaded at the first parse rather than at import (a restarted server answers sooner)."""
    return BpmnValidator()


@functools.cache
def _loadable_dmn_schemas() -> dict[str, str]:
    """The DMN XSDs SpiffWorkflow ships that lxml can load; other DMN versions are parsed unvalidated."""
    schemas = {}
    for namespace, path in DMN_SCHEMAS.items():
        try:
            BpmnValidator(path)
        except etree.XMLSchemaParseError:
            continue
        schemas[namespace] = path
    return schemas


@dataclass(frozen=True)
class SourceFile:
    """One uploaded file."""

    filename: str
    content: bytes

    @property
    def kind(self) -> str:
        name = self.filename.lower()
        if name.endswith(".po"):
            return "catalog"  # engine/model_translations.py
        return "dmn" if name.endswith(".dmn") else "form" if name.endswith(".json") else "bpmn"

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class ProcessInfo:
    id: str
    name: str
    executable: bool
    filename: str


@dataclass(frozen=True)
class ElementInfo:
    """What carecenter needs to know about a flow node, read the same way from Spiff and Camunda files.

    Candidates, the assignee and the due date are literal text, or an :class:`Expression` (JUEL or
    FEEL, translated to Python when the file was parsed) to evaluate when the task is created.
    """

    element_id: str
    name: str
    candidate_groups: tuple[str | Expression, ...] = ()
    candidate_users: tuple[str | Expression, ...] = ()
    # who may not claim or complete the task (four eyes: the requester of what it approves), as candidates are written
    excluded_users: tuple[str | Expression, ...] = ()
    assignee: str | Expression | None = None
    due: str | Expression | None = None
    form_key: str | None = None
    form_ui_key: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    line: int | None = None


def read_xml(source: SourceFile) -> etree._ElementTree:
    """Parse XML without entity expansion, DTDs or network access."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )
    try:
        tree = etree.ElementTree(etree.fromstring(source.content, parser))
    except etree.XMLSyntaxError as error:
        raise DeploymentInvalid(
            [DeploymentProblem(source.filename, error.lineno or None, None, f"not well-formed XML: {error.msg}")]
        ) from None
    if tree.docinfo.doctype:
        raise DeploymentInvalid([DeploymentProblem(source.filename, 1, None, "DOCTYPE declarations are not allowed")])
    return tree


def _names(value: str | None) -> tuple[str | Expression, ...]:
    return tuple(expression(item, TEXT) for item in split_list(value))


def _element_info(node: etree._Element) -> ElementInfo:
    properties = extension_properties(node)
    camunda = lambda name: node.get(f"{{{CAMUNDA_NS}}}{name}")  # noqa: E731
    assigned = lambda name: zeebe.setting(node, "assignmentDefinition", name)  # noqa: E731
    return ElementInfo(
        element_id=node.get("id"),
        name=node.get("name") or node.get("id"),
        candidate_groups=_names(
            camunda("candidateGroups") or assigned("candidateGroups") or properties.get("candidate_groups")
        ),
        candidate_users=_names(
            camunda("candidateUsers") or assigned("candidateUsers") or properties.get("candidate_users")
        ),
        excluded_users=_names(properties.get("excluded_users")),
        assignee=expression(
            (camunda("assignee") or assigned("assignee") or properties.get("assignee") or "").strip() or None, TEXT
        ),
        due=expression(
            (zeebe.setting(node, "taskSchedule", "dueDate") or properties.get("due") or "").strip() or None, TEXT
        ),
        form_key=camunda("formKey")
        or zeebe.setting(node, "formDefinition", "formKey")
        or properties.get("formJsonSchemaFilename")
        or None,
        form_ui_key=properties.get("formUiSchemaFilename") or None,
        properties=properties,
        line=node.sourceline,
    )


def _with_generated_form(info: ElementInfo, node: etree._Element, filename: str) -> ElementInfo:
    """A user task with ``camunda:formData`` (and no .json form named) uses the form generated from it."""
    if not camunda_forms.has_form_data(node) or (info.form_key or "").endswith(forms.FORM_SUFFIX):
        return info
    name = camunda_forms.form_name(filename, info.element_id)
    return replace(info, form_key=name, form_ui_key=forms.ui_name_for(name))


class ParsedFiles:
    """A set of files parsed together; raises :class:`DeploymentInvalid` listing every problem found.

    With ``keep_going`` it raises nothing: the files that could be read are parsed, and ``problems``
    lists what is wrong with the others, so a check reports every problem of every file at once.
    """

    def __init__(self, sources: list[SourceFile], keep_going: bool = False) -> None:
        self.sources = sources
        self.trees: dict[str, etree._ElementTree] = {}
        # Processes of files left out for their problems: calls to them are not reported again as missing.
        self.broken_process_ids: set[str] = set()
        # Decisions of DMN files left out for their problems, and their files: a call names the refused file.
        self.refused_decisions: dict[str, str] = {}
        problems: list[DeploymentProblem] = []
        seen: set[str] = set()
        # Checked before SpiffWorkflow sees the files: its messages for these are hard to act on.
        for source in sources:
            if source.filename in seen:
                problems.append(DeploymentProblem(source.filename, None, None, "file name given twice"))
                continue
            seen.add(source.filename)
            if not source.filename.lower().endswith(DEPLOYABLE_SUFFIXES):
                problems.append(
                    DeploymentProblem(source.filename, None, None, "only .bpmn, .bpmn20.xml, .dmn, .json and .po files")
                )
                continue
            if source.kind in ("form", "catalog"):
                continue  # checked by the repository: forms against the tasks using them, catalogs against texts
            try:
                self.trees[source.filename] = read_xml(source)
            except DeploymentInvalid as invalid:
                problems.extend(invalid.problems)
                continue
            _name_unnamed_flows(self.trees[source.filename])
            zeebe.name_called_processes(self.trees[source.filename])
            found = _reference_problems(source.filename, self.trees[source.filename])
            found += _syntax_problems(source.filename, self.trees[source.filename])
            found += _data_store_problems(source.filename, self.trees[source.filename])
            found += _gateway_problems(source.filename, self.trees[source.filename])
            found += event_specs.problems(source.filename, self.trees[source.filename])
            found += dmn_entries.problems(source.filename, self.trees[source.filename])
            found += camunda_refusals.problems(source.filename, self.trees[source.filename])
            found += zeebe.problems(source.filename, self.trees[source.filename])
            if found:  # reported with the problems SpiffWorkflow finds in the other files
                problems.extend(found)
                broken = self.trees.pop(source.filename)
                self.broken_process_ids.update(broken.getroot().xpath("//bpmn:process/@id", namespaces=NS))
                for decision_id in broken.getroot().xpath("//*[local-name()='decision']/@id"):
                    self.refused_decisions[str(decision_id)] = source.filename

        # One parser per dialect: Camunda Modeler files and Spiff (or plain) files may be deployed together.
        dialects = {name: _dialect(tree) for name, tree in self.trees.items() if not _is_dmn(name, tree)}
        self.parsers = {dialect: _new_parser(dialect) for dialect in sorted(set(dialects.values()) or {"spiff"})}
        for source in sorted(
            (s for s in sources if s.filename in self.trees), key=lambda s: s.filename not in dialects
        ):  # BPMN first, then DMN
            tree = self.trees[source.filename]
            targets = (
                [self.parsers[dialects[source.filename]]] if source.filename in dialects else self.parsers.values()
            )
            try:
                for parser in targets:
                    self._add(source, tree, parser)
            except ValidationException as error:
                problems.append(self._problem(error, source.filename))
            except Exception as error:  # the library fails in many ways on unusual input; report, never crash
                problems.append(DeploymentProblem(source.filename, None, None, _message(error)))
        self._owners: dict[str, object] = {}
        for parser in self.parsers.values():
            for pid, process_parser in parser.process_parsers.items():
                if pid in self._owners:
                    other = self._owners[pid].process_parsers[pid].filename
                    problems.append(
                        DeploymentProblem(
                            process_parser.filename, None, pid, f"process id '{pid}' is also defined in {other}"
                        )
                    )
                self._owners[pid] = parser
        problems.extend(self._decision_problems())
        if not problems and not self._owners and not self.decision_files:
            problems.append(DeploymentProblem(", ".join(self.trees), None, None, "no process or decision found"))
        self.problems = problems
        if problems and not keep_going:
            raise DeploymentInvalid(problems)
        self.elements: dict[tuple[str, str], ElementInfo] = {}
        self.element_files: dict[tuple[str, str], str] = {}
        for filename, tree in self.trees.items():
            for node in tree.getroot().iter(f"{{{BPMN_NS}}}*"):
                if node.get("id") and is_flow_node(node):
                    key = (_container_id(node), node.get("id"))
                    self.elements[key] = _with_generated_form(_element_info(node), node, filename)
                    self.element_files[key] = filename

    def _decision_problems(self) -> list[DeploymentProblem]:
        """Parse every decision now (SpiffWorkflow would wait until a task uses it) and refuse duplicate ids."""
        problems, seen = [], {}
        parser = next(iter(self.parsers.values()))
        for tree_name, tree in self.trees.items():
            if not _is_dmn(tree_name, tree):
                continue
            for decision in tree.getroot().xpath("//*[local-name()='decision']"):
                did = decision.get("id")
                if did in seen and seen[did] != tree_name:
                    problems.append(
                        DeploymentProblem(
                            tree_name, decision.sourceline, did, f"decision id '{did}' is also in {seen[did]}"
                        )
                    )
                seen.setdefault(did, tree_name)
        for did, dmn_parser in parser.dmn_parsers.items():
            try:
                dmn_parser.parse()
            except Exception as error:
                problems.append(
                    DeploymentProblem(dmn_parser.filename, None, did, f"decision cannot be read: {_message(error)}")
                )
        return problems

    @staticmethod
    def _add(source: SourceFile, tree: etree._ElementTree, parser) -> None:
        root = tree.getroot()
        namespace = etree.QName(root).namespace or ""
        if source.kind == "dmn" or namespace.startswith(DMN_NAMESPACE_PREFIX):
            if not namespace.startswith(DMN_NAMESPACE_PREFIX):
                raise ValidationException("a .dmn file must hold a DMN definitions element", file_name=source.filename)
            decisions = root.xpath("./*[local-name()='decision']")
            if not decisions:
                raise ValidationException("the DMN file holds no decision", file_name=source.filename)
            if len(decisions) > 1:  # SpiffWorkflow reads one decision per file
                ids = ", ".join(d.get("id", "?") for d in decisions)
                raise ValidationException(
                    f"a DMN file may hold one decision; this one holds {len(decisions)} ({ids}): one file each",
                    file_name=source.filename,
                )
            dmn_entries.translate(root)  # FEEL's lists, ranges and not(...) as the Python they mean
            parser.add_dmn_xml(root, filename=source.filename)
        elif namespace != BPMN_NS or etree.QName(root).localname != "definitions":
            raise ValidationException(
                "not a BPMN 2.0 file: the root element must be bpmn:definitions", file_name=source.filename
            )
        else:
            parser.add_bpmn_xml(tree, filename=source.filename)

    def _problem(self, error: ValidationException, default_file: str) -> DeploymentProblem:
        filename = error.file_name or default_file
        element_id = getattr(error, "id", "") or None
        line = error.line_number if isinstance(error.line_number, int) and error.line_number else None
        if line is None and element_id and filename in self.trees:
            found = self.trees[filename].getroot().xpath("//*[@id=$id]", id=element_id)
            line = found[0].sourceline if found else None
        if element_id is None and line is not None and filename in self.trees:
            element_id = _element_at(self.trees[filename], line)  # schema errors name a line only
        return DeploymentProblem(filename, line, element_id, _message(error))

    @property
    def processes(self) -> list[ProcessInfo]:
        return [
            ProcessInfo(pid, pp.get_name() or pid, bool(pp.process_executable), pp.filename)
            for pid, pp in ((pid, owner.process_parsers[pid]) for pid, owner in self._owners.items())
            if etree.QName(pp.node).localname == "process"
        ]

    @property
    def decision_files(self) -> dict[str, str]:
        """Decision id -> file name for every decision in these files."""
        parser = next(iter(self.parsers.values()))
        return {did: dmn_parser.filename for did, dmn_parser in parser.dmn_parsers.items()}

    def decisions_of(self, process_ids: list[str]) -> set[str]:
        """The decision ids that the business rule tasks of these processes call."""
        found: set[str] = set()
        for process_id in process_ids:
            owner = self._owners.get(process_id)
            if owner is None:
                continue
            parser_class, _ = owner._get_parser_class(f"{{{BPMN_NS}}}businessRuleTask")
            node = owner.process_parsers[process_id].node
            for rule in node.xpath(".//bpmn:businessRuleTask", namespaces=NS):
                found.add(parser_class.get_decision_ref(rule))
        return found - {None}

    def referenced_decisions(self) -> set[str]:
        return set().union(*(parser.get_dmn_dependencies() for parser in self.parsers.values())) - {None}

    def build(self, process_id: str) -> tuple[object, dict[str, object], set[str]]:
        """The spec of one process, the specs it calls, and the called process ids not found in these files.

        Non-executable processes are built too, so their mistakes are found at deploy time.
        """
        process_parser = self._owners[process_id].process_parsers[process_id]
        filename = process_parser.filename
        executable = process_parser.process_executable
        try:
            process_parser.process_executable = True
            spec = process_parser.get_spec()
            subprocess_specs: dict[str, object] = {}
            missing: set[str] = set()
            self._collect_called(spec, subprocess_specs, missing, (process_id,))
            for built in (spec, *subprocess_specs.values()):
                _attach_correlation_keys(built, self.trees.get(getattr(built, "file", None) or filename))
                event_specs.attach(built, self.trees.get(getattr(built, "file", None) or filename))
        except ValidationException as error:
            raise DeploymentInvalid([self._missing_decision(self._problem(error, filename))]) from None
        except DeploymentInvalid:
            raise
        except Exception as error:  # see __init__: report, never crash
            raise DeploymentInvalid([DeploymentProblem(filename, None, None, _message(error))]) from None
        finally:
            process_parser.process_executable = executable
        return spec, subprocess_specs, missing

    def _missing_decision(self, problem: DeploymentProblem) -> DeploymentProblem:
        """SpiffWorkflow's "No DMN Diagram available" said as what to do about it; other problems as they are."""
        found = MISSING_DECISION.match(problem.message)
        if found is None:
            return problem
        decision_id = found.group(1)
        if decision_id in self.refused_decisions:
            message = (
                f"calls decision '{decision_id}' of {self.refused_decisions[decision_id]}, "
                "which is refused for its own problems (listed with that file)"
            )
        else:
            message = (
                f"calls decision '{decision_id}', which is neither in these files nor deployed: deploy its .dmn file"
            )
        return replace(problem, message=message)

    def _parsers_for(self, root_process: str, name: str) -> list:
        owner = self._owners.get(name) or self._owners[root_process]
        return [owner, *(p for p in self.parsers.values() if p is not owner)]

    def process_node(self, process_id: str) -> etree._Element:
        return self._owners[process_id].process_parsers[process_id].node

    def has_start_event(self, process_id: str) -> bool:
        node = self._owners[process_id].process_parsers[process_id].node
        return bool(node.xpath("./bpmn:startEvent", namespaces=NS))

    def _collect_called(self, spec, found: dict[str, object], missing: set[str], chain: tuple[str, ...]) -> None:
        for task_spec in spec.task_specs.values():
            name = getattr(task_spec, "spec", None)
            if not isinstance(task_spec, SubWorkflowTask):
                continue
            if name in chain:
                owner = self._owners[chain[-1]].process_parsers[chain[-1]]
                node = owner.node.xpath(".//*[@id=$id]", id=task_spec.name)
                raise DeploymentInvalid(
                    [
                        DeploymentProblem(
                            owner.filename,
                            node[0].sourceline if node else None,
                            task_spec.name,
                            f"recursive call: {' -> '.join((*chain, name))}; a process may not call itself",
                        )
                    ]
                )
            if name in found or name in missing:
                continue
            # Embedded subprocesses get their parsers while their parent is parsed, so ask every parser.
            called = next((p.get_spec(name, required=False) for p in self._parsers_for(chain[0], name)), None)
            if called is None:
                missing.add(name)
                continue
            found[name] = called
            self._collect_called(called, found, missing, (*chain, name))

    def call_sites(self, process_id: str, called: str) -> DeploymentProblem:
        """A problem pointing at the call activity of ``process_id`` that calls ``called``."""
        filename = self._owners[process_id].process_parsers[process_id].filename
        nodes = self.trees[filename].getroot().xpath("//bpmn:callActivity[@calledElement=$c]", namespaces=NS, c=called)
        node = nodes[0] if nodes else None
        return DeploymentProblem(
            filename,
            node.sourceline if node is not None else None,
            node.get("id") if node is not None else None,
            f"call activity calls process '{called}', which is neither in this deployment nor deployed",
        )


def _element_at(tree: etree._ElementTree, line: int) -> str | None:
    """The id of the element that starts on ``line``, or of the nearest one around it that has an id
    (the modeler marks a problem on its element; a schema error says only where it is)."""
    for node in tree.getroot().iter():
        if isinstance(node.tag, str) and node.sourceline == line:
            while node is not None and not node.get("id"):
                node = node.getparent()
            return node.get("id") if node is not None and node.getparent() is not None else None
    return None


def _is_dmn(filename: str, tree: etree._ElementTree) -> bool:
    namespace = etree.QName(tree.getroot()).namespace or ""
    return filename.lower().endswith(".dmn") or namespace.startswith(DMN_NAMESPACE_PREFIX)


def _dialect(tree: etree._ElementTree) -> str:
    """'camunda' for Camunda Modeler files (Camunda 7 or 8), 'spiff' for Spiff-extended and plain BPMN."""
    namespaces = set(tree.getroot().nsmap.values())
    return "camunda" if namespaces & {CAMUNDA_NS, ZEEBE_NS} and SPIFF_NS not in namespaces else "spiff"


class CareSpiffParser(SpiffBpmnParser):
    """The Spiff dialect, with timers that ask the engine clock (:mod:`engine.timer_specs`), service tasks
    that wait for the worker (:mod:`engine.service_specs`), and JUEL and FEEL expressions translated to
    Python (:mod:`engine.expression_specs`)."""

    OVERRIDE_PARSER_CLASSES = with_expressions(
        with_worker_service_tasks(with_clock_timers(SpiffBpmnParser.OVERRIDE_PARSER_CLASSES, "spiff"), "spiff"),
        "spiff",
    )


class CareCamundaParser(CamundaParser):
    """The Camunda dialect, with timers that ask the engine clock and read plain ISO 8601 text, external
    service tasks (``camunda:topic``) that wait for the worker, message catches that take the message's
    variables (:mod:`engine.message_specs`), and JUEL and FEEL expressions translated."""

    OVERRIDE_PARSER_CLASSES = with_expressions(
        with_worker_service_tasks(
            with_variable_messages(with_clock_timers(CamundaParser.OVERRIDE_PARSER_CLASSES, "camunda")), "camunda"
        ),
        "camunda",
    )


def _attach_correlation_keys(spec, tree) -> None:
    """Give catching specs the ``correlation_key`` property of their element, in either dialect, or the
    variable their message's ``zeebe:subscription`` correlates on (Camunda 8).

    SpiffWorkflow keeps extension properties for some task types only; message correlation
    (engine/messages.py) reads ``task_spec.extensions["correlation_key"]`` for all of them.
    """
    if tree is None:
        return
    keys = zeebe.correlation_keys(tree)  # a catch with a correlation_key property too is refused at deploy
    for node in tree.getroot().xpath("//*[bpmn:extensionElements]", namespaces=NS):
        value = extension_properties(node).get("correlation_key", "").strip()
        if value:
            keys[node.get("id") or ""] = value
    for element_id, value in keys.items():
        task_spec = spec.task_specs.get(element_id)
        if task_spec is not None:
            task_spec.extensions = {**(getattr(task_spec, "extensions", None) or {}), "correlation_key": value}


def _new_parser(dialect: str):
    if dialect == "camunda":
        parser = CareCamundaParser(validator=_camunda_validator())
    else:
        parser = CareSpiffParser(validator=SPIFF_VALIDATOR)
    parser.dmn_schemas = _loadable_dmn_schemas()
    return parser


def _container_id(node: etree._Element) -> str:
    """The id of the process or subprocess that holds a flow node: SpiffWorkflow's ``workflow.spec.name``."""
    parent = node.getparent()
    while parent is not None and etree.QName(parent).localname not in CONTAINERS:
        parent = parent.getparent()
    return parent.get("id") if parent is not None else ""


def _message(error: Exception) -> str:
    text = str(error.args[0]) if error.args else error.__class__.__name__
    notes = [note for note in getattr(error, "__notes__", []) if note]
    return " ".join([text, *notes]).strip()


def _name_unnamed_flows(tree: etree._ElementTree) -> None:
    """Give sequence flows without an ``id`` (the BPMN schema allows them) a stable id of their own.

    SpiffWorkflow keys flows by id: unnamed ones would collapse into one and an instance would run
    past every element in silence.  The id is ``Flow_<source>_<target>`` (with ``_2``, ``_3`` ... for
    parallel flows), so it is the same at every deploy of the same file.
    """
    taken = set(tree.getroot().xpath("//@id"))
    for flow in tree.getroot().xpath("//bpmn:sequenceFlow[not(@id)]", namespaces=NS):
        base = f"Flow_{flow.get('sourceRef') or 'unknown'}_{flow.get('targetRef') or 'unknown'}"
        candidate, number = base, 1
        while candidate in taken:
            number += 1
            candidate = f"{base}_{number}"
        flow.set("id", candidate)
        taken.add(candidate)


def _reference_problems(filename: str, tree: etree._ElementTree) -> list[DeploymentProblem]:
    """Sequence flows whose source or target is not an element of the file."""
    ids = set(tree.getroot().xpath("//@id"))
    problems = []
    for flow in tree.getroot().xpath("//bpmn:sequenceFlow", namespaces=NS):
        for end in ("sourceRef", "targetRef"):
            ref = flow.get(end)
            if not ref or ref not in ids:
                problems.append(
                    DeploymentProblem(
                        filename,
                        flow.sourceline,
                        flow.get("id"),
                        f"sequence flow {end} '{ref or ''}' is not an element of this file",
                    )
                )
    return problems


# Gateways that choose among their outgoing flows: without one, every token that arrives fails there
CHOOSING_GATEWAYS = {
    "exclusiveGateway": "exclusive gateway",
    "inclusiveGateway": "inclusive gateway",
    "eventBasedGateway": "event-based gateway",
}


def _gateway_problems(filename: str, tree: etree._ElementTree) -> list[DeploymentProblem]:
    """Exclusive, inclusive and event-based gateways without an outgoing sequence flow.

    SpiffWorkflow parses them and fails each instance that reaches one ("At least one output
    required", naming no element); BPMN wants such a gateway to choose among flows it has.
    """
    sources = set(tree.getroot().xpath("//bpmn:sequenceFlow/@sourceRef", namespaces=NS))
    problems = []
    for kind, name in CHOOSING_GATEWAYS.items():
        for gateway in tree.getroot().iterfind(f".//{{{BPMN_NS}}}{kind}"):
            if gateway.get("id") not in sources:
                message = (
                    f"this {name} has no outgoing sequence flow: every token that arrives here would fail; "
                    "add the flows it chooses among, or end the path with an end event"
                )
                problems.append(DeploymentProblem(filename, gateway.sourceline, gateway.get("id"), message))
    return problems


def _data_store_problems(filename: str, tree: etree._ElementTree) -> list[DeploymentProblem]:
    """Data stores, which carecenter has no implementation of, refused with their line and element."""
    known = set(SpiffBpmnParser.DATA_STORE_CLASSES) | set(CamundaParser.DATA_STORE_CLASSES)
    problems = []
    for store in tree.getroot().xpath("//bpmn:dataStore", namespaces=NS):
        name = store.get("name")
        if name in known:
            continue
        message = (
            f"data store '{name or ''}' has no implementation in carecenter: keep the data in process variables, "
            "or read and write it with a service task"
        )
        problems.append(DeploymentProblem(filename, store.sourceline, store.get("id"), message))
    return problems


def _syntax_problems(filename: str, tree: etree._ElementTree) -> list[DeploymentProblem]:
    """Python syntax errors in scripts and conditions, code the script sandbox refuses, and JUEL or FEEL
    that cannot be translated, found before anything runs.

    The sandbox (:mod:`engine.sandbox`) would refuse the same code at run time; saying so at deploy
    puts the problem in front of the designer instead of in an incident on a running instance.
    """
    problems = expression_problems(filename, tree)
    paths = (
        "//bpmn:scriptTask/bpmn:script | //bpmn:conditionExpression"
        " | //spiffworkflow:preScript | //spiffworkflow:postScript"
    )
    for node in tree.getroot().xpath(paths, namespaces=NS):
        code = (node.text or "").strip()
        kind = etree.QName(node).localname
        if not code or (kind == "conditionExpression" and language(code, CONDITION)):
            continue  # JUEL and FEEL: checked by expression_problems
        owner = node.getparent()
        if kind in ("preScript", "postScript"):
            owner = owner.getparent()  # the task, not its extensionElements
        mode = "eval" if kind == "conditionExpression" else "exec"
        try:
            ast.parse(code, mode=mode)
        except SyntaxError as error:
            message = f"Python syntax error in {kind}: {error.msg} (line {error.lineno})"
            if kind == "conditionExpression":
                message += "; write Python, JUEL as ${...} or FEEL as =..."
            problems.append(DeploymentProblem(filename, node.sourceline, owner.get("id"), message))
            continue
        problems.extend(sandbox_problems(filename, node.sourceline, owner.get("id"), kind, code, mode))
    return problems
