"""Staff pages for phone calls: the caller log, the softphone's URL, and the screen pop that follows calls live.

- ``/calls``: every call newest first (time, number, customer or unknown, direction, state,
  duration, agent), and above it the calls going on now with their "log this call" forms, so the
  page works without JavaScript.
- ``/calls/incoming?from=NUMBER``: what a softphone opens when a call rings: the customer whose
  number it is, the customers to choose from when several share it, or the new-caller form with
  the number filled in.
- ``/calls/stream``: server-sent events for the screen pop (``api/static/calls.js``) on every
  staff page. Each event carries the pop of one call rendered for the viewer (their language,
  the cases they may see), so no text is made in the browser. The stream follows
  :mod:`api.pages.event_stream` (few and short, heartbeats, polling beyond the limit): at most
  :data:`MAX_STREAMS` per process (``CARECENTER_CALL_STREAMS``), a comment every :data:`HEARTBEAT`
  seconds; beyond the limit it answers the calls going on now at once and closes.
- ``POST /calls/<id>/choice``: what the agent says about the call while it goes on (whom it is
  about, which open case, a subject and a note); the hangup logs the call with it.
"""

from __future__ import annotations

import os
import re

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from api import policy
from api.auth import current_principal, current_scope
from api.pages import event_stream
from api.pages.locale import gettext
from api.pages.signin import check_csrf, safe_next
from api.pages.staff.instances import StageLabels
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
HEARTBEAT = event_stream.HEARTBEAT
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
    principal, scope, stages = current_principal(), current_scope(), StageLabels()
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
                for case in requests:
                    case["stage"] = stages.label(case["definition_id"], case["stage"])
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
    last: int | None = None

    def step() -> tuple[list[str], bool]:
        nonlocal last
        if last is None:  # the first look: the calls going on now
            last = calls.last_event()
            return [_going_on(calls.going_on())], False
        change = calls.changes(last)
        if not change.calls:
            return [], False
        last = change.last_event
        return [event_stream.event("call", pop, last) for pop in _pops(change.calls)], False

    # the slots are made at the app's first stream, so a test can set MAX_STREAMS first
    return event_stream.follow(
        step, calls.signal, slots_key=STREAM_SLOTS, slots=max(1, MAX_STREAMS), name="calls", heartbeat=HEARTBEAT
    )


def _going_on(call_ids: list[int]) -> str:
    """The calls going on now: the browser drops pops of calls no longer among them, and shows these."""
    pops = _pops(call_ids)
    first = event_stream.event("going-on", [pop["id"] for pop in pops])
    return first + "".join(event_stream.event("call", pop) for pop in pops)


def screen_pop(principal: Principal | None) -> bool:
    """Whether the page shows this user screen pops (staff and admins, where the calls pages exist)."""
    return principal is not None and policy.authorize(principal, "staff_calls.stream")


def configure(app: Flask) -> None:
    app.register_blueprint(blueprint)
    app.jinja_env.globals.update(
        screen_pop=screen_pop, phone_display=phone_numbers.display, call_default_subject=call_log.default_subject
    )
