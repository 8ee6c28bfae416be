"""The customer's chat pages: starting a chat (from a case's tracking page or the portal) and chatting in it.

- ``/chat/new`` (``?code=`` the tracking code of the case it is about): the topic, and name and
  e-mail address unless the customer is signed in to the portal; optionally the first message.
  Posting it starts the chat and leads to its page.
- ``/chat/<token>``: the chat. The token in the address is the chat's only credential, like the
  tracking page's code (an unknown one is 404); the page works without JavaScript (the form
  posts and comes back, a link shows what is new), and with ``api/static/chat.js`` the lines
  arrive live from ``/chat/<token>/stream`` (:mod:`api.pages.chat_stream`) and the forms post in
  place (with the ``X-Chat-Live`` header they answer 204, or the problem as a line of HTML).
- ``/chat/<token>/messages``, ``/leave`` (leave a message instead of waiting: it becomes an
  inquiry) and ``/close``.

Every POST must come from a page of this site (:mod:`api.origin`, against ``CARECENTER_PUBLIC_URL``);
starting a chat also needs the form's CSRF token, since it may act for the signed-in customer.
Texts are escaped by the templates, never put together in the browser. The pages are public and
rate-limited per address (``api/policy.py``); what one chat may send is limited by the engine.
"""

from __future__ import annotations

import time

from flask import Blueprint, abort, redirect, render_template, request, url_for
from sqlalchemy import select

from api import i18n
from api.origin import from_public_site
from api.pages import chat_stream, event_stream
from api.pages.portal_session import signed_in_customer
from api.pages.signin import check_csrf
from api.routes.common import care
from engine import chat as chat_engine
from engine.errors import CareError, NotFound
from engine.models import ProcessInstance
from process_library.store import Customer

blueprint = Blueprint("chat", __name__)
LIVE_HEADER = "X-Chat-Live"  # chat.js posts the forms with it: 204, or the problem as HTML
STATE_REFRESH = 15.0  # seconds between fresh looks at a waiting chat's place in the queue
FIELDS = {"name": chat_engine.MAX_NAME, "email": chat_engine.MAX_EMAIL}


@blueprint.before_request
def _from_this_site():
    if request.method == "POST" and not from_public_site(care().settings.public):
        abort(403)


def _language(preferred: str | None = None) -> str:
    requested = request.args.get("lang")
    if requested in i18n.LANGUAGES:
        return requested
    if preferred in i18n.LANGUAGES:
        return preferred
    return i18n.pick(None, request.accept_languages)


def _context(language: str) -> dict:
    texts = i18n.translations(language)
    topics = [(topic.team, texts.gettext(topic.label)) for topic in care().chats.config.topics]
    return {"_": texts.gettext, "lang": language, "languages": i18n.LANGUAGES, "topics": topics}


def _signed_in_record() -> Customer | None:
    customer_id = signed_in_customer()
    if customer_id is None:
        return None
    with care().db.read() as session:
        return session.get(Customer, customer_id)


def _case_reference(code: str | None) -> str | None:
    """The reference of the case whose tracking code this is; 404 for an unknown code."""
    if not code:
        return None
    with care().db.read() as session:
        reference = session.scalar(select(ProcessInstance.reference).where(ProcessInstance.tracking_code == code))
    if reference is None:
        abort(404)
    return reference


# -- starting ----------------------------------------------------------------------------------------


@blueprint.get("/chat/new")
def new():
    language = _language()
    code = request.args.get("code") or None
    reference = _case_reference(code)
    return render_template(
        "track/chat_new.html",
        code=code,
        reference=reference,
        values={},
        errors={},
        signed_in=_signed_in_record(),
        **_context(language),
    )


@blueprint.post("/chat/new")
def start():
    check_csrf()
    language = _language()
    code = request.form.get("code") or None
    reference = _case_reference(code)
    record = _signed_in_record()
    values = {name: request.form.get(name, "").strip() for name in ("topic", "name", "email", "message")}
    errors = _problems(values, record)
    if not errors:
        try:
            started = care().chats.start(
                topic=values["topic"],
                name=values["name"],
                email=values["email"],
                language=language,
                customer_id=record.id if record is not None else None,
                tracking_code=code,
            )
        except NotFound:
            abort(404)
        if values["message"]:
            care().chats.post(started.chat["id"], "customer", values["message"])
        return redirect(url_for("chat.show", token=started.token, lang=language), 303)
    page = render_template(
        "track/chat_new.html",
        code=code,
        reference=reference,
        values=values,
        errors=errors,
        signed_in=record,
        **_context(language),
    )
    return page, 422


def _problems(values: dict, record: Customer | None) -> dict:
    """What is wrong with the start form: field -> message (untranslated)."""
    problems = {}
    if care().chats.config.topic(values["topic"]) is None:
        problems["topic"] = "Choose one of the options."
    if record is None:
        for name, longest in FIELDS.items():
            if not values[name]:
                problems[name] = "Please fill in this field."
            elif len(values[name]) > longest:
                problems[name] = "This is too long."
        if "email" not in problems and not chat_engine.EMAIL.fullmatch(values["email"]):
            problems["email"] = "Please enter a valid e-mail address."
    if len(values["message"]) > care().chats.config.max_message_chars:
        problems["message"] = "This is too long."
    return problems


# -- the chat ----------------------------------------------------------------------------------------


def _chat(token: str) -> int:
    chat_id = care().chats.find(token)
    if chat_id is None:
        abort(404)
    return chat_id


@blueprint.get("/chat/<token>")
def show(token: str, problem: str | None = None, typed: str = "", status: int = 200):
    chat_id = _chat(token)
    view = care().chats.customer_view(chat_id)
    messages = [chat_engine.for_customer(m) for m in care().chats.messages(chat_id, limit=2000)]
    after = messages[-1]["id"] if messages else 0
    done = view["status"] == "closed" and view["filed"]
    page = render_template(
        "track/chat.html",
        token=token,
        chat=view,
        messages=messages,
        after=after,
        done=done,
        problem=problem,
        typed=typed,
        max_chars=care().chats.config.max_message_chars,
        **_context(_language(view["language"])),
    )
    return page, status


@blueprint.post("/chat/<token>/messages")
def send(token: str):
    chat_id = _chat(token)
    text = request.form.get("text", "")
    return _done(token, chat_id, lambda: care().chats.post(chat_id, "customer", text), text)


@blueprint.post("/chat/<token>/leave")
def leave(token: str):
    chat_id = _chat(token)
    text = request.form.get("text", "")
    return _done(token, chat_id, lambda: care().chats.leave_message(chat_id, text), text)


@blueprint.post("/chat/<token>/close")
def close(token: str):
    chat_id = _chat(token)
    return _done(token, chat_id, lambda: care().chats.close(chat_id, "customer"), "")


def _done(token: str, chat_id: int, action, typed: str):
    """Do what the form asks; the answer for chat.js (204, or the problem) or, without it, the chat's page."""
    problem, status = None, 204
    try:
        action()
    except CareError as refused:
        if refused.status == 404:
            abort(404)
        problem, status = _refusal(chat_id, refused), refused.status
    if request.headers.get(LIVE_HEADER) == "1":
        return (problem or ""), status, {"Content-Type": "text/plain; charset=utf-8"}
    if problem is not None:
        return show(token, problem=problem, typed=typed, status=status)
    return redirect(url_for("chat.show", token=token, lang=request.args.get("lang")) + "#chat-log", 303)


def _refusal(chat_id: int, refused: CareError) -> str:
    """Why the form did nothing, in the customer's words and language."""
    view = care().chats.customer_view(chat_id)
    _ = i18n.translations(_language(view["language"])).gettext
    if refused.status == 429:
        return _("You are writing very fast. Please wait a moment, then send it again.")
    if refused.status == 422:
        return _("This chat is full. Please start a new one.")
    if refused.status == 409:
        if view["status"] == "missed":
            return _("No agent is free right now. Leave us a message instead.")
        if view["status"] == "active":
            return _("An agent is with you already: write to them here.")
        return _("The chat has ended.")
    if not request.form.get("text", "").strip():
        return _("Write a message first.")
    return _("Your message is too long: at most %(count)s characters.") % {
        "count": care().chats.config.max_message_chars
    }


@blueprint.get("/chat/<token>/stream")
def stream(token: str):
    chat_id = _chat(token)
    chats = care().chats
    language = _language(chats.customer_view(chat_id)["language"])
    context = {**_context(language), "token": token}
    seen = {"after": chat_stream.resumed_after(), "state_at": time.monotonic()}

    def step() -> tuple[list[str], bool]:
        rows = chats.messages(chat_id, seen["after"])
        events = []
        for row in rows:
            html = render_template("track/_chat_line.html", m=chat_engine.for_customer(row), **context)
            events.append(event_stream.event("line", {"id": row["id"], "html": html}, row["id"]))
            seen["after"] = row["id"]
        changed = any(row["author"] == "system" for row in rows)
        if not changed and time.monotonic() - seen["state_at"] < STATE_REFRESH:
            return events, False
        seen["state_at"] = time.monotonic()
        view = chats.customer_view(chat_id)
        html = render_template("track/_chat_state.html", chat=view, **context)
        events.append(
            event_stream.event("state", {"status": view["status"], "can_send": view["can_send"], "html": html})
        )
        done = view["status"] == "closed" and view["filed"]
        if done:
            events.append(event_stream.event("end", {}))
        return events, done

    return chat_stream.stream(step)
