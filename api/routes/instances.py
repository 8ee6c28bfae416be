"""Process instances (RuntimeService) and their history (HistoryService)."""

from dataclasses import replace

from flask import Blueprint, request

from api.auth import current_principal, current_scope
from api.policy import without_secrets
from api.requests import case_reference, choice_arg, int_arg, json_object, limit_arg, optional_str, paged
from api.routes.common import care
from engine.errors import InvalidRequest
from engine.runtime import STATUSES, InstanceFilter
from engine.views import history_view
from process_library.store import Customer

blueprint = Blueprint("instances", __name__)


@blueprint.get("/api/instances")
def list_instances():
    filters = InstanceFilter(
        status=choice_arg("status", STATUSES),
        process_key=request.args.get("process_key"),
        business_key=request.args.get("business_key"),
        customer_id=request.args.get("customer_id"),
        reference=case_reference(request.args.get("reference")),
    )
    page = care().runtime.list(filters, limit_arg(), int_arg("after"), current_scope())
    return paged(replace(page, items=without_secrets(current_principal(), page.items)), "instances.list_instances")


@blueprint.get("/api/instances/<int:instance_id>")
def get(instance_id: int):
    return without_secrets(current_principal(), [care().runtime.get(instance_id, scope=current_scope())])[0]


@blueprint.post("/api/instances/<int:instance_id>/cancel")
def cancel(instance_id: int):
    return care().runtime.cancel(instance_id, current_principal().name)


@blueprint.post("/api/instances/<int:instance_id>/customer")
def link_customer(instance_id: int):
    """File an instance under a customer of the store (e.g. a portal inquiry whose sender staff recognised)."""
    body = json_object()
    if set(body) != {"customer_id"}:
        raise InvalidRequest("send exactly one field, 'customer_id'")
    customer_id = optional_str(body, "customer_id")
    with care().db.read() as session:
        if customer_id is None or session.get(Customer, customer_id) is None:
            raise InvalidRequest(f"no customer with id '{customer_id}' in the customer store")
    principal = current_principal()
    [view] = without_secrets(
        principal, [care().runtime.link_customer(instance_id, customer_id, principal.name, current_scope())]
    )
    return view


@blueprint.get("/api/instances/<int:instance_id>/history")
def history(instance_id: int):
    events = care().history.of_instance(instance_id, current_scope())
    return {"items": [history_view(e) for e in events], "next": None}
