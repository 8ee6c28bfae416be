"""The signed-in user's own settings: the pages' language and time zone.

Anyone with a page session may change their own settings, and only their own: the user comes
from the session, never from the form.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from api.auth import current_principal
from api.pages import locale
from api.pages.signin import check_csrf
from api.routes.common import care
from engine.errors import CareError

blueprint = Blueprint("account", __name__)
blueprint.before_request(check_csrf)
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch", "cs": "Čeština"}


@blueprint.get("/settings")
def settings():
    return render_template(
        "settings.html",
        principal=current_principal(),
        language_names=LANGUAGE_NAMES,
        zones=locale.known_zones(),
        server_zone=locale.server_zone_name(),
        chosen_language=locale.chosen_language(),
        chosen_zone=locale.chosen_zone(),
    )


@blueprint.post("/settings")
def save_settings():
    language = request.form.get("language") or None
    time_zone = request.form.get("time_zone") or None
    try:
        care().identity.set_preferences(current_principal().user_id, language=language, time_zone=time_zone)
    except CareError as refused:
        flash(refused.detail, "error")
        return redirect(url_for("account.settings"))
    g.user_language, g.user_time_zone = language, time_zone  # the confirmation already in the new language
    flash(locale.gettext("Settings saved."), "info")
    return redirect(url_for("account.settings"))
