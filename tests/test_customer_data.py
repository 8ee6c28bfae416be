"""A customer's data on request (#22 item 6): exported as JSON, erased, and the erasure recorded.

Ada (C-1) writes in by mail, calls, chats, has a note, a portal link, account changes and a finished case;
Grace (C-2) has a case too. After Ada's erasure, no table of the database holds her name, address
or number any more (every row of every table is read back as text), Grace's data is as it was, and
``data_removals`` says who erased whom and when, without any of it. (The API's stored first answer to
a request with an ``Idempotency-Key`` naming her goes too.)
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from api.app import create_app
from api.commands import main
from engine import portal_access
from engine.cti import CtiEvent
from engine.customer_data import ERASED_NAME, erased_email
from engine.errors import NotFound
from engine.models import Base, CtiIntegration, DataRemoval, HumanTask, ProcessInstance
from process_library.csv_import import import_csv
from process_library.store import Customer, CustomerChange
from tests.conftest import make_engine, source

INTAKE_FILES = ("inquiry_intake.bpmn", "escalation.bpmn", "classify_inquiry.dmn", "inquiry_sla.dmn")
CUSTOMERS = """id,name,email,phone
C-1,Ada Lovelace,ada.lovelace@example.com,+49 30 1234567
C-2,Grace Hopper,grace.hopper@example.com,+1 202 555 0147
"""
ADA = ("Lovelace", "ada.lovelace@example.com", "1234567", "Analytical Engine")  # never left after her erasure
GRACE = ("Hopper", "grace.hopper@example.com", "5550147", "COBOL")


class Office:
    def __init__(self, care) -> None:
        self.care = care
        care.repository.deploy([source(name) for name in (*INTAKE_FILES, "hello_care.bpmn")], "test", "test")
        import_csv(care.db, "customers", CUSTOMERS)
        self.mail = self.write_in("C-1", "Ada Lovelace", "ada.lovelace@example.com", "Analytical Engine stalls")
        self.other = self.write_in("C-2", "Grace Hopper", "grace.hopper@example.com", "COBOL compiler question")
        client = create_app(care).test_client()  # through the API, with a key: the first answer is stored for a day
        self.finished = client.post(
            "/api/process-definitions/hello_care/instances",
            json={"variables": {"subject": "Analytical Engine manual"}, "customer_id": "C-1"},
            headers={"Authorization": f"Bearer {care.tokens.create('api')[1]}", "Idempotency-Key": "manual-1"},
        ).get_json()
        with care.db.read() as session:
            task = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == self.finished["id"]))
        care.tasks.complete(task, {"answer": "Page 3, Ada Lovelace.", "minutes_spent": 3}, "sam")
        care.notes.add(self.finished["id"], "Ada Lovelace prefers mornings.", "sam")
        self.call("+49 30 1234567")
        self.chat()
        with care.db.write() as session:
            portal_access.issue_link(session, "C-1", care.clock.now())
            session.add(
                CustomerChange(
                    idempotency_key="change-1",
                    customer_id="C-1",
                    instance_id=self.finished["id"],
                    field="address",
                    before="1 Analytical Engine Way",
                    after="2 Analytical Engine Way",
                    status="applied",
                    requested_by="web:ada.lovelace@example.com",
                    requested_at=care.clock.now(),
                )
            )

    def write_in(self, customer_id: str, name: str, email: str, subject: str) -> dict:
        customer = {"id": customer_id, "name": name, "email": email}
        result = self.care.intake.submit(
            channel="email",
            customer=customer,
            subject=subject,
            body=f"{subject}. {name}",
            reference=None,
            principal="t",
        )
        self.care.jobs.run_due("test")  # what the intake process does on its own
        return self.care.runtime.get(result.instance_id)

    def call(self, number: str) -> None:
        view, _ = self.care.cti.create("office PBX", "test")
        with self.care.db.read() as session:
            integration = session.get(CtiIntegration, view["id"])
        for event in ("newCall", "hangup"):
            self.care.calls.receive(
                integration,
                CtiEvent(event, number, "+49 30 999", "in", "call-1", fields={"from": number, "event": event}),
            )

    def chat(self) -> None:
        """Ada chats from her mail case's tracking page; closed, the chat is filed into that case."""
        self.care.identity.add_group("support")
        self.care.identity.add_user("sam", "staff", ["support"], password=None)
        with self.care.db.read() as session:
            code = session.get(ProcessInstance, self.mail["id"]).tracking_code
        started = self.care.chats.start(
            topic="support", name="Ada Lovelace", email="ada.lovelace@example.com", language="en", tracking_code=code
        )
        self.care.chats.post(started.chat["id"], "customer", "Does the Analytical Engine need oil?")
        self.care.chats.close(started.chat["id"], "customer")

    def end_the_mail_case(self) -> None:
        self.care.runtime.cancel(self.mail["id"], "sam")


@pytest.fixture
def office(database_url, clock):
    care = make_engine(database_url, clock)
    yield Office(care)
    care.close()


def everything(care) -> str:
    """Every row of every table, as text."""
    with care.db.read() as session:
        return "\n".join(
            str(tuple(row)) for table in Base.metadata.sorted_tables for row in session.execute(table.select())
        )


def test_the_export_holds_the_customers_record_cases_contacts_and_mail(office):
    data = office.care.customer_data.export("C-1")
    assert data["format"] == "carecenter-customer-export/1" and data["customer"]["name"] == "Ada Lovelace"
    assert [case["id"] for case in data["cases"]] == [office.mail["id"], office.finished["id"]]
    finished = data["cases"][1]
    assert finished["variables"]["subject"] == "Analytical Engine manual" and "tracking_code" not in finished
    assert finished["customer_status"]["status"] == "completed" and "state" not in finished
    assert any(contact["subject"] == "Analytical Engine stalls" for contact in data["contacts"])
    assert [note["text"] for note in data["notes"]] == ["Ada Lovelace prefers mornings."]
    assert [call["number"] for call in data["calls"]] == ["+49301234567"]
    [chat] = data["chats"]
    assert "token_hash" not in chat and any("oil" in line["text"] for line in chat["lines"])
    assert data["account_changes"][0]["after"] == "2 Analytical Engine Way"
    assert not any("Hopper" in json.dumps(value) for value in data.values())  # only hers
    json.dumps(data)  # as it is
    with pytest.raises(NotFound):
        office.care.customer_data.export("C-404")


def test_erasure_leaves_nothing_of_the_customer_and_records_itself(office):
    care = office.care
    office.end_the_mail_case()
    grace = office.care.customer_data.export("C-2")
    before = everything(care)

    planned = care.customer_data.erase("C-1", "ops", dry_run=True)
    assert everything(care) == before and planned.removal_id == 0

    erasure = care.customer_data.erase("C-1", "ops", note="ticket 4711")
    assert erasure.counts == planned.counts
    erased_tables = {"process_instances", "contacts", "notes", "calls", "call_events", "events", "chats"}
    erased_tables |= {"chat_messages", "idempotency_records"}
    assert erased_tables <= set(erasure.counts)
    stored = everything(care)
    for trace in ADA:
        assert trace.lower() not in stored.lower(), trace
    for trace in GRACE:
        assert trace.lower() in stored.lower(), trace
    grace_after = care.customer_data.export("C-2")
    assert {key: value for key, value in grace_after.items() if key != "exported_at"} == {
        key: value for key, value in grace.items() if key != "exported_at"
    }
    with care.db.read() as session:
        customer = session.get(Customer, "C-1")
        assert (customer.name, customer.email, customer.phone) == (ERASED_NAME, erased_email("C-1"), None)
        [removal] = session.scalars(select(DataRemoval))
        assert session.scalar(select(ProcessInstance.id).where(ProcessInstance.customer_id == "C-1")) is None
        if care.db.is_sqlite:  # the staff search's text index forgot her too
            words = session.execute(text("SELECT words FROM search_customers_fts")).scalars().all()
            assert not any("lovelace" in w.lower() for w in words)
    recorded = (removal.kind, removal.customer_id, removal.principal, removal.note)
    assert recorded == ("erasure", "C-1", "ops", "ticket 4711")
    assert removal.counts == erasure.counts and removal.at == care.clock.now()
    assert care.customer_data.export("C-1")["erasures"][0]["note"] == "ticket 4711"


def test_the_customer_commands_export_and_erase_after_asking(office, database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("CARECENTER_DATABASE_URL", database_url)
    runner = CliRunner()
    output = tmp_path / "ada.json"
    result = runner.invoke(main, ["customer", "export", "C-1", "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert json.loads(output.read_text())["customer"]["email"] == "ada.lovelace@example.com"

    before = everything(office.care)
    result = runner.invoke(main, ["customer", "erase", "C-1", "--yes"])
    assert result.exit_code == 1 and office.mail["reference"] in result.output  # a case of hers runs
    assert everything(office.care) == before
    office.end_the_mail_case()
    result = runner.invoke(main, ["customers", "erase", "C-1", "--note", "ticket 4711"], input="n\n")
    assert result.exit_code == 1 and "contacts: " in result.output and "Aborted" in result.output
    assert "Lovelace" in everything(office.care)
    result = runner.invoke(main, ["customer", "erase", "C-1", "--yes", "--by", "dpo"])
    assert result.exit_code == 0, result.output
    assert "erased customer C-1" in result.output and "by dpo" in result.output
    assert "Lovelace" not in everything(office.care)
    result = runner.invoke(main, ["customer", "export", "C-1"])
    assert json.loads(result.output)["customer"]["name"] == ERASED_NAME
