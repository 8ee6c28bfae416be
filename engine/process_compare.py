"""What changed between two versions of a process: elements added, removed and changed, by element id.

The compare page (``/processes/{key}/compare``) colours these on the two diagrams and lists the
changed attributes beside them. Diffing the XML text would drown the designer in layout and
formatting; diffing by element id says what a person means by "changed": a task renamed, a form
swapped, a condition or timer rewritten, a carecenter/camunda/spiffworkflow extension property set.

What counts as an element: everything with an ``id`` that is drawn on the diagram, what a process,
subprocess or collaboration holds directly (tasks, events, flows, lanes, pools, drawn or not), and
the definitions' root elements (processes, messages, signals, errors, ...). Everything else inside
an element (event definitions, scripts, conditions, extension elements, multi-instance settings)
is flattened into that element's properties, named by path: ``timerEventDefinition/timeDuration``,
``extensionElements/spiffworkflow:properties/spiffworkflow:property[customer_stage]@value``.
The diagram's layout (``bpmndi``) is not compared, nor are ``incoming``/``outgoing`` references,
which only repeat the flows' ``sourceRef``/``targetRef``.

The XML is read as a deploy reads it (:func:`engine.bpmn.read_xml`: no entities, DTDs or network).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from engine.bpmn import SourceFile, read_xml
from engine.extensions import BPMN_NS, BPMNDI_NS, CAMUNDA_NS, SPIFF_NS, ZEEBE_NS

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
PREFIXES = {BPMN_NS: "", CAMUNDA_NS: "camunda:", SPIFF_NS: "spiffworkflow:", ZEEBE_NS: "zeebe:", XSI_NS: "xsi:"}
REDUNDANT = {f"{{{BPMN_NS}}}incoming", f"{{{BPMN_NS}}}outgoing"}
PROPERTY = re.compile(r"(\w+):properties/\1:property\[([^\]]*)\]@value$")
CONTAINERS = {"process", "subProcess", "transaction", "adHocSubProcess", "collaboration", "laneSet"}
NOT_ELEMENTS = {"ioSpecification", "property", "documentation", "extensionElements", "laneSet", "ioBinding"}
MAX_VALUE = 2000  # longer values (a long script) are shown cut, with the cut said


@dataclass(frozen=True)
class Change:
    """One property of an element that differs: ``before`` or ``after`` is None where it is absent."""

    name: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Element:
    id: str
    type: str  # the local name of its tag: userTask, sequenceFlow, process, ...
    name: str
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True)
class Comparison:
    added: list[Element] = field(default_factory=list)
    removed: list[Element] = field(default_factory=list)
    changed: list[Element] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.removed or self.changed)


def compare(before: SourceFile, after: SourceFile) -> Comparison:
    """The elements of ``after`` that ``before`` lacks, those it lost, and those whose properties differ."""
    old, new = _elements(before), _elements(after)
    old_nodes, new_nodes = set(old.values()), set(new.values())
    added = [_summary(new[key]) for key in new if key not in old]
    removed = [_summary(old[key]) for key in old if key not in new]
    changed = []
    for key in new:
        if key not in old:
            continue
        was, now = _properties(old[key], old_nodes), _properties(new[key], new_nodes)
        changes = tuple(
            Change(_display(name), _shown(was.get(name)), _shown(now.get(name)))
            for name in sorted(set(was) | set(now))
            if was.get(name) != now.get(name)
        )
        if changes:
            changed.append(_summary(new[key], changes))
    return Comparison(added, removed, changed)


def _elements(source: SourceFile) -> dict[str, etree._Element]:
    """The elements compared, by id, in document order."""
    root = read_xml(source).getroot()
    drawn = {
        node.get("bpmnElement")
        for node in root.iter(f"{{{BPMNDI_NS}}}BPMNShape", f"{{{BPMNDI_NS}}}BPMNEdge")
        if node.get("bpmnElement")
    }
    found: dict[str, etree._Element] = {}
    for node in root.iter():
        if not isinstance(node.tag, str) or not node.get("id") or _in_diagram(node):
            continue
        if node.getparent() is root or node.get("id") in drawn or _flow_element(node):
            found.setdefault(node.get("id"), node)
    return found


def _flow_element(node: etree._Element) -> bool:
    """A BPMN element directly in a process, subprocess or collaboration (drawn or not): a task, flow, lane, ..."""
    parent = node.getparent()
    return (
        etree.QName(node).namespace == BPMN_NS
        and etree.QName(node).localname not in NOT_ELEMENTS
        and parent is not None
        and etree.QName(parent).namespace == BPMN_NS
        and etree.QName(parent).localname in CONTAINERS
    )


def _in_diagram(node: etree._Element) -> bool:
    return any(etree.QName(a).namespace == BPMNDI_NS for a in node.iterancestors() if isinstance(a.tag, str)) or (
        etree.QName(node).namespace == BPMNDI_NS
    )


def _summary(node: etree._Element, changes: tuple[Change, ...] = ()) -> Element:
    return Element(node.get("id"), etree.QName(node).localname, node.get("name") or "", changes)


def _properties(node: etree._Element, elements: set[etree._Element]) -> dict[str, str]:
    """The element's own attributes and everything inside it that is not an element of its own."""
    found = {_name(key): value for key, value in node.attrib.items() if key != "id"}
    _walk(node, "", found, elements)
    return found


def _walk(node: etree._Element, path: str, found: dict[str, str], own: set[etree._Element]) -> None:
    children = [c for c in node if isinstance(c.tag, str) and c not in own and c.tag not in REDUNDANT]
    labels = _labels(children)
    leaves: dict[str, list[str]] = {}
    for child, label in zip(children, labels, strict=True):
        where = f"{path}/{label}" if path else label
        named = label.endswith(f"[{child.get('name')}]")
        for key, value in child.attrib.items():
            if key != "id" and not (named and key == "name"):
                found[f"{where}@{_name(key)}"] = value
        text = (child.text or "").strip()
        if len(child) == 0 and not child.attrib:
            leaves.setdefault(where, []).append(text)  # repeated plain values: a set (a lane's flowNodeRefs)
        elif text:
            found[where] = text
        _walk(child, where, found, own)
    for where, values in leaves.items():
        found[where] = ", ".join(sorted(values)) if len(values) > 1 else values[0]


def _labels(children: list[etree._Element]) -> list[str]:
    """A child's name in a path: its tag, told apart from siblings of the same tag by name, id or position."""
    counts: dict[str, int] = {}
    for child in children:
        counts[child.tag] = counts.get(child.tag, 0) + 1
    labels, seen = [], {}
    for child in children:
        label = _name(child.tag)
        plain = len(child) == 0 and not child.attrib
        if counts[child.tag] > 1 and not plain:
            key = child.get("name") or child.get("id")
            if key is None:
                seen[child.tag] = seen.get(child.tag, 0) + 1
                key = str(seen[child.tag])
            label = f"{label}[{key}]"
        elif child.get("name") is not None and etree.QName(child).localname in ("property", "inputParameter"):
            label = f"{label}[{child.get('name')}]"  # one extension property: named even when alone
        labels.append(label)
    return labels


def _name(tag: str) -> str:
    """``camunda:formKey`` for ``{camunda's namespace}formKey``; BPMN's own names without prefix."""
    qualified = etree.QName(tag)
    if qualified.namespace is None:
        return qualified.localname
    prefix = PREFIXES.get(qualified.namespace)
    return f"{prefix}{qualified.localname}" if prefix is not None else f"{{{qualified.namespace}}}{qualified.localname}"


def _display(name: str) -> str:
    """A property's path as a designer reads it: ``spiffworkflow:property[customer_stage]``, not the XML's nesting."""
    name = name.removeprefix("extensionElements/")
    return PROPERTY.sub(r"\1:property[\2]", name)


def _shown(value: str | None) -> str | None:
    if value is None or len(value) <= MAX_VALUE:
        return value
    return value[:MAX_VALUE] + f" … ({len(value) - MAX_VALUE} more characters)"
