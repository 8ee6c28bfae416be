"""The customer store, for staff: who a customer is, which systems they run, which licenses they hold."""

from dataclasses import replace

from flask import Blueprint

from api.auth import current_principal
from api.policy import without_secrets
from api.requests import paged, query_args
from api.routes.common import care
from engine.errors import NotFound
from engine.timeline import timeline as customer_timeline
from process_library.store import customer_view

blueprint = Blueprint("customers", __name__)


@blueprint.get("/api/customers/<customer_id>")
def get(customer_id: str):
    with care().db.read() as session:
        view = customer_view(session, customer_id)
    if view is None:
        raise NotFound(f"no customer with id '{customer_id}'")
    return view


@blueprint.get("/api/customers/<customer_id>/timeline")
def timeline(customer_id: str):
    """Every instance of the customer across processes, newest first, with stage, status and key events."""
    args = query_args()
    with care().db.read() as session:
        page = customer_timeline(session, customer_id, args["limit"], args["after"])
    page = replace(page, items=without_secrets(current_principal(), page.items))
    return paged(page, "customers.timeline", customer_id=customer_id)
