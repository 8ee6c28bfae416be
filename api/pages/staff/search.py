"""The staff search page: the header's one box finds cases, customers and tasks (``GET /search?q=``).

It shows only what the viewer may see: cases and tasks through the policy's scope (applied in the
engine's queries), customers to all staff, and a case by its tracking code only to those who may
read tracking codes (never shown, not even to them).
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, render_template, request

from api import policy
from api.auth import current_principal, current_scope
from api.pages.staff.instances import StageLabels
from api.routes.common import care
from engine.search_query import Terms

blueprint = Blueprint("staff_search", __name__)


@blueprint.get("/search")
def index():
    principal = current_principal()
    typed = request.args.get("q", "")
    terms = Terms.parse(typed)
    results = None
    if terms.usable:
        results = care().search.find(terms, current_scope(), policy.may_read_tracking_codes(principal))
    return render_template(
        "staff/search.html",
        terms=terms,
        results=results,
        customer_url=customer_url,
        stage_label=StageLabels().label,
        search_query=terms.text,
        principal=principal,
    )


def customer_url(customer_id: str) -> str:
    """The customer's page (``/customers/<id>``); ids are text and may hold any character."""
    return request.script_root + "/customers/" + quote(customer_id, safe="")
