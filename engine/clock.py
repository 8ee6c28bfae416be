"""The one clock of the engine: everything that asks "what time is it" asks this object.

Tests and scenario runs use a :class:`VirtualClock` and move time forward instead of sleeping.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition


class Clock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock(Clock):
    """A clock that stands still until it is told to move."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | str) -> datetime:
        """Move forward by a timedelta or an ISO 8601 duration such as ``"P1D"``."""
        if isinstance(delta, str):
            delta = TimerEventDefinition.get_timedelta_from_start(
                TimerEventDefinition.parse_iso_duration(delta), self.now()
            )
        with self._lock:
            self._now += delta
            return self._now

    def move_to(self, moment: datetime) -> datetime:
        """Move forward to ``moment`` (a virtual clock never goes back: timers already fired would not)."""
        with self._lock:
            if moment < self._now:
                raise ValueError(f"the clock is at {self._now.isoformat()}, not going back to {moment.isoformat()}")
            self._now = moment
            return self._now


def utc(value: datetime | None) -> datetime | None:
    """Attach UTC to naive datetimes read back from databases that drop the offset (SQLite)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
