"""The DMN files the decision editor opens, and the processes that call their decisions.

A business rule task names a decision (``spiffworkflow:calledDecisionId`` or ``camunda:decisionRef``);
a process deployed without the DMN file takes the newest deployed file defining it and is pinned to
it. So an edited decision table changes what runs only when the processes calling its decisions are
deployed again with it: the editor deploys the DMN file together with the latest version of each
(:func:`processes_calling`), as the form editor does with forms (:mod:`engine.form_sources`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from engine.bpmn import SourceFile, read_xml
from engine.db import Database
from engine.errors import DeploymentInvalid
from engine.extensions import CAMUNDA_NS, NS
from engine.form_sources import ProcessFile, latest_process_files
from engine.models import DeploymentResource

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,195}\.dmn$")


@dataclass(frozen=True)
class DmnFile:
    filename: str
    decisions: list[tuple[str, str]]  # (id, name) of each decision it defines


def dmn_name_problem(name: str) -> str | None:
    """None for a DMN file name (``classify_inquiry.dmn``), else why it is not one."""
    if not NAME.match(name) or ".." in name:
        return "a decision file is a .dmn file name of letters, digits, '_', '-' and '.'"
    return None


def decisions_of(content: bytes, filename: str = "decision.dmn") -> list[tuple[str, str]]:
    """The ``(id, name)`` of every decision a DMN file defines; [] for a file that is not XML."""
    try:
        root = read_xml(SourceFile(filename, content)).getroot()
    except DeploymentInvalid:
        return []
    return [(n.get("id"), n.get("name") or n.get("id")) for n in root.xpath("//*[local-name()='decision'][@id]")]


def current_dmn(db: Database, filename: str) -> bytes | None:
    """The newest deployed DMN file of that name."""
    with db.read() as session:
        return session.scalar(
            select(DeploymentResource.content)
            .where(DeploymentResource.kind == "dmn", DeploymentResource.filename == filename)
            .order_by(DeploymentResource.id.desc())
            .limit(1)
        )


def dmn_files(db: Database) -> list[DmnFile]:
    """The newest deployed copy of every DMN file, by name."""
    with db.read() as session:
        rows = session.execute(
            select(DeploymentResource.filename, DeploymentResource.content)
            .where(DeploymentResource.kind == "dmn")
            .order_by(DeploymentResource.id.desc())
        ).all()
    newest: dict[str, bytes] = {}
    for filename, content in rows:
        newest.setdefault(filename, content)
    return [DmnFile(name, decisions_of(newest[name], name)) for name in sorted(newest)]


def called_decisions(content: bytes, filename: str) -> set[str]:
    """The decision ids a BPMN file's business rule tasks call."""
    try:
        root = read_xml(SourceFile(filename, content)).getroot()
    except DeploymentInvalid:
        return set()
    spiff = root.xpath("//bpmn:businessRuleTask//spiffworkflow:calledDecisionId/text()", namespaces=NS)
    camunda = [n.get(f"{{{CAMUNDA_NS}}}decisionRef") for n in root.iter(f"{{{NS['bpmn']}}}businessRuleTask")]
    return {value.strip() for value in [*spiff, *camunda] if value and value.strip()}


def processes_calling(db: Database, decision_ids: set[str]) -> list[ProcessFile]:
    """The latest version of each process calling one of ``decision_ids``, ordered by key."""
    return [
        found for found in latest_process_files(db) if called_decisions(found.content, found.filename) & decision_ids
    ]
