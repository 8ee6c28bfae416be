"""Administration without the CLI: incidents with Retry; users, groups and API tokens. For admins only.

None of these endpoints is listed in :data:`api.policy.ALLOWED_ROLES`, so the policy lets admins in
and shows everyone else the 403 page before a view runs. The pages call the engine services the
``carecenter`` command and the JSON admin API call (``care.incidents``, ``care.identity``,
``care.tokens``); the forms are checked in :mod:`api.pages.admin_forms`.

Secrets: passwords arrive only in POST bodies and are never shown, logged or put in a URL. A new
token's value appears once, in the body of the POST that created it (no redirect carries it), and
that answer is marked ``no-store``; afterwards only its name and dates are listed.
"""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Blueprint, Response, abort, flash, make_response, redirect, render_template, request, url_for
from markupsafe import Markup, escape

from api.auth import current_principal
from api.pages import admin_forms
from api.pages.locale import gettext
from api.pages.signin import check_csrf, safe_next
from api.requests import numbers_up_to
from api.routes.common import care
from engine.errors import CareError, Conflict
from engine.identity import MIN_PASSWORD_LENGTH, ROLES, LastAdmin, UserView
from engine.models import MAX_ID

blueprint = Blueprint("admin_pages", __name__)
blueprint.before_request(check_csrf)
PAGE_SIZE = 25
INCIDENT_STATUSES = ("open", "resolved")
ROW_ID = re.compile(numbers_up_to(MAX_ID))
QUOTED = re.compile(r"`([^`]+)`")


def _after() -> int | None:
    """The list's cursor from the query; anything that is no row id is as if left out."""
    value = request.args.get("after", "")
    return int(value) if ROW_ID.fullmatch(value) else None


def readable(message: str) -> Markup:
    """An incident message for people: the expression or script line it quotes in `backticks` set as code."""
    return Markup(QUOTED.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(message))))


def _last_admin() -> str:
    return gettext("This would leave no administrator who can sign in. Make another user an administrator first.")


def _user_or_404(user_id: int) -> UserView:
    try:
        return care().identity.user(user_id)
    except CareError:
        abort(404)


# -- incidents -------------------------------------------------------------------------------


@blueprint.get("/admin/incidents")
def incidents():
    status = request.args.get("status")
    status = status if status in INCIDENT_STATUSES else "open"
    processes = {d.key: d.name or d.key for d in care().repository.latest_definitions()}
    process = request.args.get("process") or None
    process = process if process in processes else None
    page = care().incidents.overview(status, process, PAGE_SIZE, _after())
    next_url = None
    if page.next_after is not None:
        next_url = url_for("admin_pages.incidents", status=status, process=process, after=page.next_after)
    return render_template(
        "admin/incidents.html",
        incidents=page.items,
        status=status,
        process=process,
        processes=processes,
        next_url=next_url,
        first_url=url_for("admin_pages.incidents", status=status, process=process) if _after() else None,
        readable=readable,
        principal=current_principal(),
    )


@blueprint.post("/admin/incidents/<id:incident_id>/retry")
def retry(incident_id: int):
    back = safe_next(request.form.get("back"), url_for("admin_pages.incidents"))
    try:
        incident = care().incidents.get(incident_id)
    except CareError:
        abort(404)
    element = incident["element_name"] or incident["element_id"] or "—"
    try:
        view = care().incidents.retry(incident_id, current_principal().name)
    except Conflict as refused:
        flash(gettext("Not retried: %(reason)s", reason=refused.detail), "error")
        return redirect(back)
    names = {"element": element, "reference": view["reference"]}
    if view["status"] == "failed":
        flash(
            gettext("Retried “%(element)s” of %(reference)s, but it failed again: see the new incident.", **names),
            "warning",
        )
    else:
        flash(gettext("Retried “%(element)s” of %(reference)s: the case runs again.", **names), "info")
    return redirect(back)


# -- users -----------------------------------------------------------------------------------


@blueprint.get("/admin/users")
def users():
    return render_template("admin/users.html", users=care().identity.users(), principal=current_principal())


@blueprint.get("/admin/users/new")
def new_user():
    return _new_user_page(admin_forms.Checked(values={"role": "staff", "groups": []}))


@blueprint.post("/admin/users/new")
def create_user():
    taken = {u.username for u in care().identity.users()}
    checked = admin_forms.new_user(request.form, _group_names(), taken)
    if checked.errors:
        return _new_user_page(checked, 422)
    values = checked.values
    try:
        created = care().identity.add_user(
            values["username"], values["role"], values["groups"], values["password"], values["display_name"] or None
        )
    except Conflict:  # someone took the name meanwhile
        checked.errors["username"] = gettext("A user with this name exists already.")
        return _new_user_page(checked, 422)
    flash(gettext("User %(name)s created.", name=created.username), "info")
    return redirect(url_for("admin_pages.user", user_id=created.id))


def _new_user_page(checked: admin_forms.Checked, status: int = 200):
    page = render_template(
        "admin/user_new.html",
        values=checked.values,
        errors=checked.errors,
        roles=ROLES,
        groups=care().identity.groups(),
        min_password=MIN_PASSWORD_LENGTH,
        principal=current_principal(),
    )
    return page, status


@blueprint.get("/admin/users/<id:user_id>")
def user(user_id: int):
    return _user_page(_user_or_404(user_id))


def _user_page(user: UserView, values: dict | None = None, errors: dict | None = None, status: int = 200):
    page = render_template(
        "admin/user.html",
        user=user,
        values=values or {"display_name": user.display_name, "role": user.role, "groups": list(user.groups)},
        errors=errors or {},
        roles=ROLES,
        groups=care().identity.groups(),
        min_password=MIN_PASSWORD_LENGTH,
        is_self=user.id == current_principal().user_id,
        principal=current_principal(),
    )
    return page, status


@blueprint.post("/admin/users/<id:user_id>")
def update_user(user_id: int):
    user = _user_or_404(user_id)
    checked = admin_forms.edited_user(request.form, _group_names())
    if checked.errors:
        return _user_page(user, checked.values, checked.errors, 422)
    values = checked.values
    try:
        care().identity.update_user(
            user_id,
            role=values["role"],
            groups=values["groups"],
            display_name=values["display_name"],
            keep_an_admin=True,
        )
    except LastAdmin:
        return _user_page(user, values, {"role": _last_admin()}, 422)
    flash(gettext("Changes to %(name)s saved.", name=user.username), "info")
    if user_id == current_principal().user_id and values["role"] != "admin":
        return redirect(url_for("signin.home"))  # no longer an admin: these pages are closed now
    return redirect(url_for("admin_pages.user", user_id=user_id))


@blueprint.post("/admin/users/<id:user_id>/password")
def set_password(user_id: int):
    user = _user_or_404(user_id)
    password = request.form.get("password", "")
    problem = admin_forms.password_problem(password, user.role)
    if problem:
        return _user_page(user, errors={"password": problem}, status=422)
    care().identity.update_user(user_id, password=password)
    flash(gettext("New password set for %(name)s; their sessions have ended.", name=user.username), "info")
    return redirect(url_for("admin_pages.user", user_id=user_id))


@blueprint.post("/admin/users/<id:user_id>/disable")
def disable_user(user_id: int):
    user = _user_or_404(user_id)
    try:
        care().identity.update_user(user_id, disabled=True, keep_an_admin=True)
    except LastAdmin:
        flash(_last_admin(), "error")
        return redirect(url_for("admin_pages.user", user_id=user_id))
    flash(gettext("%(name)s is disabled: no sign-in, no sessions, no working tokens.", name=user.username), "info")
    return redirect(url_for("admin_pages.user", user_id=user_id))


@blueprint.post("/admin/users/<id:user_id>/enable")
def enable_user(user_id: int):
    user = _user_or_404(user_id)
    care().identity.update_user(user_id, disabled=False)
    flash(gettext("%(name)s is enabled again.", name=user.username), "info")
    return redirect(url_for("admin_pages.user", user_id=user_id))


@blueprint.post("/admin/users/<id:user_id>/sign-out")
def sign_out_user(user_id: int):
    user = _user_or_404(user_id)
    care().identity.end_sessions(user_id)
    flash(gettext("%(name)s is signed out everywhere.", name=user.username), "info")
    return redirect(url_for("admin_pages.user", user_id=user_id))


def _group_names() -> list[str]:
    return [g["name"] for g in care().identity.groups()]


# -- groups ----------------------------------------------------------------------------------


@blueprint.get("/admin/groups")
def groups():
    return _groups_page(admin_forms.Checked())


@blueprint.post("/admin/groups")
def create_group():
    checked = admin_forms.new_group(request.form, set(_group_names()))
    if checked.errors:
        return _groups_page(checked, 422)
    try:
        created = care().identity.add_group(
            checked.values["name"], checked.values["description"], checked.values["display_name"]
        )
    except Conflict:
        checked.errors["name"] = gettext("A group with this name exists already.")
        return _groups_page(checked, 422)
    flash(gettext("Group %(name)s created.", name=created["display_name"]), "info")
    return redirect(url_for("admin_pages.groups"))


@blueprint.get("/admin/groups/<name>")
def group(name: str):
    found = _group_or_404(name)
    return _group_page(found, admin_forms.Checked(values=found))


@blueprint.post("/admin/groups/<name>")
def update_group(name: str):
    found = _group_or_404(name)
    checked = admin_forms.edited_group(request.form)
    if checked.errors:
        return _group_page(found, checked, 422)
    changed = care().identity.update_group(found["name"], **checked.values)
    flash(gettext("Group %(name)s saved.", name=changed["display_name"]), "info")
    return redirect(url_for("admin_pages.groups"))


def _group_or_404(name: str) -> dict:
    for found in care().identity.groups():
        if found["name"] == name:
            return found
    abort(404)


def _group_page(found: dict, checked: admin_forms.Checked, status: int = 200):
    page = render_template(
        "admin/group.html",
        group=found,
        members=[person for person in care().identity.users() if found["name"] in person.groups],
        values=checked.values,
        errors=checked.errors,
        principal=current_principal(),
    )
    return page, status


def _groups_page(checked: admin_forms.Checked, status: int = 200):
    members: dict[str, list[str]] = {}
    for person in care().identity.users():
        for name in person.groups:
            members.setdefault(name, []).append(person.display_name)
    page = render_template(
        "admin/groups.html",
        groups=care().identity.groups(),
        members=members,
        values=checked.values,
        errors=checked.errors,
        principal=current_principal(),
    )
    return page, status


# -- tokens ----------------------------------------------------------------------------------


@blueprint.get("/admin/tokens")
def tokens():
    return _tokens_page(admin_forms.Checked(values={"owner": admin_forms.ADMIN_TOKEN}))


@blueprint.post("/admin/tokens")
def create_token():
    owners = {u.username for u in care().identity.users() if not u.disabled}
    checked = admin_forms.new_token(request.form, owners)
    if checked.errors:
        return _tokens_page(checked, 422)
    values = checked.values
    days = int(values["days"]) if values["days"] else None
    expires_at = care().clock.now() + timedelta(days=days) if days else None
    row, value = care().tokens.create(values["name"], expires_at=expires_at, username=values["owner"] or None)
    response = _tokens_page(admin_forms.Checked(values={"owner": admin_forms.ADMIN_TOKEN}), 201, (row.name, value))
    response.headers["Cache-Control"] = "no-store"  # the value exists only in this answer
    return response


def _tokens_page(checked: admin_forms.Checked, status: int = 200, created: tuple[str, str] | None = None) -> Response:
    people = care().identity.users()
    by_id = {person.id: person for person in people}
    now = care().clock.now()
    rows = []
    for token in reversed(care().tokens.list()):  # newest first
        owner = by_id.get(token.user_id)
        if token.revoked_at is not None:
            state = "revoked"
        elif token.expires_at is not None and token.expires_at <= now:
            state = "expired"
        elif owner is not None and owner.disabled:
            state = "owner disabled"
        else:
            state = "active"
        rows.append({"token": token, "owner": owner, "state": state})
    page = render_template(
        "admin/tokens.html",
        rows=rows,
        owners=[person for person in people if not person.disabled],
        values=checked.values,
        errors=checked.errors,
        created=created,
        max_days=admin_forms.MAX_TOKEN_DAYS,
        principal=current_principal(),
    )
    return make_response(page, status)


@blueprint.post("/admin/tokens/<id:token_id>/revoke")
def revoke_token(token_id: int):
    try:
        row = care().tokens.revoke(token_id)
    except CareError:
        abort(404)
    flash(gettext("Token %(name)s revoked: it no longer works.", name=row.name), "info")
    return redirect(url_for("admin_pages.tokens"))


# -- mail ------------------------------------------------------------------------------------

MAIL_STATUSES = ("failed", "received", "processed", "ignored")
MAIL_PAGE = re.compile(r"[1-9][0-9]{0,5}")


def _mail_page_number() -> int:
    value = request.args.get("page", "")
    return int(value) if MAIL_PAGE.fullmatch(value) else 1


@blueprint.get("/admin/mail")
def mail():
    """Stored inbound mail, failed first: what became of each, with Retry and the raw mail to download."""
    status = request.args.get("status") or None
    status = status if status in MAIL_STATUSES else None
    number = _mail_page_number()
    mails, more = care().mail.store.overview(status, PAGE_SIZE, (number - 1) * PAGE_SIZE)
    return render_template(
        "admin/mail.html",
        mails=mails,
        status=status,
        statuses=MAIL_STATUSES,
        next_url=url_for("admin_pages.mail", status=status, page=number + 1) if more else None,
        first_url=url_for("admin_pages.mail", status=status) if number > 1 else None,
        principal=current_principal(),
    )


@blueprint.post("/admin/mail/<id:mail_id>/retry")
def retry_mail(mail_id: int):
    back = safe_next(request.form.get("back"), url_for("admin_pages.mail"))
    try:
        care().mail.store.retry(mail_id)
    except Conflict:
        flash(gettext("Not retried: only a failed mail can be processed again."), "error")
        return redirect(back)
    except CareError:
        abort(404)
    flash(gettext("The mail will be processed again in a moment."), "info")
    return redirect(back)


@blueprint.get("/admin/mail/<id:mail_id>.eml")
def mail_raw(mail_id: int):
    """The mail exactly as it arrived, as a file to save (never shown in the browser)."""
    try:
        raw = care().mail.store.raw(mail_id)
    except CareError:
        abort(404)
    response = Response(raw, mimetype="message/rfc822")
    response.headers["Content-Disposition"] = f'attachment; filename="mail-{mail_id}.eml"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response
