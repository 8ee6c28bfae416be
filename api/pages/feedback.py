"""One way for page actions to report back: a flashed line on success or refusal, an error page when not allowed."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash

from api.pages.locale import gettext
from engine.errors import CareError
from engine.mail_answers import MAX_BODY, MAX_SUBJECT, AnswerInvalid, NoAddress


def act(action: Callable[[], object], message: str) -> None:
    """Run ``action``; flash ``message`` (translated) or the refusal; 403/404 become the error page."""
    try:
        action()
        flash(gettext(message), "info")
    except CareError as error:
        if error.status in (403, 404):
            abort(error.status)
        flash(error.detail, "error")


def answer_refusal(refused: CareError) -> str:
    """Why an e-mail to the customer was not sent, in the viewer's language (engine/mail_answers.py)."""
    if isinstance(refused, NoAddress):
        return gettext("The customer has no e-mail address on file: the answer cannot go by e-mail.")
    if not isinstance(refused, AnswerInvalid):
        return refused.detail
    if refused.extra.get("field") == "subject":
        return gettext("The subject is too long (at most %(limit)s characters).", limit=MAX_SUBJECT)
    if refused.extra.get("field") == "body":
        return gettext("Write an e-mail of 1 to %(limit)s characters.", limit=MAX_BODY)
    return gettext("The form was out of date; nothing was sent. Please send it again.")
