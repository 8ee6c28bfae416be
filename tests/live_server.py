"""A real carecenter on 127.0.0.1 for the tests where HTTP is the point, served as ``carecenter serve`` serves it.

Waitress with the same options (:func:`api.security.server_options`) and as many request threads, on a free
port, in a thread. (With as few threads as a process allows live streams, each page a browser left kept a
thread until its stream's next heartbeat, and the next page waited for it: seconds per click.)

At the end of the block the server stops serving at once: its loop stops and every connection and
the listening socket are closed. Its wake-up pipe (waitress's trigger) is closed only once the last
request thread has ended. A page's live stream (the screen pop's on every staff page, a chat's) holds
a request thread and writes a heartbeat every few seconds, pulling the trigger each time. Closing the
trigger under such a thread (what waitress's own ``close()`` does, which this helper used to call)
let the stream go on for up to its lifetime, each heartbeat writing a byte into whatever file of the
test process got the trigger's descriptor number next: another test's database, a socket, or
Playwright's pipe to its driver, whose framing that byte broke, so that a later browser call never
got an answer (#27). With its connection closed, a stream ends at its next heartbeat instead, without
touching the trigger; a thread of the test process closes the trigger after that.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from waitress import wasyncore
from waitress.server import BaseWSGIServer, create_server

from api.app import create_app
from api.security import server_options
from api.server import REQUEST_THREADS
from engine.core import CareEngine

# Seconds the request threads get to end once their connections are closed: a stream notices at its next heartbeat
# (api.pages.chat_stream.HEARTBEAT, api.pages.staff.calls.HEARTBEAT: 5 s). A thread still running after that
# keeps the trigger open: a descriptor a running thread may write to is never closed.
THREADS_END = 30.0


@contextmanager
def live_server(care: CareEngine, threads: int = REQUEST_THREADS) -> Iterator[str]:
    """Serve ``care`` until the block ends; yields the base URL (``http://127.0.0.1:<port>``)."""
    wsgi = create_server(create_app(care), host="127.0.0.1", port=0, threads=threads, **server_options(care.settings))
    assert isinstance(wsgi, BaseWSGIServer)  # one address: one listening socket
    stopping = threading.Event()

    def serve() -> None:
        # waitress's own loop (BaseWSGIServer.run), a round at a time: the block's end stops it between rounds
        while not stopping.is_set():
            wasyncore.loop(wsgi.adj.asyncore_loop_timeout, wsgi.adj.asyncore_use_poll, wsgi._map, count=1)

    loop = threading.Thread(target=serve, name=f"live-server-{wsgi.effective_port}", daemon=True)
    loop.start()
    try:
        yield f"http://127.0.0.1:{wsgi.effective_port}"
    finally:
        stopping.set()
        wsgi.pull_trigger()  # wakes the loop from its poll
        loop.join()
        _shut_down(wsgi)


def _shut_down(wsgi: BaseWSGIServer) -> None:
    """Close the connections and the listening socket now, and the trigger once the request threads have ended.

    The loop has stopped: this thread alone touches the server's sockets now.
    """
    for channel in list(wsgi.active_channels.values()):
        channel.handle_close()  # not connected any more: a stream's next write raises, without pulling the trigger
    wasyncore.dispatcher.close(wsgi)  # the listening socket (BaseWSGIServer.close would close the trigger too)

    def close_trigger() -> None:
        wsgi.task_dispatcher.shutdown(cancel_pending=True, timeout=THREADS_END)
        if not wsgi.task_dispatcher.threads:
            wsgi.trigger.close()

    threading.Thread(target=close_trigger, name=f"live-server-{wsgi.effective_port}-end", daemon=True).start()
