"""Tell the engine which requests are in flight, so that its background counting gives way (engine.foreground)."""

from __future__ import annotations

from flask import Flask, g

from engine.foreground import Foreground


def configure(app: Flask, foreground: Foreground) -> None:
    """A request is in flight from its first hook to its teardown.

    Flask (3.1) tears a request down when its view returns, a streamed response too, and again when a stream made
    with ``stream_with_context`` ends: the flag in ``g`` ends each request once.
    """

    @app.before_request
    def _begin() -> None:
        foreground.begin()
        g.in_foreground = True

    @app.teardown_request
    def _end(_error: BaseException | None) -> None:
        if g.pop("in_foreground", False):
            foreground.end()
