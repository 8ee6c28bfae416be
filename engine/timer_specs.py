"""Timer event definitions that ask the engine's clock, and the parser classes that create them.

SpiffWorkflow's timer event definitions call ``datetime.now`` themselves, so a virtual clock
would not move them.  The subclasses here ask the clock attached to the workflow's script
engine instead (see :func:`engine.scripting.create_script_engine`), compare due times with
``<=`` (a timer due at 10:00 fires at 10:00, not just after), read naive dates as UTC rather
than as the server's local time, and cap how many missed occurrences of a cycle fire after
downtime.

Timer text is read in both dialects found in the wild:

- plain ISO 8601 text, as Camunda Modeler writes it: ``PT1H``, ``R3/PT1H``,
  ``2030-01-01T06:00:00Z``, ``R/2030-01-01T06:00:00Z/P1D``;
- a Python expression over task data, as spiff-arena writes it: ``"PT1H"``,
  ``"P" + str(days) + "D"``;
- JUEL or FEEL, as Camunda writes it: ``${renewal_date}``, ``PT${hours}H``, ``=renewal_date``,
  translated to Python when the file is parsed (:mod:`engine.expressions`).

Literal values are checked at deploy time, so a typo is a deployment problem with a line
number, not an incident weeks later.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from datetime import MAXYEAR, UTC, datetime, timedelta

from SpiffWorkflow.bpmn.parser.util import first
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.util import PendingBpmnEvent
from SpiffWorkflow.camunda.parser.event_parsers import (
    CamundaBoundaryEventParser,
    CamundaIntermediateCatchEventParser,
    CamundaStartEventParser,
)
from SpiffWorkflow.spiff.parser.event_parsers import (
    SpiffBoundaryEventParser,
    SpiffIntermediateCatchEventParser,
    SpiffStartEventParser,
)

from engine.expressions import TEXT, ExpressionError, translate

DEFAULT_CYCLE_CATCH_UP = 10
MAX_CALENDAR_MONTHS = 12 * MAXYEAR  # no date lies further from another than this


def _part(letter: str) -> str:
    """One part of a duration (``5D``); only the last part of the text may have a fraction (``1.5D``)."""
    designator = f"[{letter.upper()}{letter.lower()}]"
    return f"(?:[0-9]+(?:[.,][0-9]+(?={designator}\\s*$))?{designator})?"


# An ISO 8601 duration as SpiffWorkflow computes it: weeks alone or years-months-days, then an optional
# time part. The same pattern stands in api/openapi.json wherever a duration is accepted.
DURATION_PATTERN = (
    r"^\s*[Pp](?=[0-9Tt])(?:" + _part("W").removesuffix("?") + "|" + _part("Y") + _part("M") + _part("D") + ")?"
    r"(?:[Tt](?=[0-9])" + _part("H") + _part("M") + _part("S") + r")?\s*$"
)
_DURATION = re.compile(DURATION_PATTERN)
_DATETIME = re.compile(r"^\d{4}-?\d{2}-?\d{2}([T ][\d:.,]+)?(Z|[+-]\d{2}(:?\d{2})?)?$", re.IGNORECASE)
_WEEK_DATE = re.compile(r"^\d{4}-?W\d{2}-?\d(T.+)?$", re.IGNORECASE)


@dataclass
class TimerSettings:
    """What the timer event definitions need from the engine: its clock and the catch-up cap."""

    clock: object
    cycle_catch_up: int = DEFAULT_CYCLE_CATCH_UP

    def now(self) -> datetime:
        return self.clock.now()


@dataclass(frozen=True)
class FiredTimer:
    """One occurrence of a timer that fired while the engine ran a workflow."""

    task_guid: str
    element_id: str
    due_at: datetime
    occurrence: int = 1
    skipped: int = 0  # older missed occurrences of a cycle dropped by the catch-up cap


FIRED_LOG = "carecenter_fired_timers"


def _record_fired(definition, my_task, due_at: datetime, occurrence: int = 1, skipped: int = 0) -> None:
    top = my_task.workflow.top_workflow
    element_id = getattr(definition, "element_id", None) or my_task.task_spec.name
    top.__dict__.setdefault(FIRED_LOG, []).append(FiredTimer(str(my_task.id), element_id, due_at, occurrence, skipped))


def fired_timers(workflow) -> list[FiredTimer]:
    """The timers that fired in this workflow object since it was loaded (not stored with the state)."""
    return workflow.__dict__.setdefault(FIRED_LOG, [])


FIRED_TOTAL = "carecenter_fired_total"


def take_fired(workflow) -> list[FiredTimer]:
    """The fired timers not yet written to rows, emptying the log (and counting them in :func:`fired_total`)."""
    log = fired_timers(workflow)
    taken = list(log)
    log.clear()
    workflow.__dict__[FIRED_TOTAL] = workflow.__dict__.get(FIRED_TOTAL, 0) + len(taken)
    return taken


def fired_total(workflow) -> int:
    return workflow.__dict__.get(FIRED_TOTAL, 0) + len(fired_timers(workflow))


FIRE_HORIZON = "carecenter_fire_horizon"


def fire_horizon(workflow) -> datetime | None:
    return workflow.__dict__.get(FIRE_HORIZON)


def set_fire_horizon(workflow, horizon: datetime | None) -> None:
    """Let only timers due at or before ``horizon`` fire in this workflow object (None: all that are due).

    The worker fires a claimed timer with the horizon at its due time, so that after downtime the
    timers of one instance fire in the order they fell due, each as its own step, rather than all
    at once in whatever order SpiffWorkflow refreshes them.  New due times are still computed
    from the clock's now.
    """
    if horizon is None:
        workflow.__dict__.pop(FIRE_HORIZON, None)
    else:
        workflow.__dict__[FIRE_HORIZON] = horizon


def _fire_time(my_task, now: datetime) -> datetime:
    horizon = my_task.workflow.top_workflow.__dict__.get(FIRE_HORIZON)
    return min(now, horizon) if horizon is not None else now


def timer_settings(my_task) -> TimerSettings | None:
    return getattr(my_task.workflow.script_engine, "timer_settings", None)


def engine_now(my_task) -> datetime:
    """The engine clock's now for this task's workflow (the wall clock if none is attached)."""
    settings = timer_settings(my_task)
    return settings.now() if settings is not None else datetime.now(UTC)


# -- reading ISO 8601 ---------------------------------------------------------------------------


def parse_datetime(text: str) -> datetime:
    """An ISO 8601 date or date-time (week dates too); naive values are UTC."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _parsed_duration(text: str) -> dict:
    """SpiffWorkflow's parse of a duration, refused when its years and months pass the calendar's end.

    SpiffWorkflow adds up a duration's months one calendar month at a time, so ``P99999999Y``
    would keep a request or a worker busy for minutes before failing anyway.
    """
    if not _DURATION.match(text.strip()):
        raise ValueError(f"'{text}' is not an ISO 8601 duration such as PT1H or P1D")
    parsed = TimerEventDefinition.parse_iso_duration(text.strip())
    if parsed.get("years", 0) * 12 + parsed.get("months", 0) > MAX_CALENDAR_MONTHS:
        raise ValueError(f"'{text}' reaches past the year {MAXYEAR}")
    return parsed


def duration_from(text: str, start: datetime) -> timedelta:
    """An ISO 8601 duration measured from ``start`` (months and years have calendar lengths)."""
    return TimerEventDefinition.get_timedelta_from_start(_parsed_duration(text), start)


def duration_until(text: str, end: datetime) -> timedelta:
    return TimerEventDefinition.get_timedelta_from_end(_parsed_duration(text), end)


def is_duration(text: str) -> bool:
    return bool(_DURATION.match(text.strip()))


def parse_cycle(text: str, now: datetime) -> tuple[int, datetime, timedelta]:
    """``R[n]/duration``, ``R[n]/start/duration`` or ``R[n]/duration/end``: (repetitions or -1, first, interval)."""
    parts = text.strip().upper().replace("--", "/").split("/")
    if not parts[0].startswith("R") or len(parts) not in (2, 3):
        raise ValueError(f"'{text}' is not an ISO 8601 repeating interval such as R3/PT1H or R/P1D")
    count = parts[0][1:]
    if count and not count.isdigit():
        raise ValueError(f"'{text}': the repetition count after R must be a number")
    cycles = int(count) if count else -1
    if len(parts) == 2:
        interval = duration_from(parts[1], now)
        start = now + interval
    elif is_duration(parts[2]):
        start = parse_datetime(parts[1])
        interval = duration_from(parts[2], start)
    elif is_duration(parts[1]):
        end = parse_datetime(parts[2])
        interval = duration_until(parts[1], end)
        start = end - interval
    else:
        raise ValueError(f"'{text}': a repeating interval needs a duration")
    if interval <= timedelta(0):
        raise ValueError(f"'{text}': the interval of a cycle must be longer than zero")
    return cycles, start, interval


def is_iso_literal(text: str) -> bool:
    """True for plain ISO 8601 text (Camunda style), False for anything to evaluate as an expression."""
    text = text.strip()
    if _DURATION.match(text) or _DATETIME.match(text) or _WEEK_DATE.match(text):
        return True
    return bool(re.match(r"^R\d*/", text, re.IGNORECASE))


# -- the clock-aware event definitions ----------------------------------------------------------


class ClockTimer:
    """Mixin: evaluate the timer text on the task's data and tell the engine when the timer is due."""

    expression: str
    element_id: str | None = None  # the timer's own event; differs from the task's after an event-based gateway

    def timer_value(self, my_task) -> str:
        value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
        if isinstance(value, datetime):
            value = (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
        if not isinstance(value, str):
            raise ValueError(f"timer expression {self.expression} gave {value!r}, not ISO 8601 text")
        return value.strip()

    def due_at(self, my_task) -> datetime | None:
        """When this waiting timer fires next, or None if it will not fire again."""
        raise NotImplementedError

    def occurrence(self, my_task) -> int:
        """Which occurrence fires next (always 1 but for cycles)."""
        return 1


START_NOW = "start_now"


def start_now(my_task) -> None:
    """Make a timer start event fire at once, without counting as a timer firing (see ``Executor.new_workflow``)."""
    my_task._set_internal_data(**{START_NOW: True})


def _fire_if_due(definition: ClockTimer, my_task) -> bool:
    if my_task.internal_data.pop(START_NOW, False):
        my_task._set_internal_data(event_fired=True)
    if not my_task._get_internal_data("event_fired", False):
        due = definition.due_at(my_task)
        if due <= _fire_time(my_task, engine_now(my_task)):
            my_task._set_internal_data(event_fired=True)
            _record_fired(definition, my_task, due)
    return my_task._get_internal_data("event_fired", False)


class ClockTimeDateEventDefinition(ClockTimer, TimeDateEventDefinition):
    def has_fired(self, my_task):
        if my_task._get_internal_data("event_value") is None:
            value = self.timer_value(my_task)
            parse_datetime(value)  # fail now, on this task, rather than in every refresh
            my_task._set_internal_data(event_value=value)
        return _fire_if_due(self, my_task)

    def due_at(self, my_task):
        value = my_task._get_internal_data("event_value")
        return parse_datetime(value) if value is not None else None


class ClockDurationTimerEventDefinition(ClockTimer, DurationTimerEventDefinition):
    def has_fired(self, my_task):
        if my_task._get_internal_data("event_value") is None:
            now = engine_now(my_task)
            due = now + duration_from(self.timer_value(my_task), now)
            my_task._set_internal_data(event_value=due.isoformat())
        return _fire_if_due(self, my_task)

    def due_at(self, my_task):
        value = my_task._get_internal_data("event_value")
        return parse_datetime(value) if value is not None else None


class ClockCycleTimerEventDefinition(ClockTimer, CycleTimerEventDefinition):
    """A repeating timer: each occurrence starts one path; missed occurrences fire up to a cap."""

    def cycle_complete(self, my_task):
        now = engine_now(my_task)
        if my_task.internal_data.pop(START_NOW, False):  # one path now, then done
            my_task._set_internal_data(event_value={"cycles": 0, "next": now.isoformat(), "duration": 1.0})
            return True
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            cycles, start, interval = parse_cycle(self.timer_value(my_task), now)
            event_value = {"cycles": cycles, "next": start.isoformat(), "duration": interval.total_seconds()}
        event_value = dict(event_value)
        ready = False
        if event_value["cycles"] != 0:
            next_event = parse_datetime(event_value["next"])
            if next_event <= now and self._skip_missed(event_value, next_event, now, my_task):
                next_event = parse_datetime(event_value["next"])
            if next_event <= _fire_time(my_task, now):
                occurrence = event_value.get("occurrence", 1)
                event_value["next"] = (next_event + timedelta(seconds=event_value["duration"])).isoformat()
                event_value["cycles"] -= 1
                event_value["occurrence"] = occurrence + 1
                _record_fired(self, my_task, next_event, occurrence, event_value.pop("skipped_now", 0))
                ready = True
        if event_value["cycles"] == 0 and not ready:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True
            return False
        my_task._set_internal_data(event_value=event_value)
        return ready

    @staticmethod
    def _skip_missed(event_value: dict, next_event: datetime, now: datetime, my_task) -> int:
        """Drop the oldest missed occurrences beyond the catch-up cap; returns how many were dropped."""
        settings = timer_settings(my_task)
        cap = max(1, settings.cycle_catch_up if settings is not None else DEFAULT_CYCLE_CATCH_UP)
        interval = timedelta(seconds=event_value["duration"])
        missed = int((now - next_event) / interval) + 1
        if event_value["cycles"] > 0:
            missed = min(missed, event_value["cycles"])
        skip = missed - cap
        if skip <= 0:
            return 0
        if event_value["cycles"] > 0:
            skip = min(skip, event_value["cycles"] - 1)
            event_value["cycles"] -= skip
        event_value["next"] = (next_event + skip * interval).isoformat()
        event_value["occurrence"] = event_value.get("occurrence", 1) + skip
        event_value["skipped_now"] = event_value.get("skipped_now", 0) + skip  # told with the next firing
        return skip

    def due_at(self, my_task):
        value = my_task._get_internal_data("event_value")
        if value is None or value["cycles"] == 0:
            return None
        return parse_datetime(value["next"])

    def occurrence(self, my_task) -> int:
        value = my_task._get_internal_data("event_value")
        return value.get("occurrence", 1) if value else 1

    def details(self, my_task):
        value = my_task._get_internal_data("event_value")
        return PendingBpmnEvent(
            self.name, self.__class__.__name__, value["next"] if value and value["cycles"] != 0 else None
        )


CLOCK_TIMER_CLASSES = {
    "timeDate": ClockTimeDateEventDefinition,
    "timeDuration": ClockDurationTimerEventDefinition,
    "timeCycle": ClockCycleTimerEventDefinition,
}


def timer_definitions(event_definition) -> list[ClockTimer]:
    """The clock-aware timers inside an event definition (one, or several in a multiple event)."""
    if isinstance(event_definition, ClockTimer):
        return [event_definition]
    if isinstance(event_definition, MultipleEventDefinition):
        return [d for d in event_definition.event_definitions if isinstance(d, ClockTimer)]
    return []


def task_due_at(my_task) -> datetime | None:
    """The earliest time a waiting timer task fires, or None if it is not a timer or will not fire."""
    dues = [d.due_at(my_task) for d in timer_definitions(getattr(my_task.task_spec, "event_definition", None))]
    dues = [due for due in dues if due is not None]
    return min(dues) if dues else None


# -- parsing ------------------------------------------------------------------------------------


def timer_expression(text: str | None, kind: str) -> tuple[str, str | None]:
    """The Python expression to evaluate for timer text, and the literal ISO value if the text is one.

    Raises ``ValueError`` with a message for designers when the text cannot work.
    """
    text = (text or "").strip()
    if not text:
        raise ValueError(f"the {kind} of the timer is empty")
    try:
        translated = translate(text, TEXT)
    except ExpressionError as error:
        raise ValueError(f"the {kind} '{text}': {error}") from None
    if translated is not None:
        return translated, None
    if is_iso_literal(text):
        check_literal(text, kind)
        return repr(text), text
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise ValueError(
            f"the {kind} '{text}' is neither ISO 8601 text nor a Python expression ({error.msg})"
        ) from None
    if isinstance(tree.body, ast.Constant):
        if not isinstance(tree.body.value, str):
            raise ValueError(f"the {kind} '{text}' must be ISO 8601 text such as PT1H")
        check_literal(tree.body.value, kind)
        return text, tree.body.value.strip()
    return text, None


def check_literal(value: str, kind: str) -> None:
    now = datetime.now(UTC)
    try:
        if kind == "timeDate":
            parse_datetime(value)
        elif kind == "timeDuration":
            duration_from(value, now)
        else:
            parse_cycle(value, now)
    except ValueError as error:
        raise ValueError(f"invalid {kind} '{value}': {error}") from None


class ClockTimerParserMixin:
    """Overrides ``parse_timer_event`` of SpiffWorkflow's event parsers (both dialects)."""

    def parse_timer_event(self, event):
        for kind, spec_class in CLOCK_TIMER_CLASSES.items():
            node = first(self.xpath(f".//bpmn:{kind}"))
            if node is None:
                continue
            try:
                expression, _ = timer_expression(node.text, kind)
            except ValueError as error:
                raise ValidationException(str(error), node=self.node, file_name=self.filename) from None
            name = self.node.get("name", self.node.get("id"))
            definition = spec_class(name, expression, description=self.get_event_description(event))
            definition.element_id = self.node.get("id")
            return definition
        raise ValidationException(
            "a timer needs a timeDate, timeDuration or timeCycle", node=self.node, file_name=self.filename
        )


class SpiffClockStartEventParser(ClockTimerParserMixin, SpiffStartEventParser):
    pass


class SpiffClockIntermediateCatchEventParser(ClockTimerParserMixin, SpiffIntermediateCatchEventParser):
    pass


class SpiffClockBoundaryEventParser(ClockTimerParserMixin, SpiffBoundaryEventParser):
    pass


class CamundaClockStartEventParser(ClockTimerParserMixin, CamundaStartEventParser):
    pass


class CamundaClockIntermediateCatchEventParser(ClockTimerParserMixin, CamundaIntermediateCatchEventParser):
    pass


class CamundaClockBoundaryEventParser(ClockTimerParserMixin, CamundaBoundaryEventParser):
    pass


def register_converters(registry) -> None:
    """Let the serializer store clock-aware timers where task data refers to them (event-gateway events)."""
    from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter

    for spec_class in CLOCK_TIMER_CLASSES.values():
        TimerConditionalEventDefinitionConverter(spec_class, registry)


def with_clock_timers(overrides: dict, dialect: str) -> dict:
    """A copy of a parser's ``OVERRIDE_PARSER_CLASSES`` whose catching events build clock-aware timers."""
    from SpiffWorkflow.bpmn.parser.util import full_tag
    from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent, IntermediateCatchEvent, StartEvent

    parsers = {
        "spiff": (SpiffClockStartEventParser, SpiffClockIntermediateCatchEventParser, SpiffClockBoundaryEventParser),
        "camunda": (
            CamundaClockStartEventParser,
            CamundaClockIntermediateCatchEventParser,
            CamundaClockBoundaryEventParser,
        ),
    }[dialect]
    result = dict(overrides)
    for tag, parser, default_spec in zip(
        ("startEvent", "intermediateCatchEvent", "boundaryEvent"),
        parsers,
        (StartEvent, IntermediateCatchEvent, BoundaryEvent),
        strict=True,
    ):
        spec_class = overrides.get(full_tag(tag), (None, default_spec))[1]
        result[full_tag(tag)] = (parser, spec_class)
    return result
