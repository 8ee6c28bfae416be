"""Server-sent events for the chat pages: one chat's new lines for the customer and the agent, and the staff's queue.

The streams follow :mod:`api.pages.event_stream` (bounded per web process, short-lived, heartbeats,
polling beyond the limit), at most ``CARECENTER_CHAT_STREAMS`` per web process
(:class:`engine.chat_config.ChatConfig`).

Every event that carries a chat line has the line's id as its SSE ``id``, so a browser that lost its
stream (a restart of the server, a proxy timeout) sends it back as ``Last-Event-ID`` and gets the
lines after it: nothing is lost, nothing comes twice.
"""

from __future__ import annotations

import re

from flask import Response, request

from api.pages import event_stream
from api.requests import numbers_up_to
from api.routes.common import care
from engine.models import MAX_ID

SLOTS = "carecenter.chat_streams"  # app.extensions key of the app's stream slots
ROW_ID = re.compile(numbers_up_to(MAX_ID))


def resumed_after() -> int:
    """The id of the last line the browser has: ``Last-Event-ID`` when it reconnects, else ``?after=``."""
    for value in (request.headers.get("Last-Event-ID"), request.args.get("after")):
        if value and ROW_ID.fullmatch(value):
            return int(value)
    return 0


def stream(step: event_stream.Step) -> Response:
    """A response that sends what ``step`` finds, at once and whenever a chat may have changed."""
    chats = care().chats
    return event_stream.follow(step, chats.signal, slots_key=SLOTS, slots=max(0, chats.config.streams), name="chat")
