"""The customer store, for staff: who a customer is, which systems they run, which licenses they hold,
every contact with them and the staff's notes on them."""

from dataclasses import replace

from flask import Blueprint

from api.auth import current_principal
from api.policy import without_secrets
from api.requests import json_body, paged, query_args
from api.routes.common import care
from engine import contacts, customer_insight
from engine import customer_notes as notes
from engine.errors import NotFound
from engine.pagination import Page
from engine.timeline import timeline as customer_timeline
from process_library.store import Customer, customer_view

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


@blueprint.get("/api/customers/<customer_id>/contacts")
def list_contacts(customer_id: str):
    """Every contact with the customer on any channel, in and out, newest first."""
    args = query_args()
    with care().db.read() as session:
        _require_customer(session, customer_id)
        items, next_after = contacts.of_customer(session, customer_id, args["limit"], args["after"])
    return paged(Page(items, next_after), "customers.list_contacts", customer_id=customer_id)


@blueprint.get("/api/customers/<customer_id>/insight")
def insight(customer_id: str):
    """The customer page's insight figures: contacts per channel, requests and time to resolve, systems, licenses."""
    with care().db.read() as session:
        _require_customer(session, customer_id)
        return customer_insight.of_customer(session, customer_id, care().clock.now())


@blueprint.get("/api/customers/<customer_id>/notes")
def list_notes(customer_id: str):
    args = query_args()
    with care().db.read() as session:
        _require_customer(session, customer_id)
        items, next_after = notes.of_customer(session, customer_id, args["limit"], args["after"])
    return paged(Page(items, next_after), "customers.list_notes", customer_id=customer_id)


@blueprint.post("/api/customers/<customer_id>/notes")
def add_note(customer_id: str):
    body = json_body()
    with care().db.write() as session:
        _require_customer(session, customer_id)
        note = notes.add(
            session, customer_id=customer_id, text=body["text"], author=current_principal().name, at=care().clock.now()
        )
        return notes.note_view(note), 201


def _require_customer(session, customer_id: str) -> None:
    if session.get(Customer, customer_id) is None:
        raise NotFound(f"no customer with id '{customer_id}'")
