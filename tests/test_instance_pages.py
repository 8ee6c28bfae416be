"""The instance list and the instance page through the Flask test client: filters, sorting, pages, scope, and
what they say: names, never element ids, principals such as ``token:bootstrap``, JSON or reprs."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest

from engine.runtime import StartRequest
from process_library.store import Customer
from tests.conftest import source
from tests.test_pages import sign_in

PASSWORD = "correct horse battery"


def visible(page: str) -> str:
    """The text a person reads: no tags, attributes, or the diagram (its own renderer, tested elsewhere)."""
    page = re.sub(r"<svg.*?</svg>", " ", page, flags=re.S)
    page = re.sub(r"<(script|style|title)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page).split()))


@pytest.fixture
def site(care, anonymous):
    care.identity.add_group("support", display_name="First-line support")
    care.identity.add_group("billing")
    care.identity.add_user("sam", "staff", ["support"], password=PASSWORD, display_name="Sam Miller")
    care.identity.add_user("bea", "staff", ["billing"], password=PASSWORD, display_name="Bea Berg")
    care.identity.add_user("ada", "admin", password=PASSWORD, display_name="Ada Admin")
    with care.db.write() as session:
        session.add(Customer(id="C-1", name="Alice Example", email="alice@example.com", tier="standard", language="en"))
    care.repository.deploy(
        [source("hello_care.bpmn"), source("camunda_billing.bpmn"), source("invoice_check.json")], "t", "t"
    )
    return anonymous


def start(care, key="hello_care", customer="C-1", principal="test", **variables) -> dict:
    return care.runtime.start(StartRequest(key, variables, customer_id=customer), principal)[0]


def rows(page: str) -> list[str]:
    return re.findall(r'<tr data-reference="([^"]+)"', page)


def get(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, url
    return response.get_data(as_text=True)


def test_the_list_shows_names_and_only_the_teams_cases(site, care):
    hello = start(care, subject="Router")
    billing = start(care, "camunda_billing", customer=None)
    sign_in(site, "sam")
    page = get(site, "/instances")
    assert rows(page) == [hello["reference"]]
    text = visible(page)
    for shown in ("Hello care", "Alice Example", "answering", "Active", "Answer the inquiry: First-line support"):
        assert shown in text, shown
    assert "hello_care" not in text and billing["reference"] not in page
    assert f'href="/instances/{hello["id"]}"' in page
    sign_in(site, "bea")
    assert rows(get(site, "/instances")) == [billing["reference"]]
    assert site.get(f"/instances/{hello['id']}").status_code == 403


def test_each_filter_of_the_form(site, care):
    hello = start(care)
    billing = start(care, "camunda_billing", customer=None)
    done = start(care, customer=None)
    care.tasks.complete(done["tasks"][0]["id"], {"answer": "Done", "minutes_spent": 1, "resolution": "solved"}, "sam")
    sign_in(site, "ada")
    assert rows(get(site, "/instances")) == [done["reference"], billing["reference"], hello["reference"]]
    assert rows(get(site, "/instances?process=camunda_billing")) == [billing["reference"]]
    assert rows(get(site, "/instances?process=hello_care&version=1")) == [done["reference"], hello["reference"]]
    assert rows(get(site, "/instances?status=completed")) == [done["reference"]]
    assert rows(get(site, "/instances?stage=In+review")) == [billing["reference"]]
    assert rows(get(site, "/instances?waiting=group:billing")) == [billing["reference"]]
    assert rows(get(site, "/instances?waiting=user:alice")) == [billing["reference"]]
    assert rows(get(site, "/instances?customer=alice")) == [hello["reference"]]
    assert rows(get(site, "/instances?incident=1")) == []
    # choices that are not on offer count as left out
    everything = rows(get(site, "/instances"))
    for junk in ("status=bogus", "process=nope", "version=x", "waiting=team:x", "version=99999999999999", "sort=id"):
        assert rows(get(site, f"/instances?{junk}")) == everything, junk
    chosen = get(site, "/instances?process=hello_care&status=completed")
    assert '<option value="hello_care" selected>Hello care</option>' in chosen
    assert '<option value="completed" selected>Completed</option>' in chosen


def test_bad_dates_are_reported_next_to_their_fields(site, care):
    start(care)
    sign_in(site, "ada")
    page = get(site, "/instances?from=yesterday", 422)
    assert 'id="filter-from-error"' in page and "Enter a date like 2026-03-31." in page and rows(page) == []
    assert 'value="yesterday"' in page
    page = get(site, "/instances?from=2026-03-05&to=2026-03-01", 422)
    assert 'id="filter-to-error"' in page and "The end date is before the start date." in page


def test_start_dates_are_days_in_the_viewers_time_zone(site, care, clock):
    clock.move_to(datetime(2030, 3, 1, 12, 0, tzinfo=UTC))  # 2 March, 01:00 in Auckland
    case = start(care)
    sign_in(site, "ada")
    assert rows(get(site, "/instances?from=2030-03-01&to=2030-03-01")) == [case["reference"]]  # the server's UTC
    ada = care.identity.by_name("ada")
    care.identity.set_preferences(ada.id, language=None, time_zone="Pacific/Auckland")
    assert rows(get(site, "/instances?from=2030-03-01&to=2030-03-01")) == []
    assert rows(get(site, "/instances?from=2030-03-02&to=2030-03-02")) == [case["reference"]]
    assert rows(get(site, "/instances?from=2030-03-03")) == []


def test_column_headers_sort_and_say_how(site, care):
    hello = start(care)
    billing = start(care, "camunda_billing", customer=None)
    sign_in(site, "ada")
    page = get(site, "/instances")
    assert re.search(r'aria-sort="descending"><a href="/instances\?sort=started&amp;dir=asc">Started', page)
    link = re.search(r'<a href="([^"]+)">Process</a>', page).group(1)
    by_process = get(site, html.unescape(link))
    assert 'aria-sort="ascending"' in by_process
    assert rows(by_process) == [billing["reference"], hello["reference"]]  # Billing question < Hello care
    filtered = get(site, "/instances?status=active&sort=process&dir=desc")
    assert "status=active" in re.search(r'<a href="([^"]+)">Started</a>', filtered).group(1)  # filters kept


def test_pages_of_twenty_five_with_next_previous_and_first(site, care):
    cases = [start(care, customer=None) for _ in range(27)]
    newest_first = [case["reference"] for case in reversed(cases)]
    sign_in(site, "ada")
    first = get(site, "/instances?status=active")
    assert rows(first) == newest_first[:25] and "Previous page" not in first
    following = html.unescape(re.search(r'href="([^"]+)" rel="next"', first).group(1))
    assert "status=active" in following
    second = get(site, following)
    assert rows(second) == newest_first[25:] and 'rel="next"' not in second and "First page" in second
    back = html.unescape(re.search(r'href="([^"]+)" rel="prev"', second).group(1))
    assert rows(get(site, back)) == newest_first[:25]
    assert rows(get(site, "/instances?after=%00%FF&before=junk")) == newest_first[:25]


def test_the_case_page_tells_who_did_what_with_names(site, care, app):
    _, secret = care.tokens.create("bootstrap")
    api = app.test_client()
    answer = api.post(
        "/api/process-definitions/hello_care/instances",
        json={"variables": {"subject": "Router", "urgent": True, "address": {"city": "Brno", "lines": ["A 1"]}},
              "customer_id": "C-1"},
        headers={"Authorization": f"Bearer {secret}"},
    )  # fmt: skip
    assert answer.status_code == 201
    case = answer.json
    task_id = case["tasks"][0]["id"]
    care.tasks.claim(task_id, "sam")
    care.tasks.complete(task_id, {"answer": "Restart it", "minutes_spent": 5, "resolution": "solved"}, "sam")
    sign_in(site, "sam")
    page = get(site, f"/instances/{case['id']}")
    text = visible(page)
    assert f'<span id="reference">{case["reference"]}</span>' in page
    assert '<a href="/customers/C-1">Alice Example</a>' in page
    for shown in (
        "Hello care, version 1",
        "answered",
        "Completed",
        "Who did what when",
        "API token Started the case (version 1)",
        "Sam Miller Claimed the task Answer the inquiry",
        "Sam Miller Completed the task Answer the inquiry",
        "Automatic Task ready Answer the inquiry",
        "Automatic Case completed",
        "No open tasks.",
        "city Brno",
        "urgent Yes",
    ):
        assert shown in text, shown
    for hidden in ("token:", "bootstrap", "answer_inquiry", "task_completed", "{", "[", "'", case["tracking_code"]):
        assert hidden not in text, hidden
    assert case["tracking_code"] not in page and "Tracking code" not in text
    assert "UTC" in text  # times carry their zone
    sign_in(site, "ada")
    admin = get(site, f"/instances/{case['id']}")
    assert f'<dd id="tracking-code"><code>{case["tracking_code"]}</code></dd>' in admin


def test_open_tasks_say_whom_they_wait_for(site, care):
    billing = start(care, "camunda_billing", customer="C-404")
    sign_in(site, "bea")
    text = visible(get(site, f"/instances/{billing['id']}"))
    assert "Check the invoice — waiting for Team billing, Team team_lead, alice" in text
    assert "C-404" in text  # a customer the store does not know is shown as given
    mailed = start(care, "camunda_billing", customer="email:jane@example.org")  # a sender nobody vouched for
    listed = visible(get(site, "/instances"))
    assert "jane@example.org (unverified contact)" in listed and "email:jane" not in listed
    assert "jane@example.org (unverified contact)" in visible(get(site, f"/instances/{mailed['id']}"))
    care.tasks.claim(billing["tasks"][0]["id"], "bea")
    assert "Check the invoice — waiting for Bea Berg" in visible(get(site, f"/instances/{billing['id']}"))


def test_the_case_page_in_german(site, care):
    case = start(care)
    care.tasks.complete(case["tasks"][0]["id"], {"answer": "A", "minutes_spent": 1, "resolution": "solved"}, "sam")
    sam = care.identity.by_name("sam")
    care.identity.set_preferences(sam.id, language="de", time_zone="Europe/Berlin")
    sign_in(site, "sam")
    text = visible(get(site, f"/instances/{case['id']}"))
    for shown in ("Fall", "Wer hat wann was getan", "Hat die Aufgabe erledigt", "Beantwortet", "Abgeschlossen"):
        assert shown in text, shown
    listed = visible(get(site, "/instances"))
    assert "Wartet auf" in listed and "Filter zurücksetzen" in listed and "Beantwortet" in listed


def test_incidents_with_step_names_and_retry_for_admins(site, care):
    care.repository.deploy([source("script_failure.bpmn")], "t", "t")
    failed = start(care, "script_failure", customer=None, divisor=0)
    sign_in(site, "sam")
    assert site.get(f"/instances/{failed['id']}").status_code == 403  # no task of sam's teams in it
    token = sign_in(site, "ada")
    page = get(site, f"/instances/{failed['id']}")
    text = visible(page)
    assert "Divide by divisor" in text and "division by zero" in text and "Stopped by an error" in text
    assert "Automatic Stopped by an error Divide by divisor" in text
    assert rows(get(site, "/instances?incident=1")) == [failed["reference"]]
    assert "Open incident" in visible(get(site, "/instances?incident=1"))
    incident_id = care.incidents.list("open", failed["id"], 5, None).items[0]["id"]
    retried = site.post(f"/instances/{failed['id']}/incidents/{incident_id}/retry", data={"csrf_token": token})
    assert retried.status_code == 302
    assert "Tried the failed step again" in visible(get(site, f"/instances/{failed['id']}"))


@pytest.mark.parametrize(
    ("principal", "shown"),
    [
        ("sam", "Sam Miller"),
        ("token:bootstrap", "API token"),
        ("token:7", "API token"),
        ("customer", "The customer"),
        ("portal", "The customer portal"),
        ("worker", "Automatic"),
        ("timer", "Automatic"),
        ("system", "Automatic"),
        ("crm-sync", "crm-sync"),  # a principal that is neither a user nor one of ours: named as it is
    ],
)
def test_principals_become_words(app, principal, shown):
    from api.pages.staff.case_words import actor_label
    from engine.case_history import actor

    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert actor_label(actor(principal, {"sam": "Sam Miller"})) == shown


def test_whom_a_task_waits_for_in_words(app, care):
    from api.pages.staff.case_words import waiting_label

    care.identity.add_group("billing", display_name="Účtárna")  # named: by its name alone; support: not created
    task = {"lane": None, "assignee": None, "groups": [], "users": []}
    people = {"sam": "Sam Miller"}
    with app.test_request_context("/", headers={"Accept-Language": "cs"}):
        assert waiting_label({**task, "lane": "customer", "groups": ["support"]}, people) == "Zákazník"
        assert waiting_label({**task, "groups": ["support"], "users": ["sam", "kim"]}, people) == (
            "Tým support, Sam Miller, kim"
        )
        assert waiting_label({**task, "groups": ["billing", "support"]}, people) == "Účtárna, Tým support"
        assert waiting_label({**task, "assignee": "sam", "groups": ["support"]}, people) == "Sam Miller"
        assert waiting_label(task, people) == "Zatím nikdo neurčen"


def test_the_list_and_the_case_page_speak_the_models_words_in_the_viewers_language(site, care):
    from engine.bpmn import SourceFile
    from engine.config import PROJECT_ROOT

    processes = PROJECT_ROOT / "processes"
    files = [
        SourceFile(p.name, p.read_bytes()) for p in (processes / n for n in ("hello_care.bpmn", "hello_care.de.po"))
    ]
    care.repository.deploy(files, "with catalogs", "t")
    case = start(care)
    sign_in(site, "sam")
    care.identity.set_preferences(care.identity.by_name("sam").id, language="de", time_zone=None)
    listing = visible(get(site, "/instances"))
    assert "Hallo Kundendienst" in listing and "Anfrage beantworten" in listing
    page = visible(get(site, f"/instances/{case['id']}"))
    assert "Hallo Kundendienst" in page and "Anfrage beantworten" in page


def test_search_results_label_stages_and_titles_in_the_viewers_language(site, care):
    from engine.bpmn import SourceFile
    from engine.config import PROJECT_ROOT

    names = ("hello_care.bpmn", "hello_care.de.po")
    care.repository.deploy([SourceFile(n, (PROJECT_ROOT / "processes" / n).read_bytes()) for n in names], "c", "t")
    start(care, subject="Scanner zeigt Fehler")
    sign_in(site, "sam")
    care.identity.set_preferences(care.identity.by_name("sam").id, language="de", time_zone=None)
    found = visible(get(site, "/search?q=Scanner"))
    assert "Hallo Kundendienst" in found and "In Bearbeitung" in found and "answering" not in found
