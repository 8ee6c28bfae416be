"""The words of the models in German and Czech: catalogs the designer ships beside the BPMN file.

A process shows people the texts its designer wrote: the process name, the names its diagram draws
(tasks, events, gateways, flows, pools, lanes, annotations), customer stage labels and the titles,
labels, choices and help of its forms.  Their translations come with the process, as gettext
catalogs named ``<bpmn stem>.<language>.po`` (``inquiry_intake.de.po`` beside ``inquiry_intake.bpmn``)
whose msgids are the model's own texts.  They are deployed and stored with the BPMN file, so every
definition version keeps the translations it was deployed with.

- :func:`texts_of` lists the translatable texts of one process: the deploy check uses it to warn
  about missing translations, and ``carecenter translations extract`` to write a template.  A lane's
  name is listed but not missed: lanes name the teams (candidate groups) of their tasks, and the
  pages show a team by the display name an admin gave it unless a catalog translates the lane.
- :func:`parse_catalog` reads a catalog strictly: a malformed one is refused naming file and line.
- :func:`catalog_problems` and :func:`translation_warnings` are the deploy checks: broken catalogs
  refuse the deployment, missing translations only warn.
- :class:`ModelTexts` gives a definition version's translations, read once and cached;
  ``translate(key, version, language, text)`` falls back to the model's text.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from sqlalchemy import select

from engine import camunda_forms, forms, stages
from engine.bpmn import ElementInfo, ParsedFiles, SourceFile
from engine.db import Database
from engine.errors import DeploymentProblem
from engine.extensions import BPMN_NS, CONTAINERS, is_flow_node
from engine.models import DeploymentResource, ProcessDefinition

CATALOG_SUFFIX = ".po"
CATALOG_KIND = "catalog"  # SourceFile.kind and DeploymentResource.kind of a catalog
LANGUAGES = ("en", "de", "cs")  # what a catalog may translate into: the languages of the pages
TRANSLATED = ("de", "cs")  # the languages a process should ship catalogs for (English is the source)
LANGUAGE_NAMES = {"en": "English", "de": "German", "cs": "Czech"}
BPMN_SUFFIXES = (".bpmn20.xml", ".bpmn")
SHOWN = 3  # texts named in a warning before "and N more"
# elements besides flow nodes, lanes, annotations and groups whose name a diagram draws, by what a catalog calls them
DRAWN_NAMES = {
    "sequenceFlow": "flow",
    "messageFlow": "message flow",
    "participant": "pool",
    "dataObjectReference": "data object",
    "dataStoreReference": "data store",
}


def model_stem(filename: str) -> str:
    """``inquiry_intake`` for ``inquiry_intake.bpmn`` (or ``.bpmn20.xml``): the name catalogs start with."""
    lower = filename.lower()
    for suffix in BPMN_SUFFIXES:
        if lower.endswith(suffix):
            return filename[: -len(suffix)]
    return filename


def catalog_name(filename: str) -> tuple[str, str]:
    """``(stem, language)`` of ``<stem>.<language>.po``; ValueError saying how to name it otherwise."""
    parts = filename[: -len(CATALOG_SUFFIX)].rsplit(".", 1)
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise ValueError(f"name a catalog <bpmn file name>.<language>.po, e.g. {parts[0] or 'process'}.de.po")
    stem, language = parts[0], parts[1].lower()
    if language not in LANGUAGES:
        raise ValueError(f"language '{parts[1]}' is not one carecenter shows; use one of {', '.join(LANGUAGES)}")
    return stem, language


# -- the texts of a model ----------------------------------------------------------------------


@dataclass
class ModelText:
    """One text of a model, where it appears, and translations the model itself carries."""

    text: str
    places: list[str] = field(default_factory=list)  # "task answer", "form answer_inquiry.json: resolution"
    references: list[str] = field(default_factory=list)  # "inquiry_intake.bpmn:108"
    in_model: dict[str, str] = field(default_factory=dict)  # language -> label (customer_stage_de, ...)
    team: bool = False  # a lane's name and nothing else: a team's, shown by its display name when not translated


class _Texts:
    """Texts in the order first met, each once."""

    def __init__(self) -> None:
        self.found: dict[str, ModelText] = {}

    def add(
        self,
        text: object,
        place: str,
        reference: str | None = None,
        in_model: dict | None = None,
        *,
        team: bool = False,
    ) -> None:
        if not isinstance(text, str) or not text.strip():
            return
        entry = self.found.setdefault(text, ModelText(text, team=team))
        entry.team = entry.team and team
        if place not in entry.places:
            entry.places.append(place)
        if reference and reference not in entry.references:
            entry.references.append(reference)
        for language, label in (in_model or {}).items():
            entry.in_model.setdefault(language, label)

    def merge(self, other: ModelText) -> None:
        for place in other.places:
            self.add(other.text, place, None, other.in_model, team=other.team)
        references = self.found[other.text].references
        references.extend(r for r in other.references if r not in references)


def texts_of(
    filename: str, process: etree._Element, elements: Mapping[tuple[str, str], ElementInfo], documents: Mapping
) -> list[ModelText]:
    """The translatable texts of one process: its name, every name its diagram draws (also those of the
    collaboration it takes part in: pools, message flows), stage labels, the labels of the fields its
    customers see, and its forms' texts.

    ``elements`` are the parsed elements of its file (:attr:`ParsedFiles.elements`), ``documents``
    the form documents by file name; a form that is not among them contributes nothing.
    """
    found = _Texts()
    found.add(process.get("name"), "process", f"{filename}:{process.sourceline}")
    containers = {process.get("id")}
    root = process.getroottree().getroot()
    for node in process.iter():
        if isinstance(node.tag, str) and node.get("id"):
            if etree.QName(node).localname in CONTAINERS:
                containers.add(node.get("id"))
            _drawn_name(found, filename, root, node)
    for collaboration in _collaborations(root, process.get("id")):
        for node in collaboration.iter():
            if isinstance(node.tag, str) and node.get("id"):
                _drawn_name(found, filename, root, node)
    model = stages.read_model(process)
    for stage in model.stages:
        labels = {language: label for language, label in stage.labels.items() if language != "en"}
        found.add(stage.key, "customer stage", None, labels)
        found.add(stage.message, f"customer message of stage {stage.key}")  # a template: translated whole
    for name in model.fields:  # labelled on the customer's status page (engine/status.py)
        found.add(forms.field_label(name, {}), f"customer field {name}")
    for (container, _), info in elements.items():
        if container in containers and info.form_key in documents:
            ui = documents.get(info.form_ui_key or forms.ui_name_for(info.form_key)) or {}
            _form_texts(found, info.form_key, documents[info.form_key], ui)
    return list(found.found.values())


def _unprefixed(reference: str | None) -> str:
    """``Task_1`` of ``tns:Task_1``: references may be written as QNames."""
    return (reference or "").rsplit(":", 1)[-1]


def _collaborations(root: etree._Element, process_id: str | None) -> list[etree._Element]:
    """The collaborations with a pool of the process: a diagram of the process draws them whole."""
    return [
        collaboration
        for collaboration in root.iter(f"{{{BPMN_NS}}}collaboration")
        if any(
            _unprefixed(pool.get("processRef")) == process_id
            for pool in collaboration.iter(f"{{{BPMN_NS}}}participant")
        )
    ]


def _drawn_name(found: _Texts, filename: str, root: etree._Element, node: etree._Element) -> None:
    """The name a diagram draws for ``node`` (engine/diagram.py), if it draws one."""
    local, ident, reference = etree.QName(node).localname, node.get("id"), f"{filename}:{node.sourceline}"
    if is_flow_node(node):
        kind = "event" if local.endswith("Event") else "gateway" if local.endswith("Gateway") else "task"
        found.add(node.get("name"), f"{kind} {ident}", reference)
    elif local == "lane":
        place = f"lane {ident}: a team of this name is shown by its display name unless translated here"
        found.add(node.get("name"), place, reference, team=True)
    elif local in DRAWN_NAMES:
        found.add(node.get("name"), f"{DRAWN_NAMES[local]} {ident}", reference)
    elif local == "textAnnotation":
        found.add(node.findtext(f"{{{BPMN_NS}}}text"), f"annotation {ident}", reference)
    elif local == "group":
        value = _unprefixed(node.get("categoryValueRef"))
        for category in root.iter(f"{{{BPMN_NS}}}categoryValue") if value else ():
            if category.get("id") == value:
                found.add(category.get("value"), f"group {ident}", f"{filename}:{category.sourceline}")


def _form_texts(found: _Texts, name: str, schema: dict, ui: dict, path: str = "") -> None:
    """What the form pages show of a form: title, description, labels, help, placeholders, choices."""
    if not path:
        found.add(schema.get("title"), f"form {name}", name)
        found.add(schema.get("description"), f"form {name}", name)
    for field_name, spec in (schema.get("properties") or {}).items():
        if not isinstance(spec, dict):
            continue
        hints = ui.get(field_name) if isinstance(ui.get(field_name), dict) else {}
        place = f"form {name}: {path}{field_name}"
        found.add(forms.field_label(field_name, spec), place, name)
        found.add(forms.field_help(spec, hints), place, name)
        found.add(hints.get("ui:placeholder"), place, name)
        if "enum" in spec:
            for _, label in forms.option_labels(spec, hints):
                found.add(label, place, name)
        if spec.get("type") == "object":
            _form_texts(found, name, spec, hints, f"{path}{field_name}.")


def file_texts(path: Path, form_folders: Iterable[Path]) -> list[ModelText]:
    """The texts of every process in a BPMN file on disk, its forms read from ``form_folders`` (for designers)."""
    source = SourceFile(path.name, path.read_bytes())
    parsed = ParsedFiles([source], keep_going=True)
    if path.name not in parsed.trees:
        raise ValueError("; ".join(str(problem) for problem in parsed.problems) or f"{path.name}: not readable")
    root = parsed.trees[path.name].getroot()
    documents: dict[str, dict] = {}
    for (_, element_id), info in parsed.elements.items():
        if not info.form_key:
            continue
        node = root.xpath("//*[@id=$id]", id=element_id)[0]
        if camunda_forms.has_form_data(node) and info.form_key.startswith(camunda_forms.FORMDATA_PREFIX):
            generated = camunda_forms.generate(node, path.name)
            documents[generated.name], documents[forms.ui_name_for(generated.name)] = generated.schema, generated.ui
            continue
        for name in (info.form_key, info.form_ui_key or forms.ui_name_for(info.form_key)):
            for folder in form_folders:
                if "/" not in name and (folder / name).is_file():
                    documents.setdefault(name, json.loads((folder / name).read_bytes()))
                    break
    found = _Texts()
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        for entry in texts_of(path.name, process, parsed.elements, documents):
            found.merge(entry)
    return list(found.found.values())


# -- catalogs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    filename: str
    language: str
    messages: dict[str, str]  # msgid -> msgstr, only the translated ones (not empty, not fuzzy)
    entries: dict[str, int]  # every msgid -> its line


class CatalogError(ValueError):
    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unquote(text: str, line: int) -> str:
    text = text.strip()
    if len(text) < 2 or not text.startswith('"') or not text.endswith('"'):
        raise CatalogError(line, 'expected a text in double quotes, like "Anfrage"')
    result, inner, i = [], text[1:-1], 0
    while i < len(inner):
        char = inner[i]
        if char == '"':
            raise CatalogError(line, 'a double quote inside a text must be written \\"')
        if char == "\\":
            if i + 1 >= len(inner) or inner[i + 1] not in _ESCAPES:
                raise CatalogError(line, 'unknown escape: use \\n, \\t, \\r, \\" or \\\\')
            result.append(_ESCAPES[inner[i + 1]])
            i += 2
            continue
        result.append(char)
        i += 1
    return "".join(result)


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return '"' + escaped.replace("\r", "\\r") + '"'


def parse_catalog(filename: str, content: bytes) -> Catalog:
    """Read a catalog strictly; :class:`CatalogError` with the line for anything gettext would not read."""
    _, language = catalog_name(filename)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        raise CatalogError(line, "not UTF-8 text: save the catalog as UTF-8") from None
    entries: dict[str, int] = {}
    messages: dict[str, str] = {}
    header: tuple[str, int] | None = None  # the header entry's text and line
    entry: dict = {}  # msgid, msgstr, line, fuzzy, last (the keyword a continuation line extends)

    def finish() -> None:
        nonlocal header
        if not entry.get("started"):
            entry.clear()  # comments alone
            return
        if "msgid" not in entry:
            raise CatalogError(entry["line"], "msgstr without a msgid before it")
        if "msgstr" not in entry:
            raise CatalogError(entry["line"], f'msgid "{entry["msgid"]}" has no msgstr')
        msgid, line = entry["msgid"], entry["line"]
        if msgid == "":
            header = (entry["msgstr"], line)
        elif msgid in entries:
            raise CatalogError(line, f'msgid "{msgid}" is given twice (first on line {entries[msgid]})')
        else:
            entries[msgid] = line
            if entry["msgstr"] and not entry.get("fuzzy"):
                messages[msgid] = entry["msgstr"]
        entry.clear()

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#"):
            if line.startswith("#,") and "fuzzy" in (flag.strip() for flag in line[2:].split(",")):
                if entry.get("started"):
                    finish()
                entry["fuzzy"] = True
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            if "last" not in entry:
                raise CatalogError(number, "a continued text must follow a msgid or msgstr")
            entry[entry["last"]] += _unquote(line, number)
        elif keyword == "msgid":
            if "msgstr" in entry:
                finish()
            if "msgid" in entry:
                raise CatalogError(entry["line"], f'msgid "{entry["msgid"]}" has no msgstr')
            entry.update(started=True, line=number, msgid=_unquote(rest, number), last="msgid")
        elif keyword == "msgstr":
            if "msgstr" in entry:
                raise CatalogError(number, "a second msgstr for the same msgid")
            entry.setdefault("line", number)
            entry.update(started=True, msgstr=_unquote(rest, number), last="msgstr")
        elif keyword in ("msgctxt", "msgid_plural") or keyword.startswith("msgstr["):
            raise CatalogError(number, f"{keyword} is not used in model catalogs: one msgid, one msgstr per text")
        else:
            raise CatalogError(number, f"expected msgid, msgstr, a quoted text or a # comment, not '{keyword[:20]}'")
    finish()
    _check_header(header, language)
    return Catalog(filename, language, messages, entries)


def _check_header(header: tuple[str, int] | None, language: str) -> None:
    """The header may name the language and charset; they must agree with the file name and UTF-8."""
    text, line = header or ("", None)
    for field_line in text.splitlines():
        name, _, value = field_line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "language" and value and value.replace("-", "_").split("_")[0].lower() != language:
            raise CatalogError(line, f"the header says Language: {value}, the file name says {language}")
        if name == "content-type" and "charset=" in value.lower():
            charset = value.lower().split("charset=")[1].strip()
            if charset not in ("utf-8", "utf8", "charset"):  # CHARSET: the placeholder of a fresh template
                raise CatalogError(line, f"the header says charset={charset}; model catalogs are UTF-8")


def write_catalog(texts: list[ModelText], source: str, language: str | None, known: Mapping[str, str]) -> str:
    """A catalog (or, without ``language``, a template) of ``texts``; ``known`` fills in translations."""
    lines = [
        f"# {'Template' if language is None else LANGUAGE_NAMES[language]} texts of {source}"
        " (carecenter translations extract).",
        f"# Save as {model_stem(source)}.<language>.po beside {source}; languages: {', '.join(TRANSLATED)}."
        if language is None
        else f"# Save as {model_stem(source)}.{language}.po beside {source}.",
        'msgid ""',
        'msgstr ""',
        f'"Language: {language or ""}\\n"',
        '"MIME-Version: 1.0\\n"',
        '"Content-Type: text/plain; charset=UTF-8\\n"',
        '"Content-Transfer-Encoding: 8bit\\n"',
    ]
    for entry in texts:
        translation = "" if language is None else known.get(entry.text) or entry.in_model.get(language, "")
        lines += ["", *(f"#. {place}" for place in entry.places)]
        lines += [f"#: {' '.join(entry.references)}"] if entry.references else []
        lines += [f"msgid {_quote(entry.text)}", f"msgstr {_quote(translation)}"]
    return "\n".join(lines) + "\n"


# -- deploy checks -----------------------------------------------------------------------------


def catalog_problems(sources: list[SourceFile]) -> tuple[dict[str, list[Catalog]], list[DeploymentProblem]]:
    """The uploaded catalogs by the BPMN file they translate, and why the others are refused."""
    bpmn = {model_stem(s.filename): s.filename for s in sources if s.kind == "bpmn"}
    found: dict[str, list[Catalog]] = {}
    problems = []
    for source in sources:
        if source.kind != CATALOG_KIND:
            continue
        try:
            stem, _ = catalog_name(source.filename)
            catalog = parse_catalog(source.filename, source.content)
        except CatalogError as error:
            problems.append(DeploymentProblem(source.filename, error.line, None, error.message))
            continue
        except ValueError as error:
            problems.append(DeploymentProblem(source.filename, None, None, str(error)))
            continue
        if stem not in bpmn:
            problems.append(
                DeploymentProblem(
                    source.filename, None, None, f"no {stem}.bpmn in this deployment: deploy a catalog with its process"
                )
            )
            continue
        found.setdefault(bpmn[stem], []).append(catalog)
    return found, problems


def _listed(texts: list[str]) -> str:
    shown = ", ".join(f"“{text}”" for text in texts[:SHOWN])
    return shown + (f" and {len(texts) - SHOWN} more" if len(texts) > SHOWN else "")


def translation_warnings(
    filename: str, processes: list[tuple[etree._Element, list[ModelText]]], catalogs: list[Catalog]
) -> list[DeploymentProblem]:
    """Few lines about what a file's catalogs leave in English: one per process and language at most.

    ``processes`` are the file's executable processes with their texts.  Missing translations never
    refuse a deployment: the model's own text is shown instead.
    """
    by_language = {catalog.language: catalog for catalog in catalogs}
    stem = model_stem(filename)
    warnings = []
    for process, all_texts in processes:
        pid, line = process.get("id"), process.sourceline
        texts = [text for text in all_texts if not text.team]  # a lane left untranslated shows a team's name
        untranslated = [t for t in texts if any(language not in t.in_model for language in TRANSLATED)]
        if not untranslated:
            continue
        if not any(language in by_language for language in TRANSLATED):
            names = " and ".join(f"{stem}.{language}.po" for language in TRANSLATED)
            warnings.append(
                DeploymentProblem(
                    filename,
                    line,
                    pid,
                    f"no translations: {len(untranslated)} texts show in English to German and Czech readers;"
                    f" ship {names} beside it (carecenter translations extract {filename} writes a template)",
                )
            )
            continue
        for language in TRANSLATED:
            catalog = by_language.get(language)
            if catalog is None:
                warnings.append(
                    DeploymentProblem(
                        filename,
                        line,
                        pid,
                        f"no {LANGUAGE_NAMES[language]} catalog {stem}.{language}.po: "
                        f"its {len(texts)} texts show in English",
                    )
                )
                continue
            missing = [t.text for t in texts if t.text not in catalog.messages and language not in t.in_model]
            if missing:
                warnings.append(
                    DeploymentProblem(
                        catalog.filename,
                        None,
                        pid,
                        f"{len(missing)} of {len(texts)} texts have no {LANGUAGE_NAMES[language]} translation"
                        f" and show in English: {_listed(missing)}",
                    )
                )
    used = {text.text for _, texts in processes for text in texts}
    for catalog in catalogs:
        unused = [msgid for msgid in catalog.entries if msgid not in used]
        if unused and processes:
            warnings.append(
                DeploymentProblem(
                    catalog.filename,
                    catalog.entries[unused[0]],
                    None,
                    f"{len(unused)} {'entry translates a text' if len(unused) == 1 else 'entries translate texts'}"
                    f" the model does not have: {_listed(unused)}",
                )
            )
    return warnings


# -- translations at run time ------------------------------------------------------------------


@dataclass(frozen=True)
class Translations:
    """The translations a definition version shows: language -> model text -> translated text."""

    catalogs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def get(self, language: str, text: str) -> str | None:
        return self.catalogs.get(language, {}).get(text)

    def text(self, language: str, text: str) -> str:
        """``text`` in ``language``, else ``text`` as the model has it."""
        return self.get(language, text) or text

    def with_fallback(self, other: Translations) -> Translations:
        merged = {language: dict(texts) for language, texts in other.catalogs.items()}
        for language, texts in self.catalogs.items():
            merged.setdefault(language, {}).update(texts)
        return Translations(merged)


NONE = Translations()


class ModelTexts:
    """Each definition version's translations, read from its deployment's catalogs once and then kept.

    A definition lists the catalogs it shows in ``dependencies["catalogs"]`` (its own file's first,
    then those of the files whose processes it calls); the definitions it calls from earlier
    deployments add theirs after.  Versions never change, so nothing here is ever read twice.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._by_id: dict[int, Translations] = {}
        self._ids: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def of_definition(self, definition_id: int) -> Translations:
        cached = self._by_id.get(definition_id)
        if cached is None:
            loaded = self._load(definition_id)
            with self._lock:
                cached = self._by_id.setdefault(definition_id, loaded)
        return cached

    def of_version(self, key: str, version: int | None = None) -> Translations:
        """The translations of version ``version`` of process ``key`` (the latest if None; none if unknown)."""
        known = self._ids.get((key, version)) if version is not None else None
        if known is not None:
            return self.of_definition(known)
        query = select(ProcessDefinition.id, ProcessDefinition.version).where(ProcessDefinition.key == key)
        query = query.where(ProcessDefinition.version == version) if version is not None else query
        with self.db.read() as session:
            found = session.execute(query.order_by(ProcessDefinition.version.desc()).limit(1)).first()
        if found is None:
            return NONE
        self._ids[(key, found.version)] = found.id
        return self.of_definition(found.id)

    def translate(self, key: str, version: int | None, language: str, text: str) -> str:
        """``text`` of process ``key`` (version ``version``, None: the latest) in ``language``, else as it is."""
        return self.of_version(key, version).text(language, text)

    def _load(self, definition_id: int) -> Translations:
        with self.db.read() as session:
            row = session.get(ProcessDefinition, definition_id)
            if row is None:
                return NONE
            names = list(row.dependencies.get("catalogs", []))
            called = list(row.dependencies.get("processes", {}).values())
            contents = {
                r.filename: r.content
                for r in session.scalars(
                    select(DeploymentResource).where(
                        DeploymentResource.deployment_id == row.deployment_id,
                        DeploymentResource.filename.in_(names),
                    )
                )
            }
        merged: dict[str, dict[str, str]] = {}
        for name in names:  # the first catalog naming a text wins: the definition's own file comes first
            catalog = parse_catalog(name, contents[name])
            texts = merged.setdefault(catalog.language, {})
            for msgid, msgstr in catalog.messages.items():
                texts.setdefault(msgid, msgstr)
        found = Translations(merged)
        for called_id in called:
            found = found.with_fallback(self.of_definition(called_id))
        return found
