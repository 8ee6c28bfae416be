"""Who is signed in to the customer portal, for every portal page: :func:`portal_customer` and its friends.

A customer signs in with a mailed single-use link (:mod:`api.pages.portal`); from then on the
signed cookie of the pages (``cc_session``) holds a random session token, and the database holds
its hash with the customer and the expiry (:mod:`engine.portal_access`), so a restart of the
server signs nobody out and "Sign out" ends every copy of the cookie. The session ends after
``CARECENTER_SESSION_MAX_HOURS`` (12 by default), like the staff's.

Building a portal page on it::

    from api.pages.portal_session import portal_context, portal_customer

    @blueprint.get("/portal/orders/new")
    def new_order():
        customer_id = portal_customer()  # not signed in: redirected to sign-in, and back here after
        ...
        return render_template("track/portal_order.html", **portal_context())

    @blueprint.post("/portal/orders")
    def place_order():
        customer_id = portal_customer()
        ...  # validate on the server; answer 422 with the fields marked, in portal_context()["lang"]

- The page's endpoint is listed in :data:`api.policy.PUBLIC_ENDPOINTS` (the portal authenticates
  customers itself, here) and, for forms, in :data:`api.policy.RATE_LIMITED_ENDPOINTS`.
- Its blueprint runs :func:`api.pages.signin.check_csrf` before every request; templates put
  ``<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">`` in every form.
- Templates extend ``track/_layout.html``; :func:`portal_context` gives them ``_``, ``lang``,
  ``languages`` and ``customer_id``, and the layout shows "My account" and "Sign out" to a
  signed-in customer. Every query reads only rows of ``customer_id``.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from flask import Flask, abort, g, redirect, request, session, url_for

from api import i18n
from api.pages.signin import csrf_token
from api.routes.common import care
from engine import portal_access
from process_library.store import Customer

SESSION_KEY = "portal"  # the key of the session token in the pages' signed cookie


def _signed_in() -> tuple[str, str] | None:
    """(customer id, the customer's language) of this request's portal session, looked up once per request."""
    if "portal_signed_in" not in g:
        found = None
        token = session.get(SESSION_KEY)
        if isinstance(token, str) and token:
            with care().db.read() as db_session:
                customer_id = portal_access.session_customer(db_session, token, care().clock.now())
                customer = db_session.get(Customer, customer_id) if customer_id else None
                if customer is not None:
                    found = (customer.id, customer.language)
        g.portal_signed_in = found
    return g.portal_signed_in


def signed_in_customer() -> str | None:
    """The id of the customer signed in to the portal, or None."""
    found = _signed_in()
    return found[0] if found else None


def portal_language() -> str:
    """``?lang=`` if supported, else the signed-in customer's language on file, else ``Accept-Language``."""
    requested = request.args.get("lang")
    if requested in i18n.LANGUAGES:
        return requested
    found = _signed_in()
    if found and found[1] in i18n.LANGUAGES:
        return found[1]
    return i18n.pick(None, request.accept_languages)


def portal_customer() -> str:
    """The signed-in customer's id; otherwise stops the request with a redirect to the sign-in page.

    After signing in, the customer comes back to this page (for a GET; after a form, to their account).
    """
    customer_id = signed_in_customer()
    if customer_id is None:
        back = request.full_path.rstrip("?") if request.method == "GET" else None
        abort(redirect(url_for("portal.ask", next=back, lang=portal_language())))
    return customer_id


def portal_context() -> dict:
    """What every portal template needs: ``_``, ``lang``, ``languages`` and the signed-in ``customer_id``."""
    language = portal_language()
    return {
        "_": i18n.translations(language).gettext,
        "lang": language,
        "languages": i18n.LANGUAGES,
        "customer_id": signed_in_customer(),
    }


def sign_in(customer_id: str) -> None:
    """Open a portal session for the customer (ending one this browser had) and put its token in the cookie."""
    now = care().clock.now()
    lifetime = timedelta(hours=care().settings.session_max_hours)
    with care().db.write() as db_session:
        old = session.get(SESSION_KEY)
        if isinstance(old, str):
            portal_access.end_session(db_session, old, now)
        token = portal_access.open_session(db_session, customer_id, now, lifetime)
    session[SESSION_KEY] = token
    session.pop("csrf", None)  # a new CSRF token with the new session
    csrf_token()
    g.pop("portal_signed_in", None)


def sign_out() -> None:
    """End this browser's portal session everywhere (the database row), and drop it from the cookie."""
    token = session.pop(SESSION_KEY, None)
    if isinstance(token, str):
        with care().db.write() as db_session:
            portal_access.end_session(db_session, token, care().clock.now())
    g.portal_signed_in = None


def with_language(language: str) -> str:
    """This page in another language: ``?`` and its query with ``lang`` replaced (a sign-in link keeps its token)."""
    query = {name: values for name, values in request.args.lists() if name != "lang"}
    return "?" + urlencode({**query, "lang": language}, doseq=True)


def configure(app: Flask) -> None:
    """Template helpers of the customer pages' layout.

    ``portal_signed_in()``: whether a customer is signed in (the layout's "My account" and "Sign out");
    ``with_language(lang)``: the language switch's link.
    """
    app.jinja_env.globals["portal_signed_in"] = lambda: signed_in_customer() is not None
    app.jinja_env.globals["with_language"] = with_language
