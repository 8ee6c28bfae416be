"""The staff search (GET /search?q=): every kind of term, team visibility, secrets, hostile input, and its index.

Every test runs on SQLite (FTS5) and PostgreSQL (tsvector and GIN), through the Flask test client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import pytest
from alembic import command
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from sqlalchemy import text

from api.app import create_app
from engine import search, search_query
from engine.core import CareEngine
from engine.runtime import StartRequest
from engine.schema import alembic_config, upgrade
from process_library.csv_import import import_csv
from tests.conftest import make_engine, source

PASSWORD = "correct horse battery"
INTAKE_FILES = ("inquiry_intake.bpmn", "escalation.bpmn", "classify_inquiry.dmn", "inquiry_sla.dmn")
HOSTILE_NAME = '<script>alert(1)</script> O\'Brien "Quotes"'
CUSTOMERS = f"""id,name,email,phone
C-1,Ada Lovelace,ada.lovelace@example.com,+49 30 1234567
C-2,Jiří Dvořák,jiri@example.cz,601 234 567
C-3,"{HOSTILE_NAME.replace('"', '""')}",obrien@example.com,
"""


@dataclass
class World:
    care: CareEngine
    app: Flask
    router: dict  # a hello_care case of C-1 (support's task)
    invoice: dict  # a billing_check case of C-1 (billing's task)

    @cached_property
    def sam(self) -> FlaskClient:  # staff, support
        return signed_in(self.app, "sam")

    @cached_property
    def bella(self) -> FlaskClient:  # staff, billing
        return signed_in(self.app, "bella")

    @cached_property
    def ada(self) -> FlaskClient:  # admin
        return signed_in(self.app, "ada")


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)[1]
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.text
    return client


@pytest.fixture
def world(any_database_url, clock):
    care = make_engine(any_database_url, clock)
    for group in ("support", "billing"):
        care.identity.add_group(group)
    care.identity.add_user("sam", "staff", ["support"], password=PASSWORD)
    care.identity.add_user("bella", "staff", ["billing"], password=PASSWORD)
    care.identity.add_user("ada", "admin", password=PASSWORD)
    care.repository.deploy([source("hello_care.bpmn"), source("billing_check.bpmn")], "test", "test")
    import_csv(care.db, "customers", CUSTOMERS)
    router, _ = care.runtime.start(
        StartRequest("hello_care", {"subject": "Router broken again"}, business_key="ORD-2024-17", customer_id="C-1"),
        "test",
    )
    invoice, _ = care.runtime.start(
        StartRequest("billing_check", {"subject": "Invoice 4711 is wrong"}, customer_id="C-1"), "test"
    )
    yield World(care, create_app(care), router, invoice)
    care.close()


def found(client: FlaskClient, query: str) -> dict[str, list[str]]:
    """The result links of a search, by group: the paths they open."""
    response = client.get("/search", query_string={"q": query})
    assert response.status_code == 200, response.text
    groups = {}
    for group in ("cases", "customers", "tasks"):
        section = re.search(rf'aria-labelledby="{group}-title">(.*?)</section>', response.text, re.S)
        groups[group] = re.findall(r'<li[^>]*>\s*<a href="([^"]+)"', section[1]) if section else []
    return groups


def case(instance: dict) -> str:
    return f"/instances/{instance['id']}"


def task(instance: dict) -> str:
    return f"/tasks/{instance['tasks'][0]['id']}"


def test_finds_cases_customers_and_tasks_by_each_kind_of_term(world):
    router, sam = world.router, world.sam
    assert found(sam, "Lovelace") == {"cases": [case(router)], "customers": ["/customers/C-1"], "tasks": []}
    assert found(sam, router["reference"])["cases"] == [case(router)]
    assert found(sam, "ORD-2024-17")["cases"] == [case(router)]
    assert found(sam, "ord2024")["cases"] == [case(router)]
    assert found(sam, "router broken")["cases"] == [case(router)]
    assert found(sam, "C-1")["customers"] == ["/customers/C-1"]
    assert found(sam, "ada.lovelace@example.com")["customers"] == ["/customers/C-1"]
    assert found(sam, "jiri@example.cz")["customers"] == ["/customers/C-2"]
    assert found(sam, "answer the")["tasks"] == [task(router)]
    page = sam.get("/search", query_string={"q": "Lovelace"}).text
    # names, not ids: the customer's name, the process title, the case reference, the status and stage
    for shown in ("Ada Lovelace", "Hello care", router["reference"], "Router broken again", "Active", "answering"):
        assert shown in page
    tasks = sam.get("/search", query_string={"q": "answer"}).text
    assert "Answer the inquiry" in tasks and router["reference"] in tasks and "Not claimed" in tasks


def test_the_beginning_of_a_name_is_enough_with_or_without_accents(world):
    for typed in ("Lov", "lovel", "ADA LOV"):
        assert found(world.sam, typed)["customers"] == ["/customers/C-1"], typed
    for typed in ("Dvoř", "dvor", "jiri dvorak", "JIŘÍ"):
        assert found(world.sam, typed)["customers"] == ["/customers/C-2"], typed


def test_phone_numbers_match_by_their_digits_however_they_are_written(world):
    for typed in (
        "+49 30 1234567",
        "+49-30-1234567",
        "0049 30 123 45 67",
        "030 1234567",
        "(030) 123-4567",
        "1234567",
        "234567",
    ):
        assert "/customers/C-1" in found(world.sam, typed)["customers"], typed
    for typed in ("+420 601 234 567", "+420601234567", "601-234-567"):
        assert found(world.sam, typed)["customers"] == ["/customers/C-2"], typed
    assert found(world.sam, "999 888 777")["customers"] == []


def test_a_reference_is_found_typed_in_lower_case_without_dashes(world):
    reference = world.router["reference"]  # CC-XXXX-XXXX
    for typed in (
        reference.lower().replace("-", ""),
        reference.replace("-", " "),
        reference.removeprefix("CC-").lower(),
        reference[:7],  # the beginning: CC-XXXX
        reference.replace("0", "O").replace("1", "l"),  # what Crockford's alphabet reads alike
    ):
        assert found(world.sam, typed)["cases"] == [case(world.router)], typed


def test_staff_find_only_their_teams_cases_and_tasks_but_every_customer(world):
    router, invoice, sam, bella = world.router, world.invoice, world.sam, world.bella
    assert found(bella, "Lovelace") == {"cases": [case(invoice)], "customers": ["/customers/C-1"], "tasks": []}
    assert found(bella, router["reference"])["cases"] == []
    assert found(bella, "router")["cases"] == []
    assert found(bella, "answer")["tasks"] == []
    assert found(bella, "check the invoice")["tasks"] == [task(invoice)]
    assert found(sam, "invoice 4711")["cases"] == []
    assert found(sam, invoice["reference"])["cases"] == []
    assert found(sam, "check the invoice")["tasks"] == []
    assert "Invoice 4711" not in sam.get("/search", query_string={"q": "Lovelace"}).text
    # an admin sees all of it
    assert found(world.ada, "Lovelace")["cases"] == [case(invoice), case(router)]
    assert found(world.ada, "invoice")["tasks"] == [task(invoice)]


def test_only_admins_find_a_case_by_its_tracking_code_and_nobody_is_shown_one(world):
    code = world.router["tracking_code"]
    page = world.sam.get("/search", query_string={"q": code}).text
    assert found(world.sam, code)["cases"] == []
    assert found(world.ada, code)["cases"] == [case(world.router)]
    for client in (world.sam, world.ada):
        for query in (code, "Lovelace", world.router["reference"]):
            page = client.get("/search", query_string={"q": query}).text
            results = page.split('<main id="main"', 1)[1].split("</h1>", 1)[1]  # the query itself echoes once
            assert code not in results


def test_hostile_terms_are_escaped_and_text_search_syntax_is_harmless(world):
    page = world.sam.get("/search", query_string={"q": '<script>alert("x")</script>'}).text
    assert "<script>alert" not in page and "&lt;script&gt;alert(" in page
    assert 'value="&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"' in page  # the header box keeps it, escaped
    named = world.sam.get("/search", query_string={"q": "obrien"}).text
    assert str(escape(HOSTILE_NAME)) in named  # &lt;script&gt;... O&#39;Brien &#34;Quotes&#34;
    assert "<script>alert(1)" not in named
    for typed in (
        '"',
        "'",
        "*",
        "router*",
        '"router',
        "NEAR(router broken)",
        "router OR lovelace",
        "router AND NOT",
        "-router",
        "(router",
        "router)",
        "router\x00broken",
        "\x00",
        "router:*",
        "'router':* | 'x'",
        "!router & broken",
        "\\'; DROP TABLE customers; --",
        "^router",
        "{router}",
        "col:router",
        "router" * 200,
        "x " * 500,
        "\u202e\ufeff\u0301",
    ):
        response = world.sam.get("/search", query_string={"q": typed})
        assert response.status_code == 200, typed
    assert found(world.sam, "-router")["cases"] == [case(world.router)]
    assert found(world.sam, '"router')["cases"] == [case(world.router)]
    assert found(world.sam, "router\x00broken")["cases"] == [case(world.router)]
    assert found(world.sam, "NEAR(router broken)")["cases"] == []  # "near" is a word like any other


def test_an_empty_or_too_short_query_shows_a_helpful_page(world):
    for typed in ("", "   ", "\x00"):
        page = world.sam.get("/search", query_string={"q": typed})
        assert page.status_code == 200 and "It finds:" in page.text, repr(typed)
    assert "It finds:" in world.sam.get("/search").text
    for typed in ("a", "-", "é", "*"):
        page = world.sam.get("/search", query_string={"q": typed})
        assert page.status_code == 200 and "too short" in page.text, typed
    empty = world.sam.get("/search", query_string={"q": "zzzzqqq"}).text
    assert "Nothing found" in empty
    german = world.sam.get("/search", query_string={"q": "a"}, headers={"Accept-Language": "de"}).text
    assert "zu kurz" in german


def test_only_staff_and_admins_open_the_search(world):
    world.care.identity.add_user("dana", "designer", password=PASSWORD)
    designer = signed_in(world.app, "dana")
    assert designer.get("/search?q=ada").status_code == 403
    assert 'role="search"' not in designer.get("/").text
    assert 'role="search"' in world.sam.get("/").text
    anonymous = world.app.test_client()
    response = anonymous.get("/search?q=ada")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_each_group_shows_the_first_matches_and_counts_the_rest(world):
    rows = "\n".join(f"M-{n},Mia Miller {n:03d},mia{n}@example.com," for n in range(105))
    import_csv(world.care.db, "customers", "id,name,email,phone\n" + rows + "\n")
    page = world.sam.get("/search", query_string={"q": "miller"}).text
    assert len(found(world.sam, "miller")["customers"]) == 10
    assert "Mia Miller 000" in page and "Mia Miller 010" not in page  # by name
    assert "Further matches: more than 20." in page
    page = world.sam.get("/search", query_string={"q": "miller 01"}).text  # 010 to 019
    assert len(found(world.sam, "miller 01")["customers"]) == 10 and "Further matches" not in page
    page = world.sam.get("/search", query_string={"q": "miller 10"}).text  # 100 to 104, and M-10 by its id
    assert len(found(world.sam, "miller 10")["customers"]) == 6 and "Further matches" not in page
    page = world.sam.get("/search", query_string={"q": "mia1"}).text  # mia1@, mia10@ to mia19@, mia100@ to mia104@
    assert len(found(world.sam, "mia1")["customers"]) == 10 and "Further matches: 6." in page


def test_the_index_follows_the_data_and_equals_one_built_from_scratch(world):
    care = world.care
    care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    contact = {"id": "web:tia@example.org", "name": "Tia Tamm", "email": "tia@example.org"}
    intake = care.intake.submit(
        channel="email",
        customer=contact,
        subject="Scanner offline",
        body="Since Monday.",
        reference=None,
        principal="t",
    )
    assert found(world.ada, "scanner")["cases"] == [f"/instances/{intake.instance_id}"]
    assert found(world.ada, "tia tamm")["cases"] == [f"/instances/{intake.instance_id}"]
    # filed under a customer of the store: found by that customer's name from now on
    care.runtime.link_customer(intake.instance_id, "C-2", "sam")
    assert found(world.ada, "dvorak scanner")["cases"] == [f"/instances/{intake.instance_id}"]
    assert found(world.ada, "tia tamm")["cases"] == []
    # a customer renamed by an import: its cases follow
    import_csv(care.db, "customers", "id,name,email,phone\nC-1,Ada King,ada.king@example.com,+44 20 7946 0000\n")
    assert found(world.ada, "lovelace") == {"cases": [], "customers": [], "tasks": []}
    assert found(world.ada, "ada king")["cases"] == [case(world.invoice), case(world.router)]
    assert found(world.ada, "020 7946 0000")["customers"] == ["/customers/C-1"]
    care.tasks.complete(world.router["tasks"][0]["id"], {"answer": "Restart it", "minutes_spent": 5}, "sam")
    assert found(world.ada, "answer")["tasks"] == []  # open tasks only
    assert "Completed" in world.ada.get("/search", query_string={"q": "router"}).text
    with care.db.read() as session:
        assert search.stored(session) == search.from_scratch(session)
        if care.db.is_sqlite:  # the FTS5 tables agree with the rows they index
            for table in ("search_cases_fts", "search_customers_fts", "human_tasks_fts"):
                session.execute(text(f"INSERT INTO {table}({table}) VALUES ('integrity-check')"))
    # migration 0016 builds the same index from the rows there are
    with care.db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0015")
    upgrade(care.db)
    with care.db.read() as session:
        assert search.stored(session) == search.from_scratch(session)
    assert found(world.ada, "dvorak scanner")["cases"] == [f"/instances/{intake.instance_id}"]
    assert found(world.ada, "check invoice")["tasks"] == [task(world.invoice)]


def test_both_plans_for_many_and_few_matches_find_the_same(world, monkeypatch):
    """PostgreSQL walks the rows newest first when the text index has many matches (engine/search_query.py)."""
    queries = ("Lovelace", "answer", "check invoice", "router", "C-1", "zzzz")
    few = {query: (found(world.ada, query), found(world.sam, query)) for query in queries}
    monkeypatch.setattr(search_query, "PROBE", 1)  # every match set counts as many
    assert {query: (found(world.ada, query), found(world.sam, query)) for query in queries} == few
    assert few["answer"][1]["tasks"] == [task(world.router)] and few["Lovelace"][0]["cases"]


def test_a_caller_filed_by_staff_is_found_by_name_and_phone_at_once(care):
    care.repository.deploy([source(name) for name in INTAKE_FILES], "t", "t")
    result = care.intake.submit(
        channel="phone",
        customer={"name": "Zdenka Novotna", "email": "zdenka@example.cz", "phone": "+420 601 234 567"},
        subject="Scanner offline",
        body="Since this morning.",
        reference=None,
        principal="sam",
        register=True,
    )
    for typed in ("novotna", "601 234 567", "zdenka@example.cz"):
        found = care.search.find(search_query.Terms.parse(typed), None).customers.items
        assert [customer["id"] for customer in found] == [result.customer_id], typed
