"""Service tasks, for designers and operators: the operations service tasks may call, and their jobs."""

from flask import Blueprint

from api.requests import paged, query_args
from api.routes.common import care
from engine.jobs import JobFilter

blueprint = Blueprint("jobs", __name__)


@blueprint.get("/api/operations")
def list_operations():
    return {"items": [operation.as_dict() for operation in care().jobs.registry.all()]}


@blueprint.get("/api/jobs")
def list_jobs():
    args = query_args()
    filters = JobFilter(
        status=args["status"], instance_id=args["instance_id"], operation=args["operation"], kind=args["kind"]
    )
    return paged(care().jobs.list(filters, args["limit"], args["after"]), "jobs.list_jobs")
