"""Analytics for team leads, care managers and admins: the process report, the care-center dashboard's figures
and the customer lists for sales and care managers.

The reports read the facts the worker keeps (:mod:`engine.analytics_facts`); ``counted_at`` says when
they were last brought up to date. The customer lists (:mod:`engine.customer_insight`) are read live.
"""

from flask import Blueprint

from api.requests import date_time, query_args
from api.routes.common import care
from engine import customer_insight
from engine.errors import Unprocessable

blueprint = Blueprint("analytics", __name__)


def _window():
    args = query_args()
    try:
        start = date_time(args["from"]) if args["from"] is not None else None
        end = date_time(args["to"]) if args["to"] is not None else None
    except ValueError as error:
        raise Unprocessable(str(error)) from None
    return care().reports.window(start, end), args


@blueprint.get("/api/analytics/processes/<key>")
def process_report(key: str):
    window, args = _window()
    return care().reports.process(key, window, args["version"])


@blueprint.get("/api/analytics/dashboard")
def dashboard():
    window, args = _window()
    reports = care().reports
    bucket = args["bucket"]
    return {
        **window.as_dict(),
        **reports.freshness(),
        "requests_by_channel": reports.volumes(window, "channel", bucket),
        "requests_by_process": reports.volumes(window, "process", bucket),
        "tasks_by_team": reports.volumes(window, "team", bucket),
        "sla": reports.sla(window),
        "backlog": reports.backlog(window),
        "first_contact": reports.first_contact(window),
    }


def _listed(rows: list[dict], **criteria: object) -> dict:
    return {"as_of": care().clock.now().isoformat(), **criteria, "count": len(rows), "items": rows}


@blueprint.get("/api/analytics/expiring-licenses")
def expiring_licenses():
    days = query_args()["days"]
    with care().db.read() as session:
        rows = customer_insight.expiring_licenses(session, care().clock.now(), days)
    return _listed(rows, days=days)


@blueprint.get("/api/analytics/repeated-problems")
def repeated_problems():
    args = query_args()
    with care().db.read() as session:
        rows = customer_insight.repeated_problems(session, care().clock.now(), args["days"], args["least"])
    return _listed(rows, days=args["days"], least=args["least"])


@blueprint.get("/api/analytics/without-contact")
def without_contact():
    months = query_args()["months"]
    with care().db.read() as session:
        rows = customer_insight.without_contact(session, care().clock.now(), months)
    return _listed(rows, months=months)
