"""One way for page actions to report back: a flashed line on success or refusal, an error page when not allowed."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash

from api.pages.locale import gettext
from engine.errors import CareError


def act(action: Callable[[], object], message: str) -> None:
    """Run ``action``; flash ``message`` (translated) or the refusal; 403/404 become the error page."""
    try:
        action()
        flash(gettext(message), "info")
    except CareError as error:
        if error.status in (403, 404):
            abort(error.status)
        flash(error.detail, "error")
