"""The customer's tracking pages: ``/track`` (case reference and e-mail or postcode) and ``/track/<code>`` (the status).

Public and rate-limited, rendered on the server without JavaScript, printable, in en/de/cs
(``?lang=`` or ``Accept-Language``).  They show exactly the JSON of ``GET /api/status/<code>``
(:func:`engine.status.view`, with the model's texts translated there), nothing more, and the
customer's task forms with their labels translated by the catalogs of the process (:mod:`api.pages.model_words`).

The secret link ``/track/<tracking code>`` from a mail opens the status as it is. Without it, a
customer posts the case reference together with the e-mail address or postcode on file
(:mod:`engine.case_lookup`); a match redirects to the status page of the secret link, which the
pair has earned, and so the page, its customer forms and reloads work exactly as from the link.
Every failure (unknown or malformed reference, wrong e-mail address or postcode) gets the same
page, status and text after the same padded time. The form is a POST, so the e-mail address never
lands in a URL or an access log.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from api import i18n
from api.pages import model_words
from api.pages.form_fields import fields_for, read_form, validation_messages
from api.pages.locale import translated
from api.pages.signin import check_csrf
from api.routes.common import care
from api.uniform_time import uniform_duration
from engine import case_lookup, forms, status
from engine.errors import CareError
from engine.forms import FormDataInvalid
from engine.models import HumanTask, ProcessInstance

blueprint = Blueprint("track", __name__)
blueprint.before_request(check_csrf)
CUSTOMER_PRINCIPAL = "customer"
STATUS_TEXTS = {
    "received": "Received",
    "in_progress": "In progress",
    "waiting_for_you": "Waiting for you",
    "completed": "Completed",
    "cancelled": "Cancelled",
}
STATE_TEXTS = {"done": "Done", "current": "Current", "upcoming": "Upcoming"}


def _context(language: str) -> dict:
    texts = i18n.translations(language)
    return {
        "_": texts.gettext,
        "lang": language,
        "languages": i18n.LANGUAGES,
        "status_texts": STATUS_TEXTS,
        "state_texts": STATE_TEXTS,
    }


def _language() -> str:
    return i18n.pick(request.args.get("lang"), request.accept_languages)


@blueprint.get("/track")
def index():
    language = _language()
    code = request.args.get("code", "").strip()
    if code:  # the form of earlier versions asked for the tracking code itself
        return redirect(url_for("track.show", code=code, lang=language))
    return render_template("track/index.html", **_context(language))


@blueprint.post("/track")
def lookup():
    """Case reference plus e-mail address or postcode: the status page on a match, one answer for every miss."""
    language = _language()
    with uniform_duration(), care().db.read() as session:
        code = case_lookup.tracking_code_for(
            session, request.form.get("reference", ""), request.form.get("contact", "")
        )
    if code is None:
        return render_template("track/index.html", not_found=True, **_context(language)), 404
    return redirect(url_for("track.show", code=code, lang=language), 303)


@blueprint.get("/track/<code>")
def show(code: str, task_id: int | None = None, values: dict | None = None, errors: dict | None = None, code_=200):
    language = _language()
    with uniform_duration(), care().db.read() as session:
        view = status.view(session, care().repository, code, language)
    if view is None:
        return render_template("track/index.html", unknown=True, **_context(language)), 404
    for task in view["tasks"]:
        schema, ui, (key, version) = _form_of(code, task["id"])
        mine = task["id"] == task_id
        fields = fields_for(schema, ui, values if mine and values else {}, errors if mine and errors else {})
        task["fields"] = model_words.translate_fields(fields, key, version, language)
        task["errors"] = errors if mine else None
    received = request.args.get("received") == "1" and view["status"] != "completed"
    sent = request.args.get("sent") == "1"  # a task of theirs was just sent
    context = _context(language)
    return render_template("track/status.html", view=view, code=code, received=received, sent=sent, **context), code_


def _form_of(code: str, task_id: int) -> tuple[dict | None, dict, tuple[str, int]]:
    """The schema and UI document of an open customer task of this request, and the process version it is of.

    404 for any other task.

    Only the form documents are read, never the workflow: nothing is prefilled, so no
    variable of the instance reaches the page.
    """
    with care().db.read() as session:
        task = session.get(HumanTask, task_id)
        instance = session.get(ProcessInstance, task.instance_id) if task is not None else None
        if (
            task is None
            or instance is None
            or instance.tracking_code != code
            or task.lane != status.CUSTOMER_LANE
            or task.status != "open"
        ):
            abort(404)
        definition = care().repository.load(instance.definition_id)
        key = task.form_key or ""
    ui_key = forms.ui_name_for(key) if key.endswith(forms.FORM_SUFFIX) else ""
    return definition.forms.get(key), definition.forms.get(ui_key, {}), (definition.key, definition.version)


@blueprint.post("/track/<code>/tasks/<id:task_id>")
def submit(code: str, task_id: int):
    """Complete a customer task: the tracking code is the credential; validated like staff forms."""
    schema, _, _ = _form_of(code, task_id)
    data, problems = read_form(schema, request.form)
    language = _language()
    problems = {name: translated(message, language) for name, message in problems.items()}
    if schema:
        try:
            forms.validate(schema, data)
        except FormDataInvalid as invalid:
            problems = validation_messages(invalid, language) | problems
    if not problems:
        try:
            care().tasks.complete(task_id, data, CUSTOMER_PRINCIPAL)
        except FormDataInvalid as invalid:
            problems = validation_messages(invalid, language)
        except CareError:
            abort(409)
    if problems:
        typed_in = {name: request.form.get(name) for name in problems if "." not in name and request.form.get(name)}
        return show(code, task_id, {**data, **typed_in}, problems, 422)
    return redirect(url_for("track.show", code=code, lang=language, sent=1))
