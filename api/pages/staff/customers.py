"""Staff customer pages: find the caller, see everything about them on one page, log the call in a few fields.

The list finds a customer by the beginning of their name, e-mail address or id. The customer page
shows who they are, their systems and licenses, their requests (those the viewer's teams handle;
the others are counted), every contact, the staff's notes and every change of their account data
(``process_library.account_changes``). Logging a contact goes through channel intake like every
other channel, so it continues one of the customer's open requests or starts a new inquiry, and is
recorded as a contact in the same transaction; the page then shows the case reference to read out.
A caller the store does not know is filed as a new customer.
"""

from __future__ import annotations

import re
import uuid

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from api.auth import current_principal, current_scope
from api.pages.analytics import duration
from api.pages.feedback import answer_refusal
from api.pages.locale import gettext
from api.pages.signin import check_csrf
from api.pages.staff.instances import StageLabels
from api.requests import numbers_up_to
from api.routes.common import care
from engine import calls, confirmations, contacts, customer_insight, next_best_action
from engine import customer_notes as notes
from engine.customer_requests import open_request, requests_of
from engine.errors import CareError, Conflict
from engine.models import MAX_ID, ProcessInstance
from engine.runtime import StartRequest
from process_library import account_changes, customers
from process_library.store import Customer, License, System

blueprint = Blueprint("staff_customers", __name__)
blueprint.before_request(check_csrf)
PAGE_SIZE = 25
SHOWN = 25  # requests, contacts and notes per part of the customer page
LOG_CHANNELS = ("phone", "visit", "letter", "email", "chat")
LANGUAGES = {"en": "English", "de": "Deutsch", "cs": "Čeština"}
NEW_REQUEST = "new"
MAX_SUBJECT = 300
MAX_TEXT = 20_000
ROW_ID = re.compile(numbers_up_to(MAX_ID))
FORM_ID = re.compile(r"staff-form:[0-9a-f]{32}")


def _row_id(value: str | None) -> int | None:
    return int(value) if value and ROW_ID.fullmatch(value) else None


def _submission_id() -> str:
    """The form's own message id: sending the same form twice (a double click, a reload) logs the contact once."""
    given = request.form.get("message_id", "")
    return given if FORM_ID.fullmatch(given) else f"staff-form:{uuid.uuid4().hex}"


@blueprint.app_template_global()
def new_submission_id() -> str:
    return f"staff-form:{uuid.uuid4().hex}"


# -- the list --------------------------------------------------------------------------------------


@blueprint.get("/customers")
def index():
    query = request.args.get("q", "").strip()[:200]
    after = request.args.get("after") or None
    if after is not None and not customers.storable_id(after):
        after = None
    with care().db.read() as session:
        found = customers.list_customers(session, query, PAGE_SIZE, after)
    next_url = url_for("staff_customers.index", q=query or None, after=found.next_after) if found.next_after else None
    return render_template(
        "staff/customers.html",
        customers=found.items,
        query=query,
        next_url=next_url,
        first_page=after is None,
        principal=current_principal(),
    )


# -- a caller the store does not know --------------------------------------------------------------


@blueprint.get("/customers/new")
def new_caller():
    typed = request.args.get("q", "").strip()[:200]
    values = {"email": typed} if "@" in typed else {"name": typed}
    phone = request.args.get("phone", "").strip()[: customers.MAX_PHONE]  # a ringing call's number (/calls/incoming)
    return _new_caller_page({**values, "phone": phone, "channel": "phone", "language": "en"}, {})


@blueprint.post("/customers/new")
def new_caller_submit():
    values = {name: request.form.get(name, "").strip() for name in ("name", "email", "phone", "language")}
    values |= _contact_values()
    problems = _contact_problems(values) | _caller_problems(values)
    if problems:
        return _new_caller_page(values, problems, status=422)
    with care().db.read() as session:
        same_address = customers.with_email(session, values["email"])
    if same_address and not request.form.get("file_anyway"):
        return _new_caller_page(values, {}, same_address=same_address, status=422)
    customer = {key: values[key] for key in ("name", "email", "phone", "language") if values[key]}
    try:
        result = _submit(values, customer, reference=None, register=True)
    except CareError as refused:
        return _new_caller_page(values, {}, refused=_refusal(refused), status=refused.status)
    return redirect(_after_logging(result.customer_id, result))


def _caller_problems(values: dict) -> dict[str, str]:
    problems = {}
    for name, longest in (("name", customers.MAX_NAME), ("email", customers.MAX_EMAIL)):
        if not values[name]:
            problems[name] = gettext("This field is required.")
        elif len(values[name]) > longest:
            problems[name] = gettext("This is too long.")
    if "email" not in problems and not customers.EMAIL.fullmatch(values["email"]):
        problems["email"] = gettext("Please enter a valid e-mail address.")
    if len(values["phone"]) > customers.MAX_PHONE:
        problems["phone"] = gettext("This is too long.")
    if values["language"] not in LANGUAGES:
        problems["language"] = gettext("Choose one of the options.")
    return problems


def _new_caller_page(values: dict, errors: dict, status: int = 200, **extra: object):
    page = render_template(
        "staff/new_caller.html",
        values=values,
        errors=errors,
        channels=LOG_CHANNELS,
        languages=LANGUAGES,
        principal=current_principal(),
        **extra,
    )
    return page, status


# -- one customer ----------------------------------------------------------------------------------


@blueprint.get("/customers/<customer_id>")
def show(customer_id: str):
    return _customer_page(customer_id)


@blueprint.post("/customers/<customer_id>/contacts")
def log_contact(customer_id: str):
    _customer(customer_id)
    values = _contact_values()
    values["request"] = request.form.get("request", NEW_REQUEST)
    problems = _contact_problems(values)
    reference = None
    if values["request"] != NEW_REQUEST:
        with care().db.read() as session:
            reference = open_request(session, customer_id, current_scope(), _row_id(values["request"]))
        if reference is None:
            problems["request"] = gettext("Choose one of the options.")
    if problems:
        return _customer_page(customer_id, form=values, errors=problems, status=422)
    try:
        result = _submit(values, {"id": customer_id}, reference=reference, register=False)
    except CareError as refused:
        return _customer_page(customer_id, form=values, refused=_refusal(refused), status=refused.status)
    return redirect(_after_logging(customer_id, result))


@blueprint.post("/customers/<customer_id>/notes")
def add_note(customer_id: str):
    _customer(customer_id)
    text = request.form.get("text", "").strip()
    problem = None
    if not text:
        problem = gettext("This field is required.")
    elif len(text) > notes.MAX_TEXT:
        problem = gettext("This is too long.")
    if problem:
        return _customer_page(customer_id, note=text, note_error=problem, status=422)
    with care().db.write() as session:
        notes.add(session, customer_id=customer_id, text=text, author=current_principal().name, at=care().clock.now())
    flash(gettext("Note added."), "info")
    return redirect(url_for("staff_customers.show", customer_id=customer_id, _anchor="notes"))


@blueprint.post("/customers/<customer_id>/reply")
def reply(customer_id: str):
    """An e-mail to the customer about one of their open requests, threaded under their last mail of it."""
    customer = _customer(customer_id)
    typed = {
        "request": request.form.get("request", ""),
        "subject": request.form.get("subject", ""),
        "body": request.form.get("body", ""),
    }
    instance_id = _row_id(typed["request"])
    with care().db.read() as session:
        reference = open_request(session, customer_id, current_scope(), instance_id)
    if reference is None:
        return _customer_page(
            customer_id, reply=typed, reply_errors={"request": gettext("Choose one of the options.")}, status=422
        )
    try:
        sent = care().answers.send(
            instance_id,
            subject=typed["subject"],
            body=typed["body"],
            request_key=request.form.get("request_key", ""),
            author=current_principal().name,
            scope=current_scope(),
        )
    except CareError as refused:
        if refused.status in (403, 404):
            abort(refused.status)
        return _customer_page(customer_id, reply=typed, reply_refused=answer_refusal(refused), status=refused.status)
    flash(
        gettext(
            "Your e-mail to %(address)s about %(reference)s is on its way.",
            address=sent["recipient"],
            reference=reference,
        ),
        "info",
    )
    return redirect(url_for("staff_customers.show", customer_id=customer.id, _anchor="contacts-title"))


def _suggestion(session, customer_id: str, now) -> next_best_action.Suggestion | None:
    data = next_best_action.profile(session, customer_id, now)
    return None if data is None else care().next_best_action.suggest(data)


@blueprint.post("/customers/<customer_id>/suggestion")
def accept_suggestion(customer_id: str):
    """Start the process the next-best-action table names for this customer, as it suggests it now.

    The form carries the process and item it showed: if the table suggests something else by now
    (new data, a new table), nothing starts and the page shows the new suggestion. The form's own
    key makes a double click start one instance. A note on the customer records who accepted what.
    """
    _customer(customer_id)
    with care().db.read() as session:
        suggestion = _suggestion(session, customer_id, care().clock.now())
    shown = (request.form.get("process_key", ""), request.form.get("item_id", "") or None)
    if suggestion is None or (suggestion.process_key, suggestion.item_id) != shown:
        refused = gettext("The suggestion has changed in the meantime; nothing was started. Look at it again.")
        return _customer_page(customer_id, suggestion_refused=refused, status=409)
    principal = current_principal().name
    start = StartRequest(suggestion.process_key, suggestion.variables(customer_id), customer_id=customer_id)
    try:
        started, created = care().runtime.start(
            start, principal, idempotency_scope=f"suggestion:{principal}", idempotency_key=_submission_id()
        )
    except CareError as refused:
        return _customer_page(customer_id, suggestion_refused=refused.detail, status=refused.status)
    if created:
        with care().db.write() as session:
            text = f"Accepted the suggestion “{suggestion.action}” ({suggestion.reason}): {started['reference']}."
            notes.add(session, customer_id=customer_id, text=text, author=principal, at=care().clock.now())
    flash(
        gettext("Started %(reference)s: %(action)s", reference=started["reference"], action=suggestion.action), "info"
    )
    return redirect(url_for("staff_customers.show", customer_id=customer_id, _anchor="insight"))


def _customer(customer_id: str) -> Customer:
    with care().db.read() as session:
        found = session.get(Customer, customer_id)
    if found is None:
        abort(404)
    return found


def _customer_page(customer_id: str, status: int = 200, **form_state: object):
    scope = current_scope()
    now = care().clock.now()
    with care().db.read() as session:
        customer = session.get(Customer, customer_id)
        if customer is None:
            abort(404)
        systems = list(session.scalars(select(System).where(System.customer_id == customer_id).order_by(System.id)))
        licenses = list(
            session.scalars(select(License).where(License.customer_id == customer_id).order_by(License.valid_until))
        )
        cases, older_cases, hidden = requests_of(
            session, customer_id, scope, SHOWN, _row_id(request.args.get("requests_before"))
        )
        contact_list, older_contacts = contacts.of_customer(
            session, customer_id, SHOWN, _row_id(request.args.get("contacts_before"))
        )
        logged_calls = calls.logged_as(session, [contact["id"] for contact in contact_list])
        note_list, older_notes = notes.of_customer(
            session, customer_id, SHOWN, _row_id(request.args.get("notes_before"))
        )
        change_list, older_changes = account_changes.of_customer(
            session, customer_id, SHOWN, _row_id(request.args.get("changes_before"))
        )
        logged = _logged(session, customer_id, _row_id(request.args.get("logged")))
        insight = customer_insight.of_customer(session, customer_id, now)
        suggestion = _suggestion(session, customer_id, now)
    stages = StageLabels()
    for case in cases:
        case["stage"] = stages.label(case["definition_id"], case["stage"])
    open_requests = [case for case in cases if case["open"]]
    page = render_template(
        "staff/customer.html",
        customer=customer,
        systems=systems,
        insight=insight,
        suggestion=suggestion,
        suggested_process=care().cases.process_titles().get(suggestion.process_key) if suggestion else None,
        suggestion_refused=form_state.get("suggestion_refused"),
        duration=duration,
        licenses=[(lic, lic.valid_until < now) for lic in licenses],
        requests=cases,
        hidden_requests=hidden,
        open_requests=open_requests,
        contacts=contact_list,
        logged_calls=logged_calls,
        notes=note_list,
        older={
            "requests": _older("requests_before", older_cases, customer_id),
            "contacts": _older("contacts_before", older_contacts, customer_id),
            "notes": _older("notes_before", older_notes, customer_id),
            "changes": _older("changes_before", older_changes, customer_id),
        },
        changes=change_list,
        logged=logged,
        channels=LOG_CHANNELS,
        form=form_state.get("form") or {"channel": "phone", "request": NEW_REQUEST},
        errors=form_state.get("errors") or {},
        refused=form_state.get("refused"),
        note=form_state.get("note", ""),
        note_error=form_state.get("note_error"),
        reply=form_state.get("reply") or {},
        reply_errors=form_state.get("reply_errors") or {},
        reply_refused=form_state.get("reply_refused"),
        process_prefix=contacts.PROCESS_PREFIX,
        phone_system_prefix=calls.PHONE_SYSTEM_PREFIX,
        languages=LANGUAGES,
        principal=current_principal(),
    )
    return page, status


def _older(name: str, before: int | None, customer_id: str) -> str | None:
    if before is None:
        return None
    return url_for("staff_customers.show", customer_id=customer_id, **{name: before})


def _logged(session, customer_id: str, instance_id: int | None) -> dict | None:
    """The case a contact was just logged on, to read its reference out (only one of this customer's)."""
    if instance_id is None:
        return None
    case = session.get(ProcessInstance, instance_id)
    if case is None or case.customer_id != customer_id:
        return None
    return {"reference": case.reference, "instance_id": case.id, "started": request.args.get("started") == "1"}


# -- logging a contact -----------------------------------------------------------------------------


def _contact_values() -> dict:
    return {name: request.form.get(name, "").strip() for name in ("channel", "subject", "text")}


def _contact_problems(values: dict) -> dict[str, str]:
    problems = {}
    if values["channel"] not in LOG_CHANNELS:
        problems["channel"] = gettext("Choose one of the options.")
    for name, longest in (("subject", MAX_SUBJECT), ("text", MAX_TEXT)):
        if not values[name]:
            problems[name] = gettext("This field is required.")
        elif len(values[name]) > longest:
            problems[name] = gettext("This is too long.")
    return problems


def _submit(values: dict, customer: dict, reference: str | None, register: bool):
    """Hand the logged contact to the intake; a new case is confirmed to the customer by mail where they have one."""
    principal = current_principal().name
    confirm = confirmations.on_start(
        care().settings,
        care().clock,
        subject=values["subject"],
        address=customer.get("email"),
        name=customer.get("name"),
        language_hint=customer.get("language"),
    )
    return care().intake.submit(
        channel=values["channel"],
        customer=customer,
        subject=values["subject"],
        body=values["text"],
        reference=reference,
        principal=principal,
        message_id=_submission_id(),
        register=register,
        on_start=confirm,
    )


def _after_logging(customer_id: str, result) -> str:
    started = "1" if result.started else None
    return url_for("staff_customers.show", customer_id=customer_id, logged=result.instance_id, started=started)


def _refusal(refused: CareError) -> str:
    if isinstance(refused, Conflict):
        return gettext("No process takes new inquiries right now, so nothing was logged. Tell an administrator.")
    return refused.detail
