"""Staff pages for phone calls: the caller log, the softphone's URL, and the screen pop that follows calls live.

- ``/calls``: every call newest first (time, number, customer or unknown, direction, state,
  duration, agent), and above it the calls going on now with their "log this call" forms, so the
  page works without JavaScript.
- ``/calls/incoming?from=NUMBER``: what a softphone opens when a call rings: the customer whose
  number it is, the customers to choose from when several share it, or the new-caller form with
  the number filled in.
- ``/calls/stream``: server-sent events for the screen pop (``api/static/calls.js``) on every
  staff page. Each event carries the pop of one call rendered for the viewer (their language,
  the cases they may see), so no text is made in the browser. A stream serves one request thread
  of the server, so streams are few and short: at most :data:`MAX_STREAMS` per process
  (``CARECENTER_CALL_STREAMS``), each ended after :data:`MAX_LIFETIME` seconds (the browser
  reconnects), with a comment every :data:`HEARTBEAT` seconds so that a closed tab frees its thread.
  Beyond the limit a stream answers the calls going on now at once and closes, telling the browser
  to ask again in :data:`POLL_RETRY_MS` ms: polling, as a fallback.
- ``POST /calls/<id>/choice``: what the agent says about the call while it goes on (whom it is
  about, which open case, a subject and a note); the hangup logs the call with it.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from api import policy
from api.auth import current_principal, current_scope
from api.pages.locale import gettext
from api.pages.signin import check_csrf, safe_next
from api.requests import numbers_up_to
from api.routes.common import care
from engine import calls as call_log
from engine import phone_numbers
from engine.customer_requests import requests_of
from engine.errors import CareError
from engine.models import MAX_ID
from engine.pagination import clamp_limit
from engine.tokens import Principal
from process_library.store import Customer

blueprint = Blueprint("staff_calls", __name__)
blueprint.before_request(check_csrf)
PAGE_SIZE = 50
ROW_ID = re.compile(numbers_up_to(MAX_ID))
MAX_STREAMS = int(os.environ.get("CARECENTER_CALL_STREAMS", "4") or 4)
STREAM_SLOTS = "carecenter.call_streams"  # app.extensions key of the app's stream slots
MAX_LIFETIME = 300.0  # seconds a stream stays open before the browser opens the next one
HEARTBEAT = 5.0
POLL = 0.5  # seconds between looks at the database when no change in this process woke the stream
RETRY_MS = 1000
POLL_RETRY_MS = 2000
OPEN_REQUESTS_SHOWN = 10
SCREEN_POP_HEADER = "X-Screen-Pop"  # the pop's script posts its form with it and gets the pop back


def _row_id(value: str | None) -> int | None:
    return int(value) if value and ROW_ID.fullmatch(value) else None


# -- the caller log --------------------------------------------------------------------------------


@blueprint.get("/calls")
def index():
    after = _row_id(request.args.get("after"))
    page = care().calls.list(clamp_limit(PAGE_SIZE), after)
    going_on = _pops(care().calls.going_on()) if after is None else []
    next_url = url_for("staff_calls.index", after=page.next_after) if page.next_after else None
    return render_template(
        "staff/calls.html",
        calls=page.items,
        going_on=going_on,
        next_url=next_url,
        first_page=after is None,
        principal=current_principal(),
    )


# -- the softphone's URL ---------------------------------------------------------------------------


@blueprint.get("/calls/incoming")
def incoming():
    typed = request.args.get("from", "").strip()[: phone_numbers.MAX_TYPED]
    number = phone_numbers.e164(typed)
    if number is None:
        page = render_template(
            "staff/calls_incoming.html", typed=typed, number=None, found=[], principal=current_principal()
        )
        return page, 400
    with care().db.read() as session:
        found = call_log.customers_with_number(session, number)
    if len(found) == 1:
        return redirect(url_for("staff_customers.show", customer_id=found[0].id))
    if not found:
        return redirect(url_for("staff_customers.new_caller", phone=phone_numbers.display(number)))
    return render_template(
        "staff/calls_incoming.html",
        typed=typed,
        number=phone_numbers.display(number),
        found=found,
        principal=current_principal(),
    )


# -- what the agent says about a call --------------------------------------------------------------


@blueprint.post("/calls/<id:call_id>/choice")
def choose(call_id: int):
    from_pop = request.headers.get(SCREEN_POP_HEADER) == "1"
    request_id = request.form.get("request", "")
    instance_id = _row_id(request_id)
    problem = None
    if request_id and instance_id is None:
        problem = gettext("Choose one of the options.")
    else:
        try:
            care().calls.choose(
                call_id,
                customer_id=request.form.get("customer") or None,
                instance_id=instance_id,
                subject=request.form.get("subject", ""),
                note=request.form.get("note", ""),
                by=current_principal().name,
                scope=current_scope(),
            )
        except CareError as refused:
            if refused.status == 404:
                abort(404)
            problem = _refusal(refused)
    if from_pop:
        pops = _pops([call_id], problem=problem, saved=problem is None)
        if not pops:
            abort(404)
        return pops[0]["html"], 422 if problem else 200
    flash(problem or gettext("Saved. The call is logged with it when it ends."), "error" if problem else "info")
    return redirect(safe_next(request.form.get("next"), url_for("staff_calls.index")))


def _refusal(refused: CareError) -> str:
    if refused.status == 409:
        return gettext("The call has ended and is logged already. Add to the customer's contacts instead.")
    if refused.detail.startswith("name the customer"):
        return gettext("Choose the customer the call is about.")
    return gettext("Choose one of the options.")


# -- the screen pop --------------------------------------------------------------------------------


def _pops(call_ids: list[int], **state: object) -> list[dict]:
    """The screen pops of these calls for the viewer: ``{"id", "state", "keep", "open", "html"}`` each.

    Calls the viewer has no part in are left out: blocked calls, and calls out made by someone else.
    """
    principal, scope = current_principal(), current_scope()
    found = []
    with care().db.read() as session:
        for view in care().calls.get_many(session, call_ids):
            mine = principal.name in (view["agent"], view["chosen_by"])
            if view["blocked"] or (view["direction"] == "out" and not mine):
                continue
            customer = session.get(Customer, view["customer_id"]) if view["customer_id"] else None
            candidates = [] if customer else call_log.customers_with_number(session, view["number"])
            requests = []
            if customer is not None:
                cases, _, _ = requests_of(session, customer.id, scope, 25, None)
                requests = [case for case in cases if case["open"]][:OPEN_REQUESTS_SHOWN]
            state_name = "ended" if view["ended_at"] else view["status"]
            open_url = None
            if customer is not None and state_name == "answered" and view["agent"] == principal.name:
                open_url = url_for("staff_customers.show", customer_id=customer.id)
            html = render_template(
                "staff/_call_pop.html",
                call=view,
                state=state_name,
                mine=mine,
                customer=customer,
                candidates=candidates,
                requests=requests,
                new_caller_url=url_for("staff_customers.new_caller", phone=view["number_shown"])
                if view["number"]
                else None,
                **state,
            )
            found.append({"id": view["id"], "state": state_name, "keep": mine, "open": open_url, "html": html})
    return found


@blueprint.get("/calls/stream")
def stream():
    calls = care().calls
    # one web process's slots: its app's (made at the first stream, so a test can set MAX_STREAMS first)
    slots = current_app.extensions.setdefault(STREAM_SLOTS, threading.BoundedSemaphore(max(1, MAX_STREAMS)))

    def events() -> Iterator[str]:
        # Flask runs a streamed body up to its first yield at once; the slot is taken only once it is read.
        yield ": calls\n\n"
        if not slots.acquire(blocking=False):  # every stream slot taken: the calls now, then ask again
            yield _going_on(calls.going_on())
            yield f"retry: {POLL_RETRY_MS}\n\n"
            return
        try:
            yield f"retry: {RETRY_MS}\n\n"
            last = calls.last_event()
            yield _going_on(calls.going_on())
            started = time.monotonic()
            beat = started + HEARTBEAT
            while time.monotonic() - started < MAX_LIFETIME:
                seen = calls.version
                change = calls.changes(last)
                if change.calls:
                    last = change.last_event
                    for pop in _pops(change.calls):
                        yield _event("call", pop, last)
                    continue
                if time.monotonic() >= beat:
                    yield ": still here\n\n"
                    beat = time.monotonic() + HEARTBEAT
                calls.wait(seen, POLL)
        finally:
            slots.release()

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}  # nginx: pass each event on at once
    return Response(stream_with_context(events()), mimetype="text/event-stream", headers=headers)


def _going_on(call_ids: list[int]) -> str:
    """The calls going on now: the browser drops pops of calls no longer among them, and shows these."""
    pops = _pops(call_ids)
    first = _event("going-on", [pop["id"] for pop in pops])
    return first + "".join(_event("call", pop) for pop in pops)


def _event(name: str, data: object, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def screen_pop(principal: Principal | None) -> bool:
    """Whether the page shows this user screen pops (staff and admins, where the calls pages exist)."""
    return principal is not None and policy.authorize(principal, "staff_calls.stream")


def configure(app: Flask) -> None:
    app.register_blueprint(blueprint)
    app.jinja_env.globals.update(screen_pop=screen_pop, phone_display=phone_numbers.display)
