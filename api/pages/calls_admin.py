"""Administration of telephony: the phone systems' CTI URLs (create, revoke) and the blocked numbers. Admins only.

None of these endpoints is in :data:`api.policy.ALLOWED_ROLES`, so only admins reach them. A new
integration's URL holds its secret token: it appears once, in the body of the POST that created
it (no redirect or flash message carries it, and the answer is ``no-store`` like every page), and
afterwards only its name and dates are listed. The URL is built from ``CARECENTER_PUBLIC_URL``.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from api.auth import current_principal
from api.pages.locale import gettext
from api.pages.signin import check_csrf
from api.routes.common import care
from api.routes.cti import cti_url
from engine import cti
from engine.errors import CareError, Conflict

blueprint = Blueprint("calls_admin", __name__)
blueprint.before_request(check_csrf)


@blueprint.get("/admin/telephony")
def index():
    return _page()


@blueprint.post("/admin/telephony/integrations")
def create_integration():
    name = request.form.get("name", "").strip()
    if not name:
        return _page(name_error=gettext("This field is required."), name=name, status=422)
    if len(name) > cti.MAX_NAME:
        return _page(name_error=gettext("This is too long."), name=name, status=422)
    view, token = care().cti.create(name, current_principal().name)
    return _page(created={"name": view["name"], "url": cti_url(token)})


@blueprint.post("/admin/telephony/integrations/<id:integration_id>/revoke")
def revoke_integration(integration_id: int):
    view = care().cti.revoke(integration_id)
    flash(gettext("“%(name)s” can no longer report calls.", name=view["name"]), "info")
    return redirect(url_for("calls_admin.index"))


@blueprint.post("/admin/telephony/blocked")
def block():
    number, note = request.form.get("number", "").strip(), request.form.get("note", "").strip()
    values = {"number": number, "note": note}
    if not number:
        return _page(blocked_errors={"number": gettext("This field is required.")}, blocked=values, status=422)
    if len(note) > cti.MAX_NOTE:
        return _page(blocked_errors={"note": gettext("This is too long.")}, blocked=values, status=422)
    try:
        row = care().cti.block(number, note, current_principal().name)
    except Conflict:
        return _page(blocked_errors={"number": gettext("This number is blocked already.")}, blocked=values, status=409)
    except CareError:
        return _page(blocked_errors={"number": gettext("This is not a phone number.")}, blocked=values, status=422)
    flash(gettext("Calls from %(number)s are rejected from now on.", number=row["shown"]), "info")
    return redirect(url_for("calls_admin.index"))


@blueprint.post("/admin/telephony/blocked/<id:blocked_id>/remove")
def unblock(blocked_id: int):
    care().cti.unblock(blocked_id)
    flash(gettext("The number is no longer blocked."), "info")
    return redirect(url_for("calls_admin.index"))


def _page(status: int = 200, **state: object):
    page = render_template(
        "admin/telephony.html",
        integrations=care().cti.list(),
        blocked_numbers=care().cti.blocked(),
        example_url=care().settings.public.link("/api/cti/") + "…",
        created=state.get("created"),
        name=state.get("name", ""),
        name_error=state.get("name_error"),
        blocked=state.get("blocked") or {},
        blocked_errors=state.get("blocked_errors") or {},
        principal=current_principal(),
    )
    return page, status
