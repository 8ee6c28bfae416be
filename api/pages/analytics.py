"""The analytics pages: the care-center dashboard (``/analytics``) and a process's report with its heat map.

Every chart has a table beside it (for screen readers, and exported as CSV at the same address
with ``.csv``); the figures come from :mod:`engine.analytics_reports` and are as fresh as the
worker's last analytics run, which the pages state with the interval.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, Response, abort, render_template, request

from api import analytics_charts as charts
from api.auth import current_principal
from api.pages.diagrams import diagram, diagram_names
from api.pages.locale import CHANNEL_NAMES, gettext
from api.pages.model_words import model_text
from api.pages.team_names import team_name
from api.routes.common import care
from engine.analytics_paths import outline
from engine.analytics_reports import DEFAULT_DAYS, MAX_DAYS, NONE, Window
from engine.diagram import Heat
from engine.errors import InvalidRequest

blueprint = Blueprint("analytics_pages", __name__)
DASHBOARD_TABLES = ("channels", "processes", "teams", "sla", "backlog", "first_contact")
PROCESS_TABLES = ("elements", "flows")
CHART_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"


@dataclass
class Table:
    name: str
    title: str
    headers: list[str]
    kinds: list[str]  # per column: text, count, seconds, share
    rows: list[list]


def _window() -> tuple[Window, str, str]:
    """The window from the form's dates (UTC days, both included); the last 30 days by default."""
    given_from, given_to = request.args.get("from", ""), request.args.get("to", "")
    try:
        last = date.fromisoformat(given_to) if given_to else care().clock.now().date()
        first = date.fromisoformat(given_from) if given_from else last - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        raise InvalidRequest(gettext("Give the days as YYYY-MM-DD.")) from None
    if first > last:
        raise InvalidRequest(gettext("The first day must not be after the last day."))
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidRequest(gettext("A report covers at most %(days)s days.", days=MAX_DAYS))
    return _days(first, last)


def _days(first: date, last: date) -> tuple[Window, str, str]:
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(last + timedelta(days=1), time(), UTC)
    return care().reports.window(start, end), first.isoformat(), last.isoformat()


def _bucket() -> str:
    return "week" if request.args.get("bucket") == "week" else "day"


def _channel_name(channel: str) -> str:
    if channel == NONE:
        return gettext("No channel")  # started by the system: a timer, a message
    return gettext(CHANNEL_NAMES[channel]) if channel in CHANNEL_NAMES else channel


def _team_name(team: str) -> str:
    return gettext("No team") if team == NONE else team_name(team)


def _process_namer() -> Callable[[str], str]:
    """Process key -> the name of its latest version in the reader's language."""
    titles = care().cases.process_titles()
    return lambda key: model_text(key, None, titles[key]) if key in titles else key


def _series_table(name: str, title: str, first_header: str, volumes: dict, label: Callable[[str], str] = str) -> Table:
    headers = [first_header, *[label(s["name"]) for s in volumes["series"]]]
    rows = [[bucket, *[s["counts"][i] for s in volumes["series"]]] for i, bucket in enumerate(volumes["buckets"])]
    return Table(name, title, headers, ["text", *["count"] * len(volumes["series"])], rows)


def dashboard_tables(window: Window, bucket: str) -> dict[str, Table]:
    reports = care().reports
    period = gettext("Week") if bucket == "week" else gettext("Day")
    sla = reports.sla(window)
    backlog = reports.backlog(window)
    first = reports.first_contact(window)
    return {
        "channels": _series_table(
            "channels",
            gettext("Requests by channel"),
            period,
            reports.volumes(window, "channel", bucket),
            _channel_name,
        ),
        "processes": _series_table(
            "processes",
            gettext("Requests by process"),
            period,
            reports.volumes(window, "process", bucket),
            _process_namer(),
        ),
        "teams": _series_table(
            "teams", gettext("Tasks by team"), period, reports.volumes(window, "team", bucket), _team_name
        ),
        "sla": Table(
            "sla",
            gettext("Tasks completed by their due time, per team"),
            [gettext("Team"), gettext("Completed with a due time"), gettext("By the due time"), gettext("Share")]
            + [gettext("Overdue now")],
            ["text", "count", "count", "share", "count"],
            [
                [_team_name(t["team"]), t["with_due"], t["on_time"], t["share_on_time"], t["overdue_now"]]
                for t in sla["teams"]
            ],
        ),
        "backlog": Table(
            "backlog",
            gettext("Backlog: open requests at the end of each day"),
            [gettext("Day"), gettext("Started"), gettext("Ended"), gettext("Open")],
            ["text", "count", "count", "count"],
            [[d["day"], d["started"], d["ended"], d["open"]] for d in backlog["days"]],
        ),
        "first_contact": Table(
            "first_contact",
            gettext("First-contact resolution and time to the first answer, per channel"),
            [gettext("Channel"), gettext("Closed"), gettext("At first contact"), gettext("Share")]
            + [gettext("Answered"), gettext("Median time to the first answer")],
            ["text", "count", "count", "share", "count", "seconds"],
            [
                [
                    _channel_name(c["channel"]),
                    c["closed"],
                    c["first_contact"],
                    c["share"],
                    c["answered"],
                    c["median_first_answer"],
                ]
                for c in first["channels"]
            ],
        ),
    }


def element_names(key: str, version: int | None, xml: bytes) -> dict[str, str]:
    """The names of a process file's elements and flows by id, in the reader's language, as its heat map draws them."""
    shown = diagram_names(key, version)
    return {element_id: shown(name) for element_id, name in outline(xml).names.items() if name}


def process_tables(report: dict, names: dict[str, str]) -> dict[str, Table]:
    """The tables under the heat map; ``names`` from :func:`element_names` (an element without one: its id,
    a flow without one: from where to where)."""

    def named(element_id: str) -> str:
        return names.get(element_id) or element_id

    def flow(f: dict) -> str:
        return names.get(f["id"]) or f"{named(f['source'])} \u2192 {named(f['target'])}"

    return {
        "elements": Table(
            "elements",
            gettext("Time spent per element"),
            [gettext("Element"), gettext("Entered"), gettext("Completed"), gettext("Mean time spent")]
            + [gettext("90th percentile"), gettext("Mean waiting until claimed"), gettext("Mean working")],
            ["text", "count", "count", "seconds", "seconds", "seconds", "seconds"],
            [
                [
                    named(e["id"]),
                    e["entered"],
                    e["completed"],
                    (e["time_spent"] or {}).get("mean"),
                    (e["time_spent"] or {}).get("p90"),
                    (e.get("waiting") or {}).get("mean"),
                    (e.get("working") or {}).get("mean"),
                ]
                for e in report["elements"]
            ],
        ),
        "flows": Table(
            "flows",
            gettext("Paths taken"),
            [gettext("Flow"), gettext("From"), gettext("To"), gettext("Times taken"), gettext("Instances")]
            + [gettext("Share of started")],
            ["text", "text", "text", "count", "count", "share"],
            [
                [flow(f), named(f["source"]), named(f["target"]), f["taken"], f["instances"], f["share"]]
                for f in report["flows"]
            ],
        ),
    }


def duration(seconds: float | None) -> str:
    """A duration as people read it, with the units of the page's language: 45 s, 12 min, 3 h 5 min, 2 d 4 h."""
    if seconds is None:
        return "\u2014"
    whole = round(seconds)
    if whole < 60:
        return gettext("%(seconds)s s", seconds=whole)
    minutes = whole // 60
    if minutes < 60:
        return gettext("%(minutes)s min", minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        if minutes:
            return gettext("%(hours)s h %(minutes)s min", hours=hours, minutes=minutes)
        return gettext("%(hours)s h", hours=hours)
    days, hours = divmod(hours, 24)
    return gettext("%(days)s d %(hours)s h", days=days, hours=hours) if hours else gettext("%(days)s d", days=days)


def cell(value, kind: str) -> str:
    if value is None:
        return "\u2014"
    if kind == "seconds":
        return duration(value)
    if kind == "share":
        return f"{value * 100:.1f} %"
    return str(value)


def _csv(table: Table) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow(["" if value is None else value for value in row])
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{table.name}.csv"'
    return response


def _common() -> dict:
    facts = care().reports.freshness()
    return {
        "principal": current_principal(),  # the page header's navigation and search
        "counted_at": facts["counted_at"],
        "interval": round(care().settings.analytics_seconds),
        "cell": cell,
        "duration": duration,
    }


def _page_window() -> tuple[Window, str, str, dict]:
    """The window of a page: the form's, or when the form's days cannot be used, the last 30 days with the
    problem said beside the form, which keeps the days as typed (a report page never gives way to an error page)."""
    try:
        return *_window(), {}
    except InvalidRequest as refused:
        last = care().clock.now().date()
        window, first, last = _days(last - timedelta(days=DEFAULT_DAYS - 1), last)
        typed = {"from": request.args.get("from", ""), "to": request.args.get("to", "")}
        return window, first, last, {"problem": refused.detail, "typed": typed}


@blueprint.get("/analytics")
def dashboard():
    window, first, last, refused = _page_window()
    bucket = _bucket()
    tables = dashboard_tables(window, bucket)
    first_contact = care().reports.first_contact(window)
    sla = care().reports.sla(window)
    processes = list(care().cases.process_titles().items())
    page = render_template(
        "analytics/dashboard.html",
        tables=tables,
        first=first,
        last=last,
        bucket=bucket,
        first_contact=first_contact,
        sla=sla,
        processes=processes,
        refused=refused,
        **_common(),
    )
    return page, 400 if refused else 200


@blueprint.get("/analytics/<any(channels, processes, teams, sla, backlog, first_contact):name>.csv")
def export(name: str):
    window, _, _ = _window()
    return _csv(dashboard_tables(window, _bucket())[name])


@blueprint.get("/analytics/charts/<any(channels, processes, teams, sla, backlog):name>.svg")
def chart(name: str):
    window, _, _ = _window()
    table = dashboard_tables(window, _bucket())[name]
    labels = [str(row[0]) for row in table.rows]
    if name in ("channels", "processes", "teams"):
        series = [(header, [row[i] for row in table.rows]) for i, header in enumerate(table.headers[1:], start=1)]
        svg = charts.stacked_bars(table.title, labels, series)
    elif name == "backlog":
        svg = charts.line(table.title, labels, [(table.headers[3], [row[3] for row in table.rows])])
    else:
        shares = [None if row[3] is None else round(row[3] * 100, 1) for row in table.rows]
        svg = charts.bars(table.title, labels, [(table.headers[3], shares)], percent=True)
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = CHART_POLICY  # pygal's own <style>; an image runs no script
    return response


def _report(key: str, window: Window) -> dict:
    version = request.args.get("version", "")
    if version and not version.isdigit():
        abort(400)
    return care().reports.process(key, window, int(version) if version else None)


@blueprint.get("/analytics/processes/<key>")
def process(key: str):
    window, first, last, refused = _page_window()
    report = _report(key, window)
    shown = "count" if request.args.get("heat") == "count" else "time"
    _, xml = care().repository.xml(key, report["version"])
    page = render_template(
        "analytics/process.html",
        report=report,
        tables=process_tables(report, element_names(key, report["version"], xml)),
        diagram=diagram(xml, key, report["version"], heat=heat_map(report, shown)),
        shown=shown,
        first=first,
        last=last,
        key=key,
        process_name=care().cases.process_titles().get(key, key),
        refused=refused,
        **_common(),
    )
    return page, 400 if refused else 200


@blueprint.get("/analytics/processes/<key>/<any(elements, flows):name>.csv")
def process_export(key: str, name: str):
    report = _report(key, _window()[0])
    _, xml = care().repository.xml(key, report["version"])
    return _csv(process_tables(report, element_names(key, report["version"], xml))[name])


def heat_map(report: dict, shown: str) -> dict[str, Heat]:
    """Elements by mean time spent (or by how often entered), flows by the share of instances that took them."""
    heat: dict[str, Heat] = {}
    elements = report["elements"]
    if shown == "count":
        most = max((e["entered"] for e in elements), default=0)
        for e in elements:
            if e["entered"]:
                heat[e["id"]] = Heat(e["entered"] / most, f"{e['entered']}\u00d7")
    else:
        timed = [(e["id"], e["time_spent"]["mean"]) for e in elements if e["time_spent"] and e["time_spent"]["mean"]]
        most = max((mean for _, mean in timed), default=0)
        for element_id, mean in timed:
            heat[element_id] = Heat(mean / most if most else 0.0, f"\u2300 {duration(mean)}")
    for flow in report["flows"]:
        if flow["share"] is not None:
            heat[flow["id"]] = Heat(flow["share"], f"{flow['share'] * 100:.0f} %")
    return heat
