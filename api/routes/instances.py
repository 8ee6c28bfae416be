"""Process instances (RuntimeService) and their history (HistoryService)."""

from flask import Blueprint, request

from api.auth import current_principal, current_scope
from api.requests import choice_arg, int_arg, limit_arg, paged
from api.routes.common import care
from engine.runtime import STATUSES, InstanceFilter
from engine.views import history_view

blueprint = Blueprint("instances", __name__)


@blueprint.get("/api/instances")
def list_instances():
    filters = InstanceFilter(
        status=choice_arg("status", STATUSES),
        process_key=request.args.get("process_key"),
        business_key=request.args.get("business_key"),
        customer_id=request.args.get("customer_id"),
    )
    page = care().runtime.list(filters, limit_arg(), int_arg("after"), current_scope())
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
