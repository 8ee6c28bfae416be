"""Service tasks, for designers and operators: the operations service tasks may call, and their jobs."""

from flask import Blueprint, request

from api.requests import choice_arg, int_arg, limit_arg, paged
from api.routes.common import care
from engine.jobs import EXTERNAL, JOB_STATUSES, OPERATION, JobFilter

blueprint = Blueprint("jobs", __name__)


@blueprint.get("/api/operations")
def list_operations():
    return {"items": [operation.as_dict() for operation in care().jobs.registry.all()]}


@blueprint.get("/api/jobs")
def list_jobs():
    filters = JobFilter(
        status=choice_arg("status", JOB_STATUSES),
        instance_id=int_arg("instance_id"),
        operation=request.args.get("operation"),
        kind=choice_arg("kind", (OPERATION, EXTERNAL)),
    )
    return paged(care().jobs.list(filters, limit_arg(), int_arg("after")), "jobs.list_jobs")
