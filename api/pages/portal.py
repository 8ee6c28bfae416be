"""Self-service for customers: ``/portal/requests`` lists all requests of a customer via a signed link.

``POST /portal/link`` with an e-mail address writes a mail to the outbox (``held`` until sent) with a
link signed by itsdangerous that expires after :data:`LINK_MAX_AGE`; the answer is the same whether
or not the address is known, so the form tells nobody who is a customer.  ``GET /portal/requests``
with a valid token lists the customer's requests from the customer status read model; a forged or
expired token is 403 and shows nothing.

``/portal/inquiry`` takes a new inquiry from anyone, so it files it under an unverified contact; a
customer whose address it names confirms it as theirs through ``/portal/confirm`` (a mailed link).
"""

from __future__ import annotations

import hashlib
import re

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select

from api import i18n
from api.pages.customer import STATUS_TEXTS
from api.pages.signin import check_csrf
from api.routes.common import care
from engine.errors import CareError, Conflict
from engine.models import CustomerStatus, ProcessInstance
from process_library.store import Customer, OutboxMessage

blueprint = Blueprint("portal", __name__)
blueprint.before_request(check_csrf)
LINK_MAX_AGE = 24 * 3600  # seconds
SALT = "carecenter.portal.requests"
CONFIRM_MAX_AGE = 14 * 24 * 3600  # seconds a customer has to confirm a web inquiry as theirs
CONFIRM_SALT = "carecenter.portal.confirm"
CONTACT_PREFIX = "web:"  # the id of an unverified contact: web:<e-mail>


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _context() -> dict:
    language = i18n.pick(request.args.get("lang"), request.accept_languages)
    return {"_": i18n.translations(language).gettext, "lang": language, "languages": i18n.LANGUAGES}


@blueprint.get("/portal")
def ask():
    return render_template("track/portal_ask.html", **_context())


@blueprint.post("/portal/link")
def send_link():
    email = request.form.get("email", "").strip().lower()
    if "@" not in email or len(email) > 300:
        return render_template("track/portal_ask.html", invalid=True, **_context()), 422
    now = care().clock.now()
    with care().db.write() as session:
        customer = session.scalar(select(Customer).where(func.lower(Customer.email) == email))
        if customer is not None:
            token = _serializer().dumps(customer.id)
            link = care().settings.public.link(url_for("portal.requests"), token=token)
            key = "portal-link:" + hashlib.sha256(token.encode()).hexdigest()
            session.add(
                OutboxMessage(
                    idempotency_key=key,
                    kind="mail",
                    recipient=customer.email,
                    subject="Your requests",
                    body=f"Hello {customer.name},\n\nyour requests: {link}\n\nThe link is valid for 24 hours.\n",
                    payload={"customer_id": customer.id, "purpose": "portal_link"},
                    status="held",
                    attempts=0,
                    created_at=now,
                )
            )
    return render_template("track/portal_ask.html", sent=True, **_context())


@blueprint.get("/portal/requests")
def requests():
    try:
        customer_id = _serializer().loads(request.args.get("token", ""), max_age=LINK_MAX_AGE)
    except (SignatureExpired, BadSignature):
        return render_template("track/portal_ask.html", expired=True, **_context()), 403
    with care().db.read() as session:
        rows = list(
            session.execute(
                select(CustomerStatus, ProcessInstance.definition_version)
                .join(ProcessInstance, ProcessInstance.id == CustomerStatus.instance_id)
                .where(CustomerStatus.customer_id == customer_id)
                .order_by(CustomerStatus.instance_id.desc())
                .limit(200)
            )
        )
        items = [
            {
                "title": r.title,
                "process_key": r.process_key,
                "version": version,  # the title is translated by that version's catalogs
                "reference": r.reference,
                "status": r.status,
                "code": r.tracking_code,
                "updated_at": r.updated_at.isoformat(),
            }
            for r, version in rows
        ]
    return render_template("track/portal_requests.html", items=items, status_texts=STATUS_TEXTS, **_context())


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
    return render_template("track/portal_inquiry.html", values={}, errors={}, **_context())


@blueprint.post("/portal/inquiry")
def inquiry_submit():
    """Validate, then start inquiry intake through channel intake (``care.intake``), channel ``web``.

    Nobody proves who they are on this form, so the inquiry is filed under an unverified contact
    ``web:<e-mail>``, never under a customer of the store.  When the address belongs to a customer,
    that customer is mailed a link to confirm the request as theirs (see :func:`confirm`); staff can
    link it too.  Without a deployed intake process this answers 503 and starts nothing.
    """
    values, problems = inquiry_problems(request.form)
    if problems:
        return render_template("track/portal_inquiry.html", values=values, errors=problems, **_context()), 422
    email = values["email"].lower()
    try:
        result = care().intake.submit(
            channel="web",
            customer={
                "id": CONTACT_PREFIX + email,
                "name": values["name"],
                "email": email,
                "product": values["product"],
            },
            subject=values["subject"],
            body=values["description"],
            reference=None,
            principal="portal",
        )
    except Conflict:
        return render_template(
            "track/portal_inquiry.html", values=values, errors={}, unavailable=True, **_context()
        ), 503
    _ask_the_customer_to_confirm(email, result.instance_id, values["subject"])
    return redirect(url_for("track.show", code=result.tracking_code, lang=_context()["lang"]))


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
