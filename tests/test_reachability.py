"""Flow nodes no token reaches, or that lead nowhere, are found and placed; well-formed models give no warning."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from engine.config import PROJECT_ROOT
from engine.reachability import reachability_warnings

HEAD = '<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">'


def warnings_of(body: str) -> list[tuple[str, str]]:
    root = etree.fromstring(f"{HEAD}<process id='p'>{body}</process></definitions>")
    return [(w.element_id, w.message.split(":")[0]) for w in reachability_warnings("m.bpmn", root)]


def flow(source: str, target: str) -> str:
    return f'<sequenceFlow id="{source}_{target}" sourceRef="{source}" targetRef="{target}"/>'


UNREACHED = "no path from a start event leads here"
STUCK = "no path leads from here to an end"


def test_a_task_no_flow_leads_to_never_runs():
    body = '<startEvent id="s"/><task id="a"/><task id="lost"/><endEvent id="e"/>' + flow("s", "a") + flow("a", "e")
    body += flow("lost", "e")
    assert warnings_of(body) == [("lost", UNREACHED)]


def test_a_loop_without_a_way_out_is_stuck():
    body = '<startEvent id="s"/><task id="a"/><task id="b"/>' + flow("s", "a") + flow("a", "b") + flow("b", "a")
    assert warnings_of(body) == [("s", STUCK), ("a", STUCK), ("b", STUCK)]


def test_boundary_events_links_event_subprocesses_and_compensation_are_paths():
    body = (
        '<startEvent id="s"/><task id="a"/><boundaryEvent id="late" attachedToRef="a"/><endEvent id="e"/>'
        + flow("s", "a")
        + flow("a", "go")
        + '<intermediateThrowEvent id="go"><linkEventDefinition name="L"/></intermediateThrowEvent>'
        + '<intermediateCatchEvent id="land"><linkEventDefinition name="L"/></intermediateCatchEvent>'
        + flow("land", "e")
        + flow("late", "e")
        + '<subProcess id="on_error" triggeredByEvent="true"><startEvent id="es"/><endEvent id="ee"/>'
        + flow("es", "ee")
        + "</subProcess>"
        + '<task id="undo" isForCompensation="true"/>'
    )
    assert warnings_of(body) == []


def test_without_start_events_nodes_without_incoming_flows_start_and_sub_processes_are_checked_alone():
    body = '<task id="a"/><subProcess id="sub"><startEvent id="ss"/><task id="inner"/><task id="orphan"/>'
    body += flow("ss", "inner") + "</subProcess>" + flow("a", "sub")
    assert warnings_of(body) == [("orphan", UNREACHED)]


@pytest.mark.parametrize("path", sorted((PROJECT_ROOT / "processes").glob("*.bpmn")), ids=lambda p: p.name)
def test_the_care_processes_have_no_warning(path: Path):
    assert reachability_warnings(path.name, etree.parse(str(path)).getroot()) == []
