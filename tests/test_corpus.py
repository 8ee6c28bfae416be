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
  folder, plus the files they need from the extra DMN folders.  A folder holding both Camunda
  Modeler files and Spiff/plain files gets one such deployment per dialect, because the engine
  parses a whole deployment in one dialect (see :func:`test_dialects_mix_in_one_deployment`);
- **one deployment per remaining file**, together with the files it needs (transitively): files
  whose ids clash with a sibling's (SpiffWorkflow's tests load them one at a time, so many reuse
  ``main``, ``Process_1`` or ``token``, and two DMN files may share a decision id), files that need
  a clashing file, and the files of :data:`EXPECTED_REJECTIONS`.

Each invalid file is deployed alone with the files it needs, and must be refused with a problem
that names it; nothing may be stored.

Signavio-era files are named ``*.bpmn20.xml``; carecenter accepts only ``.bpmn`` and ``.dmn``
names, so they are deployed as ``*.bpmn`` (a separate test pins the refusal of the real name).

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
from engine.errors import DeploymentInvalid
from engine.runtime import StartRequest

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
    "bpmn/data/data_store.bpmn": "Data Store with name TestDataStore has no implementation",
    "bpmn/data/data_store_read.bpmn": "Data Store with name TestDataStore has no implementation",
    "bpmn/data/data_store_write.bpmn": "Data Store with name TestDataStore has no implementation",
    # A plain BPMN service task says nothing about what to call.
    "bpmn/data/service_task.bpmn": "A Service Task must have an operator",
    # Test data for SpiffWorkflow's dependency listing: the called processes are not in the corpus.
    "bpmn/data/multiple_call_activities.bpmn": "calls process 'Process_sypm122', which is neither",
    "bpmn/data/nested_call_activity.bpmn": "calls process 'is_this_missing', which is neither",
    "bpmn/data/single_call_activity.bpmn": "calls process 'SingleTask_Process', which is neither",
    "bpmn/data/call_activity_nested/call_activity_level_2.bpmn": "calls process 'Level2b', which is neither",
    "bpmn/data/call_activity_nested/call_activity_nested.bpmn": 'No DMN Diagram available with id "Level2c"',
    # Signavio exports: conditions that are not Python, flows without conditions, a bare call activity.
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
}

# Invalid files the engine accepts today (reported; strict, so a fix shows up as XPASS).
NON_EXECUTABLE_ONLY = (
    "every process is isExecutable=false, and carecenter stores non-executable processes without "
    "validating them; SpiffWorkflow refuses them as not executable"
)
DMN_NOT_PARSED = "DMN files are not fully parsed at deploy time"
ACCEPTED_INVALID = {
    "bpmn/data/Invalid-Workflows/Disconnected-Boundary-Event.bpmn20.xml": NON_EXECUTABLE_ONLY,
    "bpmn/data/Invalid-Workflows/Subprocess-Not-Found.bpmn20.xml": NON_EXECUTABLE_ONLY,
    "bpmn/data/Invalid-Workflows/non-executable-process.bpmn": NON_EXECUTABLE_ONLY,
    "dmn/data/dmn_version_test/v1_2_unsupported/diagram-interchange-dish-example.dmn": (
        f"{DMN_NOT_PARSED}: three decisions in one file fail only when a business rule task uses them"
    ),
    "dmn/data/dmn_version_test/v1_3_unsupported/diagram-interchange-dish-example.dmn": (
        f"{DMN_NOT_PARSED}: three decisions in one file fail only when a business rule task uses them"
    ),
    "camunda/data/dmn/invalid_decision.dmn": (
        f"{DMN_NOT_PARSED}: the rule entry '= 1' is not checked and fails only when evaluated"
    ),
    "camunda/data/invalid/InvalidDecision.bpmn": (
        f"{DMN_NOT_PARSED}: its decision (invalid_decision.dmn) has a rule entry '= 1' that fails only when evaluated"
    ),
}

# Processes never started here, with the reason.
NOT_STARTED = {
    "bpmn/data/call_activity_nested/call_activity_level_3.bpmn#Level3": (
        "calls itself with no wait state in between: runtime.start never returns (engine hang, reported)"
    ),
}

# Starts that crash today (reported; strict, so a fix shows up as XPASS).
START_CRASHES = {
    "bpmn/data/uncaught_escalation.bpmn#top_level": (
        AttributeError,
        "state.dump: a pending escalation of a Camunda-dialect process is serialized with the Spiff "
        "converter, which reads .expression",
    ),
}

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
        name = self.rel.rsplit("/", 1)[1]
        return name[: -len(".bpmn20.xml")] + ".bpmn" if name.endswith(".bpmn20.xml") else name

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
        dialects = sorted({f.dialect for f in together if f.kind == "bpmn"})
        if len(dialects) <= 1 and together:
            groups.append(_group(f"{folder}/*", together))
        elif len(dialects) > 1:
            # The engine parses a deployment in one dialect (see test_dialects_mix_in_one_deployment).
            for dialect in dialects:
                members = [f for f in together if f.dialect == dialect or (f.kind == "dmn" and dialect == dialects[0])]
                groups.append(_group(f"{folder}/* ({dialect} dialect)", members))
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


def test_grouping_covers_every_valid_file_once_as_primary():
    primary = [f.rel for g in valid_groups() for f in g.primary]
    valid = [rel for rel, f in corpus().items() if not f.invalid]
    assert sorted(primary + list(EXPECTED_REJECTIONS)) == sorted(valid)
    assert set(EXPECTED_REJECTIONS) <= set(valid)
    assert set(ACCEPTED_INVALID) | set(INVALID_MESSAGES) <= set(invalid_files())


def test_bpmn20_xml_names_are_refused_as_such(care):
    """carecenter takes ``.bpmn`` and ``.dmn`` only; the corpus's ``*.bpmn20.xml`` are renamed to deploy."""
    path = CORPUS / "bpmn/data/Test-Workflows/Parallel-One-Path-Ends.bpmn20.xml"
    with pytest.raises(DeploymentInvalid) as caught:
        care.repository.deploy([SourceFile(path.name, path.read_bytes())], "bpmn20", PRINCIPAL)
    assert [(p.file, p.message) for p in caught.value.problems] == [(path.name, "only .bpmn and .dmn files")]
    assert_nothing_stored(care)


# -- refusing invalid files --------------------------------------------------------------------


def _invalid_params() -> list:
    params = []
    for rel in invalid_files():
        marks = [pytest.mark.xfail(strict=True, reason=ACCEPTED_INVALID[rel])] if rel in ACCEPTED_INVALID else []
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


@pytest.mark.xfail(
    strict=True,
    raises=DeploymentInvalid,
    reason="engine parses a whole deployment in one dialect: one Camunda Modeler file makes every Spiff "
    "file in the deployment parse with CamundaParser (here: the multi-instance of performance_test.bpmn "
    "is refused; Spiff pre-/post-scripts are silently dropped)",
)
def test_dialects_mix_in_one_deployment(care):
    """A Spiff file deploys alone, so it should deploy beside a Camunda Modeler file too."""
    spiff, camunda = corpus()["bpmn/data/performance_test.bpmn"], corpus()["bpmn/data/boundary.bpmn"]
    assert (spiff.dialect, camunda.dialect) == ("spiff", "camunda")
    for alone in (spiff, camunda):
        assert care.repository.check([alone.source()])
    result = care.repository.deploy([spiff.source(), camunda.source()], "mixed", PRINCIPAL)
    assert {o.key for o in result.definitions} == {"Process_3no3Cw9", "boundary_event"}
