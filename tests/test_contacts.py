"""Contacts and notes: channel intake and outgoing mail record every contact once, and intake files new customers.

Both databases: the contact is written in the transaction of the write it records, and the customer
list's prefix lookups run on expression indexes that differ between SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from engine.contacts import PROCESS_PREFIX
from engine.models import Contact, Message, Note, ProcessInstance
from engine.pagination import MAX_LIMIT
from process_library import customers, operations
from process_library.registry import OperationContext
from process_library.store import Customer, OutboxMessage
from tests.conftest import make_engine, source

INTAKE_FILES = ("inquiry_intake.bpmn", "escalation.bpmn", "classify_inquiry.dmn", "inquiry_sla.dmn")


@pytest.fixture
def care(any_database_url, clock):
    engine = make_engine(any_database_url, clock)
    engine.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    with engine.db.write() as session:
        session.add(Customer(id="C-1", name="Ada Lovelace", email="ada@example.com", tier="premium", language="de"))
    yield engine
    engine.close()


@pytest.fixture
def api(care):
    from api.app import create_app

    client = create_app(care).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {care.tokens.create('test-admin')[1]}"
    return client


def bearer(care, role: str) -> dict:
    username = f"{role}-user"
    care.identity.add_user(username, role, [])
    return {"Authorization": f"Bearer {care.tokens.create(f'{username}-token', username=username)[1]}"}


def all_contacts(care) -> list[Contact]:
    with care.db.read() as session:
        return list(session.scalars(select(Contact).order_by(Contact.id)))


def count(care, model) -> int:
    with care.db.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def submit(care, **fields):
    arguments = {"channel": "phone", "subject": "Printer", "body": "It jams.", "reference": None, "principal": "sam"}
    return care.intake.submit(**{**arguments, **fields})


# -- channel intake records inbound contacts ---------------------------------------------------


def test_an_inquiry_and_a_reply_are_inbound_contacts_of_their_case(care, clock):
    started = submit(care, customer={"id": "C-1"}, channel="letter", subject="Invoice", body="Charged twice.")
    reply = submit(
        care, customer={"id": "C-1"}, channel="chat", subject="Re", body="Any news?", reference=started.reference
    )
    assert started.started and not reply.started and reply.instance_id == started.instance_id
    first, second = all_contacts(care)
    assert (first.customer_id, first.instance_id, first.channel, first.direction) == (
        "C-1",
        started.instance_id,
        "letter",
        "in",
    )
    assert (first.subject, first.text, first.recorded_by, first.created_at) == (
        "Invoice",
        "Charged twice.",
        "sam",
        clock.now(),
    )
    assert (second.instance_id, second.channel, second.text) == (started.instance_id, "chat", "Any news?")


def test_a_known_customer_named_by_id_alone_is_completed_from_the_store(care):
    started = submit(care, customer={"id": "C-1"})
    assert started.customer_id == "C-1"
    with care.db.read() as session:
        row = session.get(ProcessInstance, started.instance_id)
        assert (row.customer_id, row.contact_email, row.channel) == ("C-1", "ada@example.com", "phone")
        payload = session.scalar(select(Message.payload).where(Message.name == "inquiry_received"))
    assert payload["customer"] == {"id": "C-1", "name": "Ada Lovelace", "email": "ada@example.com"}


def test_a_repeated_message_id_records_nothing_twice(care):
    first = submit(
        care, customer={"name": "Eve Example", "email": "eve@example.com"}, message_id="mail-1", register=True
    )
    again = submit(
        care, customer={"name": "Eve Example", "email": "eve@example.com"}, message_id="mail-1", register=True
    )
    assert again == first
    assert count(care, Contact) == 1 and count(care, Customer) == 2 and count(care, ProcessInstance) == 1
    reply = submit(care, customer={"id": first.customer_id}, reference=first.reference, message_id="mail-2")
    assert submit(care, customer={"id": first.customer_id}, reference=first.reference, message_id="mail-2") == reply
    assert count(care, Contact) == 2


def test_an_unknown_id_alone_is_refused_and_nothing_is_recorded(care, api):
    with pytest.raises(Exception) as refused:
        submit(care, customer={"id": "C-404"}, register=True)
    assert refused.value.status == 422 and "no customer has the id 'C-404'" in refused.value.detail
    body = {"channel": "phone", "customer": {"id": "C-404"}, "subject": "Hi", "body": "Hello"}
    answer = api.post("/api/inquiries", json=body)
    assert answer.status_code == 422 and "name and email" in answer.get_json()["detail"]
    assert count(care, Contact) == 0 and count(care, Message) == 0 and count(care, Customer) == 1


# -- new customers -----------------------------------------------------------------------------


def test_a_caller_the_store_does_not_know_is_filed_as_a_new_customer(care, api):
    body = {
        "channel": "letter",
        "customer": {"name": "Erik Lund", "email": "erik@lund.example", "phone": "+46 8 123 456", "language": "cs"},
        "subject": "New printer",
        "body": "Which model fits?",
    }
    answer = api.post("/api/inquiries", json=body)
    assert answer.status_code == 201, answer.get_json()
    filed = answer.get_json()["customer_id"]
    assert filed.startswith("C-") and len(filed) == 10
    with care.db.read() as session:
        customer = session.get(Customer, filed)
        assert (customer.name, customer.email, customer.phone, customer.tier, customer.language) == (
            "Erik Lund",
            "erik@lund.example",
            "+46 8 123 456",
            "standard",
            "cs",
        )
        row = session.get(ProcessInstance, answer.get_json()["instance_id"])
        assert (row.customer_id, row.channel) == (filed, "letter")
    # the letter came in; the confirmation of the new case went out by mail to the address given
    assert [(c.customer_id, c.channel, c.direction) for c in all_contacts(care)] == [
        (filed, "letter", "in"),
        (filed, "email", "out"),
    ]
    by_id = api.post("/api/inquiries", json={**body, "customer": {"id": filed}, "subject": "Also"})
    assert by_id.status_code == 201 and by_id.get_json()["customer_id"] == filed


def test_a_channel_id_the_store_does_not_know_is_filed_under_that_id_language_en(care, api):
    customer = {"id": "CRM-77", "name": "Nina", "email": "nina@example.com"}
    answer = api.post("/api/inquiries", json={"channel": "email", "customer": customer, "subject": "s", "body": "b"})
    assert answer.status_code == 201 and answer.get_json()["customer_id"] == "CRM-77"
    with care.db.read() as session:
        assert (session.get(Customer, "CRM-77").name, session.get(Customer, "CRM-77").language) == ("Nina", "en")


def test_unverified_contacts_never_become_customers_of_the_store(care, api):
    """web:<e-mail> is the portal's unverified contact: taken as given, never filed (docs/access.md)."""
    customer = {"id": "web:ada@example.com", "name": "Ada?", "email": "ada@example.com"}
    answer = api.post("/api/inquiries", json={"channel": "web", "customer": customer, "subject": "s", "body": "b"})
    assert answer.status_code == 201 and answer.get_json()["customer_id"] == "web:ada@example.com"
    submit(care, customer={"id": "PORTAL-1", "name": "Mallory", "email": "m@example.com"}, channel="web")
    assert count(care, Customer) == 1  # without register (the portal, scenarios), nobody is filed
    with pytest.raises(Exception) as refused:
        submit(care, customer={"name": "Mallory", "email": "m@example.com"}, channel="web")
    assert refused.value.status == 400 and "does not file new customers" in refused.value.detail


def test_the_portal_files_no_customer(care):
    from api.app import create_app

    portal = create_app(care).test_client()
    form = portal.get("/portal/inquiry").get_data(as_text=True)
    token = form.split('name="csrf_token" value="')[1].split('"')[0]
    fields = {
        "name": "Ada",
        "email": "ada@example.com",
        "product": "carestation",
        "subject": "Hello",
        "description": "Me?",
    }
    assert portal.post("/portal/inquiry", data={**fields, "csrf_token": token}).status_code == 302
    assert count(care, Customer) == 1
    (contact,) = all_contacts(care)
    assert (contact.customer_id, contact.channel, contact.recorded_by) == ("web:ada@example.com", "web", "portal")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"name": "X", "email": "no-address"}, "customer.email must be an e-mail address"),
        ({"name": "X", "email": "x@example.com", "language": "Klingon"}, "language code"),
        ({"id": "C" * 51, "name": "X", "email": "x@example.com"}, None),  # too long for the store: taken as given
    ],
)
def test_new_customers_fields_are_checked(care, fields, problem):
    if problem is None:
        assert submit(care, customer=fields, register=True).customer_id == "C" * 51
        assert count(care, Customer) == 1
        return
    with pytest.raises(Exception) as refused:
        submit(care, customer=fields, register=True)
    assert problem in refused.value.detail
    assert count(care, Customer) == 1 and count(care, Contact) == 0


# -- outgoing mail -----------------------------------------------------------------------------


def test_a_customer_mail_is_an_outbound_contact_written_once_with_its_outbox_row(care, clock):
    context = OperationContext(
        "call-1", 7, "inquiry_intake", "send", "TRACK", "CC-0101-0112", care.db, care.clock, care.settings
    )
    arguments = {"customer_id": "C-1", "subject": "Your answer {{ reference }}", "body": "Hello {{ customer.name }}"}
    first = operations.notify_customer(context, **arguments)
    assert operations.notify_customer(context, **arguments) == first
    (contact,) = all_contacts(care)
    assert (contact.customer_id, contact.instance_id, contact.channel, contact.direction) == ("C-1", 7, "email", "out")
    assert (contact.subject, contact.text) == ("Your answer CC-0101-0112", "Hello Ada Lovelace")
    assert contact.recorded_by == PROCESS_PREFIX + "inquiry_intake" and contact.created_at == clock.now()
    assert count(care, OutboxMessage) == 1


# -- the API -----------------------------------------------------------------------------------


def test_contacts_and_notes_over_the_api(care, api):
    for number in range(3):
        submit(care, customer={"id": "C-1"}, subject=f"Call {number}")
    page = api.get("/api/customers/C-1/contacts?limit=2").get_json()
    assert [c["subject"] for c in page["items"]] == ["Call 2", "Call 1"]
    assert page["items"][0]["reference"].startswith("CC-") and page["items"][0]["title"]
    rest = api.get(page["next"]).get_json()
    assert [c["subject"] for c in rest["items"]] == ["Call 0"] and rest["next"] is None
    added = api.post("/api/customers/C-1/notes", json={"text": "  Prefers calls after two.  "})
    assert added.status_code == 201 and added.get_json()["text"] == "Prefers calls after two."
    assert added.get_json()["author"] == "token:test-admin"
    assert [n["text"] for n in api.get("/api/customers/C-1/notes").get_json()["items"]] == ["Prefers calls after two."]
    assert api.post("/api/customers/C-1/notes", json={"text": " "}).status_code == 400
    assert api.post("/api/customers/C-404/notes", json={"text": "x"}).status_code == 404
    assert api.get("/api/customers/C-404/contacts").status_code == 404
    assert count(care, Note) == 1


def test_staff_read_contacts_and_write_notes_integrations_do_not(care, api):
    staff, integration = bearer(care, "staff"), bearer(care, "integration")
    assert api.get("/api/customers/C-1/contacts", headers=staff).status_code == 200
    assert api.post("/api/customers/C-1/notes", json={"text": "hi"}, headers=staff).status_code == 201
    assert api.get("/api/customers/C-1/contacts", headers=integration).status_code == 403
    assert api.post("/api/customers/C-1/notes", json={"text": "hi"}, headers=integration).status_code == 403
    customer = {"name": "Zoe", "email": "zoe@example.com"}
    body = {"channel": "email", "customer": customer, "subject": "s", "body": "b", "message_id": "<1@mail>"}
    assert api.post("/api/inquiries", json=body, headers=integration).status_code == 201
    again = api.post("/api/inquiries", json=body, headers=integration)
    assert again.status_code == 201 and count(care, Customer) == 2
    assert [c.direction for c in all_contacts(care)] == ["in", "out"]  # the inquiry and its confirmation, once
    assert again.get_json()["tracking_code"]  # integration accounts read it; staff get null
    staff_answer = api.post("/api/inquiries", json={**body, "message_id": "<2@mail>"}, headers=staff)
    assert staff_answer.get_json()["tracking_code"] is None


# -- the customer list's prefix lookups --------------------------------------------------------


def test_prefix_lookups_use_the_indexes(care):
    with care.db.write() as session:
        for number in range(40):
            session.add(
                Customer(
                    id=f"X-{number}",
                    name=f"Name {number}",
                    email=f"n{number}@x.example",
                    tier="standard",
                    language="en",
                )
            )
    prefix = "Ada"
    with care.db.read() as session:
        found = customers.list_customers(session, prefix, MAX_LIMIT, None)
        assert [c["id"] for c in found.items] == ["C-1"]
        statement = _statement(session, prefix)
        if session.get_bind().dialect.name == "sqlite":
            plan = " ".join(str(row) for row in session.execute(text(f"EXPLAIN QUERY PLAN {statement}")))
            for index in ("ix_customers_name_key", "ix_customers_email_key", "ix_customers_id_key"):
                assert index in plan, plan
        else:
            session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(row[0] for row in session.execute(text(f"EXPLAIN {statement}")))
            for index in ("ix_customers_name_key", "ix_customers_email_key", "ix_customers_id_key"):
                assert index in plan, plan
            assert "Seq Scan" not in plan


def _statement(session, prefix: str) -> str:
    query = select(Customer.id).where(customers.beginning_with(prefix))
    return str(query.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
