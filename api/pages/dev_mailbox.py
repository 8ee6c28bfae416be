"""The development mailbox: while no SMTP server is configured, admins read the mails that wait in the outbox.

Without ``CARECENTER_SMTP_HOST`` every mail the care center writes (portal sign-in links,
confirmations, answers) stays ``held`` in the outbox. Someone trying ``make run`` would then
never get a portal sign-in link; here an admin reads those mails, newest first, with their links
clickable, and can sign in to the portal as a sample customer.

The page is for trying carecenter, not for running it: it exists only while no SMTP server is
configured (otherwise its blueprint is not registered, so it answers 404 and is in no menu), only
admins open it (it is in no role's list in :mod:`api.policy`), and it says on top what it is.
It reads the outbox and changes nothing; a link used from here is used up as from a mail.
"""

from __future__ import annotations

import re

from flask import Blueprint, Flask, render_template, request, url_for
from markupsafe import Markup, escape
from sqlalchemy import select

from api.auth import current_principal
from api.routes.common import care
from engine.config import Settings
from process_library.store import OutboxMessage

blueprint = Blueprint("dev_mailbox", __name__)
PAGE_SIZE = 20
LINK = re.compile(r"https?://[^\s<>\"']+")
ROW_ID = re.compile(r"[1-9][0-9]{0,9}")


def with_links(text: str) -> Markup:
    """``text`` escaped, with every http(s) address in it a link (the mails are plain text)."""
    parts, last = [], 0
    for match in LINK.finditer(text):
        parts.append(escape(text[last : match.start()]))
        url = match.group(0).rstrip(".,;:!?)")
        parts.append(Markup('<a href="{0}">{0}</a>').format(url))
        parts.append(escape(match.group(0)[len(url) :]))
        last = match.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


@blueprint.get("/admin/dev-mailbox")
def index():
    before = request.args.get("before", "")
    query = select(OutboxMessage).where(OutboxMessage.kind == "mail", OutboxMessage.status == "held")
    if ROW_ID.fullmatch(before) and int(before) < 2**31:
        query = query.where(OutboxMessage.id < int(before))
    with care().db.read() as session:
        rows = list(session.scalars(query.order_by(OutboxMessage.id.desc()).limit(PAGE_SIZE + 1)))
        mails = [
            {
                "id": row.id,
                "recipient": row.recipient,
                "subject": row.subject,
                "body": with_links(row.body),
                "created_at": row.created_at.isoformat(),
            }
            for row in rows[:PAGE_SIZE]
        ]
    next_url = url_for("dev_mailbox.index", before=rows[PAGE_SIZE - 1].id) if len(rows) > PAGE_SIZE else None
    first_url = url_for("dev_mailbox.index") if before else None
    return render_template(
        "admin/dev_mailbox.html", mails=mails, next_url=next_url, first_url=first_url, principal=current_principal()
    )


def configure(app: Flask, settings: Settings) -> None:
    """Register the page unless an SMTP server is configured (then mails leave, and the page does not exist)."""
    if not settings.smtp_host:
        app.register_blueprint(blueprint)
