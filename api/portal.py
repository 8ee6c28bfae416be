"""Self-service for customers: ``/portal/requests`` lists all requests of a customer via a signed link.

``POST /portal/link`` with an e-mail address writes a mail to the outbox (``held`` until sent) with a
link signed by itsdangerous that expires after :data:`LINK_MAX_AGE`; the answer is the same whether
or not the address is known, so the form tells nobody who is a customer.  ``GET /portal/requests``
with a valid token lists the customer's requests from the customer status read model; a forged or
expired token is 403 and shows nothing.
"""

from __future__ import annotations

import hashlib
import re

from flask import Blueprint, Flask, current_app, redirect, render_template, request, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select

from api import i18n
from api.customer_pages import STATUS_TEXTS
from api.routes.common import care
from api.web import check_csrf
from engine.errors import Conflict
from engine.models import CustomerStatus
from process_library.store import Customer, OutboxMessage

blueprint = Blueprint("portal", __name__)
blueprint.before_request(check_csrf)
LINK_MAX_AGE = 24 * 3600  # seconds
SALT = "carecenter.portal.requests"


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
            link = url_for("portal.requests", token=token, _external=True)
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
            session.scalars(
                select(CustomerStatus)
                .where(CustomerStatus.customer_id == customer_id)
                .order_by(CustomerStatus.instance_id.desc())
                .limit(200)
            )
        )
        items = [
            {
                "title": r.title,
                "reference": r.reference,
                "status": r.status,
                "code": r.tracking_code,
                "updated_at": r.updated_at.isoformat(),
            }
            for r in rows
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

    A customer the store does not know gets the id ``web:<e-mail>``, so their requests stay together.
    Without a deployed intake process this answers 503 and starts nothing.
    """
    values, problems = inquiry_problems(request.form)
    if problems:
        return render_template("track/portal_inquiry.html", values=values, errors=problems, **_context()), 422
    with care().db.read() as session:
        known = session.scalar(select(Customer).where(func.lower(Customer.email) == values["email"].lower()))
    customer_id = known.id if known else f"web:{values['email'].lower()}"
    try:
        result = care().intake.submit(
            channel="web",
            customer={
                "id": customer_id,
                "name": values["name"],
                "email": values["email"],
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
    return redirect(url_for("track.show", code=result.tracking_code, lang=_context()["lang"]))


def register(app: Flask) -> None:
    app.register_blueprint(blueprint)
