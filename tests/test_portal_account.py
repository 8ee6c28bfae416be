"""*My account* in the portal: the signed-in customer's record, contacts, systems, licenses and requests, nobody else's.

Two customers with everything a customer can have; each signs in through a mailed link and sees
only their own. Through the Flask test client on the real database (SQLite or PostgreSQL).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from engine import contacts
from engine.runtime import StartRequest
from engine.tasks import TaskFilter
from process_library.store import Customer, License, System
from tests.conftest import source
from tests.test_portal_session import sign_in_to_portal

ALICE = {
    "name": "Alice Example",
    "email": "alice@example.com",
    "phone": "+1 555 0100",
    "postcode": "10115",
    "system": ("S-A1", "RouterOS", "7.2", "gw.alice.example"),
    "licenses": (("L-A1", "RouterOS", "pro", 200, "active"), ("L-A2", "Firewall", "basic", -3, "active")),
    "subject": "Alice's printer jams",
}
BOB = {
    "name": "Bruno Beispiel",
    "email": "bruno@example.de",
    "phone": "+49 30 1234",
    "postcode": "80331",
    "system": ("S-B1", "MailHub", "3.1", "mx.bruno.example"),
    "licenses": (("L-B1", "MailHub", "enterprise", 30, "active"),),
    "subject": "Bruno's mail bounces",
}


def _add(care, customer_id: str, language: str, data: dict) -> None:
    now = care.clock.now()
    with care.db.write() as session:
        session.add(
            Customer(
                id=customer_id,
                name=data["name"],
                email=data["email"],
                tier="standard",
                language=language,
                postcode=data["postcode"],
                phone=data["phone"],
            )
        )
        session.flush()
        system_id, product, version, hostname = data["system"]
        session.add(System(id=system_id, customer_id=customer_id, product=product, version=version, hostname=hostname))
        for license_id, licensed, level, days, status in data["licenses"]:
            session.add(
                License(
                    id=license_id,
                    customer_id=customer_id,
                    product=licensed,
                    level=level,
                    valid_until=now + timedelta(days=days),
                    status=status,
                )
            )
        contacts.record(
            session,
            customer_id=customer_id,
            instance_id=None,
            channel="phone",
            direction="in",
            subject=data["subject"],
            text="internal wording of the call log",
            recorded_by="sam.staff",
            at=now,
        )


@pytest.fixture
def two_customers(care):
    _add(care, "C-A", "en", ALICE)
    _add(care, "C-B", "de", BOB)
    care.repository.deploy([source("customer_tracking.bpmn"), source("confirm_address.json")], "test", "test")
    requests = {}
    for customer_id, name in (("C-A", "Alice"), ("C-A", "Alice"), ("C-B", "Bruno")):
        view, _ = care.runtime.start(
            StartRequest(
                "customer_tracking",
                {"customer_name": name, "product": f"{name}'s box", "divisor": 1},
                None,
                customer_id,
            ),
            "portal",
        )
        requests.setdefault(customer_id, []).append(view)
    care.runtime.cancel(requests["C-A"][1]["id"], "sam")  # Alice has one open and one closed request
    return requests


def account(client, care, email: str, lang: str = "en") -> str:
    sign_in_to_portal(client, care, email)
    page = client.get(f"/portal/account?lang={lang}")
    assert page.status_code == 200
    return page.text


def section(page: str, heading_id: str) -> str:
    """The HTML of the card whose heading has ``heading_id``."""
    return re.search(rf'aria-labelledby="{heading_id}">(.*?)</section>', page, re.S)[1]


def test_each_customer_sees_their_own_account_and_nothing_of_the_other(app, care, two_customers):
    alice = account(app.test_client(), care, "alice@example.com")
    bob = account(app.test_client(), care, "bruno@example.de")
    for page, mine, theirs, requests, other_requests in (
        (alice, ALICE, BOB, two_customers["C-A"], two_customers["C-B"]),
        (bob, BOB, ALICE, two_customers["C-B"], two_customers["C-A"]),
    ):
        for value in (mine["name"], mine["email"], mine["phone"], mine["postcode"], mine["system"][1], mine["subject"]):
            assert value.replace("'", "&#39;") in page, value
        for value in (theirs["name"], theirs["email"], theirs["phone"], theirs["postcode"], theirs["system"][1]):
            assert value not in page, value
        assert theirs["subject"].replace("'", "&#39;") not in page
        for request in requests:
            assert request["reference"] in page and f"/track/{request['tracking_code']}" in page
        for request in other_requests:
            assert request["reference"] not in page and request["tracking_code"] not in page
        assert "internal wording" not in page and "sam.staff" not in page  # the call log's text and who wrote it


def test_the_account_shows_details_requests_by_state_stages_systems_and_licenses(app, care, two_customers):
    page = account(app.test_client(), care, "alice@example.com")
    profile = section(page, "profile-title")
    assert "<dd>C-A</dd>" in profile and "<dd>+1 555 0100</dd>" in profile and 'lang="en">English</dd>' in profile
    assert "Not chosen" in profile  # preferred channel
    [open_request, closed_request] = two_customers["C-A"][0], two_customers["C-A"][1]
    requests = section(page, "requests-title")
    open_part, closed_part = requests.split("<h3>Closed</h3>")
    assert open_request["reference"] in open_part and closed_request["reference"] in closed_part
    assert "Stage: review" in open_part and "In progress" in open_part
    assert "Repair request: Alice&#39;s box</a>" in open_part  # what it is about: the product the process shows
    assert "Cancelled" in closed_part
    assert "RouterOS</strong> 7.2" in section(page, "systems-title")
    licenses = section(page, "licenses-title")
    expired = re.search(r'<li class="expired">(.*?)</li>', licenses, re.S)[1]
    assert "Firewall" in expired and "Expired" in expired
    assert licenses.count('class="expired"') == 1 and "Active" in licenses  # RouterOS runs on
    assert "Phone · From you: Alice&#39;s printer jams" in section(page, "contacts-title")


def test_stage_labels_and_texts_come_in_the_customers_language(app, care, two_customers):
    page = account(app.test_client(), care, "bruno@example.de", "de")
    requests = section(page, "requests-title")
    assert "<h1>Mein Konto</h1>" in page and ": In Prüfung</span>" in requests  # the model's German label
    assert "In Bearbeitung" in requests and 'lang="de">Deutsch</dd>' in page
    # days and times as German readers write them, not ISO: "Gültig bis: 6. Januar 2027"
    assert re.search(r'Gültig bis: <time datetime="[^"]+">\d{1,2}\. [A-ZÄÖÜ][a-zä]+ \d{4}</time>', page)
    czech = app.test_client()
    sign_in_to_portal(czech, care, "alice@example.com")
    assert "Posuzování" in czech.get("/portal/account?lang=cs").text


def test_a_request_that_moves_on_moves_on_the_account_page(app, care, two_customers):
    client = app.test_client()
    sign_in_to_portal(client, care, "alice@example.com")
    request = two_customers["C-A"][0]
    [task] = care.tasks.list(TaskFilter(instance_id=request["id"]), 10, None).items
    care.tasks.complete(task["id"], {}, "sam")  # triage done: the customer's turn
    open_part = section(client.get("/portal/account").text, "requests-title").split("<h3>Closed</h3>")[0]
    assert "Waiting for you" in open_part and "Stage: your_input" in open_part


def test_without_a_session_the_account_asks_to_sign_in(anonymous, two_customers):
    answer = anonymous.get("/portal/account?lang=de")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/portal?next=/portal/account")
    assert "Alice" not in answer.text and "Bruno" not in answer.text


def test_a_customer_removed_from_the_store_is_signed_out(app, care, two_customers):
    client = app.test_client()
    sign_in_to_portal(client, care, "alice@example.com")
    with care.db.write() as session:
        for model in (License, System):
            for row in session.query(model).filter_by(customer_id="C-A"):
                session.delete(row)
        session.flush()
        session.delete(session.get(Customer, "C-A"))
    assert client.get("/portal/account").status_code == 302
