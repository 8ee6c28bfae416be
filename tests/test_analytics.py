"""Analytics figures, checked exactly: instances with known durations on the virtual clock, counted by the worker's run.

The story is told in :mod:`tests.analytics_story`.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from sqlalchemy.exc import NoResultFound

from engine.analytics_facts import OVERLAP
from engine.clock import VirtualClock
from tests.analytics_story import KEY, T0, open_task, tell
from tests.conftest import make_engine


@pytest.fixture(scope="module")
def story(module_database_url):
    """The engine after the story, with the facts counted (module-wide: every test reads the same story)."""
    clock = VirtualClock(T0)
    care = make_engine(module_database_url, clock)
    ids = tell(care, clock)
    assert care.analytics.refresh() == 4
    yield care, ids
    care.close()


def day_window(care):
    midnight = T0.replace(hour=0)
    return care.reports.window(midnight, midnight + timedelta(days=1))


def test_process_report_counts_lead_times_elements_and_flows(story):
    care, _ = story
    report = care.reports.process(KEY, day_window(care))
    assert report["counts"] == {"started": 4, "completed": 2, "active": 1, "failed": 0, "cancelled": 1}
    # lead times 1800 s and 9600 s; nearest rank: p50 = 1st, p90 = p99 = 2nd
    assert report["lead_time"] == {"count": 2, "p50": 1800.0, "p90": 9600.0, "p99": 9600.0}
    elements = {e["id"]: e for e in report["elements"]}
    review = elements["review"]
    assert (review["name"], review["kind"], review["entered"], review["completed"]) == (
        "Review the request",
        "user",
        5,  # A, B twice, C waiting, D cancelled
        3,
    )
    # spent 1800, 5400, 2400; waiting until claimed 600, 1800, 2400 (unclaimed: until completed); working 1200, 3600, 0
    assert review["time_spent"] == {"mean": 3200.0, "p90": 5400.0}
    assert review["waiting"] == {"mean": 1600.0, "p90": 2400.0}
    assert review["working"] == {"mean": 1600.0, "p90": 3600.0}
    assert elements["rework"]["time_spent"] == {"mean": 1800.0, "p90": 1800.0}
    assert elements["rework"]["waiting"] == {"mean": 900.0, "p90": 900.0}
    assert (elements["approved"]["entered"], elements["approved"]["time_spent"]) == (3, None)  # passes through
    assert (elements["start"]["entered"], elements["done"]["entered"]) == (4, 2)
    flows = {f["id"]: (f["taken"], f["instances"], f["share"]) for f in report["flows"]}
    assert flows == {
        "f_start": (4, 4, 1.0),
        "f_reviewed": (3, 2, 0.5),
        "f_yes": (2, 2, 0.5),
        "f_no": (1, 1, 0.25),
        "f_again": (1, 1, 0.25),
    }
    assert report["counted_at"] == care.clock.now().isoformat()


def test_a_window_and_a_version_select_instances_by_their_start(story):
    care, _ = story
    later = care.reports.process(KEY, care.reports.window(T0 + timedelta(minutes=20), T0 + timedelta(hours=4)))
    assert later["counts"]["started"] == 2  # B and C
    assert care.reports.process(KEY, day_window(care), version=1)["counts"]["started"] == 4


def test_dashboard_sla_backlog_first_contact_and_volumes(story):
    care, _ = story
    window = day_window(care)
    sla = care.reports.sla(window)
    assert sla["share_on_time"] == 0.6667  # review: A on time, B's first late, B's second on time
    assert sla["teams"] == [{"team": "support", "with_due": 3, "on_time": 2, "overdue_now": 1, "share_on_time": 0.6667}]
    backlog = care.reports.backlog(window)
    assert backlog["open_before"] == 0
    assert backlog["days"] == [{"day": "2030-03-04", "started": 4, "ended": 3, "open": 1}]
    first = care.reports.first_contact(window)
    # A and B closed, by email; B was reopened (reviewed twice): one of two at first contact
    assert (first["closed"], first["first_contact"], first["share"]) == (2, 1, 0.5)
    assert first["median_first_answer"] == 1800.0  # of 1800 s (A) and 9600 s (B): the 1st by nearest rank
    assert [c["channel"] for c in first["channels"]] == ["email", "phone"]
    teams = care.reports.volumes(window, "team")
    assert {s["name"]: s["counts"] for s in teams["series"]} == {"billing": [1], "support": [5]}
    channels = care.reports.volumes(window, "channel", "week")
    assert channels["buckets"] == ["2030-W10"]
    assert {s["name"]: s["counts"] for s in channels["series"]} == {"(none)": [1], "email": [2], "phone": [1]}


def test_the_run_counts_only_what_changed_and_keeps_figures_when_run_again(story):
    care, ids = story
    assert care.analytics.refresh() <= 4  # the overlap re-reads the last changes; nothing new
    care.clock.advance(OVERLAP + timedelta(minutes=1))
    care.analytics.refresh()  # the overlap of the run before still holds the story's last changes
    assert care.analytics.refresh() == 0  # past the overlap, an instance nobody touched is not counted again
    care.tasks.complete(open_task(care, ids["C"]), {"approved": True}, "sam")
    care.analytics.refresh()
    report = care.reports.process(KEY, day_window(care))
    assert report["counts"]["completed"] == 3 and report["counts"]["active"] == 0
    assert report["lead_time"]["p99"] == 9600.0 and report["lead_time"]["count"] == 3


@pytest.fixture
def c_approved(story):
    """The story after C's review was approved and counted, as the test of the run leaves it; tests that read
    that state take this, so that they need not run after that test in the same process."""
    care, ids = story
    with contextlib.suppress(NoResultFound):  # approved already by that test, in this process
        care.tasks.complete(open_task(care, ids["C"]), {"approved": True}, "sam")
    care.analytics.refresh()
    return story


@pytest.fixture(scope="module")
def http(story):
    """An API client of the app on the story's engine, with tokens of a team lead, a care manager and a plain agent."""
    from api.app import create_app

    care, _ = story
    for group in ("team_lead", "care_manager", "support"):
        care.identity.add_group(group)
    care.identity.add_user("lea", "staff", ["team_lead"])
    care.identity.add_user("max", "staff", ["care_manager"])
    care.identity.add_user("sam", "staff", ["support"])
    tokens = {name: care.tokens.create(f"{name}-token", username=name)[1] for name in ("lea", "max", "sam")}
    return create_app(care).test_client(), {name: {"Authorization": f"Bearer {t}"} for name, t in tokens.items()}


def test_the_api_serves_leads_and_managers_and_refuses_others(http, c_approved):
    client, auth = http
    query = "from=2030-03-04T00:00:00Z&to=2030-03-05T00:00:00Z"
    report = client.get(f"/api/analytics/processes/{KEY}?{query}", headers=auth["lea"])
    assert report.status_code == 200 and report.json["counts"]["started"] == 4
    dashboard = client.get(f"/api/analytics/dashboard?{query}&bucket=week", headers=auth["max"])
    assert dashboard.status_code == 200 and dashboard.json["backlog"]["days"][0]["open"] == 0  # C approved
    assert client.get(f"/api/analytics/dashboard?{query}", headers=auth["sam"]).status_code == 403
    bad = client.get("/api/analytics/dashboard?from=2030-03-05T00:00:00Z&to=2030-03-04T00:00:00Z", headers=auth["lea"])
    assert bad.status_code == 422 and bad.content_type == "application/problem+json"
    assert client.get("/api/analytics/dashboard?from=yesterday", headers=auth["lea"]).status_code in (400, 422)
    assert client.get(f"/api/analytics/processes/nope?{query}", headers=auth["lea"]).status_code == 404


def test_every_table_exports_as_csv(http, c_approved):  # http: the groups and their people
    import csv
    import io
    import re

    from api.app import create_app

    care, _ = c_approved
    care.identity.add_user("lina", "staff", ["team_lead"], password="correct horse battery")
    pages = create_app(care).test_client()
    form = pages.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    pages.post("/login", data={"username": "lina", "password": "correct horse battery", "csrf_token": token})
    window = "from=2030-03-04&to=2030-03-04"
    for name in ("channels", "processes", "teams", "sla", "backlog", "first_contact"):
        answer = pages.get(f"/analytics/{name}.csv?{window}")
        assert answer.status_code == 200 and answer.mimetype == "text/csv", name
    # series by the names people know: channels and processes by their names, no team as such
    header = lambda name: next(csv.reader(io.StringIO(pages.get(f"/analytics/{name}.csv?{window}").text)))  # noqa: E731
    channels, processes = header("channels"), header("processes")
    assert channels == ["Day", "No channel", "E-mail", "Phone"]
    assert processes == ["Day", "Review a request"]  # not analytics_review
    care.identity.update_group("support", display_name="First-line support")  # billing: no group, so its name
    try:
        assert sorted(header("teams")[1:]) == ["First-line support", "billing"]
    finally:
        care.identity.update_group("support", display_name="")
    # the page lists a series' days from the newest (the day with the figures first), the CSV from the oldest
    page = pages.get("/analytics?from=2030-03-01&to=2030-03-04").text
    days = re.findall(r'<th scope="row">(2030-03-0\d)</th>', page.split('id="table-channels"')[1].split("</table>")[0])
    assert days == ["2030-03-04", "2030-03-03", "2030-03-02", "2030-03-01"]
    oldest_first = pages.get("/analytics/channels.csv?from=2030-03-01&to=2030-03-04").text.splitlines()[1:]
    assert [line.split(",")[0] for line in oldest_first] == list(reversed(days))
    backlog = list(csv.reader(io.StringIO(pages.get(f"/analytics/backlog.csv?{window}").get_data(as_text=True))))
    assert backlog == [["Day", "Started", "Ended", "Open"], ["2030-03-04", "4", "4", "0"]]
    flows = pages.get(f"/analytics/processes/{KEY}/flows.csv?{window}").get_data(as_text=True)
    assert "yes,Approved?,Request done,3,3,0.75" in flows  # C was approved
    elements = pages.get(f"/analytics/processes/{KEY}/elements.csv?{window}")
    assert elements.status_code == 200 and "Review the request,5,4," in elements.get_data(as_text=True)
    chart = pages.get(f"/analytics/charts/backlog.svg?{window}")
    assert chart.mimetype == "image/svg+xml" and "<script" not in chart.get_data(as_text=True)
    # days that cannot be used: the page stays, with the days as typed and the problem beside the form
    reversed_days = pages.get("/analytics?from=2030-03-05&to=2030-03-04")
    assert reversed_days.status_code == 400
    page = reversed_days.get_data(as_text=True)
    assert 'value="2030-03-05"' in page and 'value="2030-03-04"' in page and 'aria-invalid="true"' in page
    assert "The first day must not be after the last day." in page and "Tasks by team" in page
    too_long = pages.get(f"/analytics/processes/{KEY}?from=2020-01-01&to=2030-03-04").get_data(as_text=True)
    assert "A report covers at most 731 days." in too_long and "Time spent per element" in too_long
    assert pages.get("/analytics/backlog.csv?from=2030-03-05&to=2030-03-04").status_code == 400  # no CSV of it


def test_a_worker_told_analytics_seconds_0_leaves_the_counting_to_another(database_url, monkeypatch):
    """Under a heavy timer load the counting can go to a worker of its own; the pages then say so."""
    import re

    from api.app import create_app
    from engine.worker import start_embedded

    monkeypatch.setenv("CARECENTER_ANALYTICS_SECONDS", "-1")
    with pytest.raises(ValueError, match="CARECENTER_ANALYTICS_SECONDS must be 0"):
        make_engine(database_url)
    monkeypatch.setenv("CARECENTER_ANALYTICS_SECONDS", "0")
    care = make_engine(database_url)
    worker = start_embedded(care, poll_seconds=30)
    try:
        assert worker.scheduler.get_job("analytics") is None
        assert worker.scheduler.get_job("timers") is not None  # everything else runs as before
        care.identity.add_group("team_lead")
        care.identity.add_user("lina", "staff", ["team_lead"], password="correct horse battery")
        pages = create_app(care).test_client()
        token = re.search(r'name="csrf_token" value="([^"]+)"', pages.get("/login").get_data(as_text=True)).group(1)
        pages.post("/login", data={"username": "lina", "password": "correct horse battery", "csrf_token": token})
        page = pages.get("/analytics")
        assert page.status_code == 200
        assert "Not counted yet: a separate worker counts these figures." in page.get_data(as_text=True)
    finally:
        worker.stop()
        care.close()
