"""/track: a case reference with the e-mail address or postcode on file opens the status; every miss looks the same."""

from __future__ import annotations

import re
import time

import pytest

from api.uniform_time import LOOKUP_FLOOR_SECONDS
from engine import case_reference
from process_library.store import Customer
from tests.conftest import source
from tests.test_case_reference_api import typed_sloppily
from tests.test_messages import INTAKE_FILES
from tests.test_status import SENSITIVE


@pytest.fixture
def case(care, client):
    """A repair request of store customer C-1 (e-mail Alice@Example.com, postcode SW1A 1AA)."""
    care.repository.deploy([source("customer_tracking.bpmn"), source("confirm_address.json")], "test", "test")
    with care.db.write() as session:
        session.add(
            Customer(
                id="C-1", name="Alice", email="Alice@Example.com", tier="standard", language="en", postcode="SW1A 1AA"
            )
        )
    body = {"customer_id": "C-1", "variables": dict(SENSITIVE, divisor=4)}
    return client.post("/api/process-definitions/customer_tracking/instances", json=body).json


def csrf(client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/track").text)[1]


def look_up(client, reference: str, contact: str, token: str | None = None, lang: str = "en"):
    form = {"reference": reference, "contact": contact, "csrf_token": token or csrf(client)}
    return client.post(f"/track?lang={lang}", data=form)


def test_the_form_asks_for_reference_and_email_or_postcode_in_three_languages(anonymous):
    english = anonymous.get("/track").text
    assert 'method="post"' in english and 'name="reference"' in english and 'name="contact"' in english
    assert "Case reference" in english and "E-mail address or postcode" in english and "<script" not in english
    assert "Fallnummer" in anonymous.get("/track?lang=de").text
    assert "Číslo případu" in anonymous.get("/track?lang=cs").text


@pytest.mark.parametrize("contact", ["alice@example.com", "  ALICE@example.COM ", "SW1A 1AA", "sw1a1aa", "sw1a-1aa"])
def test_the_reference_with_the_email_or_postcode_on_file_opens_the_status_page(anonymous, case, contact):
    answer = look_up(anonymous, typed_sloppily(case["reference"]), contact)
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/track/{case['tracking_code']}?lang=en"
    page = anonymous.get(answer.headers["Location"]).text
    assert "Repair request" in page and f'<strong id="reference">{case["reference"]}</strong>' in page


def test_every_miss_gets_the_same_answer_after_the_same_padded_time(anonymous, case):
    reference = case["reference"]
    unknown = next(r for r in iter(case_reference.new, None) if r != reference)
    token = csrf(anonymous)
    misses = {
        "unknown reference": (unknown, "alice@example.com"),
        "wrong e-mail": (reference, "bob@example.com"),
        "wrong postcode": (reference, "SW1A 2AA"),
        "malformed reference": ("CC-7K4M", "alice@example.com"),
        "wrong check character": (reference[:-1] + ("0" if reference[-1] != "0" else "1"), "alice@example.com"),
        "nothing typed": ("", ""),
    }
    answers = {}
    for name, (typed, contact) in misses.items():
        started = time.monotonic()
        answer = look_up(anonymous, typed, contact, token)
        assert time.monotonic() - started >= LOOKUP_FLOOR_SECONDS, name
        answers[name] = (answer.status_code, answer.data)
    assert len(set(answers.values())) == 1, answers.keys()
    status, body = answers["wrong e-mail"]
    assert status == 404 and b"We found no request for this case reference" in body
    assert case["tracking_code"].encode() not in body and reference.encode() not in body
    german = look_up(anonymous, reference, "bob@example.com", token, lang="de")
    assert german.status_code == 404 and "Zu dieser Fallnummer" in german.text


def test_the_reference_alone_opens_nothing(anonymous, case):
    reference = case["reference"]
    assert anonymous.get(f"/track/{reference}").status_code == 404
    assert anonymous.get(f"/api/status/{reference}").status_code == 404
    assert anonymous.get(f"/track?reference={reference}").status_code == 200  # just the empty form
    assert look_up(anonymous, reference, "").status_code == 404


def test_the_form_needs_its_csrf_token(anonymous, case):
    answer = anonymous.post("/track", data={"reference": case["reference"], "contact": "alice@example.com"})
    assert answer.status_code == 400


def test_customers_the_store_does_not_know_use_the_address_they_wrote_from(care, client, anonymous):
    care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    for customer_id in ("web:nina@example.com", "NEW-7"):
        customer = {"id": customer_id, "name": "Nina", "email": "Nina@Example.com"}
        body = {"channel": "web", "customer": customer, "subject": "Offer?", "body": "Do you sell care stations?"}
        started = client.post("/api/inquiries", json=body).json
        answer = look_up(anonymous, started["reference"], "nina@example.com")
        assert answer.status_code == 303 and started["tracking_code"] in answer.headers["Location"]
        assert look_up(anonymous, started["reference"], "SW1A 1AA").status_code == 404  # no postcode on file


def test_lookups_are_rate_limited_for_every_method(app, anonymous, case):
    app.config["PUBLIC_RATE_LIMIT_PER_MINUTE"] = 3
    token = csrf(anonymous)  # GET /track: one of the three of track.index
    codes = [look_up(anonymous, case["reference"], "bob@example.com", token).status_code for _ in range(4)]
    assert codes == [404, 404, 404, 429]
    page = f"/track/{case['tracking_code']}"
    assert [anonymous.head(page).status_code for _ in range(4)] == [200, 200, 200, 429]
    status = f"/api/status/{case['tracking_code']}"
    assert [anonymous.head(status).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_a_customer_sent_too_fast_gets_a_page_in_their_language_and_the_api_problem_json(app, anonymous, case):
    app.config["PUBLIC_RATE_LIMIT_PER_MINUTE"] = 1
    page = f"/track/{case['tracking_code']}?lang=de"
    assert anonymous.get(page).status_code == 200
    limited = anonymous.get(page)
    assert (limited.status_code, limited.mimetype) == (429, "text/html")
    assert int(limited.headers["Retry-After"]) >= 1
    assert "Bitte warten Sie eine Minute" in limited.text and "problems/rate-limited" not in limited.text
    status = f"/api/status/{case['tracking_code']}"
    assert anonymous.get(status).status_code == 200
    machine = anonymous.get(status)
    assert (machine.status_code, machine.mimetype) == (429, "application/problem+json")
