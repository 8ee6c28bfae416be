"""The scenario files of a process, run against a diagram not deployed yet (the modeler's "Run scenarios").

A designer testing from the editor wants to know whether the diagram on the screen still passes the
process's scenarios (``processes/tests/*.yaml``, :mod:`engine.scenarios`) before deploying it. This
finds the scenario files about the diagram's processes, puts the diagram in place of the file of the
same process in what each file deploys, and runs them with the ``carecenter test`` runner
(:class:`engine.scenario_runner.ScenarioRunner`: a scratch SQLite database per scenario, a virtual
clock, mail kept in the outbox). Nothing of the running engine is touched.

A scenario file is about the diagram when it is named after one of the diagram's processes or its
file (``hello_care.yaml`` for ``hello_care.bpmn``), or names one of its processes (``process:``, or a
``start``/``use`` step's ``process``); and the diagram replaces the file it deploys of that name or
defining one of those processes. (A file without ``deploy:`` deploys every process file, so what it
deploys says nothing about what it tests.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from engine.bpmn import SourceFile, read_xml
from engine.config import Settings
from engine.errors import DeploymentInvalid
from engine.extensions import NS
from engine.scenario_runner import ScenarioResult, ScenarioRunner
from engine.scenarios import ScenarioFile, ScenarioFileInvalid, Step, discover, load

MAX_FILES = 20  # scenario files run for one request; the rest are named as not run
PASSED, FAILED, NOT_RUN = "passed", "failed", "not run"


@dataclass(frozen=True)
class StepOutcome:
    number: int
    kind: str
    summary: str  # what the step does, in a few words: the task it completes, the time it advances, ...
    line: int
    outcome: str  # PASSED, FAILED or NOT_RUN
    failure: str | None = None


@dataclass(frozen=True)
class ScenarioOutcome:
    name: str
    passed: bool
    steps: list[StepOutcome]
    failure: str | None = None  # a failure before the first step (the files cannot be deployed)
    state: str | None = None  # the instances when a step failed


@dataclass(frozen=True)
class FileOutcome:
    name: str  # the scenario file's name, relative to the tests folder
    scenarios: list[ScenarioOutcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the file is invalid: nothing ran

    @property
    def passed(self) -> bool:
        return not self.problems and all(s.passed for s in self.scenarios)


def process_ids(diagram: SourceFile) -> set[str]:
    """The ids of the processes a BPMN file defines (none for a file that is not XML)."""
    try:
        return set(read_xml(diagram).getroot().xpath("//bpmn:process/@id", namespaces=NS))
    except DeploymentInvalid:
        return set()


def scenario_files(tests_dir: Path) -> list[Path]:
    return discover([tests_dir]) if tests_dir.is_dir() else []


def is_about(scenario_file: ScenarioFile, diagram: SourceFile, ids: set[str]) -> bool:
    """Whether ``scenario_file`` tests one of ``ids``, the processes of ``diagram`` (see the module's text)."""
    if scenario_file.path.stem in {*ids, diagram.filename.rsplit(".", 1)[0]} or scenario_file.process in ids:
        return True
    return any(
        step.kind in ("start", "use") and isinstance(step.arguments, dict) and step.arguments.get("process") in ids
        for scenario in scenario_file.scenarios
        for step in scenario.steps
    )


def with_diagram(scenario_file: ScenarioFile, diagram: SourceFile, ids: set[str]) -> list[SourceFile] | None:
    """What ``scenario_file`` deploys, the diagram in place of its process's file; None when it is not about it."""
    sources, replaced = [], False
    for path in scenario_file.deploy:
        source = SourceFile(path.name, path.read_bytes())
        if not replaced and (path.name == diagram.filename or (path.suffix == ".bpmn" and process_ids(source) & ids)):
            sources.append(SourceFile(path.name, diagram.content))  # the name the other files may refer to
            replaced = True
        else:
            sources.append(source)
    return sources if replaced else None


def run(settings: Settings, diagram: SourceFile) -> list[FileOutcome]:
    """Every scenario file about the diagram's processes, run against the diagram; [] when there are none."""
    tests_dir = settings.processes_dir / "tests"
    ids = process_ids(diagram)
    outcomes: list[FileOutcome] = []
    runner: ScenarioRunner | None = None
    try:
        for path in scenario_files(tests_dir):
            name = str(path.relative_to(tests_dir))
            try:
                scenario_file = load(path)
            except ScenarioFileInvalid as invalid:
                if path.stem in {diagram.filename.rsplit(".", 1)[0], *ids}:
                    outcomes.append(FileOutcome(name, problems=invalid.problems))
                continue
            sources = with_diagram(scenario_file, diagram, ids) if is_about(scenario_file, diagram, ids) else None
            if sources is None:
                continue
            if len(outcomes) >= MAX_FILES:
                outcomes.append(FileOutcome(name, problems=[f"not run: more than {MAX_FILES} scenario files"]))
                continue
            runner = runner or ScenarioRunner(settings)
            results = [runner.run(scenario_file, scenario, sources) for scenario in scenario_file.scenarios]
            outcomes.append(FileOutcome(name, [_outcome(scenario_file, result) for result in results]))
    finally:
        if runner is not None:
            runner.close()
    return outcomes


def _outcome(scenario_file: ScenarioFile, result: ScenarioResult) -> ScenarioOutcome:
    scenario = next(s for s in scenario_file.scenarios if s.name == result.name)
    steps = []
    for number, step in enumerate(scenario.steps, start=1):
        if number <= result.steps_run:
            outcome, failure = PASSED, None
        elif number == result.steps_run + 1 and not result.passed and result.failed_step is not None:
            outcome, failure = FAILED, result.failure
        else:
            outcome, failure = NOT_RUN, None
        steps.append(StepOutcome(number, step.kind, summary(step), step.line, outcome, failure))
    before_steps = None if result.passed or result.failed_step is not None else result.failure
    return ScenarioOutcome(result.name, result.passed, steps, before_steps, result.state or None)


SUMMARY_KEYS = {"start": "process", "use": "process", "complete": "task", "message": "name", "signal": "name"}


def summary(step: Step) -> str:
    """A step in a few words: ``Answer the inquiry`` for a complete, ``P2D`` for an advance, the checks of an expect."""
    arguments = step.arguments
    if not isinstance(arguments, dict):
        return str(arguments)[:120]
    if step.kind == "expect":
        return ", ".join(sorted(k for k in arguments if k not in ("instance", "of")))[:120]
    if step.kind == "inquiry":
        return str(arguments.get("subject", ""))[:120]
    value = arguments.get(SUMMARY_KEYS.get(step.kind, ""), "")
    return str(value)[:120] if value else ""
