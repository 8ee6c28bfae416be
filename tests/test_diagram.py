"""The server-side BPMN diagram renderer (:mod:`api.diagram`).

The corpus tests use the SpiffWorkflow test files beside the project (``../shared/corpus/
spiffworkflow-tests``, or wherever ``CARECENTER_CORPUS_DIR`` points) and are skipped when that
folder is absent, as it is in a user's clone.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from engine.config import PROJECT_ROOT
from engine.diagram import NO_DIAGRAM, render_svg

DATA = Path(__file__).parent / "data"
HELLO_CARE = PROJECT_ROOT / "processes" / "hello_care.bpmn"
UNTRUSTED = DATA / "diagram_untrusted_names.bpmn"
NO_DI = DATA / "diagram_no_di.bpmn"
CORPUS = Path(
    os.environ.get("CARECENTER_CORPUS_DIR")
    or Path(__file__).resolve().parents[2] / "shared" / "corpus" / "spiffworkflow-tests"
)
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"SpiffWorkflow corpus not found at {CORPUS}")

SVG = "{http://www.w3.org/2000/svg}"
EVIL_NAME = '<script>alert(1)</script> & "x"'


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name.endswith((".bpmn", ".bpmn20.xml")))


def _parse(svg: str) -> etree._Element:
    """The output must be well-formed XML: parse it back as strictly as the renderer parses input."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(svg.encode("utf-8"), parser)
    assert root.tag == f"{SVG}svg"
    return root


def _groups(root: etree._Element, ref: str) -> list[etree._Element]:
    return root.xpath("//svg:g[@data-element-id=$ref]", namespaces={"svg": SVG[1:-1]}, ref=ref)


def _one(root: etree._Element, ref: str) -> etree._Element:
    groups = _groups(root, ref)
    assert len(groups) == 1, f"expected one group for {ref!r}, found {len(groups)}"
    return groups[0]


def _title(group: etree._Element) -> str:
    title = group.find(f"{SVG}title")
    assert title is not None, "every shape needs a <title>"
    return title.text or ""


def _classes(node: etree._Element) -> set[str]:
    return set((node.get("class") or "").split())


def _view_box(root: etree._Element) -> tuple[float, float, float, float]:
    x, y, w, h = (float(part) for part in root.get("viewBox").split())
    return x, y, x + w, y + h


def _drawn_plane(source: etree._Element) -> etree._Element:
    return next(source.iter("{*}BPMNPlane"))


def _shape_bounds(plane: etree._Element) -> list[tuple[str, tuple[float, float, float, float]]]:
    result = []
    for shape in plane.iter("{*}BPMNShape"):
        bounds = shape.find("{*}Bounds")
        if bounds is not None:
            values = tuple(float(bounds.get(key)) for key in ("x", "y", "width", "height"))
            result.append((shape.get("bpmnElement"), values))
    return result


def _waypoints(plane: etree._Element) -> list[tuple[float, float]]:
    return [(float(p.get("x")), float(p.get("y"))) for p in plane.iter("{*}waypoint")]


def _assert_encloses(root: etree._Element, plane: etree._Element) -> None:
    min_x, min_y, max_x, max_y = _view_box(root)
    for ref, (x, y, w, h) in _shape_bounds(plane):
        assert min_x <= x and x + w <= max_x and min_y <= y and y + h <= max_y, f"{ref} sticks out of the viewBox"
    for x, y in _waypoints(plane):
        assert min_x <= x <= max_x and min_y <= y <= max_y, f"waypoint {x},{y} outside the viewBox"


# --------------------------------------------------------------------------- hello_care


def test_hello_care_draws_every_shape_and_edge() -> None:
    data = HELLO_CARE.read_bytes()
    root = _parse(render_svg(data))
    source = etree.fromstring(data)
    plane = _drawn_plane(source)
    kinds = {
        "hello_care_participant": "participant",
        "lane_support": "lane",
        "start": "startEvent",
        "answer_inquiry": "userTask",
        "end": "endEvent",
        "flow_start_answer": "sequenceFlow",
        "flow_answer_end": "sequenceFlow",
    }
    refs = [di.get("bpmnElement") for di in plane if etree.QName(di).localname in ("BPMNShape", "BPMNEdge")]
    assert sorted(refs) == sorted(kinds)
    for ref, kind in kinds.items():
        group = _one(root, ref)
        assert group.get("data-element-type") == kind
        assert _classes(group) & {"bpmn-shape", "bpmn-edge"}
        assert _title(group)
    # shapes by type: events are circles, the task a rounded rectangle, the pool a rectangle
    assert _one(root, "start").find(f"{SVG}circle") is not None
    end_circle = _one(root, "end").find(f"{SVG}circle")
    start_circle = _one(root, "start").find(f"{SVG}circle")
    assert float(end_circle.get("stroke-width")) > float(start_circle.get("stroke-width"))
    task_rect = _one(root, "answer_inquiry").find(f"{SVG}rect")
    assert task_rect is not None and float(task_rect.get("rx")) > 0
    assert "Answer the inquiry" in " ".join(_one(root, "answer_inquiry").itertext())
    # the pool and lane names are written vertically at the left
    for ref, name in (("hello_care_participant", "Care center"), ("lane_support", "support")):
        text = _one(root, ref).find(f"{SVG}text")
        assert "rotate(-90" in text.get("transform") and "".join(text.itertext()) == name
    # sequence flows end in an arrowhead marker that exists
    polyline = _one(root, "flow_start_answer").find(f"{SVG}polyline")
    marker_id = polyline.get("marker-end").removeprefix("url(#").removesuffix(")")
    assert root.xpath("//svg:marker[@id=$id]", namespaces={"svg": SVG[1:-1]}, id=marker_id)


def test_svg_root_is_accessible_and_scales() -> None:
    root = _parse(render_svg(HELLO_CARE.read_bytes()))
    assert root.get("role") == "img"
    assert "Hello care" in root.get("aria-label")
    assert root.get("width") == root.get("viewBox").split()[2] == root.get("data-width")  # natural: pages shrink it
    assert root.get("viewBox")
    assert root.find(f"{SVG}style") is None  # no CSS leaking into the page the SVG is inlined in


def test_viewbox_encloses_all_shapes_and_waypoints() -> None:
    data = HELLO_CARE.read_bytes()
    root = _parse(render_svg(data, counts={"answer_inquiry": 7}, states={"start": "completed"}))
    _assert_encloses(root, _drawn_plane(etree.fromstring(data)))
    min_x, min_y, max_x, max_y = _view_box(root)
    assert (min_x, min_y) <= (120, 60) and (max_x, max_y) >= (600, 220)
    assert max_x - min_x < 600 and max_y - min_y < 300  # a margin, not a canvas


def test_states_are_applied_to_the_right_elements() -> None:
    states = {"start": "completed", "flow_start_answer": "completed", "answer_inquiry": "active", "end": "failed"}
    root = _parse(render_svg(HELLO_CARE.read_bytes(), states=states))
    for ref, state in states.items():
        group = _one(root, ref)
        assert state in _classes(group)
        assert group.get("data-state") == state
        assert not (_classes(group) - {state}) & {"completed", "active", "failed"}
    for ref in ("hello_care_participant", "lane_support", "flow_answer_end"):
        assert not _classes(_one(root, ref)) & {"completed", "active", "failed"}
    # not colour alone: the title says the state, and a text marker is drawn
    assert _title(_one(root, "answer_inquiry")).endswith("active")
    assert "completed" in _title(_one(root, "start"))
    markers = {g.get("data-for"): g for g in root.iter(f"{SVG}g") if "bpmn-state-marker" in _classes(g)}
    assert set(markers) == {"start", "answer_inquiry", "end"}
    glyphs = {ref: "".join(g.find(f"{SVG}text").itertext()) for ref, g in markers.items()}
    assert glyphs == {"start": "\u2713", "answer_inquiry": "\u25cf", "end": "!"}
    # and visible differences: green stroke, blue thick stroke, red fill
    start = _one(root, "start").find(f"{SVG}circle")
    task = _one(root, "answer_inquiry").find(f"{SVG}rect")
    end = _one(root, "end").find(f"{SVG}circle")
    assert start.get("stroke") == "#2e7d32"
    assert task.get("stroke") == "#1565c0" and float(task.get("stroke-width")) > 2
    assert end.get("fill") == "#f9caca"
    assert "1 active: Answer the inquiry" in root.get("aria-label")


def test_unknown_states_are_ignored() -> None:
    root = _parse(render_svg(HELLO_CARE.read_bytes(), states={"answer_inquiry": "bogus' onload='x", "ghost": "active"}))
    group = _one(root, "answer_inquiry")
    assert _classes(group) == {"bpmn-shape", "bpmn-userTask"}
    assert group.get("data-state") is None


def test_count_badges() -> None:
    counts = {"answer_inquiry": 3, "end": 0, "start": 1234, "not_in_diagram": 5}
    root = _parse(render_svg(HELLO_CARE.read_bytes(), counts=counts))
    badges = {g.get("data-for"): g for g in root.iter(f"{SVG}g") if "bpmn-count" in _classes(g)}
    assert set(badges) == {"answer_inquiry", "start"}
    assert "".join(badges["answer_inquiry"].find(f"{SVG}text").itertext()) == "3"
    assert "".join(badges["start"].find(f"{SVG}text").itertext()) == "1234"
    assert badges["answer_inquiry"].find(f"{SVG}title").text == "3 running instances waiting here"
    assert "3 waiting" in _title(_one(root, "answer_inquiry"))


def test_output_is_deterministic() -> None:
    data = HELLO_CARE.read_bytes()
    assert render_svg(data, states={"start": "active"}) == render_svg(data, states={"start": "active"})


def test_process_id_chooses_the_plane() -> None:
    data = HELLO_CARE.read_bytes()
    by_process = _parse(render_svg(data, process_id="hello_care"))  # drawn in the collaboration's plane
    assert _one(by_process, "answer_inquiry") is not None
    assert "Hello care" in by_process.get("aria-label")
    missing = _parse(render_svg(data, process_id="no_such_process"))
    assert "bpmn-diagram-empty" in _classes(missing)
    assert not missing.xpath("//*[@data-element-id]")


# --------------------------------------------------------------------------- untrusted input and fallbacks


def test_names_are_escaped_and_round_trip() -> None:
    svg = render_svg(UNTRUSTED.read_bytes(), states={"evil_task": "failed"}, counts={"evil_task": 2})
    root = _parse(svg)
    local_names = {etree.QName(node).localname for node in root.iter() if isinstance(node.tag, str)}
    assert not local_names & {"script", "foreignObject", "a", "img", "iframe"}
    assert all(node.tag.startswith(SVG) for node in root.iter() if isinstance(node.tag, str))
    assert not any(key.startswith("on") for node in root.iter() for key in node.attrib)
    assert "<script" not in svg and "<img" not in svg and "<a " not in svg
    task = _one(root, "evil_task")
    assert _title(task) == f"User task: {EVIL_NAME} \u2014 failed, 2 waiting"
    label = task.find(f"{SVG}text")  # wrapped into lines (a long word may be cut), but the same characters
    assert "".join(label.itertext()).replace(" ", "") == EVIL_NAME.replace(" ", "")
    assert _title(_one(root, "start")) == "Start event: </text><script>alert(3)</script>"
    assert _title(_one(root, "flow_1")) == 'Sequence flow: <a href="javascript:alert(4)">go</a>'
    assert _title(_one(root, "note")) == 'Text annotation: <svg onload="alert(5)"> & <foreignObject>'
    assert "]]> 'quoted'" in _title(_one(root, "end"))
    assert root.get("aria-label").startswith("BPMN diagram of <img src=x onerror=alert(2)>")


def test_file_without_diagram_gives_the_fallback() -> None:
    svg = render_svg(NO_DI.read_bytes(), states={"work": "active"}, counts={"work": 1})
    root = _parse(svg)
    assert NO_DIAGRAM == "No diagram in this file"
    assert NO_DIAGRAM in "".join(root.itertext())
    assert root.get("role") == "img" and root.get("aria-label") == NO_DIAGRAM


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not xml at all",
        b"<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL'>",
        b"<?xml version='1.0'?><!DOCTYPE d [<!ENTITY e 'x'>]><d name='&e;'/>",
        (DATA / "entity_bomb.bpmn").read_bytes(),
    ],
    ids=["empty", "text", "truncated", "doctype", "entity-bomb"],
)
def test_unreadable_files_give_a_message_not_an_exception(data: bytes) -> None:
    root = _parse(render_svg(data))
    assert "bpmn-diagram-empty" in _classes(root)


def test_unknown_and_unresolved_elements_are_plain_rectangles() -> None:
    data = b"""<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
        xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
        xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="d" targetNamespace="x">
      <process id="p"><startEvent id="s"/><complexBehaviorDefinition id="odd" /></process>
      <bpmndi:BPMNDiagram><bpmndi:BPMNPlane bpmnElement="p">
        <bpmndi:BPMNShape bpmnElement="odd"><dc:Bounds x="10" y="10" width="50" height="30"/></bpmndi:BPMNShape>
        <bpmndi:BPMNShape bpmnElement="ghost"><dc:Bounds x="100" y="10" width="50" height="30"/></bpmndi:BPMNShape>
        <bpmndi:BPMNShape bpmnElement="s"><dc:Bounds x="-5" y="-5" width="nan" height="30"/></bpmndi:BPMNShape>
        <bpmndi:BPMNEdge bpmnElement="gone"><di:waypoint x="60" y="25"/><di:waypoint x="100" y="25"/></bpmndi:BPMNEdge>
      </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
    </definitions>"""
    root = _parse(render_svg(data))
    odd, ghost = _one(root, "odd"), _one(root, "ghost")
    assert odd.get("data-element-type") == "complexBehaviorDefinition"
    assert ghost.get("data-element-type") == "unknown"
    for group in (odd, ghost):
        assert group.find(f"{SVG}rect") is not None
    assert not _groups(root, "s")  # bounds that are not numbers are left out
    assert _one(root, "gone").find(f"{SVG}polyline") is not None


def test_gateway_markers_and_message_flows() -> None:
    data = b"""<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
        xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
        xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="d" targetNamespace="x">
      <collaboration id="c">
        <participant id="a" name="A" processRef="p"/><participant id="b" name="B"/>
        <messageFlow id="m" name="letter" sourceRef="x" targetRef="b"/>
      </collaboration>
      <process id="p">
        <exclusiveGateway id="x"/><parallelGateway id="plus"/><inclusiveGateway id="o"/><eventBasedGateway id="ev"/>
        <boundaryEvent id="timer" attachedToRef="x" cancelActivity="false"><timerEventDefinition/></boundaryEvent>
        <dataStoreReference id="store" name="Records"/><dataObjectReference id="doc" name="Form"/>
      </process>
      <bpmndi:BPMNDiagram><bpmndi:BPMNPlane bpmnElement="c">
        <bpmndi:BPMNShape bpmnElement="a" isHorizontal="true"><dc:Bounds x="0" y="0" width="600" height="200"/>
        </bpmndi:BPMNShape>
        <bpmndi:BPMNShape bpmnElement="b" isHorizontal="true"><dc:Bounds x="0" y="300" width="600" height="60"/>
        </bpmndi:BPMNShape>
        <bpmndi:BPMNShape bpmnElement="x"><dc:Bounds x="50" y="50" width="50" height="50"/></bpmndi:BPMNShape>
        <bpmndi:BPMNShape bpmnElement="plus"><dc:Bounds x="150" y="50" width="50" height="50"/></bpmndi:BPMNShape>
        <bpmndi:BPMNShape bpmnElement="o"><dc:Bounds x="250" y="50" width="50" height="50"/></bpmndi:BPMNShape>
        <bpmndi:BPMNShape bpmnElement="ev"><dc:Bounds x="350" y="50" width="50" height="50"/></bpmndi:BPMNShape>
        <bpmndi:BPMNShape bpmnElement="timer"><dc:Bounds x="450" y="50" width="36" height="36"/></bpmndi:BPMNShape>
        <bpmndi:BPMNShape bpmnElement="store"><dc:Bounds x="50" y="120" width="50" height="50"/></bpmndi:BPMNShape>
        <bpmndi:BPMNShape bpmnElement="doc"><dc:Bounds x="150" y="120" width="36" height="50"/></bpmndi:BPMNShape>
        <bpmndi:BPMNEdge bpmnElement="m"><di:waypoint x="75" y="100"/><di:waypoint x="75" y="300"/></bpmndi:BPMNEdge>
      </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
    </definitions>"""
    root = _parse(render_svg(data))
    for ref in ("x", "plus", "o", "ev"):
        assert _one(root, ref).find(f"{SVG}polygon") is not None, f"{ref} is a diamond"
    assert _one(root, "o").findall(f"{SVG}circle")  # inclusive: O
    assert len(_one(root, "ev").findall(f"{SVG}circle")) == 2  # event-based: double circle and pentagon
    timer = _one(root, "timer")
    assert len(timer.findall(f"{SVG}circle")) >= 3  # double circle and the clock
    assert "timer" in _title(timer) and "non-interrupting" in _title(timer)
    assert timer.find(f"{SVG}circle").get("stroke-dasharray")
    flow = _one(root, "m").find(f"{SVG}polyline")
    assert flow.get("stroke-dasharray") and flow.get("marker-end") and flow.get("marker-start")
    labels = [g for g in root.iter(f"{SVG}g") if g.get("data-for") == "m" and "bpmn-edge-label" in _classes(g)]
    assert len(labels) == 1 and "".join(labels[0].itertext()) == "letter"
    assert "".join(_one(root, "b").find(f"{SVG}text").itertext()) == "B"  # black-box pool
    assert root.get("aria-label") == "BPMN diagram of p"  # the process drawn, not the pools


# --------------------------------------------------------------------------- the SpiffWorkflow corpus


@needs_corpus
def test_corpus_collaboration_with_lanes_and_subprocess_plane() -> None:
    data = (CORPUS / "spiff" / "data" / "waiting_event.bpmn").read_bytes()
    source = etree.fromstring(data)
    planes = list(source.iter("{*}BPMNPlane"))
    assert len(planes) == 2
    first = _parse(render_svg(data))
    sub_id = planes[1].get("bpmnElement")
    assert _one(first, sub_id).get("data-element-type") == "subProcess"  # drawn collapsed in the main plane
    inner = _parse(render_svg(data, process_id=sub_id))  # its own plane, drilled down
    assert not _groups(inner, sub_id)
    _assert_encloses(inner, planes[1])


@needs_corpus
@pytest.mark.parametrize("path", _corpus_files(), ids=lambda p: p.relative_to(CORPUS).as_posix())
def test_every_corpus_file_renders(path: Path) -> None:
    data = path.read_bytes()
    root = _parse(render_svg(data, states={}, counts={}))
    source = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    if next(source.iter("{*}BPMNPlane"), None) is None:
        assert "bpmn-diagram-empty" in _classes(root)
        return
    plane = _drawn_plane(source)
    _assert_encloses(root, plane)
    expected = Counter(ref for ref, (_x, _y, w, h) in _shape_bounds(plane))
    drawn = Counter(g.get("data-element-id") for g in root.iter(f"{SVG}g") if "bpmn-shape" in _classes(g))
    assert drawn == expected
