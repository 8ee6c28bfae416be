"""The customer portal: sign-in by mailed link, *My account*, the web inquiry form and confirming a request.

Signing in: ``/portal`` asks for an e-mail address; ``POST /portal/link`` writes a mail to the
outbox (``held`` until the worker's relay sends it) with a link ``/portal/signin?token=…`` whose
token is signed by itsdangerous and names a single-use nonce kept (hashed) in the database for
:data:`engine.portal_access.LINK_LIFETIME` (:mod:`engine.portal_access`). The answer is the same
page after the same padded time whether or not the address is known, and an address gets at most
:data:`~engine.portal_access.LINKS_PER_HOUR` links an hour. Opening the link shows a button (a mail
scanner's GET uses nothing up); pressing it uses the link and opens a portal session
(:mod:`api.pages.portal_session`). An expired, used or forged link gets a page saying so, in the
customer's language, with the form for a new one.

``/portal/account`` shows the signed-in customer's record, contacts, systems, licenses and every
request with its stage, read only by their id. ``/portal/requests`` (the list of earlier
versions) leads there.

``/portal/inquiry`` takes a new inquiry from anyone, so it files it under an unverified contact; a
customer whose address it names confirms it as theirs through ``/portal/confirm`` (a mailed link).
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import func, select

from api import i18n
from api.pages.customer import STATUS_TEXTS
from api.pages.portal_session import portal_context, portal_customer, sign_in, sign_out, signed_in_customer
from api.pages.signin import check_csrf, safe_next
from api.routes.common import care
from api.uniform_time import uniform_duration
from engine import confirmations, portal_access, portal_account
from engine.errors import CareError, Conflict
from engine.models import CustomerStatus
from process_library.store import Customer, OutboxMessage

blueprint = Blueprint("portal", __name__)
blueprint.before_request(check_csrf)
SALT = "carecenter.portal.signin"
LINK_REQUEST_SECONDS = 0.25  # every link request takes at least this long, known address or not
CONFIRM_MAX_AGE = 14 * 24 * 3600  # seconds a customer has to confirm a web inquiry as theirs
CONFIRM_SALT = "carecenter.portal.confirm"
CONTACT_PREFIX = "web:"  # the id of an unverified contact: web:<e-mail>
LINK_STATUS = {portal_access.USED: 410, portal_access.EXPIRED: 410, portal_access.UNKNOWN: 403}


def _serializer() -> URLSafeSerializer:
    """Signs the sign-in token; expiry and single use are the database's (the engine's clock decides)."""
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _context() -> dict:
    return portal_context()


def _portal_page(target: str | None) -> str | None:
    """``target`` if it is a portal page of this site to come back to after signing in, else None."""
    if not target or safe_next(target, "/portal/") != target or not target.startswith("/portal/"):
        return None
    if target.startswith(("/portal/signin", "/portal/signout", "/portal/link")):
        return None
    return target if len(target) <= portal_access.MAX_NEXT else None


@blueprint.get("/portal")
def ask():
    if signed_in_customer() is not None:
        return redirect(url_for("portal.account", lang=request.args.get("lang")))
    return render_template(
        "track/portal_ask.html",
        next=_portal_page(request.args.get("next")),
        signed_out=request.args.get("signed_out") == "1",
        **_context(),
    )


@blueprint.post("/portal/link")
def send_link():
    """Mail a sign-in link to a known address; the same answer, after the same time, for every address."""
    email = request.form.get("email", "").strip().lower()
    context = _context()
    next_path = _portal_page(request.form.get("next"))
    if "@" not in email or len(email) > 300:
        return render_template("track/portal_ask.html", invalid=True, next=next_path, **context), 422
    with uniform_duration(LINK_REQUEST_SECONDS):
        _mail_link(email, context["lang"], next_path)
    return render_template("track/portal_ask.html", sent=True, **context)


def _mail_link(email: str, page_language: str, next_path: str | None) -> None:
    """Write the sign-in mail for the customer with this address, unless they had enough links this hour."""
    now = care().clock.now()
    with care().db.write() as session:
        customer = session.scalar(select(Customer).where(func.lower(Customer.email) == email))
        if customer is None:
            return
        if portal_access.links_sent_since(session, customer.id, now - timedelta(hours=1)) >= (
            portal_access.LINKS_PER_HOUR
        ):
            return  # nobody fills a customer's mailbox through this form
        language = customer.language if customer.language in i18n.LANGUAGES else page_language
        nonce = portal_access.issue_link(session, customer.id, now, next_path)
        token = _serializer().dumps({"c": customer.id, "n": nonce})
        link = care().settings.public.link(url_for("portal.signin"), token=token, lang=language)
        _ = i18n.translations(language).gettext
        minutes = int(portal_access.LINK_LIFETIME.total_seconds() // 60)
        session.add(
            OutboxMessage(
                idempotency_key="portal-link:" + hashlib.sha256(nonce.encode()).hexdigest(),
                kind="mail",
                recipient=customer.email,
                subject=_("Your sign-in link"),
                body=_(
                    "Hello %(name)s,\n\nto sign in to your customer portal, open this link:\n%(link)s\n\n"
                    "The link works once, within %(minutes)s minutes. If you did not ask for it, ignore this "
                    "mail: nobody signs in without it.\n"
                )
                % {"name": customer.name, "link": link, "minutes": minutes},
                payload={"customer_id": customer.id, "purpose": "portal_link", "language": language},
                status="held",
                attempts=0,
                created_at=now,
            )
        )


def _link_nonce(token: str) -> str | None:
    """The nonce a sign-in token names, if the token carries this site's signature."""
    try:
        claim = _serializer().loads(token)
    except BadSignature:
        return None
    nonce = claim.get("n") if isinstance(claim, dict) else None
    return nonce if isinstance(nonce, str) else None


def _link_page(state: portal_access.LinkState, token: str, context: dict):
    """The sign-in page for a link: the button while it works, else why not and the form for a new one."""
    customer = None
    if state.customer_id is not None:
        with care().db.read() as session:
            customer = session.get(Customer, state.customer_id)
    if "lang" not in request.args and customer is not None and customer.language in i18n.LANGUAGES:
        context = {**context, "lang": customer.language, "_": i18n.translations(customer.language).gettext}
    if state.state != portal_access.VALID or customer is None:
        reason = state.state if customer is not None else portal_access.UNKNOWN
        page = render_template("track/portal_signin.html", problem=reason, **context)
        return page, LINK_STATUS[reason]
    hours = f"{care().settings.session_max_hours:g}"
    return render_template("track/portal_signin.html", name=customer.name, token=token, hours=hours, **context)


@blueprint.get("/portal/signin")
def signin():
    """Show the link's sign-in button; nothing is used up by opening the link."""
    token = request.args.get("token", "")
    nonce = _link_nonce(token)
    with care().db.read() as session:
        state = portal_access.link_state(session, nonce, care().clock.now()) if nonce else None
    return _link_page(state or portal_access.LinkState(portal_access.UNKNOWN), token, _context())


@blueprint.post("/portal/signin")
def signin_submit():
    """Use the link (once) and open the portal session; then the page the customer came from, or their account."""
    token = request.form.get("token", "")
    nonce = _link_nonce(token)
    with care().db.write() as session:
        state = portal_access.use_link(session, nonce, care().clock.now()) if nonce else None
    if state is None or state.state != portal_access.VALID:
        return _link_page(state or portal_access.LinkState(portal_access.UNKNOWN), token, _context())
    sign_in(state.customer_id)
    target = _portal_page(state.next_path) or url_for("portal.account", lang=request.args.get("lang"))
    return redirect(target, 303)


@blueprint.post("/portal/signout")
def signout():
    language = _context()["lang"]
    sign_out()
    return redirect(url_for("portal.ask", lang=language, signed_out=1), 303)


@blueprint.get("/portal/account")
def account():
    """The signed-in customer's own record, contacts, systems, licenses and requests: nobody else's."""
    customer_id = portal_customer()
    context = _context()
    with care().db.read() as session:
        page = portal_account.account_of(session, care().repository, customer_id, context["lang"], care().clock.now())
    return render_template("track/portal_account.html", account=page, status_texts=STATUS_TEXTS, **context)


@blueprint.get("/portal/requests")
def requests():
    """The request list of earlier versions is part of *My account* now (its links' tokens no longer sign in)."""
    return redirect(url_for("portal.account", lang=request.args.get("lang")), 301)


INQUIRY_FIELDS = {"name": 200, "email": 300, "product": 100, "subject": 300, "description": 5000}


def inquiry_problems(form) -> tuple[dict, dict]:
    """The trimmed inquiry fields and what is wrong with them (field -> message text, untranslated)."""
    values = {name: form.get(name, "").strip() for name in INQUIRY_FIELDS}
    problems = {}
    for name, limit in INQUIRY_FIELDS.items():
        if not values[name]:
            problems[name] = "Please fill in this field."
        elif len(values[name]) > limit:
            problems[name] = "This is too long."
    if "email" not in problems and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", values["email"]):
        problems["email"] = "Please enter a valid e-mail address."
    return values, problems


@blueprint.get("/portal/inquiry")
def inquiry():
    return render_template(
        "track/portal_inquiry.html", values={}, errors={}, signed_in=_signed_in_record(), **_context()
    )


def _signed_in_record() -> Customer | None:
    """The signed-in customer's record: their inquiry is filed under it, without asking who they are."""
    customer_id = signed_in_customer()
    if customer_id is None:
        return None
    with care().db.read() as session:
        return session.get(Customer, customer_id)


@blueprint.post("/portal/inquiry")
def inquiry_submit():
    """Validate, then start inquiry intake through channel intake (``care.intake``), channel ``web``.

    A customer signed in to the portal is who they are: the inquiry is filed under them and confirmed
    to their address on file. Anyone else proves nothing on this form, so their inquiry is filed under
    an unverified contact ``web:<e-mail>``, never under a customer of the store: when the address
    belongs to a customer, that customer is mailed a link to confirm the request as theirs (see
    :func:`confirm`; staff can link it too); any other address gets the confirmation with the case
    reference and status link. The answer page is the status page, which greets a new request.
    Without a deployed intake process this answers 503 and starts nothing.
    """
    record = _signed_in_record()
    form = request.form.to_dict()
    if record is not None:  # who they are is known: the form does not ask
        form.update(name=record.name, email=record.email or "")
    values, problems = inquiry_problems(form)
    if problems:
        page = render_template(
            "track/portal_inquiry.html", values=values, errors=problems, signed_in=record, **_context()
        )
        return page, 422
    email = values["email"].lower()
    # someone not signed in typed a customer's address: that customer is asked to claim the request instead
    customers_address = record is None and _customer_with(email) is not None
    if record is not None:
        customer = {"id": record.id, "product": values["product"]}
    else:
        customer = {"id": CONTACT_PREFIX + email, "name": values["name"], "email": email, "product": values["product"]}
    confirm = None
    if not customers_address:
        confirm = confirmations.on_start(
            care().settings,
            care().clock,
            subject=values["subject"],
            address=email,
            name=values["name"],
            language_hint=_context()["lang"],
        )
    try:
        result = care().intake.submit(
            channel="web",
            customer=customer,
            subject=values["subject"],
            body=values["description"],
            reference=None,
            principal="portal",
            on_start=confirm,
        )
    except Conflict:
        return render_template(
            "track/portal_inquiry.html", values=values, errors={}, unavailable=True, signed_in=record, **_context()
        ), 503
    if customers_address:  # mailed to the address on file, never to what was typed
        _ask_the_customer_to_confirm(email, result.instance_id, values["subject"])
    return redirect(url_for("track.show", code=result.tracking_code, lang=_context()["lang"], received=1))


def _customer_with(email: str) -> Customer | None:
    with care().db.read() as session:
        return session.scalar(select(Customer).where(func.lower(Customer.email) == email))


def _ask_the_customer_to_confirm(email: str, instance_id: int, subject: str) -> None:
    """If a customer of the store has this address, mail them (at the address on file) a link to confirm."""
    now = care().clock.now()
    with care().db.write() as session:
        customer = session.scalar(select(Customer).where(func.lower(Customer.email) == email))
        if customer is None:
            return
        claim = {"instance": instance_id, "customer": customer.id, "subject": subject[:200]}
        token = _confirm_serializer().dumps(claim)
        link = care().settings.public.link(url_for("portal.confirm"), token=token)
        session.add(
            OutboxMessage(
                idempotency_key=f"portal-confirm:{instance_id}",
                kind="mail",
                recipient=customer.email,
                subject=f'Did you send us the request "{subject}"?',
                body=(
                    f"Hello {customer.name},\n\nsomeone sent us a request from the web form with your e-mail "
                    f"address:\n\n  {subject}\n\nIf it was you, confirm it here, so we can see it with your "
                    f"account:\n{link}\n\nIf it was not you, ignore this mail; the request stays apart from "
                    "your account.\n"
                ),
                payload={"customer_id": customer.id, "purpose": "portal_confirm", "instance_id": instance_id},
                status="held",
                attempts=0,
                created_at=now,
            )
        )


def _confirm_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=CONFIRM_SALT)


def _confirmation() -> tuple[dict | None, CustomerStatus | None]:
    """The signed request to confirm and the request's status row; (None, None) for a bad or used link."""
    try:
        claim = _confirm_serializer().loads(request.values.get("token", ""), max_age=CONFIRM_MAX_AGE)
    except (SignatureExpired, BadSignature):
        return None, None
    with care().db.read() as session:
        status = session.get(CustomerStatus, claim["instance"])
        customer = session.get(Customer, claim["customer"])
        if status is None or customer is None:
            return None, None
        if status.customer_id not in (CONTACT_PREFIX + customer.email.lower(), customer.id):
            return None, None  # filed under someone else meanwhile (staff linked it)
        session.expunge(status)
    return claim, status


@blueprint.get("/portal/confirm")
def confirm():
    """Show the request the mailed link is about, with a button: a mail scanner's GET confirms nothing."""
    claim, status = _confirmation()
    if claim is None:
        return render_template("track/portal_confirm.html", invalid=True, **_context()), 403
    done = status.customer_id == claim["customer"]
    return render_template(
        "track/portal_confirm.html", claim=claim, status=status, token=request.args["token"], done=done, **_context()
    )


@blueprint.post("/portal/confirm")
def confirm_submit():
    claim, status = _confirmation()
    if claim is None:
        return render_template("track/portal_confirm.html", invalid=True, **_context()), 403
    if status.customer_id != claim["customer"]:
        try:
            care().runtime.link_customer(claim["instance"], claim["customer"], "customer (confirmed by mail)")
        except CareError:
            return render_template("track/portal_confirm.html", invalid=True, **_context()), 409
    return render_template("track/portal_confirm.html", claim=claim, status=status, done=True, **_context())
