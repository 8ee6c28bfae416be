"""A real carecenter on 127.0.0.1 for the tests where HTTP is the point, served as ``carecenter serve`` serves it.

Waitress with the same options (:func:`api.security.server_options`), on a free port, in a thread,
shut down cleanly: closing the socket under the server's loop is not an error of the test.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from waitress.server import create_server

from api.app import create_app
from api.security import server_options
from engine.core import CareEngine


@contextmanager
def live_server(care: CareEngine, threads: int = 4) -> Iterator[str]:
    """Serve ``care`` until the block ends; yields the base URL (``http://127.0.0.1:<port>``)."""
    wsgi = create_server(create_app(care), host="127.0.0.1", port=0, threads=threads, **server_options(care.settings))
    closing = threading.Event()

    def serve() -> None:
        try:
            wsgi.run()
        except OSError:  # the listening socket closed under the loop at shutdown
            if not closing.is_set():
                raise

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{wsgi.effective_port}"
    finally:
        closing.set()
        wsgi.close()
