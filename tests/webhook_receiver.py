"""A real HTTP receiver of webhooks on 127.0.0.1 for the tests: it checks every signature with ``standardwebhooks``.

Each path is one endpoint (``/a``, ``/b``, ...). The receiver records every request it answers
(the path, ``webhook-id``, whether the signature verified, the CloudEvent), and answers as the
test tells it: 200 by default, or whatever ``answers`` (a function of the path and the number of
earlier requests to it) returns, after ``delay`` seconds.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    path: str
    webhook_id: str
    verified: bool
    event: dict | None
    headers: dict[str, str]


Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Receiver:
    secrets: dict[str, str] = field(default_factory=dict)  # path -> whsec_ secret
    answers: Callable[[str, int], Reply] | None = None
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.handle(self, body)

            def do_GET(self) -> None:  # noqa: N802
                self.send_response(405)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 64  # listen backlog: a worker sends several deliveries at once

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        secret = self.secrets.get(handler.path)
        event, verified = None, False
        if secret is not None:
            try:
                event = Webhook(secret).verify(body, headers)
                verified = True
            except WebhookVerificationError:
                event = None
        with self.lock:
            earlier = sum(1 for r in self.received if r.path == handler.path)
            self.received.append(Received(handler.path, headers.get("webhook-id", ""), verified, event, headers))
        if self.delay:
            time.sleep(self.delay)
        status, extra, reply = self.answers(handler.path, earlier) if self.answers else (200, {}, b"thanks")
        handler.send_response(status)
        for name, value in extra.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(reply)))
        handler.end_headers()
        handler.wfile.write(reply)

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def as_json(value: object) -> bytes:
    return json.dumps(value).encode()
