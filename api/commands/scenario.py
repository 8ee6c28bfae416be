"""``carecenter test``: run the scenario files of processes/tests (or those named) and report each scenario."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from engine.config import Settings
from engine.scenario_runner import ScenarioResult, ScenarioRunner
from engine.scenarios import ScenarioFileInvalid, discover, load


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--state/--no-state", default=True, show_default=True, help="Show the instances of a failed scenario.")
def scenario_test(paths: tuple[Path, ...], state: bool) -> None:
    """Run scenario files (default: the tests folder of the processes folder); exit 1 if any scenario fails.

    Each scenario runs on a scratch database with a virtual clock, so timers fire when the
    scenario moves the clock, not in real time. Format: docs/scenarios.md.
    """
    logging.getLogger("alembic").setLevel(logging.WARNING)  # every scenario database is migrated
    settings = Settings.from_env()
    files = discover(list(paths) or [settings.processes_dir / "tests"])
    if not files:
        click.echo("no scenario files found", err=True)
        sys.exit(2)
    runner = ScenarioRunner(settings)
    passed = failed = invalid = 0
    try:
        for path in files:
            click.echo(str(path))
            try:
                scenario_file = load(path)
            except ScenarioFileInvalid as error:
                invalid += 1
                for problem in error.problems:
                    click.echo(f"  INVALID  {problem}")
                continue
            for result in runner.run_file(scenario_file):
                _report(result, state)
                passed, failed = (passed + 1, failed) if result.passed else (passed, failed + 1)
    finally:
        runner.close()
    summary = f"{passed + failed} scenarios: {passed} passed, {failed} failed"
    click.echo(summary + (f"; {invalid} files invalid" if invalid else ""))
    if failed or invalid:
        sys.exit(1)


def _report(result: ScenarioResult, show_state: bool) -> None:
    if result.passed:
        click.echo(f"  PASS  {result.name} ({result.steps_run} steps)")
        return
    step = result.failed_step
    where = f"step {result.steps_run + 1} ({step.kind}, line {step.line})" if step else "setting up"
    click.echo(f"  FAIL  {result.name}: {where}: {result.failure}")
    if show_state and result.state:
        for line in result.state.splitlines():
            click.echo(f"        {line}")
