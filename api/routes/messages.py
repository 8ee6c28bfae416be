"""Messages, signals and channel intake: how channel systems and integrations reach running processes."""

from flask import Blueprint
from sqlalchemy import select

from api.auth import current_principal
from api.policy import without_secrets
from api.requests import case_reference, json_body
from api.routes.common import care
from engine import confirmations
from engine.errors import NotFound
from engine.models import ProcessInstance

blueprint = Blueprint("messages", __name__)


@blueprint.post("/api/messages")
def publish():
    body = json_body()
    target = _addressed_instance(body.get("tracking_code"), case_reference(body.get("reference")))
    published = care().messages.publish(
        body["name"],
        principal=current_principal().name,
        business_key=body.get("business_key"),
        correlation=body.get("correlation_keys"),
        payload=body.get("payload"),
        message_id=body.get("message_id"),
        ttl=body.get("ttl"),
        target_instance_id=target,
    )
    status = 200 if published.duplicate else 202 if published.status == "buffered" else 201
    return published.as_dict(), status


def _addressed_instance(tracking_code: str | None, reference: str | None) -> int | None:
    """The instance a message names by tracking code (a dispatch's callback) or case reference, if it names one."""
    if tracking_code is None and reference is None:
        return None  # (the document refuses both together)
    column, value = (
        (ProcessInstance.tracking_code, tracking_code) if tracking_code else (ProcessInstance.reference, reference)
    )
    with care().db.read() as session:
        target = session.scalar(select(ProcessInstance.id).where(column == value))
    if target is None:
        raise NotFound(f"no instance has this {'tracking code' if tracking_code else 'reference'}")
    return target


@blueprint.post("/api/signals")
def broadcast():
    body = json_body()
    return care().messages.broadcast(body["name"], body.get("payload"), current_principal().name)


@blueprint.post("/api/inquiries")
def submit_inquiry():
    body = json_body()
    principal = current_principal().name
    customer = body["customer"]
    confirm = None
    if body.get("confirm", True):
        confirm = confirmations.on_start(
            care().settings,
            care().clock,
            subject=body["subject"],
            address=customer.get("email"),
            name=customer.get("name"),
            language_hint=customer.get("language"),
        )
    result = care().intake.submit(
        channel=body["channel"],
        customer=customer,
        subject=body["subject"],
        body=body["body"],
        reference=body.get("reference"),
        principal=principal,
        message_id=body.get("message_id"),
        register=True,  # integration accounts and staff: a caller the store does not know is filed in it
        on_start=confirm,
    )
    return without_secrets(current_principal(), [result.as_dict()])[0], 201 if result.started else 200
