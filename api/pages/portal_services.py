"""Account services and online orders in the customer portal: forms a signed-in customer sends, each a care process.

- ``/portal/account/change``: the changeable account data (contact person, phone, postal address,
  postcode, language, preferred channel, billing address, authorized contacts, e-mail address),
  prefilled from the store. Sending it calls
  :func:`process_library.self_service.request_account_change` for the signed-in customer, who is
  never named by the form; a refusal comes back as the form with each field's message in the
  customer's language (422, nothing started).
- ``/portal/account/changes/<reference>``: the answer. What is changed at once, what waits for a
  colleague's approval, each with before and after once the process has recorded them, and the
  link to the request's status page.
- ``/portal/order``: the catalog (licenses, add-ons, upgrades) with prices, what this customer
  cannot order marked with the reason, and the quantity. Sending it calls
  :func:`~process_library.self_service.place_order`.
- ``/portal/orders/<reference>``: the answer. Confirmed (the license), waiting for sales, declined
  (the reason), or still being checked.

Every form carries the CSRF token (checked before every request of the blueprint) and a random
form id: sending the same form twice (a double click, a reload of the POST) starts one process and
answers with it. The answer pages read only the signed-in customer's rows
(:mod:`engine.portal_account`), so the reference of someone else's case is a 404.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from api.pages.customer import STATUS_TEXTS
from api.pages.portal_session import portal_context, portal_customer
from api.pages.signin import check_csrf
from api.routes.common import care
from engine import portal_account
from engine.errors import Conflict, NotFound
from process_library import account_changes, orders, self_service
from process_library.self_service import Refused
from process_library.store import Customer

blueprint = Blueprint("portal_services", __name__)
blueprint.before_request(check_csrf)

TEXT_FIELDS = ("contact_person", "phone", "address", "postcode", "billing_address", "email")
CHOICE_FIELDS = ("language", "preferred_channel")
FORM_CONTACT_ROWS = account_changes.MAX_CONTACTS + 2  # rows the form may send (it shows at most MAX_CONTACTS)
EMPTY_CONTACT_ROWS = 2  # blank rows under the current contacts, for new ones
SUBMISSION = re.compile(r"[A-Za-z0-9_-]{16,64}")
REFERENCE = re.compile(r"CC-[0-9A-Z]{4}-[0-9A-Z]{4}")
KIND_ORDER = ("license", "addon", "upgrade")


def _form_key(kind: str, form: MultiDict, request_data: object) -> str | None:
    """The idempotency key of one sending of a form: its random id and what it asks for.

    The same form sent twice (same id, same data) starts one process; the form sent again with
    other data (the customer went back and corrected it) is a request of its own.
    """
    submission = form.get("submission", "")
    if not SUBMISSION.fullmatch(submission):
        return None
    digest = hashlib.sha256(json.dumps(request_data, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return f"portal-{kind}:{submission}:{digest}"


# -- account services ------------------------------------------------------------------------------


def _contact_rows(contacts: list[dict]) -> list[dict]:
    """The authorized contacts as form rows, with blank rows to add more (at most MAX_CONTACTS rows)."""
    rows = [{key: person.get(key) or "" for key in ("name", "email", "phone")} for person in contacts]
    blanks = max(0, min(EMPTY_CONTACT_ROWS, account_changes.MAX_CONTACTS - len(rows)))
    return rows + [{"name": "", "email": "", "phone": ""} for _ in range(blanks)]


def _prefilled(current: dict) -> dict:
    values = {name: current.get(name) or "" for name in TEXT_FIELDS + CHOICE_FIELDS}
    values["contacts"] = _contact_rows(current.get("authorized_contacts") or [])
    return values


def _sent_contacts(form: MultiDict) -> tuple[list[dict] | None, list[dict]]:
    """The authorized contacts the form sent (blank rows left out) and its rows as typed; None: not sent."""
    shown = form.get("contact_rows", "")
    if not shown.isdigit():
        return None, []
    typed = []
    for index in range(min(int(shown), FORM_CONTACT_ROWS)):
        typed.append({key: form.get(f"contact-{index}-{key}", "").strip() for key in ("name", "email", "phone")})
    people = [{key: value for key, value in row.items() if value} for row in typed if any(row.values())]
    return people, typed


def changes_from(form: MultiDict, current: dict) -> tuple[dict, dict]:
    """What the form asks to change (field -> value as typed; the process library checks it) and the values to show.

    A field the form did not send is left alone; a choice left at its blank option (the store has
    no value, or one the form does not offer) asks nothing.
    """
    changes, values = {}, {}
    for name in TEXT_FIELDS:
        if name in form:
            changes[name] = values[name] = form[name]
        else:
            values[name] = current.get(name) or ""
    for name in CHOICE_FIELDS:
        chosen = form.get(name, "")
        values[name] = chosen
        if chosen:
            changes[name] = chosen
    people, typed = _sent_contacts(form)
    if people is not None:
        changes["authorized_contacts"] = people
    values["contacts"] = typed if people is not None else _contact_rows(current.get("authorized_contacts") or [])
    return changes, values


def _change_page(values: dict, errors: dict, current: dict, unavailable: bool = False) -> str:
    """The form; ``unavailable``: saying requests cannot be taken now (the process is not deployed)."""
    return render_template(
        "track/portal_change.html",
        values=values,
        errors=errors,
        unavailable=unavailable,
        current=current,
        sensitive=account_changes.SENSITIVE,
        submission=secrets.token_urlsafe(16),
        choices={"language": account_changes.LANGUAGES, "preferred_channel": self_service.PREFERRED},
        **portal_context(),
    )


@blueprint.get("/portal/account/change")
def change_form():
    """The account data form, prefilled with what the store holds for the signed-in customer."""
    customer_id = portal_customer()
    current = self_service.account(care(), customer_id) or abort(404)
    return _change_page(_prefilled(current), {}, current)


@blueprint.post("/portal/account/change")
def change_submit():
    """Start ``account_change`` for the signed-in customer; the form again with each field's problem if refused."""
    customer_id = portal_customer()
    current = self_service.account(care(), customer_id) or abort(404)
    changes, values = changes_from(request.form, current)
    key = _form_key("change", request.form, changes)
    try:
        started = self_service.request_account_change(care(), customer_id, changes, "web", submission_id=key)
    except Refused as refused:
        return _change_page(values, refused.problems, current), 422
    except (NotFound, Conflict):
        return _change_page(values, {}, current, unavailable=True), 503
    # the language of the answer: the one just chosen, if it was (it applies at once)
    language = changes.get("language") if "language" in started.fields else portal_context()["lang"]
    asked = ",".join(started.fields) or None
    return redirect(url_for(".change_answer", reference=started.reference, lang=language, asked=asked), 303)


def _reference(reference: str) -> str:
    if not REFERENCE.fullmatch(reference):
        abort(404)
    return reference


@blueprint.get("/portal/account/changes/<reference>")
def change_answer(reference: str):
    """What became of one account change request of the signed-in customer."""
    customer_id = portal_customer()
    context = portal_context()
    with care().db.read() as session:
        found = portal_account.change_request(
            session, care().repository, customer_id, _reference(reference), context["lang"]
        )
    if found is None:
        abort(404)
    # before the process has recorded the request, the fields the form asked for say what will happen
    asked = [name for name in request.args.get("asked", "").split(",") if name in account_changes.FIELDS]
    return render_template(
        "track/portal_change_answer.html",
        change=found,
        asked_now=[name for name in asked if name not in account_changes.SENSITIVE],
        asked_approval=[name for name in asked if name in account_changes.SENSITIVE],
        status_texts=STATUS_TEXTS,
        **context,
    )


# -- online orders -------------------------------------------------------------------------------


def _catalog(customer_id: str) -> list[dict]:
    """The catalog by kind, each item with why this customer cannot order it (None: they can)."""
    now = care().clock.now()
    items = self_service.catalog(care())
    with care().db.read() as session:
        customer = session.get(Customer, customer_id)
        for item in items:
            _item, problems = orders.check(session, customer, item["id"], 1, now)
            item["unavailable"] = problems.get("item")
    return sorted(items, key=lambda item: KIND_ORDER.index(item["kind"]) if item["kind"] in KIND_ORDER else 9)


def _order_page(values: dict, errors: dict, customer_id: str, unavailable: bool = False) -> str:
    """The order form; ``unavailable``: saying orders cannot be taken now (the process is not deployed)."""
    return render_template(
        "track/portal_order.html",
        catalog=_catalog(customer_id),
        values=values,
        errors=errors,
        unavailable=unavailable,
        submission=secrets.token_urlsafe(16),
        **portal_context(),
    )


@blueprint.get("/portal/order")
def order_form():
    """The catalog with prices; the signed-in customer picks one item and how many terms."""
    customer_id = portal_customer()
    return _order_page({"item": request.args.get("item", ""), "quantity": "1"}, {}, customer_id)


def _quantity(typed: str) -> int | str:
    """The quantity as a whole number, or as typed when it is none (the process library refuses it)."""
    typed = typed.strip()
    return int(typed) if typed.isdigit() and len(typed) <= 3 else typed


@blueprint.post("/portal/order")
def order_submit():
    """Start ``product_order`` for the signed-in customer; the form again with each field's problem if refused."""
    customer_id = portal_customer()
    item = request.form.get("item", "")
    quantity = _quantity(request.form.get("quantity", ""))
    values = {"item": item, "quantity": request.form.get("quantity", "")}
    if not item:  # nothing chosen: say so, rather than "not in our catalog"
        return _order_page(values, {"item": account_changes.CHOOSE}, customer_id), 422
    key = _form_key("order", request.form, {"item": item, "quantity": quantity})
    try:
        started = self_service.place_order(care(), customer_id, item, quantity, "web", submission_id=key)
    except Refused as refused:
        return _order_page(values, refused.problems, customer_id), 422
    except (NotFound, Conflict):
        return _order_page(values, {}, customer_id, unavailable=True), 503
    return redirect(url_for(".order_answer", reference=started.reference, lang=portal_context()["lang"]), 303)


@blueprint.get("/portal/orders/<reference>")
def order_answer(reference: str):
    """What became of one order of the signed-in customer."""
    customer_id = portal_customer()
    context = portal_context()
    with care().db.read() as session:
        found = portal_account.order_request(
            session, care().repository, customer_id, _reference(reference), context["lang"]
        )
    if found is None:
        abort(404)
    return render_template("track/portal_order_answer.html", order_request=found, status_texts=STATUS_TEXTS, **context)
