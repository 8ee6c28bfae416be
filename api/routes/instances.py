"""Process instances (RuntimeService) and their history (HistoryService)."""

from dataclasses import replace

from flask import Blueprint

from api.auth import current_principal, current_scope
from api.policy import without_secrets
from api.requests import case_reference, json_body, paged, query_args
from api.routes.common import care
from engine.errors import Unprocessable
from engine.runtime import InstanceFilter
from engine.views import history_view
from process_library.store import Customer

blueprint = Blueprint("instances", __name__)


@blueprint.get("/api/instances")
def list_instances():
    args = query_args()
    filters = InstanceFilter(
        status=args["status"],
        process_key=args["process_key"],
        business_key=args["business_key"],
        customer_id=args["customer_id"],
        reference=case_reference(args["reference"]),
    )
    page = care().runtime.list(filters, args["limit"], args["after"], current_scope())
    return paged(replace(page, items=without_secrets(current_principal(), page.items)), "instances.list_instances")


@blueprint.get("/api/instances/<id:instance_id>")
def get(instance_id: int):
    return without_secrets(current_principal(), [care().runtime.get(instance_id, scope=current_scope())])[0]


@blueprint.post("/api/instances/<id:instance_id>/cancel")
def cancel(instance_id: int):
    return care().runtime.cancel(instance_id, current_principal().name)


@blueprint.post("/api/instances/<id:instance_id>/customer")
def link_customer(instance_id: int):
    """File an instance under a customer of the store (e.g. a portal inquiry whose sender staff recognised)."""
    customer_id = json_body()["customer_id"]
    with care().db.read() as session:
        if session.get(Customer, customer_id) is None:
            raise Unprocessable(f"no customer with id '{customer_id}' in the customer store")
    principal = current_principal()
    view = care().runtime.link_customer(instance_id, customer_id, principal.name, current_scope())
    return without_secrets(principal, [view])[0]


@blueprint.get("/api/instances/<id:instance_id>/history")
def history(instance_id: int):
    events = care().history.of_instance(instance_id, current_scope())
    return {"items": [history_view(e) for e in events], "next": None}
