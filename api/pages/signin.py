"""The pages' login layer: sign-in with name and password, a signed session cookie, CSRF on every form.

Every other page module builds on it (``check_csrf``, ``safe_next``); the home page shows who is signed in.
"""

from __future__ import annotations

import hmac
import secrets
import time
from urllib.parse import urlparse

from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from api.auth import current_principal
from api.pages.locale import gettext
from api.requests import contains_nul
from engine.identity import LoginFailed

blueprint = Blueprint("signin", __name__)
FAILED_LOGIN_DELAY_SECONDS = 0.3
LOGIN_FAILED = "Wrong user name or password, or the account is locked or disabled."
FORM_EXPIRED = "The form expired or did not come from this site; reload the page and try again."
FORM_HAS_NUL = "The form contained a NUL character, which cannot be stored; remove it and send again."


class TlsAwareSessionInterface(SecureCookieSessionInterface):
    """Marks the session cookie Secure whenever the request came over TLS (or the config says so)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def configure(app: Flask) -> None:
    app.session_interface = TlsAwareSessionInterface()
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_NAME="cc_session")
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.register_blueprint(blueprint)


@blueprint.before_request
def check_csrf():
    """Every form POST of the pages must carry the session's CSRF token, and nothing a database cannot store."""
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        expected = session.get("csrf", "")
        if not expected or not hmac.compare_digest(sent, expected):
            abort(400, description=gettext(FORM_EXPIRED))
        if any(contains_nul(key) or contains_nul(value) for key, value in request.form.items(multi=True)):
            abort(400, description=gettext(FORM_HAS_NUL))


def safe_next(target: str | None, fallback: str | None = None) -> str:
    """``target`` if it is a path on this site, else ``fallback`` (the home page): forms never send people elsewhere."""
    if not target or not _is_local_path(target):
        return fallback or url_for("signin.home")
    return target


def _is_local_path(target: str) -> bool:
    """One leading slash and nothing a browser reads as another host: no ``//``, backslash, blank or control."""
    if not target.startswith("/") or target.startswith("//"):
        return False
    if any(char == "\\" or ord(char) <= 0x20 or ord(char) == 0x7F for char in target):
        return False
    return not urlparse(target).netloc


@blueprint.get("/login")
def login():
    return render_template("login.html", next=request.args.get("next", ""), error=None)


@blueprint.post("/login")
def login_submit():
    care = current_app.extensions["carecenter"]
    username = request.form.get("username", "")
    try:
        user = care.identity.login(username, request.form.get("password", ""))
    except LoginFailed:
        time.sleep(FAILED_LOGIN_DELAY_SECONDS)
        page = render_template(
            "login.html", next=request.form.get("next", ""), error=gettext(LOGIN_FAILED), username=username
        )
        return page, 401
    session.clear()  # a new session at login: no fixation
    signed_in_at = int(care.clock.now().timestamp())
    session.update(user_id=user.id, generation=user.session_generation, signed_in_at=signed_in_at)
    csrf_token()
    return redirect(safe_next(request.form.get("next")))


@blueprint.post("/logout")
def logout():
    """Signing out ends every session of this user, also copies of the cookie taken before."""
    current_app.extensions["carecenter"].identity.end_sessions(current_principal().user_id)
    session.clear()
    return redirect(url_for("signin.login"))


@blueprint.get("/")
def home():
    return render_template("home.html", principal=current_principal())
