"""Webhooks under administration: register endpoints of other systems, see what was delivered, send again. Admins only.

None of these endpoints is in :data:`api.policy.ALLOWED_ROLES`, so only admins get past the policy.
A new endpoint's signing secret appears once, in the answer to the POST that registered it (no
redirect carries it; ``no-store``), as the token page does for API tokens. The pages call the same
service as ``/api/webhooks`` (``care.webhooks``).
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for

from api.auth import current_principal
from api.pages.locale import gettext
from api.pages.signin import check_csrf, safe_next
from api.requests import numbers_up_to
from api.routes.common import care
from engine.errors import CareError, Conflict, InvalidRequest, NotFound, Unprocessable
from engine.event_types import BUILT_IN
from engine.models import MAX_ID
from engine.webhooks import ALL_TYPES, DELIVERY_STATUSES, checked_types

blueprint = Blueprint("admin_webhooks", __name__)
blueprint.before_request(check_csrf)
PAGE_SIZE = 25
ROW_ID = re.compile(numbers_up_to(MAX_ID))


def _after() -> int | None:
    value = request.args.get("after", "")
    return int(value) if ROW_ID.fullmatch(value) else None


@blueprint.get("/admin/webhooks")
def index():
    return _index_page({"which": "all", "types": []}, {})


@blueprint.post("/admin/webhooks")
def register():
    form = request.form
    own = [t.strip() for t in form.get("own_types", "").split(",") if t.strip()]
    values = {
        "url": form.get("url", "").strip(),
        "description": form.get("description", "").strip(),
        "which": "chosen" if form.get("which") == "chosen" else "all",
        "types": [t for t in form.getlist("types") if t in BUILT_IN],
        "own_types": form.get("own_types", ""),
    }
    errors: dict[str, str] = {}
    if not values["url"]:
        errors["url"] = gettext("Enter the URL the events are sent to.")
    events: object = ALL_TYPES
    if values["which"] == "chosen":
        events = values["types"] + own
        if not events:
            errors["types"] = gettext("Choose at least one event, or all of them.")
        else:
            try:
                checked_types(events)
            except (InvalidRequest, Unprocessable) as refused:
                errors["own_types"] = refused.detail
    if len(values["description"]) > 300:
        errors["description"] = gettext("At most 300 characters.")
    if not errors:
        try:
            view, secret = care().webhooks.register(
                values["url"], events, values["description"], current_principal().name
            )
        except (InvalidRequest, Unprocessable) as refused:  # the URL: its form, or where it resolves to
            errors["url"] = refused.detail
        else:
            response = make_response(_render_index({"which": "all", "types": []}, {}, (view, secret)), 201)
            response.headers["Cache-Control"] = "no-store"  # the secret exists only in this answer
            return response
    return _index_page(values, errors, 422)


def _index_page(values: dict, errors: dict, status: int = 200):
    return make_response(_render_index(values, errors), status)


def _render_index(values: dict, errors: dict, created: tuple[dict, str] | None = None) -> str:
    return render_template(
        "admin/webhooks.html",
        endpoints=care().webhooks.list(),
        values=values,
        errors=errors,
        created=created,
        built_in=BUILT_IN,
        principal=current_principal(),
    )


def _endpoint_or_404(endpoint_id: int) -> dict:
    try:
        return care().webhooks.get(endpoint_id)
    except NotFound:
        abort(404)


@blueprint.get("/admin/webhooks/<id:endpoint_id>")
def endpoint(endpoint_id: int):
    found = _endpoint_or_404(endpoint_id)
    status = request.args.get("status") or None
    status = status if status in DELIVERY_STATUSES else None
    page = care().webhooks.deliveries(endpoint_id, status, PAGE_SIZE, _after())
    next_url = None
    if page.next_after is not None:
        next_url = url_for("admin_webhooks.endpoint", endpoint_id=endpoint_id, status=status, after=page.next_after)
    return render_template(
        "admin/webhook.html",
        endpoint=found,
        deliveries=page.items,
        status=status,
        statuses=DELIVERY_STATUSES,
        next_url=next_url,
        first_url=url_for("admin_webhooks.endpoint", endpoint_id=endpoint_id, status=status) if _after() else None,
        principal=current_principal(),
    )


@blueprint.post("/admin/webhooks/<id:endpoint_id>/disable")
def disable(endpoint_id: int):
    _endpoint_or_404(endpoint_id)
    care().webhooks.disable(endpoint_id, f"disabled by {current_principal().name}")
    flash(gettext("The endpoint is disabled: nothing more is sent to it."), "info")
    return redirect(url_for("admin_webhooks.endpoint", endpoint_id=endpoint_id))


@blueprint.post("/admin/webhooks/<id:endpoint_id>/enable")
def enable(endpoint_id: int):
    _endpoint_or_404(endpoint_id)
    care().webhooks.enable(endpoint_id)
    flash(gettext("The endpoint is active again: waiting deliveries go first."), "info")
    return redirect(url_for("admin_webhooks.endpoint", endpoint_id=endpoint_id))


@blueprint.post("/admin/webhooks/<id:endpoint_id>/delete")
def delete(endpoint_id: int):
    found = _endpoint_or_404(endpoint_id)
    care().webhooks.delete(endpoint_id)
    flash(gettext("The endpoint %(url)s is deleted, with its deliveries.", url=found["url"]), "info")
    return redirect(url_for("admin_webhooks.index"))


@blueprint.post("/admin/webhook-deliveries/<id:delivery_id>/resend")
def resend(delivery_id: int):
    back = safe_next(request.form.get("back"), url_for("admin_webhooks.index"))
    try:
        care().webhooks.resend(delivery_id)
    except Conflict:
        flash(gettext("Not sent again: it is being sent right now."), "error")
        return redirect(back)
    except CareError:
        abort(404)
    flash(gettext("The event will be sent again in a moment."), "info")
    return redirect(back)
