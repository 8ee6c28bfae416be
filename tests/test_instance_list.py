"""The instance list's query (engine/instance_list.py): each filter, each sort, keyset pages both ways, team scope.

Run on SQLite and PostgreSQL: the filters, the keyset conditions and the cursor's datetimes are SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine import instance_list
from engine.bpmn import SourceFile
from engine.clock import VirtualClock
from engine.instance_list import InstanceListFilter
from engine.runtime import StartRequest
from engine.visibility import TaskScope
from process_library.store import Customer
from tests.conftest import make_engine, source

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def cases(any_database_url):
    """Five cases a day apart: i1 hello (C-1, completed), i2 billing (C-2), i3 hello (claimed by sam),
    i4 a failed script (open incident), i5 hello version 2."""
    care = make_engine(any_database_url, VirtualClock(T0))
    for group in ("support", "billing", "team_lead"):
        care.identity.add_group(group)
    care.identity.add_user("sam", "staff", ["support"], display_name="Sam Miller")
    care.identity.add_user("bea", "staff", ["billing"])
    with care.db.write() as session:
        session.add(Customer(id="C-1", name="Alice Example", email="alice@example.com", tier="standard", language="en"))
        session.add(Customer(id="C-2", name="Bob 100% Builder", email="bob@example.com", tier="premium", language="en"))
    care.repository.deploy(
        [source("hello_care.bpmn"), source("camunda_billing.bpmn"), source("invoice_check.json")], "t", "t"
    )
    care.repository.deploy([source("script_failure.bpmn")], "t", "t")

    def start(key, customer=None, **variables):
        return care.runtime.start(StartRequest(key, variables, customer_id=customer), "test")[0]

    i1 = start("hello_care", "C-1", subject="Router")
    care.clock.advance(DAY)
    i2 = start("camunda_billing", "C-2")
    care.clock.advance(DAY)
    i3 = start("hello_care")
    care.tasks.claim(i3["tasks"][0]["id"], "sam")
    care.clock.advance(DAY)
    i4 = start("script_failure", divisor=0)
    care.clock.advance(DAY)
    changed = source("hello_care.bpmn").content.replace(b'name="Inquiry answered"', b'name="Inquiry answered!"')
    care.repository.deploy([SourceFile("hello_care.bpmn", changed)], "t", "t")
    i5 = start("hello_care")
    care.clock.advance(DAY)
    care.tasks.complete(
        i1["tasks"][0]["id"], {"answer": "Restart it", "minutes_spent": 5, "resolution": "solved"}, "sam"
    )
    ids = {name: case["id"] for name, case in zip(("i1", "i2", "i3", "i4", "i5"), (i1, i2, i3, i4, i5), strict=True)}
    yield care, ids
    care.close()


def listed(care, limit=50, scope=None, after=None, before=None, **filters) -> list[int]:
    return [row["id"] for row in page(care, limit, scope, after, before, **filters).items]


def page(care, limit=50, scope=None, after=None, before=None, **filters):
    with care.db.read() as session:
        return instance_list.find(session, InstanceListFilter(**filters), limit, after, before, scope)


def test_the_default_order_is_newest_first_with_names_not_ids(cases):
    care, i = cases
    assert listed(care) == [i["i5"], i["i4"], i["i3"], i["i2"], i["i1"]]
    rows = {row["id"]: row for row in page(care).items}
    first = rows[i["i1"]]
    assert (first["title"], first["customer_name"], first["stage"], first["status"]) == (
        "Hello care",
        "Alice Example",
        "answered",
        "completed",
    )
    assert first["reference"].startswith("CC-") and first["waiting"] == []
    assert rows[i["i2"]]["waiting"][0]["name"] == "Check the invoice"
    assert rows[i["i2"]]["waiting"][0]["groups"] == ["billing", "team_lead"]
    assert rows[i["i4"]]["open_incident"] is True and rows[i["i3"]]["open_incident"] is False


def test_filter_by_process_and_version(cases):
    care, i = cases
    assert listed(care, process_key="camunda_billing") == [i["i2"]]
    assert listed(care, process_key="hello_care") == [i["i5"], i["i3"], i["i1"]]
    assert listed(care, process_key="hello_care", version=2) == [i["i5"]]
    assert listed(care, process_key="hello_care", version=1) == [i["i3"], i["i1"]]
    assert listed(care, version=3) == []


def test_filter_by_status_and_stage(cases):
    care, i = cases
    assert listed(care, status="completed") == [i["i1"]]
    assert listed(care, status="failed") == [i["i4"]]
    assert listed(care, status="active") == [i["i5"], i["i3"], i["i2"]]
    assert listed(care, stage="answering") == [i["i5"], i["i3"]]
    assert listed(care, stage="In review") == [i["i2"]]
    assert listed(care, stage="nowhere") == []


def test_filter_by_whom_the_case_waits_for(cases):
    care, i = cases
    assert listed(care, waiting_group="billing") == [i["i2"]]
    assert listed(care, waiting_group="team_lead") == [i["i2"]]
    assert listed(care, waiting_group="support") == [i["i5"], i["i3"]]  # i1's task is done: it waits no more
    assert listed(care, waiting_user="sam") == [i["i3"]]  # the assignee
    assert listed(care, waiting_user="alice") == [i["i2"]]  # a candidate user
    assert listed(care, waiting_user="bob") == []  # assignee of a task not reached yet


def test_filter_by_start_open_incident_and_customer(cases):
    care, i = cases
    assert listed(care, started_from=T0 + DAY, started_before=T0 + 2 * DAY) == [i["i2"]]
    assert listed(care, started_from=T0 + 3 * DAY) == [i["i5"], i["i4"]]
    assert listed(care, started_before=T0 + DAY) == [i["i1"]]
    assert listed(care, open_incident=True) == [i["i4"]]
    assert listed(care, customer="C-2") == [i["i2"]]
    assert listed(care, customer="alice") == [i["i1"]]  # part of the name, any case
    assert listed(care, customer="100%") == [i["i2"]]  # LIKE wildcards are plain characters
    assert listed(care, customer="alice_example") == []  # "_" is no wildcard either
    assert listed(care, customer="C-") == []  # ids match whole
    assert listed(care, process_key="hello_care", status="active", waiting_group="support", version=1) == [i["i3"]]


def test_sorts_ascending_and_descending_are_stable_with_the_id(cases):
    care, i = cases
    assert listed(care, descending=False) == [i["i1"], i["i2"], i["i3"], i["i4"], i["i5"]]
    # Billing question < Divide < Hello care (three of them, by id)
    assert listed(care, sort="process", descending=False) == [i["i2"], i["i4"], i["i1"], i["i3"], i["i5"]]
    assert listed(care, sort="process") == [i["i5"], i["i3"], i["i1"], i["i4"], i["i2"]]
    assert listed(care, sort="status", descending=False) == [i["i2"], i["i3"], i["i5"], i["i1"], i["i4"]]
    assert listed(care, sort="updated")[0] == i["i1"]  # completed last
    assert listed(care, sort="no such sort") == listed(care)


@pytest.mark.parametrize(
    ("sort", "descending"), [("started", True), ("started", False), ("status", False), ("process", True)]
)
def test_keyset_pages_walk_forward_and_back_over_every_row_once(cases, sort, descending):
    care, _ = cases
    everything = listed(care, sort=sort, descending=descending)
    pages, cursor = [], None
    while True:
        current = page(care, 2, after=cursor, sort=sort, descending=descending)
        pages.append([row["id"] for row in current.items])
        assert (current.previous is None) == (cursor is None)
        if current.next is None:
            break
        cursor = current.next
    assert pages == [everything[0:2], everything[2:4], everything[4:5]]
    back = page(care, 2, before=current.previous, sort=sort, descending=descending)
    assert [row["id"] for row in back.items] == pages[1]
    assert back.previous is not None and back.next is not None
    first = page(care, 2, before=back.previous, sort=sort, descending=descending)
    assert [row["id"] for row in first.items] == pages[0] and first.previous is None


def test_cursors_that_do_not_fit_are_ignored(cases):
    care, _ = cases
    first = listed(care, 2)
    other_sort = page(care, 2, sort="process").next
    for cursor in ("junk", "", "e30", other_sort, "WyJzdGFydGVkIix0cnVlLCJ4IiwxXQ"):
        assert listed(care, 2, after=cursor) == first, cursor
        assert listed(care, 2, before=cursor) == first, cursor


def test_going_back_to_the_start_shows_a_full_first_page(cases):
    care, i = cases
    second = page(care, 2, after=page(care, 2).next)
    # a cursor one row into the list: fewer than a page lies before it, so the first page comes back whole
    one_in = page(care, 1, after=page(care, 1).next)
    assert [row["id"] for row in page(care, 2, before=one_in.previous).items] == [i["i5"], i["i4"]]
    assert [row["id"] for row in page(care, 2, before=second.previous).items] == [i["i5"], i["i4"]]


def test_team_scope_shows_only_cases_of_the_teams(cases):
    care, i = cases
    billing = TaskScope("bea", frozenset({"billing"}))
    support = TaskScope("sam", frozenset({"support"}))
    assert listed(care, scope=billing) == [i["i2"]]
    assert listed(care, scope=support) == [i["i5"], i["i3"], i["i1"]]
    assert listed(care, scope=billing, process_key="hello_care") == []
    assert listed(care, scope=TaskScope("alice", frozenset())) == [i["i2"]]  # named as a candidate user
    assert listed(care, scope=TaskScope("nobody", frozenset())) == []


def test_summary_of_one_case(cases):
    care, i = cases
    with care.db.read() as session:
        one = instance_list.summary(session, i["i3"])
        assert instance_list.summary(session, 999999) is None
    assert one["id"] == i["i3"] and one["waiting"][0]["assignee"] == "sam" and one["customer_name"] is None
