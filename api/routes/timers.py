"""Timers and the worker, for operators: pending timers, worker status, suspending start timers."""

from flask import Blueprint

from api.requests import date_time, paged, query_args
from api.routes.common import care
from engine.timers import TimerFilter

blueprint = Blueprint("timers", __name__)


@blueprint.get("/api/timers")
def list_timers():
    args = query_args()
    filters = TimerFilter(
        status=args["status"],
        process_key=args["process_key"],
        instance_id=args["instance_id"],
        kind=args["kind"],
        due_before=date_time(args["due_before"]) if args["due_before"] is not None else None,
    )
    return paged(care().timers.list(filters, args["limit"], args["after"]), "timers.list_timers")


@blueprint.get("/api/worker/status")
def worker_status():
    return care().timers.status()


@blueprint.post("/api/process-definitions/<key>/suspend")
def suspend(key: str):
    return care().timers.suspend(key)


@blueprint.post("/api/process-definitions/<key>/activate")
def activate(key: str):
    return care().timers.activate(key)
