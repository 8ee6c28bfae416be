"""Staff pages for chats: the queue of their teams with each chat's waiting time, and the chat itself.

- ``/chats``: the chats waiting for the viewer's teams (oldest first, with how long each has
  waited, and the ones that waited in vain but whose customer may still be there), the viewer's
  own chats going on, and the last ones that ended. With ``api/static/chat.js`` the queue follows
  ``/chats/stream`` live (:mod:`api.pages.chat_stream`); without it, it is a page to reload.
- ``/chats/<id>``: one chat with the customer, their case, and the form to write; live from
  ``/chats/<id>/stream``. ``POST /chats/<id>/accept``, ``/messages`` and ``/close`` act on it
  (with the ``X-Chat-Live`` header, as ``chat.js`` posts, they answer 204 or the problem as text).

Staff see the chats of their teams and their own (:mod:`engine.chat`); admins see every chat.
"""

from __future__ import annotations

import time

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from api.auth import current_principal, current_scope
from api.pages import chat_stream, event_stream
from api.pages.locale import gettext
from api.pages.signin import check_csrf
from api.routes.common import care
from engine.errors import CareError
from process_library.store import Customer

blueprint = Blueprint("staff_chats", __name__)
blueprint.before_request(check_csrf)
LIVE_HEADER = "X-Chat-Live"
QUEUE_SIZE = 50
RECENT = 10
QUEUE_REFRESH = 15.0  # seconds between fresh renderings of the queue (its waiting times)


def _queue() -> dict:
    """The viewer's queue: waiting and missed chats of their teams, their own chats, the last ended ones."""
    chats, scope, me = care().chats, current_scope(), current_principal().name
    waiting = chats.list(scope, QUEUE_SIZE, status="waiting").items
    missed = chats.list(scope, QUEUE_SIZE, status="missed").items
    mine = chats.list(scope, QUEUE_SIZE, status="active", agent=me).items
    others = [c for c in chats.list(scope, QUEUE_SIZE, status="active").items if c["agent"] != me]
    ended = chats.list(scope, RECENT, status="closed").items
    return {"waiting": waiting, "missed": missed, "mine": mine, "others": others, "ended": ended}


@blueprint.get("/chats")
def index():
    return render_template("staff/chats.html", queue=_queue(), topics=_topic_labels(), principal=current_principal())


def _topic_labels() -> dict[str, str]:
    return {topic.team: gettext(topic.label) for topic in care().chats.config.topics}


@blueprint.get("/chats/stream")
def queue_stream():
    chats = care().chats
    seen = {"last": -1, "at": 0.0}
    topics = _topic_labels()

    def step() -> tuple[list[str], bool]:
        last = chats.last_message()
        if last == seen["last"] and time.monotonic() - seen["at"] < QUEUE_REFRESH:
            return [], False
        seen["last"], seen["at"] = last, time.monotonic()
        html = render_template("staff/_chat_queue.html", queue=_queue(), topics=topics)
        return [event_stream.event("queue", {"html": html})], False

    return chat_stream.stream(step)


@blueprint.get("/chats/<id:chat_id>")
def show(chat_id: int):
    view = care().chats.get(chat_id, current_scope())
    messages = care().chats.messages(chat_id, limit=2000)
    return render_template(
        "staff/chat.html",
        chat=view,
        messages=messages,
        after=messages[-1]["id"] if messages else 0,
        known_customer=_known(view["customer_id"]),
        topics=_topic_labels(),
        max_chars=care().chats.config.max_message_chars,
        principal=current_principal(),
    )


def _known(customer_id: str) -> bool:
    """Whether the chat's customer is a customer of the store (with a page), not an unverified contact."""
    with care().db.read() as session:
        return session.get(Customer, customer_id) is not None


@blueprint.post("/chats/<id:chat_id>/accept")
def accept(chat_id: int):
    try:
        care().chats.accept(chat_id, current_principal().name, current_scope())
    except CareError as refused:
        if refused.status in (403, 404):
            abort(refused.status)
        flash(gettext("Someone else has accepted this chat, or it has ended."), "error")
        return redirect(url_for("staff_chats.index"))
    return redirect(url_for("staff_chats.show", chat_id=chat_id), 303)


@blueprint.post("/chats/<id:chat_id>/messages")
def send(chat_id: int):
    care().chats.get(chat_id, current_scope())  # 403 for another team's chat
    text = request.form.get("text", "")
    return _done(chat_id, lambda: care().chats.post(chat_id, "agent", text, agent=current_principal().name))


@blueprint.post("/chats/<id:chat_id>/close")
def close(chat_id: int):
    return _done(
        chat_id, lambda: care().chats.close(chat_id, "agent", agent=current_principal().name, scope=current_scope())
    )


def _done(chat_id: int, action):
    problem, status = None, 204
    try:
        action()
    except CareError as refused:
        if refused.status in (403, 404):
            abort(refused.status)
        problem, status = _refusal(refused), refused.status
    if request.headers.get(LIVE_HEADER) == "1":
        return (problem or ""), status, {"Content-Type": "text/plain; charset=utf-8"}
    if problem is not None:
        flash(problem, "error")
    return redirect(url_for("staff_chats.show", chat_id=chat_id) + "#chat-log", 303)


def _refusal(refused: CareError) -> str:
    if refused.status == 409:
        return gettext("Accept the chat first; an ended chat takes no more messages.")
    if not request.form.get("text", "").strip():
        return gettext("Write a message first.")
    return gettext(
        "The message is too long: at most %(count)s characters.", count=care().chats.config.max_message_chars
    )


@blueprint.get("/chats/<id:chat_id>/stream")
def stream(chat_id: int):
    chats = care().chats
    chats.get(chat_id, current_scope())
    seen = {"after": chat_stream.resumed_after()}
    me = current_principal().name

    def step() -> tuple[list[str], bool]:
        rows = chats.messages(chat_id, seen["after"])
        events = []
        for row in rows:
            html = render_template("staff/_chat_line.html", m=row, me=me)
            events.append(event_stream.event("line", {"id": row["id"], "html": html}, row["id"]))
            seen["after"] = row["id"]
        if not any(row["author"] == "system" for row in rows):
            return events, False
        view = chats.get(chat_id, None)
        html = render_template("staff/_chat_state.html", chat=view, me=me)
        can_send = view["status"] == "active" and view["agent"] == me
        events.append(event_stream.event("state", {"status": view["status"], "can_send": can_send, "html": html}))
        done = view["status"] == "closed" and view["filed_at"] is not None
        if done:
            events.append(event_stream.event("end", {}))
        return events, done

    return chat_stream.stream(step)
