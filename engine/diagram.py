"""Draw a BPMN process diagram as SVG on the server, from the file's BPMN Diagram Interchange.

Why this exists: the staff instance page has to show *where* an instance is (which steps are
done, which one waits, which failed), and the designer process page has to show how many running
instances wait at each step.  Both pages are server-rendered HTML; shipping a JavaScript BPMN
viewer for that would add a large client dependency, a second parser of uploaded files and a page
that shows nothing without JavaScript.  The deployed BPMN file already carries the layout the
modeler drew (``bpmndi:BPMNShape`` with ``dc:Bounds``, ``bpmndi:BPMNEdge`` with ``di:waypoint``),
so drawing it is a matter of turning those boxes and lines into SVG.

:func:`render_svg` is the only public function.  Its output is one ``<svg>`` element, meant to be
inlined into a page (or served as ``image/svg+xml``):

- every drawn BPMN shape and edge is a ``<g>`` with ``data-element-id`` (the BPMN element id) and
  ``data-element-type``; with a state it also has the state as a class (``completed``,
  ``active``, ``failed``) and as ``data-state``.  Flow names, state markers and count badges
  are drawn above all shapes, in ``<g class="bpmn-edge-label" data-for="id">``,
  ``<g class="bpmn-state-marker …" data-for="id">`` and ``<g class="bpmn-count" data-for="id">``;
- the ``<svg>`` has its natural width (``width``, one user unit a pixel: pages shrink it to their
  column with ``max-width: 100%``) and a ``viewBox`` enclosing everything drawn, plus
  ``data-width``/``data-height`` with its natural size (for a page that wants to cap the scale);
- states are shown by colour *and* by a text marker (✓, ●, !), and every shape and edge has a
  ``<title>`` with its type, name and state, so the page does not rely on colour alone;
- styling uses presentation attributes only: a ``<style>`` element in inline SVG would leak into
  the host page (and need ``style-src 'unsafe-inline'``); page CSS can still override them
  through the classes.  Marker ids are derived from a hash of the file, so two diagrams on one
  page do not collide;
- a heat map (``heat``: element or flow id -> :class:`Heat`) fills shapes from pale to dark by their
  level and draws flows thicker the more they were taken, each with its figure as text beside it
  (``<g class="bpmn-heat-note" data-for="id">``) and in its ``<title>``, so it does not rely on colour;
- the labels (names of tasks, events, gateways, flows, pools, lanes, the process in the
  ``aria-label``) go through ``translate`` when the caller gives one: the page passes the model's
  catalogs in the reader's language, so German readers see the German task names the model ships.
  It is a plain function so that this module needs no Flask and knows nothing of catalogs;
  wrapping and fitting work on the translated text, since that is what is drawn;
- the words the diagram adds itself (element types and states in the titles, the badges' titles,
  the ``aria-label``, the message drawn instead of a diagram) are English unless the caller gives
  ``words``, a function like gettext from each text in :data:`WORDS` to the reader's language
  (placeholders such as ``%(count)s`` kept): the pages pass their own catalogs';
- the uploaded file is untrusted: it is parsed without DTDs, entities or network access, and the
  SVG is built as an lxml tree, so every name is escaped as text or attribute value.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from lxml import etree

__all__ = ["NO_DIAGRAM", "WORDS", "Heat", "render_svg"]

SVG_NS = "http://www.w3.org/2000/svg"

NO_DIAGRAM = "No diagram in this file"
NO_PROCESS_DIAGRAM = "No diagram of this process in this file"
UNREADABLE = "This file could not be read as BPMN"
DIAGRAM_OF = "BPMN diagram of %(name)s"
WAITING = "%(count)s waiting"  # in a title, after the state
WAITING_HERE = ("%(count)s running instance waiting here", "%(count)s running instances waiting here")  # one, more
SUMMARIES = {  # in the aria-label, after the process's name
    "completed": "%(count)s completed",
    "active": "%(count)s active: %(names)s",
    "failed": "%(count)s failed: %(names)s",
}

STATES = ("completed", "active", "failed")

MARGIN = 20.0
FONT_SIZE = 12.0
LABEL_FONT_SIZE = 11.0
FIT_SIZES = (FONT_SIZE, 11.0, 10.0)  # a task's name is set smaller, down to 10 px, before it is cut
LINE_HEIGHT = 1.2
CHAR_WIDTH = 0.55  # rough average glyph width of a sans-serif font, in em (no font metrics here)

INK = "#22242a"
MUTED = "#6b7280"
PAPER = "#ffffff"
BADGE = "#a84300"
FONTS = "Arial, Helvetica, sans-serif"


@dataclass(frozen=True)
class _Look:
    """How a state is shown: colours, extra stroke width, text marker and the word for titles."""

    stroke: str
    fill: str
    extra_width: float
    marker: str
    word: str


_LOOKS: dict[str | None, _Look] = {
    None: _Look(INK, PAPER, 0.0, "", ""),
    "completed": _Look("#2e7d32", "#eef7ee", 0.0, "\u2713", "completed"),
    "active": _Look("#1565c0", "#e3f0fc", 2.0, "\u25cf", "active"),
    "failed": _Look("#b71c1c", "#f9caca", 1.0, "!", "failed"),
}

EVENTS = {
    "startEvent",
    "endEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "implicitThrowEvent",
    "boundaryEvent",
}
THROW_EVENTS = {"endEvent", "intermediateThrowEvent", "implicitThrowEvent"}
TASKS = {"task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask", "businessRuleTask"}
SUBPROCESSES = {"subProcess", "adHocSubProcess", "transaction"}
ACTIVITIES = TASKS | SUBPROCESSES | {"callActivity"}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway"}
DATA_OBJECTS = {"dataObjectReference", "dataObject", "dataInput", "dataOutput"}
DATA_STORES = {"dataStoreReference", "dataStore"}
POOLS = {"participant", "process"}  # some exporters draw the pool as a shape of the process itself

# what a title calls an element, by its tag (a tag not listed: its name made readable, in English)
TYPE_WORDS = {
    "startEvent": "Start event",
    "endEvent": "End event",
    "intermediateCatchEvent": "Intermediate catch event",
    "intermediateThrowEvent": "Intermediate throw event",
    "implicitThrowEvent": "Implicit throw event",
    "boundaryEvent": "Boundary event",
    "task": "Task",
    "userTask": "User task",
    "manualTask": "Manual task",
    "scriptTask": "Script task",
    "serviceTask": "Service task",
    "sendTask": "Send task",
    "receiveTask": "Receive task",
    "businessRuleTask": "Business rule task",
    "subProcess": "Subprocess",
    "adHocSubProcess": "Ad-hoc subprocess",
    "transaction": "Transaction",
    "callActivity": "Call activity",
    "exclusiveGateway": "Exclusive gateway",
    "parallelGateway": "Parallel gateway",
    "inclusiveGateway": "Inclusive gateway",
    "eventBasedGateway": "Event based gateway",
    "complexGateway": "Complex gateway",
    "dataObjectReference": "Data object",
    "dataObject": "Data object",
    "dataInput": "Data input",
    "dataOutput": "Data output",
    "dataStoreReference": "Data store",
    "dataStore": "Data store",
    "participant": "Pool",
    "process": "Pool",
    "lane": "Lane",
    "textAnnotation": "Text annotation",
    "group": "Group",
    "sequenceFlow": "Sequence flow",
    "messageFlow": "Message flow",
    "association": "Association",
    "dataInputAssociation": "Data input association",
    "dataOutputAssociation": "Data output association",
    "unknown": "Unknown element",
}
# what a title says of an element in parentheses: its event definitions (by tag, without EventDefinition) and more
DETAIL_WORDS = (
    "message",
    "timer",
    "signal",
    "error",
    "escalation",
    "terminate",
    "conditional",
    "cancel",
    "compensate",
    "link",
    "non-interrupting",
    "event subprocess",
)

# every text the diagram says besides the model's names: what a page translates for ``words``
WORDS = (
    *dict.fromkeys(TYPE_WORDS.values()),
    *DETAIL_WORDS,
    *(look.word for look in _LOOKS.values() if look.word),
    WAITING,
    *WAITING_HERE,
    DIAGRAM_OF,
    *SUMMARIES.values(),
    NO_DIAGRAM,
    NO_PROCESS_DIAGRAM,
    UNREADABLE,
)

# the heat map's fills, from little to much (a sequential scale; text on each stays dark enough to read)
HEAT_FILLS = ("#fff7e6", "#ffe2b3", "#ffc680", "#ffa64d", "#f47c3c")
HEAT_INK = "#7a2e00"


@dataclass(frozen=True)
class Heat:
    """An element's or flow's place on the heat map: ``level`` from 0 (least) to 1 (most), and its figure as text."""

    level: float
    note: str


_NOT_XML_CHAR = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

Box = tuple[float, float, float, float]


# --------------------------------------------------------------------------- public API


def render_svg(
    bpmn_xml: bytes,
    states: Mapping[str, str] | None = None,
    counts: Mapping[str, int] | None = None,
    process_id: str | None = None,
    heat: Mapping[str, Heat] | None = None,
    translate: Callable[[str], str] | None = None,
    words: Callable[[str], str] | None = None,
) -> str:
    """Return an ``<svg>`` document (a string, no XML declaration) drawing the file's BPMN diagram.

    ``states`` maps element ids to ``"completed"``, ``"active"`` or ``"failed"`` (other values are
    ignored); ``counts`` maps element ids to a number of waiting instances, shown as a badge (zero
    is not shown).  ``process_id`` chooses the diagram plane: the one drawing that process (or
    embedded subprocess), or the collaboration containing it; without it the first plane is drawn.
    ``heat`` draws a heat map (see the module's notes).  ``translate`` turns a model text (a name)
    into the text shown; without it names are shown as the file has them.  ``words`` does the same for
    the diagram's own words (:data:`WORDS`); without it they are English.
    Never raises for a bad or diagram-less file: a small SVG with a message is returned instead.
    """
    if isinstance(bpmn_xml, str):  # lenient with callers that already decoded the file
        bpmn_xml = bpmn_xml.encode("utf-8")
    say = words or _as_written
    root = _parse(bpmn_xml)
    if root is None:
        return _message_svg(say(UNREADABLE))
    elements = _index(root)
    planes = list(root.iter("{*}BPMNPlane"))
    if not planes:
        return _message_svg(say(NO_DIAGRAM))
    plane = _choose_plane(planes, elements, process_id)
    if plane is None:
        return _message_svg(say(NO_PROCESS_DIAGRAM))
    digest = hashlib.sha256(bpmn_xml + b"\0" + (process_id or "").encode("utf-8", "replace")).hexdigest()
    names = translate or _as_written
    renderer = _Renderer(elements, states or {}, counts or {}, f"bpmn-{digest[:12]}", heat or {}, names, say)
    svg = renderer.render(plane, _diagram_name(plane, elements, process_id, names))
    if svg is None:
        return _message_svg(say(NO_DIAGRAM))
    return etree.tostring(svg, encoding="unicode")


# --------------------------------------------------------------------------- reading the file


def _parse(data: bytes) -> etree._Element | None:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError):
        return None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        return None  # BPMN needs no DTD, and libxml2 still expands internal entities in attributes
    return root


def _local(node: etree._Element) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _index(root: etree._Element) -> dict[str, etree._Element]:
    """Model elements by id, anywhere in the document except inside the diagram interchange."""
    elements: dict[str, etree._Element] = {}
    for top in root:
        if not isinstance(top.tag, str) or _local(top) == "BPMNDiagram":
            continue
        for node in top.iter():
            ident = node.get("id") if isinstance(node.tag, str) else None
            if ident and ident not in elements:
                elements[ident] = node
    return elements


def _unprefixed(ref: str | None) -> str | None:
    return ref.rsplit(":", 1)[1] if ref and ":" in ref else ref


def _lookup(elements: Mapping[str, etree._Element], ref: str | None) -> etree._Element | None:
    if not ref:
        return None
    found = elements.get(ref)
    if found is None and ":" in ref:  # a QName reference such as tns:Task_1
        found = elements.get(_unprefixed(ref) or "")
    return found


def _choose_plane(
    planes: list[etree._Element], elements: Mapping[str, etree._Element], process_id: str | None
) -> etree._Element | None:
    if process_id is None:
        return planes[0]
    for plane in planes:
        if _unprefixed(plane.get("bpmnElement")) == process_id:
            return plane
    for plane in planes:
        target = _lookup(elements, plane.get("bpmnElement"))
        if target is not None and _local(target) == "collaboration":
            for participant in target:
                if _local(participant) == "participant" and _unprefixed(participant.get("processRef")) == process_id:
                    return plane
    # Some tools write a plane whose own reference is broken: take the plane that draws the process.
    process = elements.get(process_id)
    if process is not None:
        members = {node.get("id") for node in process.iter() if isinstance(node.tag, str) and node.get("id")}
        for plane in planes:
            if any(_unprefixed(di.get("bpmnElement")) in members for di in plane):
                return plane
    return None


def _as_written(text: str) -> str:
    return text


def _element_name(
    node: etree._Element | None, elements: Mapping[str, etree._Element], translate: Callable[[str], str] = _as_written
) -> str:
    """The name drawn for an element: its text as the model has it (a catalog's msgid), translated, then trimmed."""
    if node is None:
        return ""
    kind = _local(node)
    if kind == "textAnnotation":
        texts = ["".join(child.itertext()) for child in node if _local(child) == "text"]
        text = texts[0] if texts else ""
    elif kind == "group":
        category = _lookup(elements, node.get("categoryValueRef"))
        text = (category.get("value") or "") if category is not None else ""
    else:
        text = node.get("name") or ""
        if not text.strip() and kind == "participant":
            process = _lookup(elements, node.get("processRef"))
            text = (process.get("name") or "") if process is not None else ""
    return translate(text).strip() if text.strip() else ""


def _diagram_name(
    plane: etree._Element,
    elements: Mapping[str, etree._Element],
    process_id: str | None,
    translate: Callable[[str], str],
) -> str:
    def named(node: etree._Element | None) -> str:
        return _element_name(node, elements, translate)

    if process_id:
        return named(elements.get(process_id)) or process_id
    target = _lookup(elements, plane.get("bpmnElement"))
    if target is None:
        return plane.get("bpmnElement") or "process"
    if _local(target) == "collaboration":  # name the processes drawn in it, else its pools
        processes, pools = [], []
        for node in target:
            if _local(node) == "participant":
                pools.append(named(node))
                process = _lookup(elements, node.get("processRef"))
                if process is not None:
                    processes.append(named(process) or process.get("id") or "")
        names = [name for name in processes or pools if name]
        return ", ".join(dict.fromkeys(names)) or named(target) or target.get("id") or "collaboration"
    return named(target) or target.get("id") or "process"


def _floats(node: etree._Element, *names: str) -> tuple[float, ...] | None:
    try:
        values = tuple(float(node.get(name, "")) for name in names)
    except ValueError:
        return None
    return values if all(math.isfinite(value) for value in values) else None


def shape_bounds(node: etree._Element) -> Box | None:
    """The ``dc:Bounds`` of a DI shape or label as (x, y, width, height); None where missing or unusable."""
    for child in node:
        if _local(child) == "Bounds":
            values = _floats(child, "x", "y", "width", "height")
            if values is None or values[2] < 0 or values[3] < 0:
                return None
            return values[0], values[1], values[2], values[3]
    return None


def _label_bounds(di: etree._Element) -> Box | None:
    for child in di:
        if _local(child) == "BPMNLabel":
            bounds = shape_bounds(child)
            if bounds is not None and bounds[2] > 0 and bounds[3] > 0:
                return bounds
    return None


def waypoints(di: etree._Element) -> list[tuple[float, float]]:
    """The usable ``di:waypoint``s of a DI edge, in order."""
    points = (_floats(child, "x", "y") for child in di if _local(child) == "waypoint")
    return [(point[0], point[1]) for point in points if point is not None]


def _event_definitions(node: etree._Element, elements: Mapping[str, etree._Element]) -> list[str]:
    kinds = []
    for child in node:
        local = _local(child)
        if local == "eventDefinitionRef":
            target = _lookup(elements, (child.text or "").strip())
            local = _local(target) if target is not None else ""
        if local.endswith("EventDefinition"):
            kinds.append(local.removesuffix("EventDefinition"))
    return kinds


def _type_words(kind: str, say: Callable[[str], str]) -> str:
    if kind in TYPE_WORDS:
        return say(TYPE_WORDS[kind])
    words = re.sub(r"(?<=[a-z0-9])([A-Z])", r" \1", kind).lower()
    return words[:1].upper() + words[1:] if words else "Element"


# --------------------------------------------------------------------------- SVG building helpers


def _clean(text: str) -> str:
    """Text lxml accepts: characters XML cannot carry (control characters) are dropped."""
    return _NOT_XML_CHAR.sub("", text)


def _heat_fill(level: float) -> str:
    level = max(0.0, min(1.0, level))
    return HEAT_FILLS[min(len(HEAT_FILLS) - 1, int(level * len(HEAT_FILLS)))]


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _points(points: Iterable[tuple[float, float]]) -> str:
    return " ".join(f"{_num(x)},{_num(y)}" for x, y in points)


def _d(*parts: object) -> str:
    """Path data from commands and numbers: ``_d("M", x, y, "H", x2)``."""
    return " ".join(_num(part) if isinstance(part, float | int) else str(part) for part in parts)


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: object) -> etree._Element:
    """Append an SVG element; ``cls`` is ``class``, other underscores become hyphens, None is left out."""
    node = etree.SubElement(parent, f"{{{SVG_NS}}}{tag}")
    for key, value in attrs.items():
        if value is None:
            continue
        name = "class" if key == "cls" else key.replace("_", "-")
        node.set(name, _num(value) if isinstance(value, float | int) else _clean(str(value)))
    if text is not None:
        node.text = _clean(text)
    return node


def _wrap(text: str, max_width: float, font_size: float, max_lines: int) -> list[str]:
    """Split ``text`` into lines of about ``max_width`` pixels, at most ``max_lines`` (… if cut)."""
    max_chars = max(1, int(max_width / (font_size * CHAR_WIDTH)))
    longest_word = int(max_chars * 1.25)  # the width estimate is rough: cut a word only when clearly too long
    max_lines = max(1, max_lines)
    lines: list[str] = []
    for paragraph in text.splitlines():
        current = ""
        for word in paragraph.split():
            while len(word) > longest_word:
                if current:
                    lines.append(current)
                    current = ""
                lines.append(word[:max_chars])
                word = word[max_chars:]
            candidate = f"{current} {word}" if current else word
            if len(candidate) <= max_chars or not current:
                current = candidate
            else:
                lines.append(current)
                current = word
        if current:
            lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(0, max_chars - 1)].rstrip() + "\u2026"
    return lines


def _fit(text: str, max_width: float, max_height: float) -> tuple[list[str], float]:
    """``text`` wrapped in a box: at the largest of :data:`FIT_SIZES` where it fits whole in the lines a
    12 px name has room for, else in the more lines a smaller size has room for, else cut at the smallest.

    A task's box is drawn for its name in the model's language; a translation is often longer
    (German by a third), and a name cut after three lines no longer says what the task is.  Fewer
    lines come first: they keep the name clear of the boundary events on the box's lower edge.
    """

    def room(size: float) -> int:
        return max(1, int(max_height // (size * LINE_HEIGHT)))

    usual = room(FONT_SIZE)
    tries = [(size, usual) for size in FIT_SIZES] + [(size, room(size)) for size in FIT_SIZES[1:]]
    for size, most in tries:
        lines = _wrap(text, max_width, size, most + 1)  # a line more than the room: cut only if too long
        if len(lines) <= most:
            return lines, size
    smallest = FIT_SIZES[-1]
    return _wrap(text, max_width, smallest, room(smallest)), smallest


def _new_svg(**attrs: object) -> etree._Element:
    svg = etree.Element(f"{{{SVG_NS}}}svg", nsmap={None: SVG_NS})
    for key, value in attrs.items():
        svg.set("class" if key == "cls" else key.replace("_", "-"), _clean(str(value)))
    return svg


def _message_svg(message: str) -> str:
    width, height = max(320, round(len(message) * 14 * CHAR_WIDTH) + 40), 48  # translations run longer
    svg = _new_svg(
        cls="bpmn-diagram bpmn-diagram-empty",
        role="img",
        aria_label=message,
        viewBox=f"0 0 {width} {height}",
        width=width,
        height=height,
        font_family=FONTS,
    )
    _el(svg, "rect", x=1, y=1, width=width - 2, height=height - 2, rx=6, fill="#f6f7f9", stroke="#c5c9d0")
    _el(svg, "text", message, x=width / 2, y=height / 2 + 5, text_anchor="middle", font_size=14, fill=INK)
    return etree.tostring(svg, encoding="unicode")


@dataclass
class _Shape:
    di: etree._Element
    ref: str
    element: etree._Element | None
    kind: str
    bounds: Box

    @property
    def area(self) -> float:
        return self.bounds[2] * self.bounds[3]


# --------------------------------------------------------------------------- the renderer


class _Renderer:
    LAYERS = ("pools", "containers", "edges", "nodes", "boundary", "groups", "labels", "overlays")

    def __init__(
        self,
        elements: Mapping[str, etree._Element],
        states: Mapping[str, str],
        counts: Mapping[str, int],
        prefix: str,
        heat: Mapping[str, Heat],
        translate: Callable[[str], str],
        say: Callable[[str], str],
    ) -> None:
        self.elements = elements
        self.translate = translate
        self.say = say
        self.heat = heat
        self.states = states
        self.counts = counts
        self.prefix = prefix
        self.box = [math.inf, math.inf, -math.inf, -math.inf]
        self.markers: set[str] = set()
        self.summary: dict[str, list[str]] = {state: [] for state in STATES}
        self.svg = _new_svg(cls="bpmn-diagram", role="img", aria_label="", viewBox="", width="100%")
        self.defs = _el(self.svg, "defs")
        self.layers = {name: _el(self.svg, "g", cls=f"bpmn-layer-{name}") for name in self.LAYERS}

    # ---- the whole plane

    def render(self, plane: etree._Element, name: str) -> etree._Element | None:
        shapes = []
        for di in plane.iter("{*}BPMNShape"):
            bounds = shape_bounds(di)
            if bounds is not None:
                ref = di.get("bpmnElement") or ""
                element = _lookup(self.elements, ref)
                shapes.append(_Shape(di, ref, element, _local(element) if element is not None else "unknown", bounds))
        edges = [di for di in plane.iter("{*}BPMNEdge") if len(waypoints(di)) >= 2]
        if not shapes and not edges:
            return None

        drawn_parents = {
            shape.element.getparent().get("id")
            for shape in shapes
            if shape.element is not None and shape.element.getparent() is not None
        }

        def expanded(shape: _Shape) -> bool:
            if shape.kind not in SUBPROCESSES:
                return False
            flag = shape.di.get("isExpanded")
            if flag is not None:
                return flag.strip().lower() == "true"
            return shape.element is not None and shape.element.get("id") in drawn_parents

        # Containers first, biggest first, so what they contain is drawn on top of them.
        by_area = sorted(shapes, key=lambda shape: -shape.area)
        for shape in by_area:
            if shape.kind in POOLS:
                self._draw_pool(shape)
        for shape in by_area:
            if shape.kind == "lane":
                self._draw_lane(shape)
        for shape in by_area:
            if expanded(shape):
                self._draw_activity(shape, "containers", expanded=True)
        for di in edges:
            self._draw_edge(di)
        for shape in shapes:
            kind = shape.kind
            if kind in POOLS or kind == "lane" or expanded(shape):
                continue
            if kind in ACTIVITIES:
                self._draw_activity(shape, "nodes", expanded=False)
            elif kind in EVENTS:
                self._draw_event(shape)
            elif kind in GATEWAYS:
                self._draw_gateway(shape)
            elif kind in DATA_OBJECTS:
                self._draw_data_object(shape)
            elif kind in DATA_STORES:
                self._draw_data_store(shape)
            elif kind == "textAnnotation":
                self._draw_annotation(shape)
            elif kind == "group":
                self._draw_group(shape)
            else:
                self._draw_unknown(shape)
        for layer in self.LAYERS:  # keep the output small
            if len(self.layers[layer]) == 0:
                self.svg.remove(self.layers[layer])
        if len(self.defs) == 0:
            self.svg.remove(self.defs)

        min_x, min_y = self.box[0] - MARGIN, self.box[1] - MARGIN
        width, height = self.box[2] - self.box[0] + 2 * MARGIN, self.box[3] - self.box[1] + 2 * MARGIN
        self.svg.set("aria-label", _clean(self._aria_label(name)))
        self.svg.set("viewBox", f"{_num(min_x)} {_num(min_y)} {_num(width)} {_num(height)}")
        self.svg.set("width", _num(width))  # its natural size: pages shrink it to fit, a phone may scroll it
        self.svg.set("preserveAspectRatio", "xMidYMid meet")
        self.svg.set("font-family", FONTS)
        self.svg.set("data-width", _num(width))  # natural size, for pages that want to cap the scale
        self.svg.set("data-height", _num(height))
        return self.svg

    def _said(self, text: str, **values: object) -> str:
        """One of :data:`WORDS` in the reader's language, its placeholders filled in."""
        return self.say(text) % values

    def _aria_label(self, name: str) -> str:
        label = self._said(DIAGRAM_OF, name=" ".join(name.split()))
        summary = []
        for state in STATES:
            names = self.summary[state]
            if names:
                shown = ", ".join(names[:5]) + (", \u2026" if len(names) > 5 else "")
                summary.append(self._said(SUMMARIES[state], count=len(names), names=shown))
        return label + (" (" + "; ".join(summary) + ")" if summary else "")

    # ---- bookkeeping

    def _extend(self, x: float, y: float, w: float = 0.0, h: float = 0.0) -> None:
        box = self.box
        box[0], box[1] = min(box[0], x), min(box[1], y)
        box[2], box[3] = max(box[2], x + w), max(box[3], y + h)

    def _state(self, ref: str) -> str | None:
        state = self.states.get(ref) if ref else None
        return state if state in STATES else None

    def _count(self, ref: str) -> int:
        try:
            return max(0, int(self.counts.get(ref, 0))) if ref else 0
        except (TypeError, ValueError):
            return 0

    def _title(self, kind: str, name: str, ref: str, state: str | None, count: int, details: Iterable[str] = ()) -> str:
        said = ", ".join(self.say(word) if word in DETAIL_WORDS else word for word in details)
        words = _type_words(kind, self.say) + (f" ({said})" if said else "")
        title = f"{words}: {' '.join(name.split())}" if name else f"{words} {ref}".rstrip()
        after = ([self.say(_LOOKS[state].word)] if state else []) + (
            [self._said(WAITING, count=count)] if count else []
        )
        return f"{title} \u2014 {', '.join(after)}" if after else title

    def _group(self, layer: str, base: str, ref: str, kind: str, state: str | None, title: str) -> etree._Element:
        css = " ".join([base, f"bpmn-{kind}"] + ([state] if state else []))
        group = _el(self.layers[layer], "g", cls=css, data_element_id=ref, data_element_type=kind, data_state=state)
        _el(group, "title", title)
        return group

    def _begin(self, shape: _Shape, layer: str, details: Iterable[str] = ()) -> tuple[etree._Element, _Look, str]:
        """Open the shape's group (title, classes), note its extent and draw its overlays."""
        state, count = self._state(shape.ref), self._count(shape.ref)
        name = _element_name(shape.element, self.elements, self.translate)
        title = self._title(shape.kind, name, shape.ref, state, count, details)
        heat = self.heat.get(shape.ref) if shape.ref else None
        look = _LOOKS[state]
        if heat is not None and state is None:
            title = f"{title} \u2014 {heat.note}"
            look = _Look(INK, _heat_fill(heat.level), 0.0, "", "")
        group = self._group(layer, "bpmn-shape", shape.ref, shape.kind, state, title)
        self._extend(*shape.bounds)
        if state:
            self.summary[state].append(" ".join(name.split()) or shape.ref)
        self._overlays(shape, state, count, title)
        if heat is not None and heat.note:
            x, y, w, h = shape.bounds
            inside = shape.kind in ACTIVITIES and h >= 50  # at the bottom of a task's box, else above the shape
            self._heat_note(shape.ref, x + w / 2, y + h - 10 if inside else y - 6, heat.note, title)
        return group, look, name

    def _heat_note(self, ref: str, x: float, y: float, note: str, title: str) -> None:
        """An element's or flow's figure, on a white halo above everything else."""
        holder = _el(self.layers["overlays"], "g", cls="bpmn-heat-note", data_for=ref)
        _el(holder, "title", title)
        self._text(holder, x, y, [note], size=LABEL_FONT_SIZE, halo=True, colour=HEAT_INK)
        width = len(note) * LABEL_FONT_SIZE * CHAR_WIDTH
        self._extend(x - width / 2, y - LABEL_FONT_SIZE, width, LABEL_FONT_SIZE * 1.5)

    def _overlays(self, shape: _Shape, state: str | None, count: int, title: str) -> None:
        x, y, w, _h = shape.bounds
        overlays = self.layers["overlays"]
        if state:
            look = _LOOKS[state]
            marker = _el(overlays, "g", cls=f"bpmn-state-marker {state}", data_for=shape.ref, data_state=state)
            _el(marker, "title", title)
            _el(marker, "circle", cx=x + 1, cy=y + 1, r=8, fill=look.stroke, stroke=PAPER, stroke_width=1.5)
            glyph = {"x": x + 1, "y": y + 5, "text_anchor": "middle", "font_size": 11, "font_weight": "bold"}
            _el(marker, "text", look.marker, **glyph, fill=PAPER)
            self._extend(x - 8, y - 8, 18, 18)
        if count:
            text = str(count)
            width = max(18.0, 7.0 * len(text) + 10)
            badge = _el(overlays, "g", cls="bpmn-count", data_for=shape.ref, data_count=count)
            _el(badge, "title", self._said(WAITING_HERE[count != 1], count=count))
            _el(badge, "rect", x=x + w - width / 2, y=y - 9, width=width, height=18, rx=9, fill=BADGE)
            _el(
                badge,
                "text",
                text,
                x=x + w,
                y=y + 4,
                text_anchor="middle",
                font_size=11,
                font_weight="bold",
                fill=PAPER,
            )
            self._extend(x + w - width / 2, y - 9, width, 18)

    def _text(
        self,
        parent: etree._Element,
        x: float,
        center_y: float,
        lines: list[str],
        *,
        size: float = FONT_SIZE,
        anchor: str = "middle",
        transform: str | None = None,
        halo: bool = False,
        colour: str = INK,
    ) -> None:
        """Lines of text centred vertically on ``center_y``."""
        if not lines:
            return
        step = size * LINE_HEIGHT
        first = center_y - (len(lines) - 1) * step / 2 + size * 0.35
        text = _el(parent, "text", cls="bpmn-label", x=x, y=first, font_size=size, text_anchor=anchor, fill=colour)
        if transform:
            text.set("transform", transform)
        if halo:  # keeps labels readable where they cross lines
            for key, value in (("stroke", PAPER), ("stroke-width", "3"), ("paint-order", "stroke")):
                text.set(key, value)
        for number, line in enumerate(lines):
            _el(text, "tspan", line, x=x, y=first + number * step)

    def _placed_label(self, group: etree._Element, label: Box, name: str, *, halo: bool = False) -> None:
        """A label in the box the file gives for it (``bpmndi:BPMNLabel``)."""
        lx, ly, lw, lh = label
        lines = _wrap(name, max(lw, 40) + 10, LABEL_FONT_SIZE, 6)
        block = len(lines) * LABEL_FONT_SIZE * LINE_HEIGHT
        self._text(group, lx + lw / 2, ly + max(lh, block) / 2, lines, size=LABEL_FONT_SIZE, halo=halo)
        width = max([lw] + [len(line) * LABEL_FONT_SIZE * CHAR_WIDTH for line in lines])
        self._extend(lx + lw / 2 - width / 2, ly, width, max(lh, block))

    def _external_label(self, group: etree._Element, shape: _Shape, name: str) -> None:
        """The label of an event, gateway or data element: where the file puts it, else below."""
        if not name:
            return
        label = _label_bounds(shape.di)
        if label is not None:
            self._placed_label(group, label, name)
            return
        x, y, w, h = shape.bounds
        width = max(90.0, w)
        lines = _wrap(name, width, LABEL_FONT_SIZE, 4)
        block = len(lines) * LABEL_FONT_SIZE * LINE_HEIGHT
        self._text(group, x + w / 2, y + h + 5 + block / 2, lines, size=LABEL_FONT_SIZE)
        self._extend(x + w / 2 - width / 2, y + h, width, block + 6)

    def _marker(self, kind: str, state: str | None) -> str:
        colour = _LOOKS[state].stroke
        ident = f"{self.prefix}-{kind}-{state or 'plain'}"  # same id, same content: safe to repeat on a page
        if ident not in self.markers:
            self.markers.add(ident)
            ref_x = {"arrow": 11, "open-arrow": 11, "hollow-arrow": 11, "circle": 5}.get(kind, 0)
            marker = _el(
                self.defs,
                "marker",
                id=ident,
                viewBox="0 0 20 20",
                refX=ref_x,
                refY=10,
                markerWidth=20,
                markerHeight=20,
                markerUnits="userSpaceOnUse",
                orient="auto",
            )
            arrow = "M 0 5 L 11 10 L 0 15 Z"
            if kind == "arrow":
                _el(marker, "path", d=arrow, fill=colour, stroke=colour)
            elif kind == "hollow-arrow":
                _el(marker, "path", d=arrow, fill=PAPER, stroke=colour)
            elif kind == "open-arrow":
                _el(marker, "path", d="M 0 5 L 11 10 L 0 15", fill="none", stroke=colour)
            elif kind == "circle":
                _el(marker, "circle", cx=5, cy=10, r=4, fill=PAPER, stroke=colour)
            elif kind == "slash":
                _el(marker, "path", d="M 6 4 L 12 16", fill="none", stroke=colour, stroke_width=1.5)
            elif kind == "diamond":
                _el(marker, "path", d="M 0 10 L 7 6 L 14 10 L 7 14 Z", fill=PAPER, stroke=colour)
        return f"url(#{ident})"

    # ---- pools and lanes

    def _draw_pool(self, shape: _Shape) -> None:
        group, look, name = self._begin(shape, "pools")
        x, y, w, h = shape.bounds
        line = {"stroke": look.stroke, "stroke_width": 1.5}
        _el(group, "rect", cls="bpmn-body", x=x, y=y, width=w, height=h, fill=PAPER, **line)
        element = shape.element
        if shape.kind == "participant" and element is not None and not element.get("processRef"):
            # a "black box" pool: the name in the middle
            self._text(group, x + w / 2, y + h / 2, _wrap(name, w - 20, FONT_SIZE, max(1, int(h // 15))))
        elif (shape.di.get("isHorizontal") or "true").strip().lower() != "false":
            _el(group, "path", d=_d("M", x + 30, y, "V", y + h), **line)
            rotate = f"rotate(-90 {_num(x + 15)} {_num(y + h / 2)})"
            self._text(group, x + 15, y + h / 2, _wrap(name, h - 10, FONT_SIZE, 2), transform=rotate)
        else:
            _el(group, "path", d=_d("M", x, y + 30, "H", x + w), **line)
            self._text(group, x + w / 2, y + 15, _wrap(name, w - 10, FONT_SIZE, 2))

    def _draw_lane(self, shape: _Shape) -> None:
        group, look, name = self._begin(shape, "pools")
        x, y, w, h = shape.bounds
        _el(
            group, "rect", cls="bpmn-body", x=x, y=y, width=w, height=h, fill="none", stroke=look.stroke, stroke_width=1
        )
        if (shape.di.get("isHorizontal") or "true").strip().lower() != "false":
            rotate = f"rotate(-90 {_num(x + 15)} {_num(y + h / 2)})"
            self._text(group, x + 15, y + h / 2, _wrap(name, h - 10, FONT_SIZE, 2), transform=rotate)
        else:
            self._text(group, x + w / 2, y + 15, _wrap(name, w - 10, FONT_SIZE, 2))

    # ---- activities

    def _draw_activity(self, shape: _Shape, layer: str, *, expanded: bool) -> None:
        element, kind = shape.element, shape.kind
        event_sub = kind == "subProcess" and element is not None and element.get("triggeredByEvent") == "true"
        group, look, name = self._begin(shape, layer, ["event subprocess"] if event_sub else [])
        x, y, w, h = shape.bounds
        _el(
            group,
            "rect",
            cls="bpmn-body",
            x=x,
            y=y,
            width=w,
            height=h,
            rx=10,
            fill=look.fill,
            stroke=look.stroke,
            stroke_width=(4.0 if kind == "callActivity" else 2.0) + look.extra_width,
            stroke_dasharray="2 3" if event_sub else None,
        )
        if kind == "transaction" and w > 8 and h > 8:
            _el(group, "rect", x=x + 4, y=y + 4, width=w - 8, height=h - 8, rx=7, fill="none", stroke=look.stroke)
        has_icon = self._task_icon(group, kind, x + 7, y + 7, look.stroke)
        markers = []
        if kind in SUBPROCESSES and not expanded:
            markers.append("collapsed")
        if kind == "adHocSubProcess":
            markers.append("adhoc")
        for child in element if element is not None else ():
            local = _local(child)
            if local == "multiInstanceLoopCharacteristics":
                markers.append("sequential" if child.get("isSequential") == "true" else "parallel")
            elif local == "standardLoopCharacteristics":
                markers.append("loop")
        self._activity_markers(group, markers, x + w / 2, y + h - 4, look.stroke)
        step = FONT_SIZE * LINE_HEIGHT
        if expanded:
            lines = _wrap(name, w - 16, FONT_SIZE, 2)
            self._text(group, x + 8, y + 8 + len(lines) * step / 2, lines, anchor="start")
            return
        top = y + (20 if has_icon and h >= 60 else 4)
        bottom = y + h - (18 if markers else 4)
        lines, size = _fit(name, w - 12, bottom - top)
        middle = (top + bottom) / 2 if markers else y + h / 2
        self._text(group, x + w / 2, max(middle, top + len(lines) * size * LINE_HEIGHT / 2), lines, size=size)

    def _task_icon(self, group: etree._Element, kind: str, ox: float, oy: float, colour: str) -> bool:
        icon = {"cls": "bpmn-icon", "fill": "none", "stroke": colour, "stroke_width": 1.3}
        if kind == "userTask":
            _el(group, "circle", cx=ox + 7, cy=oy + 4, r=3.5, **icon)
            _el(group, "path", d=_d("M", ox, oy + 15, "C", ox, oy + 7, ox + 14, oy + 7, ox + 14, oy + 15, "Z"), **icon)
        elif kind == "manualTask":
            hand = _d("M", ox, oy + 6, "h 9 a 1.5 1.5 0 0 1 0 3 h 5 a 1.5 1.5 0 0 1 0 3 h -2 a 1.5 1.5 0 0 1 0 3",
                      "h -2 a 1.5 1.5 0 0 1 0 3 h -7 q -3 0 -3 -3 Z")  # fmt: skip
            _el(group, "path", d=hand, **icon)
        elif kind == "scriptTask":
            _el(group, "rect", x=ox + 1, y=oy, width=12, height=15, rx=1.5, **icon)
            _el(group, "path", d=" ".join(_d("M", ox + 3.5, oy + row, "h 7") for row in (4, 7.5, 11)), **icon)
        elif kind == "serviceTask":
            _el(
                group, "circle", cx=ox + 7, cy=oy + 7, r=5.5, **(icon | {"stroke_width": 3}), stroke_dasharray="2.2 2.1"
            )
            _el(group, "circle", cx=ox + 7, cy=oy + 7, r=4, **icon)
            _el(group, "circle", cx=ox + 7, cy=oy + 7, r=1.6, **icon)
        elif kind in ("sendTask", "receiveTask"):
            self._envelope(group, ox + 8, oy + 6, 0.85, colour, filled=kind == "sendTask")
        elif kind == "businessRuleTask":
            _el(group, "rect", x=ox, y=oy + 1, width=16, height=12, **icon)
            _el(group, "rect", x=ox, y=oy + 1, width=16, height=3.5, **(icon | {"fill": colour}))
            _el(group, "path", d=_d("M", ox, oy + 8.5, "h 16 M", ox + 5, oy + 4.5, "v 8.5"), **icon)
        else:
            return False
        return True

    def _activity_markers(
        self, group: etree._Element, markers: list[str], cx: float, bottom: float, colour: str
    ) -> None:
        size, gap = 12.0, 4.0
        left = cx - (len(markers) * size + (len(markers) - 1) * gap) / 2
        line = {"cls": "bpmn-icon", "fill": "none", "stroke": colour, "stroke_width": 1.5}
        for number, marker in enumerate(markers):
            mx, my = left + number * (size + gap), bottom - size
            if marker == "collapsed":
                _el(group, "rect", x=mx, y=my, width=size, height=size, **line)
                _el(group, "path", d=_d("M", mx + 6, my + 2.5, "v 7 M", mx + 2.5, my + 6, "h 7"), **line)
            elif marker == "parallel":
                bars = " ".join(_d("M", mx + dx, my, "v", size) for dx in (2, 6, 10))
                _el(group, "path", d=bars, **(line | {"stroke_width": 2}))
            elif marker == "sequential":
                bars = " ".join(_d("M", mx, my + dy, "h", size) for dy in (2, 6, 10))
                _el(group, "path", d=bars, **(line | {"stroke_width": 2}))
            elif marker == "loop":
                loop = _d(
                    "M",
                    mx + 3,
                    my + 10,
                    "A 5 5 0 1 1",
                    mx + 9,
                    my + 10,
                    "M",
                    mx + 9,
                    my + 6,
                    "V",
                    my + 10,
                    "H",
                    mx + 13,
                )
                _el(group, "path", d=loop, **line)
            elif marker == "adhoc":
                _el(group, "text", "~", x=mx + 6, y=my + 11, text_anchor="middle", font_size=16, fill=colour)

    # ---- events

    def _draw_event(self, shape: _Shape) -> None:
        element, kind = shape.element, shape.kind
        definitions = _event_definitions(element, self.elements) if element is not None else []
        non_interrupting = element is not None and (
            (kind == "boundaryEvent" and element.get("cancelActivity") == "false")
            or (kind == "startEvent" and element.get("isInterrupting") == "false")
        )
        details = sorted(set(definitions)) + (["non-interrupting"] if non_interrupting else [])
        group, look, name = self._begin(shape, "boundary" if kind == "boundaryEvent" else "nodes", details)
        x, y, w, h = shape.bounds
        cx, cy, r = x + w / 2, y + h / 2, min(w, h) / 2
        dash = "5 3" if non_interrupting else None
        body = {"cls": "bpmn-body", "cx": cx, "cy": cy, "fill": look.fill, "stroke": look.stroke}
        if kind == "endEvent":
            width = 4.0 + look.extra_width
            _el(group, "circle", r=max(1.0, r - width / 2 + 1), stroke_width=width, **body)
        else:
            _el(group, "circle", r=r, stroke_width=1.5 + look.extra_width, stroke_dasharray=dash, **body)
            if kind != "startEvent":  # intermediate and boundary events: a double circle
                inner = max(1.0, r - 3.5)
                _el(group, "circle", cx=cx, cy=cy, r=inner, fill="none", stroke=look.stroke, stroke_width=1.3,
                    stroke_dasharray=dash)  # fmt: skip
        if definitions:
            icon = "multiple" if len(definitions) > 1 else definitions[0]
            self._event_icon(group, icon, cx, cy, r / 18, look.stroke, filled=kind in THROW_EVENTS)
        self._external_label(group, shape, name)

    def _envelope(self, group: etree._Element, cx: float, cy: float, s: float, colour: str, *, filled: bool) -> None:
        w, h = 18 * s, 12 * s
        paint = {"cls": "bpmn-icon", "stroke": colour, "stroke_width": 1.2}
        _el(group, "rect", x=cx - w / 2, y=cy - h / 2, width=w, height=h, fill=colour if filled else PAPER, **paint)
        flap = _d("M", cx - w / 2, cy - h / 2, "L", cx, cy + h / 12, "L", cx + w / 2, cy - h / 2)
        _el(group, "path", d=flap, **(paint | {"stroke": PAPER if filled else colour}), fill="none")

    def _event_icon(
        self, group: etree._Element, icon: str, cx: float, cy: float, s: float, colour: str, *, filled: bool
    ) -> None:
        paint = {"cls": "bpmn-icon", "fill": colour if filled else "none", "stroke": colour, "stroke_width": 1.5}

        def polygon(*points: tuple[float, float]) -> None:
            _el(group, "polygon", points=_points((cx + px * s, cy + py * s) for px, py in points), **paint)

        if icon == "message":
            self._envelope(group, cx, cy, s, colour, filled=filled)
        elif icon == "timer":
            _el(group, "circle", cx=cx, cy=cy, r=10 * s, **(paint | {"fill": PAPER}))
            hands = _d("M", cx, cy - 7 * s, "L", cx, cy, "L", cx + 5 * s, cy + 2 * s)
            _el(group, "path", d=hands, **(paint | {"fill": "none"}))
        elif icon == "signal":
            polygon((0, -9), (9, 6), (-9, 6))
        elif icon == "error":
            polygon((-8, 9), (-3, -8), (2, 1), (8, -9), (4, 8), (-1, -1))
        elif icon == "escalation":
            polygon((0, -9), (7, 9), (0, 2), (-7, 9))
        elif icon == "terminate":
            _el(group, "circle", cx=cx, cy=cy, r=10 * s, **(paint | {"fill": colour}))
        elif icon == "conditional":
            _el(group, "rect", x=cx - 7 * s, y=cy - 9 * s, width=14 * s, height=18 * s, **(paint | {"fill": PAPER}))
            rows = " ".join(_d("M", cx - 4 * s, cy + dy * s, "h", 8 * s) for dy in (-5, -1.5, 2, 5.5))
            _el(group, "path", d=rows, **(paint | {"fill": "none", "stroke_width": 1}))
        elif icon == "cancel":
            polygon(
                (-7, -9), (0, -2), (7, -9), (9, -7), (2, 0), (9, 7), (7, 9), (0, 2), (-7, 9), (-9, 7), (-2, 0), (-9, -7)
            )
        elif icon == "compensate":
            polygon((-10, 0), (-1, -6), (-1, 6))
            polygon((-1, 0), (8, -6), (8, 6))
        elif icon == "link":
            polygon((-8, -3), (2, -3), (2, -8), (9, 0), (2, 8), (2, 3), (-8, 3))
        elif icon == "multiple":
            polygon((0, -9), (8.5, -2.8), (5.3, 7.3), (-5.3, 7.3), (-8.5, -2.8))
        else:  # an event definition without an icon here: its initial
            letter = icon[:1].upper() or "?"
            _el(group, "text", letter, x=cx, y=cy + 4.5 * s, text_anchor="middle", font_size=13 * s, fill=colour)

    # ---- gateways

    def _draw_gateway(self, shape: _Shape) -> None:
        group, look, name = self._begin(shape, "nodes")
        x, y, w, h = shape.bounds
        cx, cy, s = x + w / 2, y + h / 2, min(w, h) / 50
        diamond = _points([(cx, y), (x + w, cy), (cx, y + h), (x, cy)])
        _el(group, "polygon", cls="bpmn-body", points=diamond, fill=look.fill, stroke=look.stroke,
            stroke_width=2 + look.extra_width, stroke_linejoin="round")  # fmt: skip
        line = {
            "cls": "bpmn-icon",
            "fill": "none",
            "stroke": look.stroke,
            "stroke_width": 4 * s,
            "stroke_linecap": "round",
        }
        plus = _d("M", cx, cy - 12 * s, "V", cy + 12 * s, "M", cx - 12 * s, cy, "H", cx + 12 * s)
        cross = _d(
            "M",
            cx - 8 * s,
            cy - 8 * s,
            "L",
            cx + 8 * s,
            cy + 8 * s,
            "M",
            cx + 8 * s,
            cy - 8 * s,
            "L",
            cx - 8 * s,
            cy + 8 * s,
        )
        kind = shape.kind
        if kind == "exclusiveGateway":
            _el(group, "path", d=cross, **line)
        elif kind == "parallelGateway":
            _el(group, "path", d=plus, **line)
        elif kind == "inclusiveGateway":
            _el(group, "circle", cx=cx, cy=cy, r=10 * s, **(line | {"stroke_width": 3 * s}))
        elif kind == "complexGateway":
            _el(group, "path", d=f"{plus} {cross}", **(line | {"stroke_width": 3 * s}))
        elif kind == "eventBasedGateway":
            thin = line | {"stroke_width": 1.3 * s}
            _el(group, "circle", cx=cx, cy=cy, r=13 * s, **thin)
            _el(group, "circle", cx=cx, cy=cy, r=10.5 * s, **thin)
            pentagon = [(0, -7), (6.7, -2.2), (4.1, 5.7), (-4.1, 5.7), (-6.7, -2.2)]
            _el(group, "polygon", points=_points((cx + px * s, cy + py * s) for px, py in pentagon), **thin)
        self._external_label(group, shape, name)

    # ---- data, annotations, groups, the rest

    def _draw_data_object(self, shape: _Shape) -> None:
        group, look, name = self._begin(shape, "nodes")
        x, y, w, h = shape.bounds
        fold = min(10.0, w / 3, h / 3)
        line = {"stroke": look.stroke, "stroke_width": 1.5 + look.extra_width, "stroke_linejoin": "round"}
        page = _d("M", x, y, "H", x + w - fold, "L", x + w, y + fold, "V", y + h, "H", x, "Z")
        _el(group, "path", cls="bpmn-body", d=page, fill=look.fill, **line)
        _el(group, "path", d=_d("M", x + w - fold, y, "V", y + fold, "H", x + w), fill="none", **line)
        if shape.kind in ("dataInput", "dataOutput"):
            arrow = [(4, 6), (10, 6), (10, 3), (15, 8.5), (10, 14), (10, 11), (4, 11)]
            fill = look.stroke if shape.kind == "dataOutput" else PAPER
            _el(group, "polygon", cls="bpmn-icon", points=_points((x + px, y + py) for px, py in arrow), fill=fill,
                stroke=look.stroke, stroke_width=1)  # fmt: skip
        self._external_label(group, shape, name)

    def _draw_data_store(self, shape: _Shape) -> None:
        group, look, name = self._begin(shape, "nodes")
        x, y, w, h = shape.bounds
        rx, ry = w / 2, min(h / 6, 8.0)
        line = {"stroke": look.stroke, "stroke_width": 1.5 + look.extra_width}
        arc = f"A {_num(rx)} {_num(ry)} 0 0"
        body = _d("M", x, y + ry, arc, 1, x + w, y + ry, "V", y + h - ry, arc, 1, x, y + h - ry, "Z")
        _el(group, "path", cls="bpmn-body", d=body, fill=look.fill, **line)
        rims = " ".join(
            _d("M", x, y + ry + offset, arc, 0, x + w, y + ry + offset) for offset in (0, ry / 1.5, ry * 4 / 3)
        )
        _el(group, "path", d=rims, fill="none", **line)
        self._external_label(group, shape, name)

    def _draw_annotation(self, shape: _Shape) -> None:
        group, look, name = self._begin(shape, "nodes")
        x, y, w, h = shape.bounds
        _el(group, "rect", cls="bpmn-body", x=x, y=y, width=w, height=h, fill=PAPER, fill_opacity=0.7, stroke="none")
        bracket = _d("M", x + 12, y, "H", x, "V", y + h, "H", x + 12)
        _el(group, "path", d=bracket, fill="none", stroke=look.stroke if look.word else MUTED, stroke_width=1.5)
        max_lines = max(1, int((h - 6) // (LABEL_FONT_SIZE * LINE_HEIGHT)))
        self._text(
            group,
            x + 6,
            y + h / 2,
            _wrap(name, w - 10, LABEL_FONT_SIZE, max_lines),
            size=LABEL_FONT_SIZE,
            anchor="start",
        )

    def _draw_group(self, shape: _Shape) -> None:
        group, look, name = self._begin(shape, "groups")
        x, y, w, h = shape.bounds
        _el(group, "rect", cls="bpmn-body", x=x, y=y, width=w, height=h, rx=10, fill="none",
            stroke=look.stroke if look.word else MUTED, stroke_width=1.5, stroke_dasharray="10 4 2 4")  # fmt: skip
        label = _label_bounds(shape.di)
        if label is not None and name:
            self._placed_label(group, label, name)
        else:
            self._text(group, x + w / 2, y + 12, _wrap(name, w - 10, LABEL_FONT_SIZE, 1), size=LABEL_FONT_SIZE)

    def _draw_unknown(self, shape: _Shape) -> None:
        group, look, name = self._begin(shape, "nodes")
        x, y, w, h = shape.bounds
        _el(group, "rect", cls="bpmn-body", x=x, y=y, width=w, height=h, fill=look.fill if look.word else "none",
            stroke=look.stroke if look.word else MUTED, stroke_width=1 + look.extra_width)  # fmt: skip
        max_lines = max(1, int((h - 4) // (LABEL_FONT_SIZE * LINE_HEIGHT)))
        lines = _wrap(name or shape.ref, w - 8, LABEL_FONT_SIZE, max_lines)
        self._text(group, x + w / 2, y + h / 2, lines, size=LABEL_FONT_SIZE)

    # ---- edges

    def _draw_edge(self, di: etree._Element) -> None:
        points = waypoints(di)
        ref = di.get("bpmnElement") or ""
        element = _lookup(self.elements, ref)
        kind = _local(element) if element is not None else "unknown"
        state = self._state(ref)
        look = _LOOKS[state]
        name = _element_name(element, self.elements, self.translate)
        title = self._title(kind, name, ref, state, 0)
        heat = self.heat.get(ref) if ref and state is None else None
        if heat is not None:
            title = f"{title} \u2014 {heat.note}"
        group = self._group("edges", "bpmn-edge", ref, kind, state, title)
        for px, py in points:
            self._extend(px, py)
        line: dict[str, object] = {
            "cls": "bpmn-line",
            "points": _points(points),
            "fill": "none",
            "stroke": look.stroke,
            "stroke_width": 1.5 + look.extra_width + (5.0 * max(0.0, min(1.0, heat.level)) if heat else 0.0),
            "stroke_linejoin": "round",
        }
        if heat is not None and heat.note:
            (ax, ay), (bx, by) = points[len(points) // 2 - 1], points[len(points) // 2]
            self._heat_note(ref, (ax + bx) / 2, (ay + by) / 2 + 14, heat.note, title)
        dotted = {"stroke_dasharray": "1.5 3.5", "stroke_linecap": "round"}
        if kind == "sequenceFlow" and element is not None:
            line["marker_end"] = self._marker("arrow", state)
            source = _lookup(self.elements, element.get("sourceRef"))
            if source is not None and source.get("default") == element.get("id"):
                line["marker_start"] = self._marker("slash", state)
            elif (
                source is not None
                and _local(source) in ACTIVITIES
                and any(_local(child) == "conditionExpression" for child in element)
            ):
                line["marker_start"] = self._marker("diamond", state)
        elif kind == "messageFlow":
            line["stroke_dasharray"] = "6 4"
            line["marker_start"] = self._marker("circle", state)
            line["marker_end"] = self._marker("hollow-arrow", state)
        elif kind == "association":
            line.update(dotted)
            if element is not None and element.get("associationDirection") in ("One", "Both"):
                line["marker_end"] = self._marker("open-arrow", state)
        elif kind in ("dataInputAssociation", "dataOutputAssociation"):
            line.update(dotted)
            line["marker_end"] = self._marker("open-arrow", state)
        else:
            line.update(stroke=look.stroke if state else MUTED, stroke_width=1 + look.extra_width)
        _el(group, "polyline", **line)
        if name:  # above the shapes, so that a label near a shape stays readable
            holder = _el(self.layers["labels"], "g", cls="bpmn-edge-label", data_for=ref)
            label = _label_bounds(di)
            if label is not None:
                self._placed_label(holder, label, name, halo=True)
            else:
                self._edge_label(holder, points, name)

    def _edge_label(self, group: etree._Element, points: list[tuple[float, float]], name: str) -> None:
        """A flow name without a placed label: beside the middle of the line."""
        segments = list(zip(points, points[1:], strict=False))
        remaining = sum(math.dist(a, b) for a, b in segments) / 2
        (mx, my), horizontal = points[-1], True
        for a, b in segments:
            length = math.dist(a, b)
            if remaining <= length:
                t = remaining / length if length else 0.0
                mx, my = a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t
                horizontal = abs(b[0] - a[0]) >= abs(b[1] - a[1])
                break
            remaining -= length
        lines = _wrap(name, 100, LABEL_FONT_SIZE, 3)
        block = len(lines) * LABEL_FONT_SIZE * LINE_HEIGHT
        width = max(len(line) for line in lines) * LABEL_FONT_SIZE * CHAR_WIDTH
        if horizontal:
            self._text(group, mx, my - 4 - block / 2, lines, size=LABEL_FONT_SIZE, halo=True)
            self._extend(mx - width / 2, my - 4 - block, width, block)
        else:
            self._text(group, mx + 6, my, lines, size=LABEL_FONT_SIZE, anchor="start", halo=True)
            self._extend(mx + 6, my - block / 2, width, block)
