"""RepositoryService: deployments and process definitions, and the in-process cache of parsed specs.

A deployment is one or more files taken as a unit: it is parsed and checked whole, and
either every changed process in it gets a new version or nothing is stored.  Parsed specs
are cached per definition version, so no request parses BPMN twice.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import camunda_forms, forms, model_translations, read_models, stages
from engine.bpmn import ElementInfo, ParsedFiles, SourceFile
from engine.clock import Clock
from engine.db import Database
from engine.errors import Conflict, DeploymentInvalid, DeploymentProblem, NotFound
from engine.layout_warnings import layout_warnings
from engine.models import Deployment, DeploymentResource, ProcessDefinition
from engine.reachability import reachability_warnings
from engine.service_specs import service_task_problems
from process_library.registry import Registry

DMN_DECISION_XPATH = "//*[local-name()='decision']/@id"
# The newest version of one process (parameter ``key``), every start's first read: through the (key, version) index,
# the columns a start decides by only (a Core row: loading the whole definition as an object cost more than the query).
_DEFINITIONS = ProcessDefinition.__table__
_LATEST_OF_KEY = (
    select(_DEFINITIONS.c.id, _DEFINITIONS.c.key, _DEFINITIONS.c.version, _DEFINITIONS.c.executable)
    .where(_DEFINITIONS.c.key == bindparam("key"))
    .order_by(_DEFINITIONS.c.version.desc())
    .limit(1)
)


@dataclass
class LoadedDefinition:
    """A definition version with everything needed to run it, parsed once."""

    id: int
    key: str
    version: int
    name: str
    spec: object
    subprocess_specs: dict[str, object]
    elements: dict[tuple[str, str], ElementInfo] = field(default_factory=dict)
    forms: dict[str, dict] = field(default_factory=dict)
    customer: stages.StageModel = field(default_factory=stages.StageModel)
    # what its instances can have rows of (engine/read_models.py); steps skip reading the others
    read_models: frozenset[str] = read_models.ALL

    def element(self, container_id: str, element_id: str) -> ElementInfo | None:
        return self.elements.get((container_id, element_id))


@dataclass
class DefinitionOutcome:
    key: str
    name: str
    version: int
    executable: bool
    status: str  # "created" or "unchanged"
    definition_id: int | None = None


@dataclass
class DeployResult:
    deployment_id: int | None  # None when nothing was stored (unchanged, or only checked)
    definitions: list[DefinitionOutcome]
    # What deploys but may not run as meant (engine/reachability.py): reported, never refused.
    warnings: list[DeploymentProblem] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.deployment_id is not None


@dataclass
class _Plan:
    """What a deployment would store, worked out before anything is written."""

    parsed: ParsedFiles
    external_resources: list[DeploymentResource]
    form_sources: list[SourceFile]
    outcomes: list[tuple[str, str, bool, str, dict]]  # key, name, executable, checksum, dependencies
    warnings: list[DeploymentProblem]


class Repository:
    def __init__(
        self, db: Database, clock: Clock, forms_dir: Path | None = None, operations: Registry | None = None
    ) -> None:
        self.db = db
        self.operations = operations  # the registry service tasks are checked against (None: not checked)
        self.clock = clock
        self.forms_dir = forms_dir
        self._cache: dict[int, LoadedDefinition] = {}
        self._cache_lock = threading.RLock()  # parsing a definition loads the ones it calls
        self.texts = model_translations.ModelTexts(db)  # each version's translations of its texts, cached too
        # Called in the deploy transaction with (session, [(new definition row, its spec), ...]):
        # the timer service replaces start-timer schedules there.
        self.deploy_listeners: list = []

    # -- deploying -------------------------------------------------------------------------

    def check(self, sources: list[SourceFile]) -> DeployResult:
        """Validate files as a deployment would, storing nothing."""
        with self.db.read() as session:
            plan = self._plan(session, sources)
        outcomes = [DefinitionOutcome(key, name, 0, ready, "checked") for key, name, ready, *_ in plan.outcomes]
        return DeployResult(None, outcomes, plan.warnings)

    def deploy(self, sources: list[SourceFile], name: str, principal: str) -> DeployResult:
        """Store the files and a new version of every changed process, or raise :class:`DeploymentInvalid`."""
        try:
            with self.db.write() as session:
                return self._deploy(session, sources, name, principal)
        except IntegrityError:
            raise Conflict("another deployment of the same process was stored at the same moment; retry") from None

    def _deploy(self, session: Session, sources: list[SourceFile], name: str, principal: str) -> DeployResult:
        plan = self._plan(session, sources)
        latest = {d.key: d for d in self._latest_rows(session, [o[0] for o in plan.outcomes])}
        changed_dmn = any(self._dmn_is_new(session, source) for source in sources if source.kind == "dmn")
        outcomes = []
        for key, title, executable, checksum, _ in plan.outcomes:
            current = latest.get(key)
            if current is not None and current.checksum == checksum:
                outcomes.append(DefinitionOutcome(key, title, current.version, executable, "unchanged", current.id))
            else:
                outcomes.append(
                    DefinitionOutcome(key, title, (current.version if current else 0) + 1, executable, "created")
                )
        if not changed_dmn and all(o.status == "unchanged" for o in outcomes):
            return DeployResult(None, outcomes, plan.warnings)

        now = self.clock.now()
        deployment = Deployment(
            name=name or ", ".join(s.filename for s in sources)[:200], created_at=now, created_by=principal
        )
        session.add(deployment)
        resources = {}
        for source in [*sources, *plan.form_sources]:
            if source.filename in resources:
                continue
            resource = DeploymentResource(
                filename=source.filename, kind=source.kind, content=source.content, checksum=source.checksum
            )
            deployment.resources.append(resource)
            resources[source.filename] = resource
        session.flush()
        processes = {p.id: p for p in plan.parsed.processes}
        created = []
        for outcome, (_, _, _, checksum, dependencies) in zip(outcomes, plan.outcomes, strict=True):
            if outcome.status != "created":
                continue
            row = ProcessDefinition(
                key=outcome.key,
                version=outcome.version,
                name=outcome.name,
                executable=outcome.executable,
                checksum=checksum,
                deployment_id=deployment.id,
                resource_id=resources[processes[outcome.key].filename].id,
                dependencies=dependencies,
                created_at=now,
            )
            session.add(row)
            session.flush()
            outcome.definition_id = row.id
            created.append(row)
        if self.deploy_listeners:
            deployed = [(row, plan.parsed.build(row.key)[0] if row.executable else None) for row in created]
            for listener in self.deploy_listeners:
                listener(session, deployed)
        return DeployResult(deployment.id, outcomes, plan.warnings)

    def _plan(self, session: Session, sources: list[SourceFile]) -> _Plan:
        """Check everything and plan the new versions; :class:`DeploymentInvalid` lists every problem of every file."""
        parsed = ParsedFiles(sources, keep_going=True)
        missing_decisions = parsed.referenced_decisions() - set(parsed.decision_files)
        external = self._resources_with_decisions(session, missing_decisions)
        if external:
            parsed = ParsedFiles(sources + [SourceFile(r.filename, r.content) for r in external], keep_going=True)
        form_sources, form_checksums, problems = self._forms(parsed, sources)
        catalogs, catalog_problems = model_translations.catalog_problems(sources)
        problems = parsed.problems + problems + catalog_problems
        outcomes = []
        file_checksums = {s.filename: s.checksum for s in sources} | {r.filename: r.checksum for r in external}
        for process in parsed.processes:
            if process.filename not in {s.filename for s in sources}:
                continue
            used = {file_checksums[process.filename]}
            dependencies: dict = {"processes": {}, "resources": [r.id for r in external]}
            if not process.executable and not parsed.has_start_event(process.id):
                outcomes.append(
                    (
                        process.id,
                        process.name,
                        False,
                        hashlib.sha256("|".join(sorted(used)).encode()).hexdigest(),
                        dependencies,
                    )
                )
                continue  # a pool that only documents another party: nothing to run, nothing to check
            try:
                spec, subprocess_specs, missing = parsed.build(process.id)
            except DeploymentInvalid as invalid:
                problems.extend(invalid.problems)
                continue
            problems.extend(stages.stage_problems(process.filename, parsed.process_node(process.id)))
            if self.operations is not None:
                specs = [spec, *subprocess_specs.values()]
                problems.extend(service_task_problems(specs, parsed.trees, self.operations))
            used.update(file_checksums[sub.file] for sub in subprocess_specs.values() if sub.file in file_checksums)
            # a new version when a decision this process (or what it calls) uses changed; not for other decisions
            decision_files = parsed.decision_files
            for decision in parsed.decisions_of([process.id, *subprocess_specs]):
                if decision_files.get(decision) in file_checksums:
                    used.add(file_checksums[decision_files[decision]])
            files_used = {process.filename, *(sub.file for sub in subprocess_specs.values())}
            used.update(checksum for (name, checksum) in form_checksums if name in files_used)
            # the catalogs it shows: its own file's first, then those of the files it calls (one changed: a new version)
            shown = [c for f in sorted(files_used, key=lambda f: f != process.filename) for c in catalogs.get(f, [])]
            dependencies["catalogs"] = [catalog.filename for catalog in shown]
            used.update(file_checksums[catalog.filename] for catalog in shown)
            for called in sorted(missing - parsed.broken_process_ids):
                found = self._latest_rows(session, [called])
                if not found or not found[0].executable:
                    problems.append(parsed.call_sites(process.id, called))
                    continue
                dependencies["processes"][called] = found[0].id
                used.add(found[0].checksum)
            checksum = hashlib.sha256("|".join(sorted(used)).encode()).hexdigest()
            outcomes.append((process.id, process.name, process.executable, checksum, dependencies))
        if problems:
            raise DeploymentInvalid(problems)
        uploaded_bpmn = {s.filename for s in sources if s.kind == "bpmn"}
        warnings = [
            warning
            for filename, tree in parsed.trees.items()
            if filename in uploaded_bpmn
            for warning in [
                *reachability_warnings(filename, tree.getroot()),
                *layout_warnings(filename, tree.getroot()),
            ]
        ]
        warnings += self._translation_warnings(parsed, sources, form_sources, catalogs, outcomes)
        return _Plan(parsed, external, form_sources, outcomes, warnings)

    @staticmethod
    def _translation_warnings(
        parsed: ParsedFiles, sources: list[SourceFile], form_sources: list[SourceFile], catalogs: dict, outcomes: list
    ) -> list[DeploymentProblem]:
        """What the uploaded processes will show in English for want of a translation (never a refusal)."""
        documents = {s.filename: json.loads(s.content) for s in [*sources, *form_sources] if s.kind == "form"}
        executable = {key for key, _, ready, *_ in outcomes if ready}
        by_file: dict[str, list] = {}
        for process in parsed.processes:
            if process.id in executable:
                node = parsed.process_node(process.id)
                texts = model_translations.texts_of(process.filename, node, parsed.elements, documents)
                by_file.setdefault(process.filename, []).append((node, texts))
        return [
            warning
            for source in sources
            if source.filename in by_file
            for warning in model_translations.translation_warnings(
                source.filename, by_file[source.filename], catalogs.get(source.filename, [])
            )
        ]

    def _forms(self, parsed: ParsedFiles, sources: list[SourceFile]) -> tuple[list, set, list[DeploymentProblem]]:
        """The form files the user tasks name: uploaded with the deployment, else taken from the forms folder.

        Returns the form sources to store, (bpmn file, form checksum) pairs, and the problems found.
        """
        uploaded = {s.filename: s for s in sources if s.kind == "form"}
        found: dict[str, SourceFile] = {}
        problems: list[DeploymentProblem] = []
        checksums: set[tuple[str, str]] = set()
        bpmn_files = {s.filename for s in sources if s.kind == "bpmn"}
        for name, source in uploaded.items():
            try:
                forms.parse_form(name, source.content)
                found[name] = source
            except ValueError as error:
                problems.append(DeploymentProblem(name, None, None, str(error)))
        for key, info in parsed.elements.items():
            filename = parsed.element_files[key]
            if filename not in bpmn_files or not info.form_key or not info.form_key.endswith(forms.FORM_SUFFIX):
                continue
            problem = self._generate_camunda_form(parsed, filename, info, found)
            if problem is not None:
                problems.append(problem)
                continue
            wanted = [
                (info.form_key, True),
                (info.form_ui_key or forms.ui_name_for(info.form_key), bool(info.form_ui_key)),
            ]
            for name, required in wanted:
                source = found.get(name) or self._form_from_folder(name)
                if source is None:
                    if required and name not in uploaded:
                        problems.append(
                            DeploymentProblem(
                                filename,
                                info.line,
                                info.element_id,
                                f"form '{name}' is neither uploaded nor in the forms folder",
                            )
                        )
                    continue
                if name not in found:
                    try:
                        forms.parse_form(name, source.content)
                    except ValueError as error:
                        problems.append(DeploymentProblem(filename, info.line, info.element_id, str(error)))
                        continue
                    found[name] = source
                checksums.add((filename, source.checksum))
        pulled = [source for name, source in found.items() if name not in uploaded]
        return pulled, checksums, problems

    @staticmethod
    def _generate_camunda_form(
        parsed: ParsedFiles, filename: str, info: ElementInfo, found: dict[str, SourceFile]
    ) -> DeploymentProblem | None:
        """Add the forms generated from a user task's ``camunda:formData`` to ``found``; the problem if it has none."""
        node = parsed.trees[filename].getroot().xpath("//*[@id=$id]", id=info.element_id)[0]
        if not camunda_forms.has_form_data(node):
            return None
        if not info.form_key.startswith(camunda_forms.FORMDATA_PREFIX):
            return DeploymentProblem(
                filename, info.line, info.element_id, "give the task either a .json form or camunda:formData, not both"
            )
        try:
            generated = camunda_forms.generate(node, filename)
        except camunda_forms.FormDataUnsupported as error:
            return DeploymentProblem(filename, info.line, info.element_id, f"camunda:formData: {error}")
        for name, content in generated.files():
            forms.parse_form(name, content)  # what carecenter generates must be a form it accepts
            found[name] = SourceFile(name, content)
        return None

    def _form_from_folder(self, name: str) -> SourceFile | None:
        if self.forms_dir is None or "/" in name or "\\" in name or name.startswith("."):
            return None
        path = self.forms_dir / name
        return SourceFile(name, path.read_bytes()) if path.is_file() else None

    def _resources_with_decisions(self, session: Session, decision_ids: set[str]) -> list[DeploymentResource]:
        """The newest deployed DMN files that define the given decisions (deploy time only)."""
        wanted, found = set(decision_ids), []
        if not wanted:
            return found
        for resource in session.scalars(
            select(DeploymentResource).where(DeploymentResource.kind == "dmn").order_by(DeploymentResource.id.desc())
        ):
            try:
                ids = set(
                    etree.fromstring(resource.content, etree.XMLParser(resolve_entities=False)).xpath(
                        DMN_DECISION_XPATH
                    )
                )
            except etree.XMLSyntaxError:
                continue
            if ids & wanted:
                found.append(resource)
                wanted -= ids
            if not wanted:
                break
        return found

    def _dmn_is_new(self, session: Session, source: SourceFile) -> bool:
        newest = session.scalar(
            select(DeploymentResource.checksum)
            .where(DeploymentResource.filename == source.filename, DeploymentResource.kind == "dmn")
            .order_by(DeploymentResource.id.desc())
            .limit(1)
        )
        return newest != source.checksum

    # -- reading ---------------------------------------------------------------------------

    @staticmethod
    def _latest_rows(session: Session, keys: list[str] | None = None) -> list[ProcessDefinition]:
        newest = select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("version")).group_by(
            ProcessDefinition.key
        )
        if keys is not None:
            newest = newest.where(ProcessDefinition.key.in_(keys))
        newest = newest.subquery()
        query = (
            select(ProcessDefinition)
            .join(
                newest,
                (ProcessDefinition.key == newest.c.key) & (ProcessDefinition.version == newest.c.version),
            )
            .order_by(ProcessDefinition.key)
        )
        return list(session.scalars(query))

    def latest_definitions(self) -> list[ProcessDefinition]:
        with self.db.read() as session:
            return self._latest_rows(session)

    def latest(self, session: Session, key: str) -> Row:
        """The newest version of process ``key``: its ``id``, ``key``, ``version`` and ``executable``."""
        row = session.connection().execute(_LATEST_OF_KEY, {"key": key}).first()
        if row is None:
            raise NotFound(f"no process definition with key '{key}'")
        return row

    def versions(self, key: str) -> list[ProcessDefinition]:
        with self.db.read() as session:
            rows = list(
                session.scalars(
                    select(ProcessDefinition)
                    .where(ProcessDefinition.key == key)
                    .order_by(ProcessDefinition.version.desc())
                )
            )
        if not rows:
            raise NotFound(f"no process definition with key '{key}'")
        return rows

    def xml(self, key: str, version: int | None = None) -> tuple[str, bytes]:
        """File name and content of the file that holds a definition (the latest if no version is given)."""
        with self.db.read() as session:
            query = select(ProcessDefinition).where(ProcessDefinition.key == key)
            query = query.where(ProcessDefinition.version == version) if version is not None else query
            row = session.scalar(query.order_by(ProcessDefinition.version.desc()).limit(1))
            if row is None:
                raise NotFound(
                    f"no process definition with key '{key}'" + (f" and version {version}" if version else "")
                )
            return row.resource.filename, row.resource.content

    def deployments(self, limit: int, after: int | None) -> list[Deployment]:
        with self.db.read() as session:
            query = select(Deployment).order_by(Deployment.id.desc()).limit(limit)
            if after is not None:
                query = query.where(Deployment.id < after)
            rows = list(session.scalars(query))
            for row in rows:
                _ = row.resources
            return rows

    def definitions_of(self, deployment_ids: list[int]) -> dict[int, list[ProcessDefinition]]:
        with self.db.read() as session:
            result: dict[int, list[ProcessDefinition]] = {i: [] for i in deployment_ids}
            for row in session.scalars(
                select(ProcessDefinition)
                .where(ProcessDefinition.deployment_id.in_(deployment_ids))
                .order_by(ProcessDefinition.key)
            ):
                result[row.deployment_id].append(row)
            return result

    # -- the spec cache --------------------------------------------------------------------

    def load(self, definition_id: int) -> LoadedDefinition:
        """The parsed, runnable form of a definition version; parsed on first use, then cached."""
        cached = self._cache.get(definition_id)
        if cached is not None:
            return cached
        with self._cache_lock:
            cached = self._cache.get(definition_id)
            if cached is None:
                cached = self._cache[definition_id] = self._parse(definition_id)
            return cached

    def _parse(self, definition_id: int) -> LoadedDefinition:
        with self.db.read() as session:
            row = session.get(ProcessDefinition, definition_id)
            if row is None:
                raise NotFound(f"no process definition with id {definition_id}")
            resources = list(row.resource.deployment.resources)
            extra_ids = row.dependencies.get("resources", [])
            if extra_ids:
                resources += list(
                    session.scalars(select(DeploymentResource).where(DeploymentResource.id.in_(extra_ids)))
                )
            sources = [SourceFile(r.filename, r.content) for r in resources]
            key, version, name = row.key, row.version, row.name
            called = dict(row.dependencies.get("processes", {}))
        parsed = ParsedFiles(sources)
        spec, subprocess_specs, _ = parsed.build(key)
        elements = dict(parsed.elements)
        loaded_forms = {s.filename: forms.parse_form(s.filename, s.content) for s in sources if s.kind == "form"}
        for called_key, called_id in called.items():
            dependency = self.load(called_id)
            subprocess_specs.setdefault(called_key, dependency.spec)
            for sub_key, sub_spec in dependency.subprocess_specs.items():
                subprocess_specs.setdefault(sub_key, sub_spec)
            for element_key, info in dependency.elements.items():
                elements.setdefault(element_key, info)
            for form_name, document in dependency.forms.items():
                loaded_forms.setdefault(form_name, document)
        customer = stages.read_model(parsed.process_node(key))
        return LoadedDefinition(
            definition_id,
            key,
            version,
            name,
            spec,
            subprocess_specs,
            elements,
            loaded_forms,
            customer,
            read_models.read_models_of([spec, *subprocess_specs.values()]),
        )
