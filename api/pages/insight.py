"""The customer lists for sales and care managers: licenses expiring soon, repeated problems, customers gone quiet.

Each row links to the customer's page; each list downloads as CSV at the same address with
``.csv``. The figures come from :mod:`engine.customer_insight`, read live at each view; the
criteria (days ahead, days back, months without contact) are query parameters with defaults.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from flask import Blueprint, Response, render_template, request

from api.auth import current_principal
from api.pages.analytics import cell
from api.pages.locale import gettext
from api.routes.common import care
from engine import customer_insight
from engine.errors import InvalidRequest

blueprint = Blueprint("insight_pages", __name__)
LISTS = ("expiring-licenses", "repeated-problems", "without-contact")


@dataclass
class CustomerList:
    name: str
    title: str
    explanation: str
    criteria: dict[str, int]
    headers: list[str]  # after the customer's number and name
    kinds: list[str]  # per column: text, count, time, tier, license_status
    rows: list[tuple[str, str, list]]  # customer id, customer name, the other cells


def _number(name: str, default: int, low: int, high: int) -> int:
    given = request.args.get(name, "")
    if not given:
        return default
    if not given.isdigit() or not low <= int(given) <= high:
        text = gettext("%(name)s must be a whole number from %(low)s to %(high)s.", name=name, low=low, high=high)
        raise InvalidRequest(text)
    return int(given)


def customer_list(name: str) -> CustomerList:
    now = care().clock.now()
    with care().db.read() as session:
        if name == "expiring-licenses":
            days = _number("days", customer_insight.EXPIRING_DAYS, 1, 730)
            found = customer_insight.expiring_licenses(session, now, days)
            return CustomerList(
                name,
                gettext("Licenses expiring in the next %(days)s days", days=days),
                gettext("Licenses still running (active or being renewed) that end within the days given."),
                {"days": days},
                [gettext("Tier"), gettext("Product"), gettext("Level"), gettext("Status"), gettext("Valid until")]
                + [gettext("Days left")],
                ["tier", "text", "text", "license_status", "time", "count"],
                [
                    (
                        r["customer_id"],
                        r["customer_name"],
                        [r["tier"], r["product"], r["level"], r["status"]] + [r["valid_until"], r["days_left"]],
                    )
                    for r in found
                ],
            )
        if name == "repeated-problems":
            days = _number("days", customer_insight.PROBLEM_DAYS, 1, 730)
            least = _number("least", customer_insight.PROBLEM_LEAST, 2, 100)
            found = customer_insight.repeated_problems(session, now, days, least)
            return CustomerList(
                name,
                gettext("Repeated problems on one system in the last %(days)s days", days=days),
                gettext("Inquiries naming one system (number or host name): at least %(least)s.", least=least),
                {"days": days, "least": least},
                [gettext("Tier"), gettext("System"), gettext("Product"), gettext("Host"), gettext("Inquiries")]
                + [gettext("Last named")],
                ["tier", "text", "text", "text", "count", "time"],
                [
                    (
                        r["customer_id"],
                        r["customer_name"],
                        [r["tier"], r["system_id"], r["product"], r["hostname"]] + [r["inquiries"], r["last_at"]],
                    )
                    for r in found
                ],
            )
        months = _number("months", 6, 1, 120)
        found = customer_insight.without_contact(session, now, months)
        return CustomerList(
            name,
            gettext("Customers without contact for %(months)s months", months=months),
            gettext("No contact in or out, on any channel, for the calendar months given; never contacted ones first."),
            {"months": months},
            [gettext("Tier"), gettext("Last contact"), gettext("Days without contact")],
            ["tier", "time", "count"],
            [
                (r["customer_id"], r["customer_name"], [r["tier"], r["last_contact_at"], r["days_without"]])
                for r in found
            ],
        )


def _each_list(suffix: str = ""):
    """One rule per list (``/analytics/customers/expiring-licenses`` ...), all on one view taking the list's name."""

    def register(view):
        for name in LISTS:
            view = blueprint.get(f"/analytics/customers/{name}{suffix}", defaults={"name": name})(view)
        return view

    return register


@_each_list()
def customer_list_page(name: str):
    return render_template(
        "analytics/customers.html",
        listed=customer_list(name),
        cell=cell,
        now=care().clock.now(),
        principal=current_principal(),  # the page header's navigation and search
    )


@_each_list(".csv")
def customer_list_export(name: str):
    listed = customer_list(name)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([gettext("Customer number"), gettext("Customer"), *listed.headers])
    for customer_id, customer_name, values in listed.rows:
        writer.writerow([customer_id, customer_name, *["" if v is None else v for v in values]])
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{listed.name}.csv"'
    return response
