"""The functions spiff-arena offers process scripts, where they make sense here, so its models run unchanged.

``get_current_user()`` and ``get_process_initiator_user()`` describe who caused the current step and
who started the instance; ``get_env()`` names the installation (``CARECENTER_ENVIRONMENT``);
``get_toplevel_process_info()`` the instance; ``get_localtime(dt, zone)`` converts a time to a zone;
``time`` and ``timedelta`` are there without an import.  Whatever asks for the current time reads the
engine clock, so scenario runs on a virtual clock see their own time.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.script_context import current

DEFAULT_ZONE = "UTC"


def script_helpers(now: Callable[[], datetime], environment: str) -> dict:
    """The helper functions, reading the clock ``now`` and naming the installation ``environment``."""

    def get_current_user() -> dict | None:
        """Who caused this step: ``{"username": ...}`` (a user, a token, the worker for timers and jobs)."""
        step = current()
        return {"username": step.principal} if step else None

    def get_process_initiator_user() -> dict | None:
        """Who started this instance: ``{"username": ...}``."""
        step = current()
        return {"username": step.initiator} if step else None

    def get_env() -> str:
        """The name of this installation, e.g. ``production`` (``CARECENTER_ENVIRONMENT``)."""
        return environment

    def get_toplevel_process_info() -> dict | None:
        """``{"process_instance_id": ..., "process_model_identifier": ...}`` of the running instance."""
        step = current()
        if step is None:
            return None
        return {"process_instance_id": step.instance_id, "process_model_identifier": step.process_key}

    def get_localtime(moment: datetime, timezone: str = DEFAULT_ZONE) -> datetime:
        """``moment`` in the named time zone (IANA names such as ``Europe/Berlin``)."""
        if not isinstance(moment, datetime):
            raise ValueError("get_localtime needs a datetime to convert")
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{timezone}'") from None
        return moment.astimezone(zone)

    def clock_time() -> float:
        return now().timestamp()

    def clock_strftime(fmt: str, moment: _time.struct_time | None = None) -> str:
        return _time.strftime(fmt, moment if moment is not None else now().timetuple())

    time_view = SimpleNamespace(
        time=clock_time,
        time_ns=lambda: int(clock_time() * 1_000_000_000),
        gmtime=lambda seconds=None: _time.gmtime(clock_time() if seconds is None else seconds),
        strftime=clock_strftime,
    )
    return {
        "get_current_user": get_current_user,
        "get_process_initiator_user": get_process_initiator_user,
        "get_env": get_env,
        "get_toplevel_process_info": get_toplevel_process_info,
        "get_localtime": get_localtime,
        "time": time_view,
        "timedelta": timedelta,
    }
