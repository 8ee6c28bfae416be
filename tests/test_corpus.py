"""Deploy and start the BPMN/DMN test files of the SpiffWorkflow project (the "external corpus").

The corpus lives beside the project (``../shared/corpus/spiffworkflow-tests``, or wherever
``CARECENTER_CORPUS_DIR`` points); the whole module is skipped when it is absent, as it is in a
user's clone.  The files were written by others for other engines' tests, so they are a fair
check that carecenter deploys what real modelers produce, and refuses what is broken.

How the files are grouped into deployments
------------------------------------------

Every file belongs to the folder it sits in.  A file is *invalid on purpose* when its path has
``invalid`` in a folder or file name, or lies in a ``*_unsupported`` DMN folder; all other files
are valid.

A file *needs* the processes its call activities call and the decisions its business rule tasks
use.  A need is met by the file of the same folder that defines that process or decision, or by a
DMN file of the extra DMN folders in :data:`DMN_FOLDERS` (``camunda/data/dmn``, ``spiff/data/dmn``).
Where several files define the same id, :data:`COMPANIONS` names the one meant (as SpiffWorkflow's
own tests pair them).  A need that nothing meets is left open: the engine must then refuse the file.

Valid files are deployed in these groups:

- **one deployment per folder** with every valid file whose ids (process ids, ids of embedded
  subprocesses, which SpiffWorkflow keys like processes, and decision ids) are unique in the
  folder, plus the files they need from the extra DMN folders.  Camunda Modeler files and
  Spiff/plain files share that deployment: the engine parses each file in its own dialect (see
  :func:`test_dialects_mix_in_one_deployment`);
- **one deployment per remaining file**, together with the files it needs (transitively): files
  whose ids clash with a sibling's (SpiffWorkflow's tests load them one at a time, so many reuse
  ``main``, ``Process_1`` or ``token``, and two DMN files may share a decision id), files that need
  a clashing file, and the files of :data:`EXPECTED_REJECTIONS`.

Each invalid file is deployed alone with the files it needs, and must be refused with a problem
that names it; nothing may be stored.  The one exception is :data:`STORED_NOT_EXECUTABLE`: a
non-executable process is stored by design, and starting it is refused.

Signavio-era files are named ``*.bpmn20.xml``; carecenter accepts that name as it is, so they are
deployed under their real names.

Starting: every executable process of the ``bpmn`` and ``spiff`` folders is started once, with
empty variables, from a deployment of its file with the files it needs; it must end up
``active``, ``completed`` or ``failed`` (a failing script is an incident, never an exception out
of ``runtime.start``).  A handful of simple processes are started with an exact expected status.
Processes that cannot be started here are listed in :data:`NOT_STARTED`, starts that crash today
in :data:`START_CRASHES`, invalid files the engine accepts today in :data:`ACCEPTED_INVALID`; the
last two are strict xfails, so a fix in the engine shows up as XPASS.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

from engine.bpmn import SourceFile
from engine.errors import DeploymentInvalid, NotExecutable
from engine.runtime import InstanceFilter, StartRequest

CORPUS = Path(
    os.environ.get("CARECENTER_CORPUS_DIR")
    or Path(__file__).resolve().parents[2] / "shared" / "corpus" / "spiffworkflow-tests"
)
if not CORPUS.is_dir():
    pytest.skip(f"SpiffWorkflow corpus not found at {CORPUS}", allow_module_level=True)

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS, "spiffworkflow": SPIFF_NS}
PRINCIPAL = "corpus-test"
RUN_STATUSES = {"active", "completed", "failed"}

# Folders whose BPMN files use decisions kept in another folder.
DMN_FOLDERS = {
    "camunda/data": ["camunda/data/dmn"],
    "camunda/data/invalid": ["camunda/data/dmn"],
    "spiff/data": ["spiff/data/dmn"],
}

# Which sibling is meant where several files define the called process or decision.
COMPANIONS = {
    "bpmn/data/resetworkflowA-toplevel.bpmn": ["bpmn/data/resetworkflowA-sublevel.bpmn"],
    "bpmn/data/resetworkflowB-toplevel.bpmn": ["bpmn/data/resetworkflowB-sublevel.bpmn"],
    "bpmn/data/call_activity_nested/call_activity_nested.bpmn": [
        "bpmn/data/call_activity_nested/call_activity_level_2.bpmn"
    ],
    "camunda/data/DMNMultiInstance.bpmn": ["camunda/data/dmn/test_integer_decision_multi.dmn"],
    "camunda/data/ExclusiveGatewayIfElseAndDecision.bpmn": ["camunda/data/dmn/test_integer_decision.dmn"],
}

# Valid-looking files the engine refuses for a legitimate reason: file -> part of the message.
NON_DEFAULT_FLOW = "Non-default exclusive outgoing sequence flow without condition"
EXPECTED_REJECTIONS = {
    # A Data Store needs an implementation registered with the parser; carecenter has none.
    "bpmn/data/data_store.bpmn": "data store 'TestDataStore' has no implementation in carecenter",
    "bpmn/data/data_store_read.bpmn": "data store 'TestDataStore' has no implementation in carecenter",
    "bpmn/data/data_store_write.bpmn": "data store 'TestDataStore' has no implementation in carecenter",
    # User tasks name JSON Schema forms that the corpus does not ship; deploys need the form files.
    "spiff/data/spiff_properties.bpmn": "form 'my_json_jschema.json' is neither uploaded nor in the forms folder",
    "spiff/data/user_task_variable.bpmn": "form 'pizza_form.json' is neither uploaded nor in the forms folder",
    # Service tasks call operations of spiff-arena's connector proxy, which carecenter's registry lacks.
    "spiff/data/service_task.bpmn": "unknown operation 'bamboohr/GetPayRate'",
    "spiff/data/service_task_variable.bpmn": "unknown operation 'bamboohr/GetPayRate'",
    "spiff/data/service_task_retry_without_backoff.bpmn": "unknown operation 'weather/CurrentTemp'",
    # A plain BPMN service task says nothing about what to call.
    "bpmn/data/service_task.bpmn": "A Service Task must have an operator",
    # Test data for SpiffWorkflow's dependency listing: the called processes are not in the corpus.
    "bpmn/data/multiple_call_activities.bpmn": "calls process 'Process_sypm122', which is neither",
    "bpmn/data/nested_call_activity.bpmn": "calls process 'is_this_missing', which is neither",
    "bpmn/data/single_call_activity.bpmn": "calls process 'SingleTask_Process', which is neither",
    # Level3 calls itself.  A file that needs it is refused with a problem naming the file that holds
    # the recursive call activity (call_activity_level_3.bpmn); level_2's own missing 'Level2b' goes
    # unreported, as the recursion stops the check of its process.
    "bpmn/data/call_activity_nested/call_activity_level_3.bpmn": (
        "recursive call: Level3 -> Level3; a process may not call itself"
    ),
    "bpmn/data/call_activity_nested/call_activity_level_2.bpmn": (
        "recursive call: Level2 -> Level3 -> Level3; a process may not call itself"
    ),
    "bpmn/data/call_activity_nested/call_activity_nested.bpmn": (
        "calls decision 'Level2c', which is neither in these files nor deployed: deploy its .dmn file"
    ),
    # Signavio exports: a condition in neither Python, JUEL (${...}) nor FEEL (=...) (priority = 'Emergency'),
    # flows without conditions, a bare call activity.  (No corpus file writes JUEL or FEEL: none was refused
    # for that before carecenter translated them, and none is now.)
    "bpmn/data/Test-Workflows/Scripts.bpmn20.xml": "Python syntax error in conditionExpression",
    "bpmn/data/Test-Workflows/Action-Management.bpmn20.xml": NON_DEFAULT_FLOW,
    "bpmn/data/Test-Workflows/Parallel-Join-Long.bpmn20.xml": NON_DEFAULT_FLOW,
    "bpmn/data/Test-Workflows/Parallel-Looping-After-Join.bpmn20.xml": NON_DEFAULT_FLOW,
    "bpmn/data/Test-Workflows/Parallel-Multiple-Splits.bpmn20.xml": NON_DEFAULT_FLOW,
    # Calls a process of Scripts.bpmn20.xml; the engine stops at that file's syntax error (found in a
    # first pass over all files) before it would report this file's own flows without conditions.
    "bpmn/data/Test-Workflows/Test-Workflows.bpmn20.xml": "Python syntax error in conditionExpression",
    "bpmn/data/Test-Workflows/Parallel-Many-Threads-At-Same-Point-Nested.bpmn20.xml": (
        'No "calledElement" attribute for Call Activity'
    ),
}

# Invalid files with a clear, stable reason: file -> part of the message.
INVALID_MESSAGES = {
    "bpmn/data/Invalid-Workflows/No-Start-Event.bpmn20.xml": "No start event found",
    "bpmn/data/invalid_cancel.bpmn": "Cancel Events may only be used with transactions",
    "bpmn/data/parallel_multiinstance_invalid.bpmn": "exactly one of cardinality or loop input",
    "bpmn/data/standard_loop_invalid.bpmn": "A loopMaximum or loopCondition must be specified",
    "bpmn/data/data_object_invalid.bpmn": "is not a valid value of the atomic type 'xs:ID'",
    # '= 1' is neither a value nor a comparison: refused at deploy (engine/dmn_entries.py)
    "camunda/data/dmn/invalid_decision.dmn": "input entry '= 1' of rule 1: it is neither a value nor a test",
    "camunda/data/invalid/InvalidDecision.bpmn": (
        "calls decision 'InvalidDecisionId' of invalid_decision.dmn, which is refused for its own problems"
    ),
}

# Invalid files the engine accepts today (reported; strict, so a fix shows up as XPASS): none at the moment.
ACCEPTED_INVALID: dict[str, str] = {}

# Invalid on purpose, but accepted by design: the project's requirement "Non-executable processes are
# stored but cannot be started (409)" overrides the rule that invalid corpus files are refused.  The
# file is otherwise sound (it is validated like an executable process, having a start event); it must
# be stored with executable False, and starting its processes must raise NotExecutable.
STORED_NOT_EXECUTABLE = {
    "bpmn/data/Invalid-Workflows/non-executable-process.bpmn": "its only process is isExecutable=false",
}

# Processes never started here, with the reason (none at the moment).
NOT_STARTED: dict[str, str] = {}

# Starts that crash today (reported; strict, so a fix shows up as XPASS): none at the moment.
START_CRASHES: dict[str, tuple[type[BaseException], str]] = {}

# A handful of simple processes that need no input, with the status their start must reach.
SIMPLE_STARTS = {
    "bpmn/data/no-tasks.bpmn#no_tasks": "completed",
    "bpmn/data/ScriptTest.bpmn#Process_1l85e0n": "completed",
    "bpmn/data/call_activity_end_event.bpmn#Process_8200379": "completed",
    "bpmn/data/Test-Workflows/Parallel-One-Path-Ends.bpmn20.xml#sid-33b2dda8-ca46-47ca-9f08-43de73abde9e": "active",
    "spiff/data/business_rule_task.bpmn#Process_bd2e724": "completed",
    "camunda/data/DMNMultiInstance.bpmn#Process_1": "completed",
    "camunda/data/random_fact.bpmn#random_fact": "active",
    "bpmn/data/exclusive_gateway_no_default.bpmn#NoDefaultGateway": "failed",
}


# -- reading the corpus ------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusFile:
    rel: str  # path inside the corpus, with "/"
    kind: str  # "bpmn" or "dmn"
    processes: tuple[tuple[str, bool], ...]  # (process id, executable)
    subprocesses: tuple[str, ...]  # ids of embedded subprocesses: SpiffWorkflow keys them like processes
    decisions: tuple[str, ...]
    dialect: str  # "camunda", "spiff" or "dmn", decided the way engine.bpmn decides it
    needs_processes: tuple[str, ...]
    needs_decisions: tuple[str, ...]

    @property
    def path(self) -> Path:
        return CORPUS / self.rel

    @property
    def folder(self) -> str:
        return self.rel.rsplit("/", 1)[0]

    @property
    def deployed_name(self) -> str:
        return self.rel.rsplit("/", 1)[1]

    @property
    def invalid(self) -> bool:
        parts = self.rel.lower().split("/")
        return any("invalid" in part or part.endswith("_unsupported") for part in parts)

    @property
    def ids(self) -> set[str]:
        return {pid for pid, _ in self.processes} | set(self.subprocesses) | set(self.decisions)

    def source(self) -> SourceFile:
        return SourceFile(self.deployed_name, self.path.read_bytes())


def _read(path: Path) -> CorpusFile:
    rel = path.relative_to(CORPUS).as_posix()
    root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    if path.suffix == ".dmn":
        decisions = tuple(root.xpath("//*[local-name()='decision']/@id"))
        return CorpusFile(rel, "dmn", (), (), decisions, "dmn", (), ())
    processes = tuple(
        (p.get("id"), p.get("isExecutable", "true") == "true") for p in root.xpath("//bpmn:process", namespaces=NS)
    )
    subprocesses = root.xpath(
        "//bpmn:subProcess/@id | //bpmn:transaction/@id | //bpmn:adHocSubProcess/@id", namespaces=NS
    )
    namespaces = set(root.nsmap.values())
    dialect = "camunda" if CAMUNDA_NS in namespaces and SPIFF_NS not in namespaces else "spiff"
    called = root.xpath("//bpmn:callActivity/@calledElement", namespaces=NS)
    decisions = root.xpath(
        "//bpmn:businessRuleTask/@camunda:decisionRef | //bpmn:businessRuleTask//spiffworkflow:calledDecisionId/text()",
        namespaces=NS,
    )
    return CorpusFile(
        rel,
        "bpmn",
        processes,
        tuple(str(i) for i in subprocesses),
        (),
        dialect,
        tuple(sorted({str(c) for c in called})),
        tuple(sorted({str(d).strip() for d in decisions if str(d).strip()})),
    )


@cache
def corpus() -> dict[str, CorpusFile]:
    paths = [p for p in CORPUS.rglob("*") if p.is_file() and p.name.endswith((".bpmn", ".bpmn20.xml", ".dmn"))]
    return {f.rel: f for f in map(_read, sorted(paths))}


def _folder_files(folder: str) -> list[CorpusFile]:
    return [f for f in corpus().values() if f.folder == folder]


def _candidates(file: CorpusFile) -> list[CorpusFile]:
    """The files that may meet the needs of ``file``: its folder's, and the extra DMN folders'."""
    extra = [f for folder in DMN_FOLDERS.get(file.folder, []) for f in _folder_files(folder)]
    return [f for f in _folder_files(file.folder) + extra if f.rel != file.rel and (file.invalid or not f.invalid)]


def _providers(file: CorpusFile) -> list[CorpusFile]:
    """The files ``file`` needs, directly: its companions, then the single file defining each need."""
    chosen = [corpus()[rel] for rel in COMPANIONS.get(file.rel, [])]
    defines = lambda f: {pid for pid, _ in f.processes} | set(f.decisions)  # noqa: E731
    for need in file.needs_processes + file.needs_decisions:
        if any(need in defines(f) for f in [file, *chosen]):
            continue
        found = [f for f in _candidates(file) if need in defines(f)]
        if len(found) > 1:
            raise AssertionError(f"{file.rel}: '{need}' is defined in several files; name one in COMPANIONS")
        chosen.extend(found)
    return chosen


def _closure(file: CorpusFile) -> list[CorpusFile]:
    """``file`` and everything it needs, transitively, in a stable order."""
    result, todo = [file], [file]
    while todo:
        for provider in _providers(todo.pop()):
            if provider not in result:
                result.append(provider)
                todo.append(provider)
    return result


@dataclass(frozen=True)
class Group:
    id: str
    primary: tuple[CorpusFile, ...]  # the files under test
    needed: tuple[CorpusFile, ...]  # files deployed with them because they need them

    @property
    def files(self) -> tuple[CorpusFile, ...]:
        return self.primary + self.needed

    def sources(self) -> list[SourceFile]:
        names = [f.deployed_name for f in self.files]
        assert len(names) == len(set(names)), f"{self.id}: two files named alike: {names}"
        return [f.source() for f in self.files]


def _group(group_id: str, primary: list[CorpusFile]) -> Group:
    needed: list[CorpusFile] = []
    for file in primary:
        needed.extend(f for f in _closure(file) if f not in primary and f not in needed)
    return Group(group_id, tuple(primary), tuple(needed))


def file_group(rel: str) -> Group:
    return _group(rel, [corpus()[rel]])


@cache
def valid_groups() -> list[Group]:
    groups = []
    for folder in sorted({f.folder for f in corpus().values()}):
        valid = [f for f in _folder_files(folder) if not f.invalid]
        seen: dict[str, int] = {}
        for f in valid:
            for i in f.ids:
                seen[i] = seen.get(i, 0) + 1
        alone = {f.rel for f in valid if f.rel in EXPECTED_REJECTIONS or any(seen[i] > 1 for i in f.ids)}
        # A file that needs a file deployed alone goes alone too.
        changed = True
        while changed:
            changed = False
            for f in valid:
                if f.rel not in alone and any(p.rel in alone for p in _closure(f)[1:]):
                    alone.add(f.rel)
                    changed = True
        together = [f for f in valid if f.rel not in alone]
        if together:
            groups.append(_group(f"{folder}/*", together))
        groups.extend(file_group(f.rel) for f in valid if f.rel in alone and f.rel not in EXPECTED_REJECTIONS)
    return groups


def invalid_files() -> list[str]:
    return [rel for rel, f in corpus().items() if f.invalid]


def start_cases() -> list[tuple[str, str]]:
    """(file, process id) for every executable process of the valid, accepted bpmn and spiff files."""
    cases = []
    for rel, f in corpus().items():
        if rel.split("/")[0] in ("bpmn", "spiff") and not f.invalid and rel not in EXPECTED_REJECTIONS:
            cases.extend((rel, pid) for pid, executable in f.processes if executable)
    return cases


# -- helpers -----------------------------------------------------------------------------------


def assert_nothing_stored(care) -> None:
    assert care.repository.latest_definitions() == []
    assert care.repository.deployments(100, None) == []


def refused(care, group: Group) -> list:
    with pytest.raises(DeploymentInvalid) as caught:
        care.repository.deploy(group.sources(), group.id, PRINCIPAL)
    assert caught.value.problems, "DeploymentInvalid without problems"
    assert_nothing_stored(care)
    return caught.value.problems


def start(care, rel: str, process_id: str) -> dict:
    care.repository.deploy(file_group(rel).sources(), rel, PRINCIPAL)
    view, created = care.runtime.start(StartRequest(process_id, {}), PRINCIPAL)
    assert created
    return view


def _case_id(case: tuple[str, str]) -> str:
    return f"{case[0]}#{case[1]}"


# -- deploying valid files ---------------------------------------------------------------------


@pytest.mark.parametrize("group", valid_groups(), ids=lambda g: g.id)
def test_valid_files_deploy_with_version_one(care, group):
    result = care.repository.deploy(group.sources(), group.id, PRINCIPAL)

    assert result.deployment_id is not None
    expected = {pid: executable for f in group.files for pid, executable in f.processes}
    got = {o.key: o for o in result.definitions}
    assert set(got) == set(expected)
    for key, outcome in got.items():
        assert (outcome.version, outcome.status, outcome.executable) == (1, "created", expected[key]), key
    latest = {d.key: d.version for d in care.repository.latest_definitions()}
    assert latest == dict.fromkeys(expected, 1)


@pytest.mark.parametrize("rel", sorted(EXPECTED_REJECTIONS))
def test_valid_files_the_engine_cannot_run_are_refused_with_a_reason(care, rel):
    group = file_group(rel)
    # The problem names the file, or a file it needs that is refused itself.
    names = {corpus()[rel].deployed_name} | {f.deployed_name for f in group.needed if f.rel in EXPECTED_REJECTIONS}
    problems = refused(care, group)

    mine = [p for p in problems if p.file in names]
    assert mine, f"no problem names {names}: {problems}"
    assert any(EXPECTED_REJECTIONS[rel] in p.message for p in mine), [p.message for p in mine]
    if rel.startswith("bpmn/data/data_store"):  # placed like every other problem
        assert all(p.line and p.element_id for p in mine if "data store" in p.message), mine


def test_a_recursive_call_is_refused_at_the_call_activity_that_closes_the_loop(care):
    """Level2 calls Level3, which calls itself: the problem points at Level3's call activity, in its file."""
    folder = "bpmn/data/call_activity_nested"
    group = file_group(f"{folder}/call_activity_level_2.bpmn")
    assert [f.rel for f in group.needed] == [f"{folder}/call_activity_level_3.bpmn"]
    problems = refused(care, group)

    tree = etree.parse(str(CORPUS / folder / "call_activity_level_3.bpmn"))
    [call] = tree.getroot().xpath("//bpmn:callActivity[@calledElement='Level3']", namespaces=NS)
    assert {(p.file, p.line, p.element_id) for p in problems} == {
        ("call_activity_level_3.bpmn", call.sourceline, call.get("id"))
    }
    assert sorted(p.message for p in problems) == [
        "recursive call: Level2 -> Level3 -> Level3; a process may not call itself",
        "recursive call: Level3 -> Level3; a process may not call itself",
    ]


def test_grouping_covers_every_valid_file_once_as_primary():
    primary = [f.rel for g in valid_groups() for f in g.primary]
    valid = [rel for rel, f in corpus().items() if not f.invalid]
    assert sorted(primary + list(EXPECTED_REJECTIONS)) == sorted(valid)
    assert set(EXPECTED_REJECTIONS) <= set(valid)
    special = [set(ACCEPTED_INVALID), set(INVALID_MESSAGES), set(STORED_NOT_EXECUTABLE)]
    assert set().union(*special) <= set(invalid_files())
    assert not (set(ACCEPTED_INVALID) | set(INVALID_MESSAGES)) & set(STORED_NOT_EXECUTABLE)


def test_bpmn20_xml_files_deploy_under_their_real_name(care):
    """carecenter takes ``.bpmn20.xml`` names as they are, beside ``.bpmn`` and ``.dmn``."""
    rel = "bpmn/data/Test-Workflows/Parallel-One-Path-Ends.bpmn20.xml"
    path = CORPUS / rel
    assert corpus()[rel].deployed_name == path.name == "Parallel-One-Path-Ends.bpmn20.xml"

    result = care.repository.deploy([SourceFile(path.name, path.read_bytes())], "bpmn20", PRINCIPAL)

    key = "sid-33b2dda8-ca46-47ca-9f08-43de73abde9e"
    assert [(o.key, o.version, o.status, o.executable) for o in result.definitions] == [(key, 1, "created", True)]
    [deployment] = care.repository.deployments(100, None)
    assert [r.filename for r in deployment.resources] == [path.name]
    assert care.repository.xml(key) == (path.name, path.read_bytes())


# -- refusing invalid files --------------------------------------------------------------------


def _invalid_params() -> list:
    params = []
    for rel in invalid_files():
        if rel in STORED_NOT_EXECUTABLE:
            continue  # accepted by design: see test_non_executable_processes_are_stored_but_cannot_start
        marks = []
        if rel in ACCEPTED_INVALID:
            # pytest.fail.Exception: "DID NOT RAISE" DeploymentInvalid, i.e. the file was accepted.
            marks = [pytest.mark.xfail(strict=True, raises=pytest.fail.Exception, reason=ACCEPTED_INVALID[rel])]
        params.append(pytest.param(rel, id=rel, marks=marks))
    return params


@pytest.mark.parametrize("rel", _invalid_params())
def test_invalid_files_are_refused_naming_the_file(care, rel):
    name = corpus()[rel].deployed_name
    problems = refused(care, file_group(rel))

    mine = [p for p in problems if p.file == name]
    assert mine, f"no problem names {name}: {problems}"
    assert all(p.message.strip() for p in mine)
    if rel in INVALID_MESSAGES:
        assert any(INVALID_MESSAGES[rel] in p.message for p in mine), [p.message for p in mine]


@pytest.mark.parametrize("rel", sorted(STORED_NOT_EXECUTABLE))
def test_non_executable_processes_are_stored_but_cannot_start(care, rel):
    """The requirement wins over the corpus's label: stored with executable False, starting it is a 409."""
    file = corpus()[rel]
    assert file.processes and not any(executable for _, executable in file.processes), STORED_NOT_EXECUTABLE[rel]

    result = care.repository.deploy(file_group(rel).sources(), rel, PRINCIPAL)

    expected = {pid: False for pid, _ in file.processes}
    assert {o.key: o.executable for o in result.definitions} == expected
    assert all((o.version, o.status) == (1, "created") for o in result.definitions)
    for process_id in expected:
        with pytest.raises(NotExecutable):
            care.runtime.start(StartRequest(process_id, {}), PRINCIPAL)
    assert care.runtime.list(InstanceFilter(), 10, None).items == []


# -- starting ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(SIMPLE_STARTS), ids=str)
def test_simple_processes_start_to_the_expected_status(care, case):
    rel, process_id = case.split("#")
    view = start(care, rel, process_id)

    expected = SIMPLE_STARTS[case]
    assert view["status"] == expected
    assert view["version"] == 1
    if expected == "completed":
        assert view["ended_at"] is not None
        assert view["tasks"] == []
    elif expected == "active":
        assert view["tasks"], "an active start of these processes waits at a user task"
    else:
        incidents = care.incidents.list("open", view["id"], 10, None).items
        assert len(incidents) == 1
        assert incidents[0]["message"]


def _start_params() -> list:
    params = []
    for case in start_cases():
        key = _case_id(case)
        if key in NOT_STARTED:
            continue
        marks = []
        if key in START_CRASHES:
            error, reason = START_CRASHES[key]
            marks = [pytest.mark.xfail(strict=True, raises=error, reason=reason)]
        params.append(pytest.param(case, id=key, marks=marks))
    return params


@pytest.mark.parametrize("case", _start_params())
def test_every_executable_process_starts_without_raising(care, case):
    rel, process_id = case
    view = start(care, rel, process_id)

    assert view["status"] in RUN_STATUSES
    assert view["process_key"] == process_id


def test_processes_not_started_are_still_in_the_corpus():
    cases = {_case_id(c) for c in start_cases()}
    assert set(NOT_STARTED) <= cases
    assert set(START_CRASHES) <= cases
    assert {c for c in SIMPLE_STARTS if c.split("/")[0] in ("bpmn", "spiff")} <= cases


def test_dialects_mix_in_one_deployment(care):
    """Each file is parsed in its own dialect, so Spiff and Camunda Modeler files deploy together."""
    spiff, camunda = corpus()["bpmn/data/performance_test.bpmn"], corpus()["bpmn/data/boundary.bpmn"]
    assert (spiff.dialect, camunda.dialect) == ("spiff", "camunda")
    for alone in (spiff, camunda):
        assert care.repository.check([alone.source()]).definitions
    result = care.repository.deploy([spiff.source(), camunda.source()], "mixed", PRINCIPAL)
    assert {o.key: o.executable for o in result.definitions} == {"Process_3no3Cw9": True, "boundary_event": True}


def test_spiff_extensions_survive_a_camunda_file_in_the_deployment(care):
    """The Spiff pre- and post-script of a task still run when a Camunda Modeler file is deployed beside it."""
    spiff, camunda = corpus()["spiff/data/prescript_postscript.bpmn"], corpus()["camunda/data/no_form.bpmn"]
    assert (spiff.dialect, camunda.dialect) == ("spiff", "camunda")
    result = care.repository.deploy([spiff.source(), camunda.source()], "mixed", PRINCIPAL)
    assert {o.key for o in result.definitions} == {"Process_1", "no_form"}

    view, _ = care.runtime.start(StartRequest("Process_1", {"a": 1, "b": 2}), PRINCIPAL)
    # The plain task waits as a manual task; its pre-script has run (x = a * 2, y = b * 2, z = x + y).
    assert view["status"] == "active"
    [task] = view["tasks"]
    assert task["element_id"] == "Activity_1iqs4li"
    assert care.runtime.get(view["id"])["data"] == {"a": 1, "b": 2, "x": 2, "y": 4, "z": 6}

    done = care.tasks.complete(task["id"], {}, PRINCIPAL)
    # The post-script has run too (c = z * 2, del x, del y).
    assert done["instance"]["status"] == "completed"
    assert care.runtime.get(view["id"])["data"] == {"a": 1, "b": 2, "z": 6, "c": 12}

    # The Camunda Modeler file of the same deployment runs as well.
    other, _ = care.runtime.start(StartRequest("no_form", {}), PRINCIPAL)
    assert other["status"] in RUN_STATUSES
