"""What the customer will see, read from a diagram not deployed yet: the modeler's customer-view preview.

The tracking page and the portal show a customer the process's stages (``customer_stages``), the
label of each in their language, the message of the current stage and the whitelisted fields
(:mod:`engine.stages`, :mod:`engine.status`). A designer editing the diagram sees here, per stage,
the label in English, German and Czech as the customer will read it, where it comes from
(the catalogs deployed with the version edited, the ``customer_stage_de``/``_cs`` properties, or
the stage's key itself, untranslated), the elements that enter it, and its message with each
whitelisted field shown as a placeholder.

Labels are chosen as :func:`engine.status.stage_label` chooses them: catalog, then property, then key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine import forms, stages, templating
from engine.bpmn import SourceFile, read_xml
from engine.errors import DeploymentInvalid
from engine.extensions import NS
from engine.model_translations import CatalogError, parse_catalog

LANGUAGES = ("en", "de", "cs")
CATALOG, PROPERTY, KEY = "catalog", "property", "key"  # where a label comes from


@dataclass(frozen=True)
class Label:
    text: str
    source: str  # CATALOG, PROPERTY or KEY (KEY in German or Czech: not translated)


@dataclass(frozen=True)
class StagePreview:
    key: str
    labels: dict[str, Label]  # language -> label
    elements: list[str]  # ids of the elements that enter the stage
    message: str | None = None  # the template as written
    shown: str | None = None  # the message as the customer reads it, fields as placeholders
    problem: str | None = None  # why the message cannot be shown


@dataclass(frozen=True)
class ProcessPreview:
    process_id: str
    name: str
    stages: list[StagePreview] = field(default_factory=list)
    fields: list[tuple[str, dict[str, Label]]] = field(default_factory=list)  # (name, language -> label)


def preview(diagram: SourceFile, catalogs: list[SourceFile]) -> list[ProcessPreview]:
    """The customer view of each process of ``diagram`` that names customer stages; [] for a file that is not XML."""
    try:
        root = read_xml(diagram).getroot()
    except DeploymentInvalid:
        return []
    texts = _catalogs(catalogs)
    found = []
    for process in root.xpath("//bpmn:process", namespaces=NS):
        model = stages.read_model(process)
        if not model.stages:
            continue
        found.append(
            ProcessPreview(
                process.get("id"),
                process.get("name") or process.get("id"),
                [_stage(stage, model, texts) for stage in model.stages],
                [_field(name, texts) for name in model.fields],
            )
        )
    return found


def _catalogs(catalogs: list[SourceFile]) -> dict[str, dict[str, str]]:
    texts: dict[str, dict[str, str]] = {}
    for source in catalogs:
        try:
            catalog = parse_catalog(source.filename, source.content)
        except (CatalogError, ValueError):
            continue  # the check names a broken catalog; the preview shows what it can
        texts.setdefault(catalog.language, {}).update(catalog.messages)
    return texts


def _stage(stage: stages.Stage, model: stages.StageModel, texts: dict[str, dict[str, str]]) -> StagePreview:
    labels = {}
    for language in LANGUAGES:
        if texts.get(language, {}).get(stage.key):
            labels[language] = Label(texts[language][stage.key], CATALOG)
        elif stage.labels.get(language):
            labels[language] = Label(stage.labels[language], PROPERTY)
        else:
            labels[language] = Label(stage.key, KEY)
    elements = sorted(element for element, key in model.element_stages.items() if key == stage.key)
    if not stage.message:
        return StagePreview(stage.key, labels, elements)
    placeholders = {name: f"[{forms.field_label(name, {})}]" for name in model.fields}
    try:
        shown = templating.render_text(stage.message, placeholders)
    except templating.TemplateError as error:
        return StagePreview(stage.key, labels, elements, stage.message, None, str(error))
    return StagePreview(stage.key, labels, elements, stage.message, shown)


def _field(name: str, texts: dict[str, dict[str, str]]) -> tuple[str, dict[str, Label]]:
    """A whitelisted field's label per language, as engine/status.py's ``_fields`` chooses it."""
    label = forms.field_label(name, {})
    shown = {}
    for language in LANGUAGES:
        catalog = texts.get(language, {})
        translated = catalog.get(label) or catalog.get(name)
        shown[language] = Label(translated, CATALOG) if translated else Label(label, KEY)
    return name, shown
