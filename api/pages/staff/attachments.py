"""The files customers attached to their mail, for staff who may see the case: listed, and downloaded, never shown.

A customer's file is untrusted content. It is handed out only as a download
(``Content-Disposition: attachment``) under the type its content shows, active types (HTML, SVG,
scripts) as ``application/octet-stream``, with ``nosniff`` and ``no-store``; files above the size
limit are not handed out. Who may see a case's files is who may see the case
(:func:`api.auth.current_scope`, checked in :class:`engine.mail_attachments.MailAttachments`).

The case page shows the list with one line, ``{% include "mail/_case_attachments.html" %}``:
the template global :func:`case_attachments` reads the list for the case on that page.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Flask, Response, abort, render_template

from api.auth import current_principal, current_scope
from api.routes.common import care
from engine.errors import CareError
from engine.mail_attachments import Attachment

blueprint = Blueprint("staff_attachments", __name__)


def case_attachments(instance_id: int) -> list[Attachment]:
    """The case's attachments for the page being rendered (none when the viewer may not see the case)."""
    try:
        return care().mail.attachments.list(instance_id, current_scope())
    except CareError:
        return []


@blueprint.get("/instances/<id:instance_id>/attachments")
def index(instance_id: int):
    try:
        reference = care().runtime.get(instance_id, with_data=False, scope=current_scope())["reference"]
    except CareError as error:
        abort(error.status if error.status in (403, 404) else 400)
    return render_template(
        "mail/attachments.html", case_id=instance_id, reference=reference, principal=current_principal()
    )


@blueprint.get("/instances/<id:instance_id>/mail/<id:mail_id>/attachments/<int:index>")
def download(instance_id: int, mail_id: int, index: int):
    try:
        found = care().mail.attachments.download(instance_id, mail_id, index, current_scope())
    except CareError as error:
        abort(error.status if error.status in (403, 404) else 400)
    response = Response(found.content, mimetype=found.content_type)
    ascii_name = found.filename.encode("ascii", "replace").decode().replace("?", "_")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(found.filename, safe='')}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def configure(app: Flask) -> None:
    app.register_blueprint(blueprint)
    app.jinja_env.globals["case_attachments"] = case_attachments
