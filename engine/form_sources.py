"""Where an edited form comes from and where it goes: the modeler's form editor (docs/modeler.md).

A JSON-Schema form (``forms/<name>.json`` with its layout ``<name>.ui.json``) is stored with each
deployment of a process that names it and pinned to that version, so editing a form changes what
runs only when the processes using it are deployed again with it. This module finds:

- :func:`current_form`: the text the editor opens, the newest deployed copy (what runs), else the
  forms folder's file;
- :func:`processes_using`: the latest version of every process whose user tasks name the form, with
  its file, so the editor can deploy them again with the edited form (and their catalogs).

Names are plain file names (no folders): :func:`form_name_problem` says what is wrong with one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from engine import forms
from engine.bpmn import SourceFile, read_xml
from engine.db import Database
from engine.errors import DeploymentInvalid
from engine.extensions import CAMUNDA_NS, NS
from engine.models import DeploymentResource, ProcessDefinition

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,195}\.json$")


@dataclass(frozen=True)
class ProcessFile:
    """The latest version of a process and its file: what is deployed again with an edited form or decision."""

    key: str
    version: int
    definition_id: int
    filename: str
    content: bytes


def form_name_problem(name: str) -> str | None:
    """None for a form's file name (``answer_inquiry.json``), else why it is not one."""
    if not NAME.match(name) or ".." in name:
        return "a form is a .json file name of letters, digits, '_', '-' and '.'"
    if name.endswith(forms.UI_SUFFIX):
        return "a .ui.json file is a form's layout: edit it with its form"
    return None


def form_names(db: Database, forms_dir: Path | None) -> list[str]:
    """Every form the editor can open: deployed ones and the forms folder's, without layouts."""
    with db.read() as session:
        names = set(session.scalars(select(DeploymentResource.filename).where(DeploymentResource.kind == "form")))
    if forms_dir is not None and forms_dir.is_dir():
        names |= {p.name for p in forms_dir.glob(f"*{forms.FORM_SUFFIX}") if p.is_file()}
    return sorted(name for name in names if form_name_problem(name) is None)


def current_form(db: Database, forms_dir: Path | None, name: str) -> bytes | None:
    """The newest deployed copy of form file ``name`` (a schema or a layout), else the forms folder's, else None."""
    with db.read() as session:
        content = session.scalar(
            select(DeploymentResource.content)
            .where(DeploymentResource.kind == "form", DeploymentResource.filename == name)
            .order_by(DeploymentResource.id.desc())
            .limit(1)
        )
    if content is not None:
        return content
    path = forms_dir / name if forms_dir is not None else None
    return path.read_bytes() if path is not None and path.is_file() else None


def names_form(content: bytes, filename: str, name: str) -> bool:
    """Whether a BPMN file's user tasks name form ``name`` (``formJsonSchemaFilename``, ``camunda:formKey`` or
    Camunda 8's ``zeebe:formDefinition formKey``)."""
    try:
        root = read_xml(SourceFile(filename, content)).getroot()
    except DeploymentInvalid:
        return False
    in_extensions = root.xpath(
        "//bpmn:userTask//spiffworkflow:property[@name='formJsonSchemaFilename']/@value"
        " | //bpmn:userTask//camunda:property[@name='formJsonSchemaFilename']/@value"
        " | //bpmn:userTask/bpmn:extensionElements/zeebe:formDefinition/@formKey",
        namespaces=NS,
    )
    camunda = [n.get(f"{{{CAMUNDA_NS}}}formKey") for n in root.iter(f"{{{NS['bpmn']}}}userTask")]
    return name in in_extensions or name in camunda


def latest_process_files(db: Database) -> list[ProcessFile]:
    """The latest version of every process with its file, ordered by key."""
    with db.read() as session:
        latest: dict[str, ProcessDefinition] = {}
        query = select(ProcessDefinition).order_by(ProcessDefinition.key, ProcessDefinition.version)
        for row in session.scalars(query):
            latest[row.key] = row  # the last one seen is the newest
        return [
            ProcessFile(row.key, row.version, row.id, row.resource.filename, row.resource.content)
            for row in latest.values()
        ]


def processes_using(db: Database, name: str) -> list[ProcessFile]:
    """The latest version of each process whose file names form ``name``, ordered by key."""
    return [
        found
        for found in latest_process_files(db)
        if name.encode() in found.content and names_form(found.content, found.filename, name)
    ]
