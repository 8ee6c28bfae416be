"""Timers and the worker, for operators: pending timers, worker status, suspending start timers."""

from flask import Blueprint, request

from api.requests import choice_arg, int_arg, limit_arg, paged
from api.routes.common import care
from engine.errors import InvalidRequest
from engine.timer_specs import parse_datetime
from engine.timers import TIMER_STATUSES, TimerFilter

blueprint = Blueprint("timers", __name__)
KINDS = ("intermediate", "boundary", "start")


@blueprint.get("/api/timers")
def list_timers():
    due_before = request.args.get("due_before")
    if due_before:
        try:
            due_before = parse_datetime(due_before)
        except ValueError:
            raise InvalidRequest("query parameter 'due_before' must be an ISO 8601 date-time") from None
    filters = TimerFilter(
        status=choice_arg("status", TIMER_STATUSES, default="pending"),
        process_key=request.args.get("process_key"),
        instance_id=int_arg("instance_id"),
        kind=choice_arg("kind", KINDS),
        due_before=due_before or None,
    )
    return paged(care().timers.list(filters, limit_arg(), int_arg("after")), "timers.list_timers")


@blueprint.get("/api/worker/status")
def worker_status():
    return care().timers.status()


@blueprint.post("/api/process-definitions/<key>/suspend")
def suspend(key: str):
    return care().timers.suspend(key)


@blueprint.post("/api/process-definitions/<key>/activate")
def activate(key: str):
    return care().timers.activate(key)
