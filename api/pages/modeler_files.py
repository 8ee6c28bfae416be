"""What the modeler page starts from and offers: the empty diagram, an opened file, the forms to pick.

Kept apart from the routes (api/pages/modeler.py) so the page module stays about requests.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from engine import forms
from engine.bpmn import SourceFile, read_xml
from engine.errors import DeploymentInvalid

# A start event in an executable process: what "New process" opens. The process id is the key the
# designer gives it (General → ID in the panel); a random one until then, so two new processes never clash.
BLANK = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" \
id="{key}_definitions" targetNamespace="http://carecenter.example/bpmn">
  <bpmn:process id="{key}" name="New process" isExecutable="true">
    <bpmn:startEvent id="{key}_start" name="Start" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="{key}_diagram">
    <bpmndi:BPMNPlane id="{key}_plane" bpmnElement="{key}">
      <bpmndi:BPMNShape id="{key}_start_di" bpmnElement="{key}_start">
        <dc:Bounds x="180" y="160" width="36" height="36" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def blank_diagram() -> str:
    return BLANK.format(key=f"process_{secrets.token_hex(3)}")


def opened_file(filename: str, content: bytes) -> tuple[str, str | None]:
    """``(xml, error)`` of a file opened in the modeler: read as a deploy reads it (no entities, no DTD)."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    if not name.lower().endswith((".bpmn", ".bpmn20.xml")):
        return "", "not a .bpmn or .bpmn20.xml file"
    try:
        read_xml(SourceFile(name, content))
        return content.decode("utf-8"), None
    except DeploymentInvalid as invalid:
        return "", "; ".join(p.message for p in invalid.problems)
    except UnicodeDecodeError:
        return "", "the file is not UTF-8 text"


def form_names(forms_dir: Path | None) -> list[str]:
    """The JSON-Schema forms a user task may name: ``forms/*.json`` without the ``.ui.json`` layouts."""
    if forms_dir is None or not forms_dir.is_dir():
        return []
    return sorted(
        p.name for p in forms_dir.glob(f"*{forms.FORM_SUFFIX}") if p.is_file() and not p.name.endswith(forms.UI_SUFFIX)
    )
