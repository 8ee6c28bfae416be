"""Staff instance pages: one case with its diagram, history and incidents.

The same engine services and policy scope as ``GET /api/instances/{id}``.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from markupsafe import Markup

from api.auth import current_principal, current_scope
from api.pages.feedback import act
from api.pages.signin import check_csrf
from api.routes.common import care
from engine.diagram import render_svg
from engine.errors import CareError
from engine.views import history_view

blueprint = Blueprint("staff_instances", __name__)
blueprint.before_request(check_csrf)


@blueprint.get("/instances/<id:instance_id>")
def instance(instance_id: int):
    scope = current_scope()
    try:
        view = care().runtime.get(instance_id, with_data=True, scope=scope)
    except CareError as error:
        abort(error.status if error.status in (403, 404) else 400)
    history = [history_view(e) for e in care().history.of_instance(instance_id, scope)]
    incidents = care().incidents.list(None, instance_id, 50, None).items
    _, xml = care().repository.xml(view["process_key"], view["version"])
    diagram = Markup(render_svg(xml, care().runtime.states(instance_id, scope), process_id=view["process_key"]))
    return render_template(
        "staff/instance.html",
        instance=view,
        history=history,
        incidents=incidents,
        diagram=diagram,
        can_retry=current_principal().is_admin,
        principal=current_principal(),
    )


@blueprint.post("/instances/<id:instance_id>/incidents/<id:incident_id>/retry")
def retry(instance_id: int, incident_id: int):
    act(lambda: care().incidents.retry(incident_id, current_principal().name), "Retried.")
    return redirect(url_for("staff_instances.instance", instance_id=instance_id))
