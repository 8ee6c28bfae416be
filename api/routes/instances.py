"""Process instances (RuntimeService) and their history (HistoryService)."""

from flask import Blueprint

from api.auth import current_principal, current_scope
from api.requests import paged, query_args
from api.routes.common import care
from engine.runtime import InstanceFilter
from engine.views import history_view

blueprint = Blueprint("instances", __name__)


@blueprint.get("/api/instances")
def list_instances():
    args = query_args()
    filters = InstanceFilter(
        status=args["status"],
        process_key=args["process_key"],
        business_key=args["business_key"],
        customer_id=args["customer_id"],
    )
    page = care().runtime.list(filters, args["limit"], args["after"], current_scope())
    return paged(page, "instances.list_instances")


@blueprint.get("/api/instances/<id:instance_id>")
def get(instance_id: int):
    return care().runtime.get(instance_id, scope=current_scope())


@blueprint.post("/api/instances/<id:instance_id>/cancel")
def cancel(instance_id: int):
    return care().runtime.cancel(instance_id, current_principal().name)


@blueprint.get("/api/instances/<id:instance_id>/history")
def history(instance_id: int):
    events = care().history.of_instance(instance_id, current_scope())
    return {"items": [history_view(e) for e in events], "next": None}
