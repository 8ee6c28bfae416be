"""One loop for the pages' server-sent event streams (the screen pop's calls, the chats).

A stream holds one of the server's request threads, so streams are few and short: a bounded
number per web process (a semaphore in ``app.extensions``), each ended after :data:`MAX_LIFETIME`
seconds (the browser reconnects), with a comment every ``heartbeat`` seconds so that a closed tab
frees its thread at its next write. Beyond the limit a stream answers what is new at once and
closes, telling the browser to ask again in :data:`POLL_RETRY_MS` ms: polling, as a fallback.
Between looks the stream waits on its service's :class:`engine.change_signal.ChangeSignal`, woken
by a change in this process, else after :data:`POLL` seconds (a change made by another process).
Behind nginx the stream says ``X-Accel-Buffering: no``, so each event passes at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

from flask import Response, current_app, stream_with_context

from engine.change_signal import ChangeSignal

MAX_LIFETIME = 300.0  # seconds a stream stays open before the browser opens the next one
HEARTBEAT = 5.0
POLL = 0.5  # seconds between looks at the database when no change in this process woke the stream
RETRY_MS = 1000
POLL_RETRY_MS = 2000

# One look: the events to send now (already formatted), and whether the stream has nothing more to say.
Step = Callable[[], tuple[list[str], bool]]


def event(name: str, data: object, event_id: int | None = None) -> str:
    """One server-sent event; ``event_id`` comes back as ``Last-Event-ID`` when the browser reconnects."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def follow(
    step: Step, signal: ChangeSignal, *, slots_key: str, slots: int, name: str, heartbeat: float = HEARTBEAT
) -> Response:
    """A response that sends what ``step`` finds, at once and whenever ``signal`` says something may have changed.

    ``slots`` streams at a time per web process (the first stream of an app fixes the number);
    ``name`` is the comment the stream starts with.
    """
    semaphore = current_app.extensions.setdefault(slots_key, threading.BoundedSemaphore(slots))

    def events() -> Iterator[str]:
        # Flask runs a streamed body up to its first yield at once; the slot is taken only once it is read.
        yield f": {name}\n\n"
        if not semaphore.acquire(blocking=False):  # every slot taken: what is new now, then ask again
            sent, _ = step()
            yield "".join(sent)
            yield f"retry: {POLL_RETRY_MS}\n\n"
            return
        try:
            yield f"retry: {RETRY_MS}\n\n"
            started = time.monotonic()
            beat = started + heartbeat
            while time.monotonic() - started < MAX_LIFETIME:
                seen = signal.version
                sent, done = step()
                if sent:
                    yield "".join(sent)
                if done:
                    return
                if time.monotonic() >= beat:
                    yield ": still here\n\n"
                    beat = time.monotonic() + heartbeat
                signal.wait(seen, POLL)
        finally:
            semaphore.release()

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}  # nginx: pass each event on at once
    return Response(stream_with_context(events()), mimetype="text/event-stream", headers=headers)
