"""Answers to a case's customer by e-mail (engine/mail_answers.py), for staff who see the case and API clients."""

from flask import Blueprint

from api.auth import current_principal, current_scope
from api.requests import json_body
from api.routes.common import care

blueprint = Blueprint("answers", __name__)


@blueprint.post("/api/instances/<id:instance_id>/answers")
def send(instance_id: int):
    body = json_body()
    answer = care().answers.send(
        instance_id,
        subject=str(body.get("subject") or ""),
        body=body["body"],
        request_key=body["request_key"],
        author=current_principal().name,
        scope=current_scope(),
    )
    return answer, 201
