"""Runs scenario files (see :mod:`engine.scenarios`) against a real engine on a scratch database.

Each scenario gets a fresh SQLite file (copied from one migrated template), the process files
deployed, the store rows inserted and a virtual clock: ``advance`` moves time instead of
waiting, and after every step the due service-task jobs and timers run as a worker would run
them, until nothing more is due.  A failing step stops its scenario; the result names the step
and describes every instance at that moment, so a designer sees why.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from engine import search
from engine.bpmn import SourceFile
from engine.clock import VirtualClock
from engine.config import Settings
from engine.core import CareEngine
from engine.db import Database
from engine.errors import CareError, DeploymentInvalid
from engine.models import CustomerStatus, HumanTask, Incident, ProcessInstance, ServiceJob, Timer
from engine.runtime import StartRequest
from engine.scenarios import STEP_SCHEMAS, Scenario, ScenarioFile, Step
from engine.schema import upgrade
from engine.tasks import TaskFilter
from engine.timer_specs import duration_from, parse_datetime
from process_library.store import CatalogItem, Customer, Dispatch, License, OutboxMessage, System

PRINCIPAL = "scenario"
SETTLE_ROUNDS = 200
MAX_DATA_SHOWN = 1500


class StepFailed(AssertionError):
    """A step did not do what the scenario says; the message says what happened instead."""


@dataclass(frozen=True)
class ScenarioResult:
    file: Path
    name: str
    passed: bool
    steps_run: int
    failed_step: Step | None = None
    failure: str | None = None
    state: str | None = None


class ScenarioRunner:
    """Runs the scenarios of files; one migrated template database per runner."""

    def __init__(self, settings: Settings, after_step: Callable[[CareEngine], None] | None = None) -> None:
        """``after_step`` is called with the scenario's engine after every step has settled (checks of the engine)."""
        self.settings = settings
        self.after_step = after_step
        self._scratch = Path(tempfile.mkdtemp(prefix="carecenter-scenarios-"))
        self._template = self._scratch / "template.db"
        database = Database(f"sqlite:///{self._template}")
        upgrade(database)
        database.dispose()
        self._count = 0

    def close(self) -> None:
        shutil.rmtree(self._scratch, ignore_errors=True)

    def run_file(self, scenario_file: ScenarioFile) -> list[ScenarioResult]:
        sources = [SourceFile(path.name, path.read_bytes()) for path in scenario_file.deploy]
        return [self.run(scenario_file, scenario, sources) for scenario in scenario_file.scenarios]

    def run(self, scenario_file: ScenarioFile, scenario: Scenario, sources: list[SourceFile]) -> ScenarioResult:
        self._count += 1
        database = self._scratch / f"scenario-{self._count}.db"
        shutil.copy(self._template, database)
        settings = Settings.from_env(
            database_url=f"sqlite:///{database}",
            processes_dir=self.settings.processes_dir,
            forms_dir=self.settings.forms_dir,
            operation_modules=self.settings.operation_modules,
            smtp_host="",  # mail stays in the outbox, where ``expect: mails`` looks
        )
        care = CareEngine(settings, clock=VirtualClock(scenario_file.now))
        run = ScenarioRun(care, scenario_file, self.after_step)
        done = 0
        try:
            try:
                care.repository.deploy(sources, f"scenarios {scenario_file.path.name}", PRINCIPAL)
            except DeploymentInvalid as invalid:
                problems = "; ".join(str(problem) for problem in invalid.problems)
                message = f"the process files cannot be deployed: {problems}"
                return ScenarioResult(scenario_file.path, scenario.name, False, 0, None, message, "")
            run.load_store(scenario_file.store)
            for step in scenario.steps:
                run.perform(step)
                done += 1
            return ScenarioResult(scenario_file.path, scenario.name, True, done)
        except (StepFailed, CareError) as failure:
            step = scenario.steps[done] if done < len(scenario.steps) else None
            message = (
                str(failure) if isinstance(failure, StepFailed) else f"{type(failure).__name__}: {error_text(failure)}"
            )
            return ScenarioResult(scenario_file.path, scenario.name, False, done, step, message, run.describe())
        finally:
            care.close()
            database.unlink(missing_ok=True)


class ScenarioRun:
    """The state of one scenario while it runs: the engine, the named instances, the current one."""

    def __init__(
        self, care: CareEngine, scenario_file: ScenarioFile, after_step: Callable[[CareEngine], None] | None = None
    ) -> None:
        self.care = care
        self.after_step = after_step
        self.default_process = scenario_file.process
        self.named: dict[str, int] = {}
        self.current: int | None = None
        self.steps: dict[str, Callable[[Any], None]] = {
            "start": self.start,
            "use": self.use,
            "complete": self.complete,
            "advance": self.advance,
            "message": self.message,
            "signal": self.signal,
            "inquiry": self.inquiry,
            "cancel": self.cancel,
            "expect": self.expect,
        }
        assert set(self.steps) == set(STEP_SCHEMAS), "every step of the format has a runner"

    # -- setting the scene ----------------------------------------------------------------------

    def load_store(self, store: dict[str, list[dict]]) -> None:
        """Insert customers, systems, licenses and catalog items; ``valid_until`` may be a duration from now."""
        now = self.care.clock.now()
        with self.care.db.write() as session:
            tables = ((Customer, "customers"), (System, "systems"), (License, "licenses"), (CatalogItem, "catalog"))
            for model, key in tables:
                for row in store.get(key, []):
                    values = dict(row)
                    if model is License:
                        values.setdefault("status", "active")
                        values["valid_until"] = _moment(values.get("valid_until", "P365D"), now)
                    if model is Customer:
                        values.setdefault("tier", "standard")
                        values.setdefault("language", "en")
                    if model is CatalogItem:
                        values.setdefault("currency", "EUR")
                        values.setdefault("term_months", 12)
                        values["price"] = Decimal(str(values.get("price", "0")))
                    try:
                        added = model(**values)
                    except TypeError as error:
                        raise StepFailed(f"store: {key}: {error}") from error
                    session.add(added)
                    if isinstance(added, Customer):
                        search.index_customer(session, added)
                session.flush()

    def perform(self, step: Step) -> None:
        self.steps[step.kind](step.arguments)
        self.settle()
        if self.after_step is not None:
            self.after_step(self.care)

    def settle(self) -> None:
        """Run due jobs and fire due timers, as a worker would, until nothing more is due."""
        for _ in range(SETTLE_ROUNDS):
            if self.care.jobs.run_due(PRINCIPAL) + self.care.timers.fire_due(PRINCIPAL) == 0:
                return
        raise StepFailed(f"jobs and timers kept falling due after {SETTLE_ROUNDS} rounds (a loop without a wait?)")

    # -- steps ----------------------------------------------------------------------------------

    def start(self, arguments: dict) -> None:
        process = arguments.get("process") or self.default_process
        if not process:
            raise StepFailed("start: no process named (set `process` on the step or the file)")
        request = StartRequest(
            process, arguments.get("data", {}), arguments.get("business_key"), arguments.get("customer_id")
        )
        view, _ = self.care.runtime.start(request, PRINCIPAL)
        self._name(view["id"], arguments.get("as"))

    def use(self, arguments: dict) -> None:
        query = select(ProcessInstance.id).order_by(ProcessInstance.id)
        for column, key in (
            (ProcessInstance.process_key, "process"),
            (ProcessInstance.business_key, "business_key"),
            (ProcessInstance.customer_id, "customer_id"),
        ):
            if key in arguments:
                query = query.where(column == arguments[key])
        with self.care.db.read() as session:
            found = list(session.scalars(query))
        if "variables" in arguments:  # reads the instances' data: fine for a scenario's few instances
            wanted_data = arguments["variables"]
            found = [i for i in found if _matches(self.care.runtime.get(i)["data"], wanted_data)]
        wanted = ", ".join(f"{k} {v}" for k, v in arguments.items() if k != "as")
        if len(found) != 1:
            raise StepFailed(f"use: {len(found)} instances have {wanted}, not exactly one")
        self._name(found[0], arguments.get("as"))

    def complete(self, arguments: dict) -> None:
        instance_id = self._instance(arguments.get("instance"))
        tasks = self.care.tasks.list(TaskFilter(instance_id=instance_id), limit=200, after=None).items
        matching = [t for t in tasks if arguments["task"] in (t["name"], t["element_id"])]
        if len(matching) != 1:
            names = ", ".join(repr(t["name"]) for t in tasks) or "none"
            raise StepFailed(f"complete: {len(matching)} open tasks are {arguments['task']!r}; open tasks: {names}")
        user = arguments.get("user", PRINCIPAL)
        expected_error = arguments.get("rejected")
        try:
            self.care.tasks.complete(matching[0]["id"], arguments.get("data", {}), user)
        except CareError as error:
            if expected_error is None:
                raise
            if expected_error not in error_text(error):
                raise StepFailed(f"complete: refused with {error_text(error)}, not {expected_error!r}") from error
            return
        if expected_error is not None:
            raise StepFailed(f"complete: the task took the data, but it should have refused it ({expected_error!r})")

    def advance(self, duration: str) -> None:
        clock = self.care.clock
        try:
            target = clock.now() + duration_from(duration, clock.now())
        except ValueError as error:
            raise StepFailed(f"advance: {error}") from error
        # Fire what falls due on the way in due order, so a reminder on day 2 fires before the deadline on day 7.
        while True:
            due = self.care.timers.next_due_at()
            if due is None or due > target:
                break
            clock.move_to(max(due, clock.now()))
            self.settle()
        clock.move_to(target)

    def message(self, arguments: dict) -> None:
        target = self._instance(arguments["to"]) if "to" in arguments else None
        self.care.messages.publish(
            arguments["name"],
            principal=PRINCIPAL,
            business_key=arguments.get("business_key"),
            correlation=arguments.get("correlation_keys"),
            payload=arguments.get("payload"),
            message_id=arguments.get("message_id"),
            ttl=arguments.get("ttl"),
            target_instance_id=target,
        )

    def signal(self, arguments: dict) -> None:
        self.care.messages.broadcast(arguments["name"], arguments.get("payload"), PRINCIPAL)

    def inquiry(self, arguments: dict) -> None:
        reference = arguments.get("reference")
        if reference in self.named:
            reference = self.care.runtime.get(self.named[reference], with_data=False)["tracking_code"]
        result = self.care.intake.submit(
            channel=arguments.get("channel", "email"),
            customer=arguments["customer"],
            subject=arguments["subject"],
            body=arguments["body"],
            reference=reference,
            principal=PRINCIPAL,
        )
        self._name(result.instance_id, arguments.get("as"))

    def cancel(self, arguments: dict) -> None:
        self.care.runtime.cancel(self._instance(arguments.get("instance")), PRINCIPAL)

    def expect(self, arguments: dict) -> None:
        checks = {key: value for key, value in arguments.items() if key != "instance"}
        instance_id = self._instance(arguments.get("instance")) if _needs_instance(checks) else None
        problems: list[str] = []
        for key, expected in checks.items():
            problems.extend(EXPECTATIONS[key](self, instance_id, expected))
        if problems:
            raise StepFailed("expect: " + "; ".join(problems))

    # -- what the expectations look at ----------------------------------------------------------

    def _expect_status(self, instance_id: int, expected: str) -> list[str]:
        actual = self.care.runtime.get(instance_id, with_data=False)["status"]
        return [] if actual == expected else [f"status is {actual!r}, expected {expected!r}"]

    def _expect_tasks(self, instance_id: int, expected: list[dict]) -> list[str]:
        tasks = self.care.tasks.list(TaskFilter(instance_id=instance_id), limit=200, after=None).items
        actual = sorted(t["name"] for t in tasks)
        wanted = sorted(e["name"] for e in expected)
        if actual != wanted:
            return [f"open tasks are {actual}, expected {wanted}"]
        problems = []
        for item in expected:
            task = next(t for t in tasks if t["name"] == item["name"])
            if "group" in item and item["group"] not in task["candidate_groups"]:
                groups = task["candidate_groups"]
                problems.append(f"task {item['name']!r} is for groups {groups}, not {item['group']!r}")
            if "form" in item and item["form"] != task["form_key"]:
                problems.append(f"task {item['name']!r} has form {task['form_key']!r}, expected {item['form']!r}")
            if "assignee" in item and item["assignee"] != task["assignee"]:
                problems.append(f"task {item['name']!r} is assigned to {task['assignee']!r}, not {item['assignee']!r}")
        return problems

    def _expect_variables(self, instance_id: int, expected: dict) -> list[str]:
        data = self.care.runtime.get(instance_id)["data"]
        problems = []
        for name, value in expected.items():
            if name not in data:
                problems.append(f"variable {name!r} is not set")
            elif not _matches(data[name], value):
                problems.append(f"variable {name!r} is {_short(data[name])}, expected {_short(value)}")
        return problems

    def _customer_view(self, instance_id: int) -> CustomerStatus | None:
        with self.care.db.read() as session:
            return session.get(CustomerStatus, instance_id)

    def _expect_stage(self, instance_id: int, expected: str | None) -> list[str]:
        view = self._customer_view(instance_id)
        actual = view.stage if view else None
        return [] if actual == expected else [f"customer stage is {actual!r}, expected {expected!r}"]

    def _expect_customer_status(self, instance_id: int, expected: str) -> list[str]:
        view = self._customer_view(instance_id)
        actual = view.status if view else None
        return [] if actual == expected else [f"customer status is {actual!r}, expected {expected!r}"]

    def _expect_incidents(self, instance_id: int, expected: int | list[dict]) -> list[str]:
        with self.care.db.read() as session:
            query = select(Incident).where(Incident.instance_id == instance_id, Incident.status == "open")
            incidents = list(session.scalars(query.order_by(Incident.id)))
        rows = [{"element": i.element_id, "contains": i.message} for i in incidents]
        return _compare_rows("open incidents", rows, expected, contains=("contains",))

    def _expect_mails(self, _instance_id: None, expected: int | list[dict]) -> list[str]:
        with self.care.db.read() as session:
            query = select(OutboxMessage).where(OutboxMessage.kind == "mail").order_by(OutboxMessage.id)
            mails = [{"to": m.recipient, "subject": m.subject, "contains": m.body} for m in session.scalars(query)]
        return _compare_rows("mails", mails, expected, contains=("subject", "contains"))

    def _expect_dispatches(self, _instance_id: None, expected: int | list[dict]) -> list[str]:
        with self.care.db.read() as session:
            query = select(Dispatch).order_by(Dispatch.id)
            rows = [{"system": d.system_id, "version": d.version, "status": d.status} for d in session.scalars(query)]
        return _compare_rows("dispatches", rows, expected)

    def _expect_instances(self, _instance_id: None, expected: dict[str, int]) -> list[str]:
        with self.care.db.read() as session:
            query = select(ProcessInstance.process_key, func.count()).group_by(ProcessInstance.process_key)
            counts = dict(session.execute(query).all())
        return [
            f"{counts.get(key, 0)} instances of {key!r}, expected {count}"
            for key, count in expected.items()
            if counts.get(key, 0) != count
        ]

    # -- helpers --------------------------------------------------------------------------------

    def _name(self, instance_id: int, name: str | None) -> None:
        self.current = instance_id
        if name:
            self.named[name] = instance_id

    def _instance(self, name: str | None) -> int:
        if name is not None:
            if name not in self.named:
                raise StepFailed(f"no instance is named {name!r} (name one with `as`)")
            return self.named[name]
        if self.current is None:
            raise StepFailed("no instance yet: start one first, or pick one with `use`")
        return self.current

    def describe(self) -> str:
        """Every instance of the scenario as it stands: status, open tasks, timers, jobs, incidents, data."""
        lines = [f"clock: {self.care.clock.now().isoformat()}"]
        with self.care.db.read() as session:
            instances = list(session.scalars(select(ProcessInstance).order_by(ProcessInstance.id)))
        for row in instances:
            marker = " (current)" if row.id == self.current else ""
            lines.append(f"instance {row.id} {row.process_key} v{row.definition_version}: {row.status}{marker}")
            with self.care.db.read() as session:
                parts = (
                    ("open tasks", _open_tasks(session, row.id)),
                    ("timers", _pending_timers(session, row.id)),
                    ("jobs", _open_jobs(session, row.id)),
                    ("incidents", _open_incidents(session, row.id)),
                )
            lines.extend(f"  {label}: " + "; ".join(items) for label, items in parts if items)
            try:
                data = self.care.runtime.get(row.id)["data"]
            except CareError as error:
                data = f"(cannot be read: {error})"
            lines.append(f"  data: {_short(data, MAX_DATA_SHOWN)}")
        return "\n".join(lines)


EXPECTATIONS: dict[str, Callable[[ScenarioRun, int | None, Any], list[str]]] = {
    "status": ScenarioRun._expect_status,
    "tasks": ScenarioRun._expect_tasks,
    "variables": ScenarioRun._expect_variables,
    "stage": ScenarioRun._expect_stage,
    "customer_status": ScenarioRun._expect_customer_status,
    "incidents": ScenarioRun._expect_incidents,
    "mails": ScenarioRun._expect_mails,
    "dispatches": ScenarioRun._expect_dispatches,
    "instances": ScenarioRun._expect_instances,
}
GLOBAL_EXPECTATIONS = frozenset({"mails", "dispatches", "instances"})


def error_text(error: Exception) -> str:
    """The error's message with the field problems a form error lists (``field: message``)."""
    extra = getattr(error, "extra", {}) or {}
    details = [f"{e.get('field')}: {e.get('message')}" for e in extra.get("errors", []) if isinstance(e, dict)]
    return "; ".join([str(error), *details])


def _needs_instance(checks: dict) -> bool:
    return any(key not in GLOBAL_EXPECTATIONS for key in checks)


def _compare_rows(what: str, rows: list[dict], expected: int | list[dict], contains: tuple[str, ...] = ()) -> list[str]:
    """Count, or the rows in order, each listed field equal (or, for ``contains`` fields, a substring)."""
    if isinstance(expected, int):
        return [] if len(rows) == expected else [f"{len(rows)} {what}, expected {expected}: {_short(rows)}"]
    if len(rows) != len(expected):
        return [f"{len(rows)} {what}, expected {len(expected)}: {_short(rows)}"]
    problems = []
    for index, (row, wanted) in enumerate(zip(rows, expected, strict=True), start=1):
        for key, value in wanted.items():
            ok = value in row[key] if key in contains else row[key] == value
            if not ok:
                problems.append(f"{what} #{index}: {key} is {_short(row[key])}, expected {_short(value)}")
    return problems


def _matches(actual: Any, expected: Any) -> bool:
    """Equal, except that an expected mapping only needs its own keys to match (recursively)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return all(key in actual and _matches(actual[key], value) for key, value in expected.items())
    return actual == expected


def _moment(value: Any, now: datetime) -> datetime:
    """A datetime from the store: a datetime, an ISO 8601 timestamp, or a duration from now (``P20D``, ``-P1D``)."""
    if isinstance(value, datetime):
        return value
    text = str(value).strip()
    try:
        if text.lstrip("+-").startswith("P"):
            delta = duration_from(text.lstrip("+-"), now)
            return now - delta if text.startswith("-") else now + delta
        return parse_datetime(text)
    except ValueError as error:
        raise StepFailed(f"store: {text!r} is neither a date-time nor a duration from now: {error}") from error


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _open_tasks(session, instance_id: int) -> list[str]:
    query = select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.status == "open")
    return [f"{t.name} [{', '.join(t.candidate_names('group')) or 'anyone'}]" for t in session.scalars(query)]


def _pending_timers(session, instance_id: int) -> list[str]:
    query = select(Timer).where(Timer.instance_id == instance_id, Timer.status == "pending")
    return [f"{t.element_id} due {t.due_at.isoformat()}" for t in session.scalars(query)]


def _open_jobs(session, instance_id: int) -> list[str]:
    open_statuses = ("pending", "failed")
    query = select(ServiceJob).where(ServiceJob.instance_id == instance_id, ServiceJob.status.in_(open_statuses))
    return [f"{j.operation} at {j.element_id}: {j.status} after {j.attempts} tries" for j in session.scalars(query)]


def _open_incidents(session, instance_id: int) -> list[str]:
    query = select(Incident).where(Incident.instance_id == instance_id, Incident.status == "open")
    return [f"{i.element_id}: {i.message}" for i in session.scalars(query)]
