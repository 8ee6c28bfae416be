"""Scenario files: the care processes' own scenarios pass, and the runner reports what designers need.

The runner is tested on files of tests/data/scenarios (one of them fails on purpose, one is
outside the format) and through ``carecenter test``, as designers run it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from api.commands import main
from engine import read_model_check
from engine.config import PROJECT_ROOT, Settings
from engine.models import ProcessInstance
from engine.scenario_runner import ScenarioRunner
from engine.scenarios import ScenarioFileInvalid, discover, load

SCENARIOS = Path(__file__).parent / "data" / "scenarios"
PROCESS_SCENARIOS = discover([PROJECT_ROOT / "processes" / "tests"])


def read_models_match_the_workflows(care) -> None:
    """After every step: each instance's read-model rows, recomputed from its stored state, equal those written."""
    with care.db.read() as session:
        ids = session.scalars(select(ProcessInstance.id).order_by(ProcessInstance.id)).all()
        engine = care.executor.script_engine
        found = [
            problem
            for instance_id in ids
            for problem in read_model_check.mismatches(session, care.repository, engine, instance_id)
        ]
    assert not found, "\n".join(found)


@pytest.fixture(scope="module")
def runner():
    """Runs scenario files; every test's scenarios also check the read models after each of their steps."""
    scenario_runner = ScenarioRunner(Settings.from_env(), after_step=read_models_match_the_workflows)
    yield scenario_runner
    scenario_runner.close()


def results(runner, path: Path) -> dict:
    return {result.name: result for result in runner.run_file(load(path))}


@pytest.mark.parametrize("path", PROCESS_SCENARIOS, ids=[p.stem for p in PROCESS_SCENARIOS])
def test_every_scenario_of_the_care_processes_passes(runner, path):
    for result in runner.run_file(load(path)):
        assert result.passed, f"{result.name}: {result.failure}\n{result.state}"


def test_timers_fire_in_due_order_as_the_clock_moves(runner):
    result = results(runner, SCENARIOS / "sla.yaml")["the warning fires before the breach escalates"]
    assert result.passed, result.failure
    assert result.steps_run == 7


def test_a_failing_step_is_named_with_its_line_and_the_state_of_every_instance(runner):
    result = results(runner, SCENARIOS / "sla.yaml")["this one is meant to fail at its third step"]
    assert not result.passed and result.steps_run == 2
    assert (result.failed_step.kind, result.failed_step.line) == ("expect", 18)
    assert "status is 'active', expected 'completed'" in result.failure
    assert "is for groups ['support'], not 'billing'" in result.failure
    assert "instance 1 timer_sla v1: active (current)" in result.state
    assert "timers: sla_warning due 2030-01-07T12:00:00+00:00" in result.state


def test_service_calls_run_between_steps_and_their_mail_is_expected_from_the_outbox(runner):
    outcome = results(runner, SCENARIOS / "notify.yaml")
    assert all(result.passed for result in outcome.values()), [r.failure for r in outcome.values()]


def test_timer_start_events_start_instances_that_use_can_pick(runner):
    [result] = runner.run_file(load(SCENARIOS / "start.yaml"))
    assert result.passed, f"{result.failure}\n{result.state}"


def test_a_file_outside_the_format_is_refused_with_the_line_of_each_problem():
    with pytest.raises(ScenarioFileInvalid) as refused:
        load(SCENARIOS / "broken.yaml")
    assert refused.value.problems == [
        "line 7: scenarios.0.steps.1: 'wait' is not one of "
        "['advance', 'cancel', 'complete', 'expect', 'inquiry', 'message', 'signal', 'start', 'use']",
        "line 8: scenarios.0.steps.2.expect.status: 'finished' is not one of "
        "['active', 'completed', 'failed', 'cancelled']",
    ]


def test_a_missing_process_file_and_bad_yaml_are_refused(tmp_path):
    (tmp_path / "missing.yaml").write_text("deploy: [nowhere.bpmn]\nscenarios: [{name: x, steps: [{start: {}}]}]\n")
    with pytest.raises(ScenarioFileInvalid, match="deploy: no file nowhere.bpmn"):
        load(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("scenarios: [unclosed\n")
    with pytest.raises(ScenarioFileInvalid, match="not valid YAML"):
        load(tmp_path / "bad.yaml")


def test_carecenter_test_reports_each_scenario_and_exits_1_on_a_failure():
    cli = CliRunner()
    failing = cli.invoke(main, ["test", "--no-state", str(SCENARIOS / "sla.yaml")])
    assert failing.exit_code == 1
    assert "  PASS  the warning fires before the breach escalates (7 steps)" in failing.output
    assert "  FAIL  this one is meant to fail at its third step: step 3 (expect, line 18)" in failing.output
    assert "2 scenarios: 1 passed, 1 failed" in failing.output
    passing = cli.invoke(main, ["test", str(SCENARIOS / "notify.yaml"), str(SCENARIOS / "start.yaml")])
    assert passing.exit_code == 0, passing.output
    assert "3 scenarios: 3 passed, 0 failed" in passing.output
    invalid = cli.invoke(main, ["test", str(SCENARIOS / "broken.yaml")])
    assert invalid.exit_code == 1 and "INVALID  line 7" in invalid.output


def test_a_folder_is_searched_with_its_sub_folders(tmp_path):
    assert discover([PROJECT_ROOT / "processes"]) == PROCESS_SCENARIOS != []
    (tmp_path / "billing" / "tests").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    for name in ("billing/tests/b.yaml", "a.yml", ".git/ignored.yaml", "billing/tests/notes.txt"):
        (tmp_path / name).write_text("scenarios: []\n")
    assert discover([tmp_path]) == [tmp_path / "a.yml", tmp_path / "billing" / "tests" / "b.yaml"]


def test_a_scenario_whose_files_cannot_be_deployed_names_each_problem(runner, tmp_path):
    (tmp_path / "bad_script.bpmn").write_bytes((PROJECT_ROOT / "tests" / "data" / "bad_script.bpmn").read_bytes())
    (tmp_path / "s.yaml").write_text("deploy: [bad_script.bpmn]\nscenarios: [{name: x, steps: [{start: {}}]}]\n")
    [result] = runner.run_file(load(tmp_path / "s.yaml"))
    assert not result.passed and result.failed_step is None and result.steps_run == 0
    assert result.failure.startswith("the process files cannot be deployed: bad_script.bpmn:")
    assert "Python syntax error in script" in result.failure
    output = CliRunner().invoke(main, ["test", str(tmp_path)]).output
    assert "  FAIL  x: setting up: the process files cannot be deployed: bad_script.bpmn:" in output
