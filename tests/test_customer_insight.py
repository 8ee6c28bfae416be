"""Customer insight, checked exactly: the customer page's figures and the three customer lists on the virtual clock.

The story is told in :mod:`tests.insight_story`.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import customer_insight, next_best_action
from engine.clock import VirtualClock
from engine.models import Note, ProcessInstance
from tests.conftest import make_engine, source
from tests.insight_story import START, T0, tell

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def story(module_database_url):
    """The engine after the story (module-wide: every test reads the same story)."""
    clock = VirtualClock(START)
    care = make_engine(module_database_url, clock)
    ids = tell(care, clock)
    for group in ("team_lead", "care_manager", "support"):
        care.identity.add_group(group)
    care.identity.add_user("lea", "staff", ["team_lead"], password=PASSWORD)
    care.identity.add_user("max", "staff", ["care_manager"], password=PASSWORD)
    care.identity.add_user("sam", "staff", ["support"], password=PASSWORD)
    yield care, ids
    care.close()


def test_the_insight_of_one_customer(story):
    care, _ = story
    with care.db.read() as session:
        ada = customer_insight.of_customer(session, "C-1", T0)
        cara = customer_insight.of_customer(session, "C-3", T0)
    assert ada["contacts"] == {
        "total": 4,
        "last_90_days": 4,
        "last_at": (T0 - timedelta(days=10)).isoformat(),
        "by_channel": [
            {"channel": "email", "in": 1, "out": 1},
            {"channel": "phone", "in": 1, "out": 0},
            {"channel": "web", "in": 1, "out": 0},
        ],
    }
    # resolved after 2 h and 6 h: the nearest-rank median of two is the first
    assert ada["requests"] == {
        "total": 3,
        "open": 1,
        "oldest_open_since": (T0 - timedelta(days=10)).isoformat(),
        "resolved": 2,
        "median_time_to_resolve": 7200.0,
    }
    assert ada["systems"] == 2
    assert ada["licenses"] == {
        "total": 3,
        "current": 2,
        "expiring_soon": 1,
        "next_end": (T0 + timedelta(days=30)).isoformat(),
    }
    assert cara["contacts"]["total"] == 0 and cara["requests"]["median_time_to_resolve"] is None
    assert cara["licenses"]["next_end"] is None


def test_the_three_lists(story):
    care, _ = story
    with care.db.read() as session:
        expiring = customer_insight.expiring_licenses(session, T0)
        problems = customer_insight.repeated_problems(session, T0)
        quiet = customer_insight.without_contact(session, T0, 6)
        quieter = customer_insight.without_contact(session, T0, 8)
        wider = customer_insight.repeated_problems(session, T0, days=120)
    assert [(r["license_id"], r["customer_id"], r["days_left"], r["status"]) for r in expiring] == [
        ("L-1", "C-1", 30, "active"),
        ("L-4", "C-2", 89, "renewing"),  # L-5 ends exactly 90 days on: not within the next 90
    ]
    # S-1 named by its host name (T0 - 80 d) and by its number in lower case (T0 - 40 d); S-2 once; Bert's
    # old inquiry is outside 90 days and cs.bert.example.org is another host
    assert problems == [
        {
            "customer_id": "C-1",
            "customer_name": "Ada Lovelace",
            "tier": "premium",
            "system_id": "S-1",
            "product": "carestation",
            "hostname": "cs1.ada.example",
            "inquiries": 2,
            "last_at": (T0 - timedelta(days=40)).isoformat(),
        }
    ]
    assert [(r["customer_id"], r["inquiries"]) for r in wider] == [("C-1", 2), ("C-2", 2)]
    # six months before 2030-03-04 is 2029-09-04: Dora's last contact (2029-07-27) is before it; Cara never
    assert [(r["customer_id"], r["last_contact_at"], r["days_without"]) for r in quiet] == [
        ("C-3", None, None),
        ("C-4", START.isoformat(), 220),
    ]
    assert [r["customer_id"] for r in quieter] == ["C-3"]


def test_months_before_keeps_the_day_or_takes_the_month_end():
    assert customer_insight.months_before(T0, 6) == T0.replace(year=2029, month=9)
    assert customer_insight.months_before(T0.replace(month=8, day=31), 6) == T0.replace(month=2, day=28)
    assert customer_insight.months_before(T0, 14) == T0.replace(year=2029, month=1)


@pytest.fixture(scope="module")
def api(story):
    from api.app import create_app

    care, _ = story
    tokens = {name: care.tokens.create(f"{name}-token", username=name)[1] for name in ("lea", "max", "sam")}
    return create_app(care).test_client(), {name: {"Authorization": f"Bearer {t}"} for name, t in tokens.items()}


def test_the_api_lists_for_analysts_and_the_insight_for_staff(api):
    client, auth = api
    expiring = client.get("/api/analytics/expiring-licenses?days=31", headers=auth["lea"])
    assert expiring.status_code == 200
    assert (expiring.json["days"], expiring.json["count"], expiring.json["as_of"]) == (31, 1, T0.isoformat())
    problems = client.get("/api/analytics/repeated-problems?days=120&least=2", headers=auth["max"])
    assert [r["system_id"] for r in problems.json["items"]] == ["S-1", "S-3"]
    quiet = client.get("/api/analytics/without-contact", headers=auth["lea"])
    assert (quiet.json["months"], quiet.json["count"]) == (6, 2)
    assert client.get("/api/analytics/without-contact", headers=auth["sam"]).status_code == 403
    bad = client.get("/api/analytics/without-contact?months=0", headers=auth["lea"])
    assert bad.status_code in (400, 422) and bad.content_type == "application/problem+json"
    insight = client.get("/api/customers/C-1/insight", headers=auth["sam"])
    assert insight.status_code == 200 and insight.json["requests"]["median_time_to_resolve"] == 7200.0
    assert client.get("/api/customers/nobody/insight", headers=auth["sam"]).status_code == 404


def _signed_in(care, username):
    from api.app import create_app

    pages = create_app(care).test_client()
    form = pages.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    pages.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    return pages


def test_the_pages_link_each_row_to_the_customer_and_export_csv(story):
    care, _ = story
    pages = _signed_in(care, "lea")
    dashboard = pages.get("/analytics?from=2030-03-01&to=2030-03-04").get_data(as_text=True)
    assert 'href="/analytics/customers/expiring-licenses"' in dashboard
    listed = pages.get("/analytics/customers/repeated-problems").get_data(as_text=True)
    assert 'href="/customers/C-1">Ada Lovelace</a>' in listed and "C-2" not in listed
    exported = pages.get("/analytics/customers/expiring-licenses.csv?days=90")
    assert exported.mimetype == "text/csv"
    assert list(csv.reader(io.StringIO(exported.get_data(as_text=True)))) == [
        ["Customer number", "Customer", "Tier", "Product", "Level", "Status", "Valid until", "Days left"],
        ["C-1", "Ada Lovelace", "premium", "carestation", "pro", "active", (T0 + timedelta(days=30)).isoformat(), "30"],
        [
            "C-2",
            "Bert Brecht",
            "standard",
            "carestation",
            "pro",
            "renewing",
            (T0 + timedelta(days=89)).isoformat(),
            "89",
        ],
    ]
    quiet = pages.get("/analytics/customers/without-contact.csv?months=8").get_data(as_text=True)
    assert quiet.splitlines()[1:] == ["C-3,Cara Ceres,standard,,"]
    assert pages.get("/analytics/customers/without-contact?months=zero").status_code == 400
    staff = _signed_in(care, "sam")
    assert staff.get("/analytics/customers/without-contact").status_code == 403
    customer = staff.get("/customers/C-1").get_data(as_text=True)
    insight = customer[customer.index('id="insight"') : customer.index('id="requests-title"')]
    assert "2 h" in insight and "1 open, 2 resolved" in insight
    assert "systems: 2, licenses running: 2, ending within 90 days: 1" in insight


def test_the_next_best_action_table_suggests_per_profile(story):
    care, _ = story
    quiet = {"tier": "premium", "repeated_problems": 0, "expiring_licenses": 0, "open_requests": 0}
    quiet |= {"contacts_90_days": 0}
    assert care.next_best_action.suggest(quiet) is None  # no table deployed yet: nothing to suggest
    care.repository.deploy([source("next_best_action.dmn"), source("hello_care.bpmn")], "nba", "test")
    with care.db.read() as session:
        ada = next_best_action.profile(session, "C-1", T0)
        bert = next_best_action.profile(session, "C-2", T0)
    assert ada == {
        "tier": "premium",
        "expiring_licenses": 1,
        "current_licenses": 2,
        "systems": 2,
        "open_requests": 1,
        "repeated_problems": 1,
        "contacts_90_days": 4,
    }
    assert care.next_best_action.suggest(ada).as_dict() == {
        "action": "Offer the upgrade to enterprise",
        "reason": "The same system had problems again and again in 90 days; enterprise includes on-site support.",
        "process_key": "product_order",
        "item_id": "U-CS-ENTERPRISE",
    }
    assert (bert["expiring_licenses"], bert["open_requests"]) == (1, 3)
    assert care.next_best_action.suggest(bert) is None  # a license ends soon, but requests are open
    renewal = care.next_best_action.suggest({**bert, "open_requests": 0})
    assert (renewal.process_key, renewal.item_id) == ("product_order", "A-CS-ANALYTICS")
    assert care.next_best_action.suggest(quiet).process_key == "hello_care"


def test_accepting_the_suggestion_starts_its_process_for_the_customer(story):
    care, _ = story
    # the table, as the test before deploys it (the same files again store nothing new)
    care.repository.deploy([source("next_best_action.dmn"), source("hello_care.bpmn")], "nba", "test")
    staff = _signed_in(care, "sam")
    page = staff.get("/customers/C-4").get_data(as_text=True)  # Dora: premium, no contact in 220 days
    assert "Suggested next: Call to check in" in page and "Why: A premium customer without any contact" in page
    assert "Accept: start Hello care" in page  # the process by its name, not its key
    assert "Suggested next" not in staff.get("/customers/C-3").get_data(as_text=True)  # Cara: no rule fits
    form = {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),
        "message_id": re.search(
            r'name="message_id" value="(staff-form:[0-9a-f]+)"[^>]*>\s*<input type="hidden" name="process_key"', page
        ).group(1),
        "process_key": "hello_care",
        "item_id": "",
    }
    assert staff.post("/customers/C-4/suggestion", data={**form, "process_key": "product_order"}).status_code == 409
    accepted = staff.post("/customers/C-4/suggestion", data=form)
    assert accepted.status_code == 302 and accepted.headers["Location"].endswith("/customers/C-4#insight")
    again = staff.post("/customers/C-4/suggestion", data=form)  # a double click: Dora has an open request now
    assert again.status_code == 409 and "Suggested next" not in again.get_data(as_text=True)
    with care.db.read() as session:
        started = session.scalars(select(ProcessInstance).where(ProcessInstance.customer_id == "C-4")).all()
        [note] = session.scalars(select(Note).where(Note.customer_id == "C-4")).all()
    [instance] = [i for i in started if i.process_key == "hello_care"]
    assert (instance.started_by, instance.status) == ("sam", "active")
    assert note.author == "sam" and instance.reference in note.text and "Call to check in" in note.text
    assert staff.post("/customers/C-4/suggestion", data={"process_key": "hello_care"}).status_code == 400  # no CSRF
