"""The staff customer pages through the Flask test client, on both databases: find, read, log a contact, add a note."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from api.app import create_app
from engine import contacts
from engine.models import Contact, Note, ProcessInstance
from process_library.store import Customer, License, System
from tests.conftest import make_engine, source
from tests.test_pages import sign_in

INTAKE_FILES = ("inquiry_intake.bpmn", "escalation.bpmn", "classify_inquiry.dmn", "inquiry_sla.dmn")
PASSWORD = "correct horse battery"


@pytest.fixture
def care(any_database_url, clock):
    engine = make_engine(any_database_url, clock)
    engine.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    for group in ("support", "billing", "technical", "sales"):
        engine.identity.add_group(group)
    engine.identity.add_user("sam", "staff", ["support"], password=PASSWORD)
    engine.identity.add_user("dana", "designer", password=PASSWORD)
    now = clock.now()
    with engine.db.write() as session:
        session.add_all(
            [
                Customer(
                    id="C-1",
                    name="Ada Lovelace",
                    email="ada@example.com",
                    tier="premium",
                    language="de",
                    phone="+44 20 7946 0018",
                    postcode="N1",
                ),
                Customer(id="C-2", name="bert brecht", email="bb@theater.example", tier="standard", language="en"),
                Customer(id="K-7", name="Cafe Lumiere", email="ADA.fan@cafe.example", tier="standard", language="fr"),
            ]
        )
        session.flush()
        session.add_all(
            [
                System(id="S-1", customer_id="C-1", product="carestation", version="4.1", hostname="cs1.ada.example"),
                License(
                    id="L-1",
                    customer_id="C-1",
                    product="carestation",
                    level="pro",
                    valid_until=now + timedelta(days=90),
                    status="active",
                ),
                License(
                    id="L-2",
                    customer_id="C-1",
                    product="till",
                    level="basic",
                    valid_until=now - timedelta(days=3),
                    status="expired",
                ),
            ]
        )
    yield engine
    engine.close()


@pytest.fixture
def site(care):
    return create_app(care).test_client()


def inquiry(care, subject: str, customer: str = "C-1", channel: str = "email"):
    """An inquiry by a channel, run until its answer task is offered to the team the decision chose."""
    result = care.intake.submit(
        channel=channel,
        customer={"id": customer},
        subject=subject,
        body=f"About: {subject}",
        reference=None,
        principal="mailer",
    )
    care.jobs.run_due("test")
    return result


def page(site, path: str) -> str:
    response = site.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def names_in(html: str) -> list[str]:
    return re.findall(r'<td data-label="Name"><a href="/customers/[^"]+">([^<]+)</a>', html)


# -- the list ----------------------------------------------------------------------------------


def test_the_list_is_sorted_by_name_and_filtered_by_prefix_of_name_email_or_number(care, site):
    sign_in(site, "sam")
    assert names_in(page(site, "/customers")) == ["Ada Lovelace", "bert brecht", "Cafe Lumiere"]
    assert names_in(page(site, "/customers?q=ADA")) == ["Ada Lovelace", "Cafe Lumiere"]  # name, e-mail
    assert names_in(page(site, "/customers?q=bb%40")) == ["bert brecht"]
    assert names_in(page(site, "/customers?q=k-")) == ["Cafe Lumiere"]  # customer number, any case
    empty = page(site, "/customers?q=lovelace")  # a word inside the name: not a beginning
    assert names_in(empty) == [] and "Log a contact for a new caller" in empty
    assert 'href="/customers/new?q=lovelace"' in empty


def test_the_list_pages_through_many_customers(care, site):
    with care.db.write() as session:
        for number in range(30):
            session.add(
                Customer(
                    id=f"M-{number:02}", name=f"Miller {number:02}", email="m@x.example", tier="standard", language="en"
                )
            )
    sign_in(site, "sam")
    first = page(site, "/customers?q=mil")
    assert names_in(first) == [f"Miller {n:02}" for n in range(25)]
    next_url = re.search(r'href="([^"]+)">Next page', first).group(1).replace("&amp;", "&")
    assert names_in(page(site, next_url)) == [f"Miller {n:02}" for n in range(25, 30)]
    assert names_in(page(site, "/customers?after=" + "x" * 60)) == ["Ada Lovelace", "bert brecht", "Cafe Lumiere"] + [
        f"Miller {n:02}" for n in range(22)
    ]


# -- the customer page -------------------------------------------------------------------------


def test_the_customer_page_shows_profile_systems_licenses_requests_and_contacts(care, site, clock):
    mine = inquiry(care, "Printer jams")  # support: sam's team
    theirs = inquiry(care, "Invoice wrong, charged twice")  # billing: not shown to sam
    sign_in(site, "sam")
    html = page(site, "/customers/C-1")
    assert "Ada Lovelace" in html and "+44 20 7946 0018" in html and "Deutsch" in html and "Premium" in html
    assert "cs1.ada.example" in html and "carestation" in html
    assert re.search(r'<tr class="expired">.*?till.*?expired</strong>', html, re.S)  # the lapsed license is marked
    requests = html.split('id="requests-title"')[1].split("</section>")[0]
    assert mine.reference in requests and theirs.reference not in requests  # contacts name it: not a secret
    assert f'href="/instances/{mine.instance_id}"' in html and "Answer the inquiry" in html and "In review" in html
    assert "waiting for Team support" in html and 'id="hidden-requests"' in html and "not shown here: 1." in html
    contacts = re.findall(r'<li class="contact (in|out)">(.*?)</li>', html, re.S)
    assert [c[0] for c in contacts] == ["in", "in"]
    assert "Invoice wrong" in contacts[0][1] and "Printer jams" in contacts[1][1]  # newest first
    assert (
        "E-mail" in contacts[1][1] and "from the customer" in contacts[1][1] and "recorded by mailer" in contacts[1][1]
    )
    assert "UTC" in contacts[1][1]  # a local time, with its zone
    assert mine.tracking_code not in html and theirs.tracking_code not in html


def test_an_admin_sees_every_request_and_an_unknown_customer_is_a_404_page(care, site):
    inquiry(care, "Invoice wrong, charged twice")
    care.identity.add_user("ada", "admin", password=PASSWORD)
    sign_in(site, "ada")
    html = page(site, "/customers/C-1")
    assert "Answer the inquiry" in html and 'id="hidden-requests"' not in html
    missing = site.get("/customers/C-404")
    assert missing.status_code == 404 and "Page not found" in missing.get_data(as_text=True)


def test_designers_may_not_open_customer_pages(care, site):
    sign_in(site, "dana")
    assert site.get("/customers").status_code == 403
    assert site.get("/customers/C-1").status_code == 403


# -- logging a contact -------------------------------------------------------------------------


def test_logging_a_call_starts_an_inquiry_and_shows_the_reference_to_read_out(care, site):
    token = sign_in(site, "sam")
    form = page(site, "/customers/C-1")
    message_id = re.search(r'name="message_id" value="([^"]+)"', form).group(1)
    fields = {"csrf_token": token, "message_id": message_id, "channel": "letter", "request": "new"}
    fields |= {"subject": "Printer jams", "text": "Paper jams\nin tray 2."}
    answer = site.post("/customers/C-1/contacts", data=fields)
    assert answer.status_code == 302
    again = site.post("/customers/C-1/contacts", data=fields)  # a double click: the same contact, once
    assert again.headers["Location"] == answer.headers["Location"]
    with care.db.read() as session:
        contact, confirmation = session.scalars(select(Contact).order_by(Contact.id))
        case = session.get(ProcessInstance, contact.instance_id)
    # the letter, once; and the confirmation of the new case by mail, since Ada has an address
    assert (confirmation.channel, confirmation.direction, confirmation.instance_id) == ("email", "out", case.id)
    assert (contact.channel, contact.direction, contact.recorded_by, contact.text) == (
        "letter",
        "in",
        "sam",
        "Paper jams\nin tray 2.",
    )
    assert (case.customer_id, case.channel, case.contact_email) == ("C-1", "letter", "ada@example.com")
    html = page(site, answer.headers["Location"])
    shown = re.search(r'<p class="reference" id="logged-reference">([^<]+)</p>', html).group(1)
    assert shown == case.reference and "New inquiry started" in html
    assert "Paper jams\nin tray 2." in html and "Letter" in html


def test_logging_a_call_can_continue_an_open_request_of_the_customer(care, site):
    started = inquiry(care, "Printer jams")
    other = inquiry(care, "Printer broken", customer="C-2")
    token = sign_in(site, "sam")
    form = page(site, "/customers/C-1")
    assert f'<option value="{started.instance_id}"' in form and f'value="{other.instance_id}"' not in form
    fields = {"csrf_token": token, "channel": "phone", "subject": "Still jams", "text": "Tried again."}
    answer = site.post("/customers/C-1/contacts", data={**fields, "request": str(started.instance_id)})
    assert answer.status_code == 302
    html = page(site, answer.headers["Location"])
    assert "Added to the request" in html and started.reference in html
    with care.db.read() as session:
        newest = session.scalar(select(Contact).order_by(Contact.id.desc()).limit(1))
        assert (newest.instance_id, newest.channel, newest.subject) == (started.instance_id, "phone", "Still jams")
    foreign = site.post("/customers/C-1/contacts", data={**fields, "request": str(other.instance_id)})
    assert foreign.status_code == 422 and "Choose one of the options." in foreign.get_data(as_text=True)


def test_a_contact_with_missing_fields_is_not_logged_and_keeps_what_was_typed(care, site):
    token = sign_in(site, "sam")
    answer = site.post(
        "/customers/C-1/contacts",
        data={
            "csrf_token": token,
            "channel": "fax",
            "subject": "",
            "text": "Called about the router",
            "request": "new",
        },
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "nothing was logged" in html
    assert 'id="subject-error"' in html and 'id="channel-error"' in html and "Called about the router" in html
    with care.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 0


def test_logging_needs_the_form_token(care, site):
    sign_in(site, "sam")
    answer = site.post("/customers/C-1/contacts", data={"channel": "phone", "subject": "s", "text": "t"})
    assert answer.status_code == 400


# -- a new caller ------------------------------------------------------------------------------


def test_a_new_caller_is_filed_and_their_call_logged(care, site):
    token = sign_in(site, "sam")
    assert 'value="erik@lund.example"' in page(site, "/customers/new?q=erik@lund.example")
    fields = {"csrf_token": token, "name": "Erik Lund", "email": "erik@lund.example", "phone": "+46 8 123 456"}
    fields |= {"language": "cs", "channel": "visit", "subject": "New printer", "text": "Which one fits?"}
    answer = site.post("/customers/new", data=fields)
    assert answer.status_code == 302
    customer_id = re.search(r"/customers/(C-[0-9A-Z]{8})\?", answer.headers["Location"]).group(1)
    with care.db.read() as session:
        filed = session.get(Customer, customer_id)
        assert (filed.name, filed.phone, filed.language, filed.tier) == ("Erik Lund", "+46 8 123 456", "cs", "standard")
    html = page(site, answer.headers["Location"])
    assert "Erik Lund" in html and "New inquiry started" in html and "Which one fits?" in html
    assert names_in(page(site, "/customers?q=erik")) == ["Erik Lund"]


def test_a_new_caller_with_a_known_address_is_asked_first(care, site):
    token = sign_in(site, "sam")
    fields = {"csrf_token": token, "name": "A. Lovelace", "email": "ADA@example.com", "phone": "", "language": "en"}
    fields |= {"channel": "phone", "subject": "Hello", "text": "It is me."}
    asked = site.post("/customers/new", data=fields)
    html = asked.get_data(as_text=True)
    assert asked.status_code == 422 and 'href="/customers/C-1"' in html and "File a new customer anyway" in html
    assert 'value="A. Lovelace"' in html
    with care.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 3
    filed = site.post("/customers/new", data={**fields, "file_anyway": "1"})
    assert filed.status_code == 302


def test_a_new_caller_needs_name_and_a_valid_address(care, site):
    token = sign_in(site, "sam")
    fields = {"csrf_token": token, "name": "", "email": "not-an-address", "phone": "", "language": "en"}
    answer = site.post("/customers/new", data={**fields, "channel": "phone", "subject": "s", "text": "t"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and 'id="name-error"' in html and "Please enter a valid e-mail address." in html


# -- notes -------------------------------------------------------------------------------------


def test_staff_add_notes_that_show_with_author_and_time(care, site):
    token = sign_in(site, "sam")
    answer = site.post("/customers/C-1/notes", data={"csrf_token": token, "text": "Prefers calls after 2 pm."})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/customers/C-1#notes")
    html = page(site, "/customers/C-1")
    assert "Note added." in html and "Prefers calls after 2 pm." in html and re.search(r"sam, .* UTC", html)
    empty = site.post("/customers/C-1/notes", data={"csrf_token": token, "text": "  "})
    assert empty.status_code == 422 and 'id="note-error"' in empty.get_data(as_text=True)
    with care.db.read() as session:
        assert [n.author for n in session.scalars(select(Note))] == ["sam"]


def test_the_pages_speak_the_viewers_language(care, site):
    inquiry(care, "Printer jams")
    sign_in(site, "sam")
    html = site.get("/customers/C-1", headers={"Accept-Language": "cs"}).get_data(as_text=True)
    assert "Zaznamenat kontakt" in html
    html = site.get("/customers", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Kontakt für einen neuen Anrufer erfassen" in html


def test_a_mailed_link_whose_code_the_log_hides_reads_in_the_staff_members_language(care, site, clock):
    with care.db.write() as session:
        contacts.record(
            session,
            customer_id="C-1",
            instance_id=None,
            channel="email",
            direction="out",
            subject="Your request",
            text=f"See where it stands: http://127.0.0.1:8000/track/{contacts.HIDDEN_SECRET}",
            recorded_by="mailer",
            at=clock.now(),
        )
    sign_in(site, "sam")
    german = site.get("/customers/C-1", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "/track/[Tracking-Code]" in german and "[tracking code]" not in german
    assert "/track/[tracking code]" in page(site, "/customers/C-1")  # the record itself stays as written
