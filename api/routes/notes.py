"""Internal notes on a case (engine/notes.py): staff who see the case read and add them; customers never see them."""

from flask import Blueprint

from api.auth import current_principal, current_scope
from api.requests import json_body
from api.routes.common import care

blueprint = Blueprint("notes", __name__)


@blueprint.get("/api/instances/<id:instance_id>/notes")
def list_notes(instance_id: int):
    return {"items": care().notes.of_instance(instance_id, current_scope()), "next": None}


@blueprint.post("/api/instances/<id:instance_id>/notes")
def add_note(instance_id: int):
    note = care().notes.add(instance_id, json_body()["text"], current_principal().name, current_scope())
    return note, 201
