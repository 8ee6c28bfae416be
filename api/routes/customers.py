"""The customer store, for staff: who a customer is, which systems they run, which licenses they hold."""

from flask import Blueprint

from api.routes.common import care
from engine.errors import NotFound
from process_library.store import customer_view

blueprint = Blueprint("customers", __name__)


@blueprint.get("/api/customers/<customer_id>")
def get(customer_id: str):
    with care().db.read() as session:
        view = customer_view(session, customer_id)
    if view is None:
        raise NotFound(f"no customer with id '{customer_id}'")
    return view
