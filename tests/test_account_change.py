"""Account services (process ``account_change``) on real parts: the engine and its worker calls, the database,
an SMTP server on loopback, the staff pages and the API.

A customer's low-risk changes apply at once and are confirmed in their language; the billing
address, the authorized contacts and the e-mail address wait for a colleague who did not ask for
them; a new e-mail address is told to the previous one; every field is in the customer's history
with before and after; bad input is refused field by field and starts nothing.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from api.app import create_app
from engine.clock import VirtualClock
from engine.config import PROJECT_ROOT, Settings
from engine.core import CareEngine
from engine.errors import Unprocessable
from engine.forms import FormDataInvalid
from engine.models import Contact, ProcessInstance
from engine.tasks import TaskFilter
from process_library import account_changes, customers
from process_library.registry import REGISTRY, OperationContext
from process_library.self_service import Refused, request_account_change
from process_library.store import Customer, CustomerChange, OutboxMessage
from tests.conftest import source
from tests.smtp_server import smtp_server  # noqa: F401 (a fixture)
from tests.test_pages import sign_in

BAD_CONTACTS = account_changes.BAD_CONTACTS
FILES = ("account_change.bpmn", "account_change.de.po", "account_change.cs.po")


@pytest.fixture
def care(database_url, smtp_server):  # noqa: F811
    settings = Settings.from_env(
        database_url=database_url,
        processes_dir=PROJECT_ROOT / "processes",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        mail_from="care@care.example.com",
    )
    engine = CareEngine(settings, clock=VirtualClock())
    engine.repository.deploy([source(name) for name in FILES], "test", "test")
    engine.identity.add_group("support")
    for name in ("ana", "lea"):
        engine.identity.add_user(name, "staff", ["support"], password="correct horse battery")
    with engine.db.write() as session:
        session.add(
            Customer(
                id="C-1",
                name="Ada Lovelace",
                email="ada@example.com",
                tier="premium",
                language="en",
                phone="+44 20 7946 0000",
                billing_address="1 Main St\nLondon",
            )
        )
        session.add(Customer(id="C-2", name="Bert Brecht", email="bert@example.com", tier="standard", language="de"))
    yield engine
    engine.close()


def run(care) -> None:
    """What the worker does: call the due service tasks (and what they make due)."""
    care.jobs.run_due("test")


def customer(care, customer_id: str = "C-1") -> Customer:
    with care.db.read() as session:
        return session.get(Customer, customer_id)


def history(care, customer_id: str = "C-1") -> list[CustomerChange]:
    with care.db.read() as session:
        query = select(CustomerChange).where(CustomerChange.customer_id == customer_id).order_by(CustomerChange.id)
        return list(session.scalars(query))


def open_task(care, instance_id: int) -> dict | None:
    tasks = care.tasks.list(TaskFilter(instance_id=instance_id), limit=10, after=None).items
    return tasks[0] if tasks else None


def site(care):
    return create_app(care).test_client()


def count(care, model) -> int:
    with care.db.read() as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(
    ("customer_id", "changes", "channel", "problems"),
    [
        ("C-404", {"phone": "1"}, "web", {"customer": account_changes.UNKNOWN_CUSTOMER}),
        ("C-1", {}, "web", {"changes": account_changes.EMPTY_REQUEST}),
        ("C-1", ["phone"], "web", {"changes": account_changes.EMPTY_REQUEST}),
        ("C-1", {"tier": "premium", "phone": "2"}, "web", {"tier": account_changes.UNCHANGEABLE}),
        ("C-1", {"email": "not an address"}, "web", {"email": account_changes.BAD_EMAIL}),
        ("C-1", {"email": ""}, "web", {"email": account_changes.REQUIRED}),
        ("C-1", {"phone": "+44 20 7946 0000"}, "web", {"changes": account_changes.NO_CHANGE}),
        ("C-1", {"language": "fr"}, "web", {"language": account_changes.CHOOSE}),
        ("C-1", {"phone": 12}, "web", {"phone": account_changes.UNUSABLE}),
        ("C-1", {"phone": "9" * 51}, "web", {"phone": account_changes.TOO_LONG}),
        (
            "C-1",
            {"authorized_contacts": [{"name": "Bob"}]},
            "web",
            {"authorized_contacts": account_changes.BAD_CONTACTS},
        ),
        (
            "C-1",
            {"authorized_contacts": [{"name": f"P{n}", "phone": "1"} for n in range(11)]},
            "web",
            {"authorized_contacts": account_changes.TOO_MANY_CONTACTS},
        ),
        ("C-1", {"phone": "2"}, "fax", {"channel": account_changes.CHOOSE}),
    ],
)
def test_bad_input_is_refused_field_by_field_and_starts_nothing(care, customer_id, changes, channel, problems):
    with pytest.raises(Refused) as refused:
        request_account_change(care, customer_id, changes, channel)
    assert refused.value.problems == problems
    assert isinstance(refused.value, Unprocessable) and refused.value.status == 422
    assert refused.value.extra["errors"] == [{"field": f, "message": m} for f, m in problems.items()]
    assert (count(care, ProcessInstance), count(care, CustomerChange), count(care, Contact)) == (0, 0, 0)
    assert customer(care).phone == "+44 20 7946 0000"


def test_low_risk_changes_apply_at_once_and_are_confirmed_in_the_new_language(care, smtp_server):  # noqa: F811
    started = request_account_change(
        care, "C-1", {"phone": " +44 20 7946 0999 ", "language": "de", "address": "2 High St\r\n\r\nLondon  "}
    )
    assert started.created and started.process_key == "account_change" and started.reference.startswith("CC-")
    run(care)

    ada = customer(care)
    assert (ada.phone, ada.language, ada.address) == ("+44 20 7946 0999", "de", "2 High St\nLondon")
    rows = history(care)
    assert [(r.field, r.before, r.after, r.status, r.decided_by) for r in rows] == [
        ("phone", "+44 20 7946 0000", "+44 20 7946 0999", "applied", None),
        ("address", None, "2 High St\nLondon", "applied", None),
        ("language", "en", "de", "applied", None),
    ]
    assert {(r.requested_by, r.channel, r.instance_id) for r in rows} == {("customer:C-1", "web", started.instance_id)}
    [sent] = smtp_server.messages
    assert sent["To"] == "ada@example.com"
    assert sent["Subject"] == f"Ihre Kontodaten wurden geändert [{started.reference}]"
    body = sent.get_content()
    assert "Telefon: +44 20 7946 0000 → +44 20 7946 0999" in body and "Sprache: Englisch → Deutsch" in body
    assert care.settings.public.link(f"/track/{started.tracking_code}") in body
    status = care.runtime.get(started.instance_id, with_data=False)
    assert status["status"] == "completed"
    with care.db.read() as session:
        contacts = list(session.scalars(select(Contact).where(Contact.instance_id == started.instance_id)))
    inbound = [c for c in contacts if c.direction == "in"]
    assert [(c.channel, c.subject, c.recorded_by) for c in inbound] == [
        ("web", "Change of account data", "customer:C-1")
    ]
    assert "Phone: +44 20 7946 0000 → +44 20 7946 0999" in inbound[0].text
    # the tracking page tells the path taken: Received, Done; Waiting for approval and Declined were not needed
    page = create_app(care).test_client().get(f"/api/status/{started.tracking_code}").json
    assert [(s["key"], s["state"]) for s in page["stages"]] == [
        ("Received", "done"),
        ("Waiting for approval", "skipped"),
        ("Done", "done"),
        ("Declined", "skipped"),
    ]
    html = create_app(care).test_client().get(f"/track/{started.tracking_code}").text
    assert "Declined" not in html and "Done" in html


def test_a_new_email_address_waits_for_someone_other_than_the_requester(care, smtp_server):  # noqa: F811
    started = request_account_change(
        care,
        "C-1",
        {"email": "ada@new.example", "contact_person": "Ada L."},
        "phone",
        requested_by="ana",  # ana took the call and typed it in for the customer
    )
    run(care)
    assert customer(care).contact_person == "Ada L." and customer(care).email == "ada@example.com"
    task = open_task(care, started.instance_id)
    assert task["name"] == "Approve the account change" and task["candidate_groups"] == ["support"]
    form = care.tasks.form(task["id"])
    assert form["data"]["review_email"] == "ada@example.com → ada@new.example"
    assert form["data"]["review_requested_by"] == "ana"
    assert form["schema"]["properties"]["review_email"]["readOnly"] is True

    with pytest.raises(Unprocessable, match="not for ana"):
        care.tasks.complete(task["id"], {"decision": "approve"}, "ana")
    with pytest.raises(Unprocessable, match="not for ana"):
        care.tasks.claim(task["id"], "ana")
    with pytest.raises(Unprocessable, match="not for ana"):
        care.tasks.assign(task["id"], "ana", "admin")
    assert [p["username"] for p in care.tasks.assignable(task["id"])] == ["lea"]
    assert open_task(care, started.instance_id)["assignee"] is None and customer(care).email == "ada@example.com"

    care.tasks.complete(task["id"], {"decision": "approve"}, "lea")
    run(care)
    assert customer(care).email == "ada@new.example"
    email_row = next(r for r in history(care) if r.field == "email")
    assert (email_row.before, email_row.after, email_row.status) == ("ada@example.com", "ada@new.example", "applied")
    assert (email_row.requested_by, email_row.decided_by, email_row.channel) == ("ana", "lea", "phone")
    sent = [(m["To"], m["Subject"].split(" [")[0]) for m in smtp_server.messages]
    assert sent == [
        ("ada@example.com", "Your account details were changed"),
        ("ada@example.com", "The e-mail address of your account was changed"),
        ("ada@new.example", "Your account change is done"),
    ]
    assert "to ada@new.example" in smtp_server.messages[1].get_content()
    with care.db.read() as session:
        assert [c.id for c in customers.with_email(session, "ADA@new.example")] == ["C-1"]  # found by the new address


def test_the_api_refuses_the_requester_with_a_problem_and_the_page_with_a_message(care, smtp_server):  # noqa: F811
    started = request_account_change(care, "C-1", {"billing_address": "PO Box 7"}, requested_by="ana")
    run(care)
    task = open_task(care, started.instance_id)
    client = site(care)
    token = care.tokens.create("ana-token", username="ana")[1]
    answer = client.post(
        f"/api/tasks/{task['id']}/complete",
        json={"data": {"decision": "approve"}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 422 and "not for ana" in answer.json["detail"], answer.json

    csrf_token = sign_in(client, "ana")
    page = client.get(f"/tasks/{task['id']}").get_data(as_text=True)
    assert "Billing address: now → requested" in page and "1 Main St, London → PO Box 7" in page
    refused = client.post(
        f"/tasks/{task['id']}",
        data={"csrf_token": csrf_token, "decision": "approve", "action": "complete"},
        follow_redirects=True,
    )
    assert "not for ana" in refused.get_data(as_text=True)
    assert customer(care).billing_address == "1 Main St\nLondon" and open_task(care, started.instance_id) is not None


def test_a_declined_change_keeps_the_data_and_tells_the_customer_why(care, smtp_server):  # noqa: F811
    contacts = [{"name": "Helene Weigel", "email": "helene@example.com"}, {"name": "Kurt", "phone": "+49 30 1"}]
    started = request_account_change(care, "C-2", {"authorized_contacts": contacts})
    run(care)
    task = open_task(care, started.instance_id)
    with pytest.raises(FormDataInvalid, match="need attention"):  # declining needs a reason for the customer
        care.tasks.complete(task["id"], {"decision": "reject"}, "lea")
    care.tasks.complete(task["id"], {"decision": "reject", "reason": "Please send a signed power of attorney."}, "lea")
    run(care)
    assert customer(care, "C-2").authorized_contacts is None
    [row] = history(care, "C-2")
    assert (row.field, row.before, row.after, row.status) == ("authorized_contacts", [], contacts, "rejected")
    assert (row.decided_by, row.reason) == ("lea", "Please send a signed power of attorney.")
    [sent] = smtp_server.messages
    assert sent["To"] == "bert@example.com" and sent["Subject"].startswith("Ihre Kontoänderung wurde nicht vorgenommen")
    body = sent.get_content()
    assert "Der Grund: Please send a signed power of attorney." in body
    assert "Bevollmächtigte Personen: — → Helene Weigel (helene@example.com); Kurt (+49 30 1)" in body


def test_a_resubmitted_form_starts_one_process(care, smtp_server):  # noqa: F811
    first = request_account_change(care, "C-1", {"phone": "1"}, submission_id="portal-form-1")
    again = request_account_change(care, "C-1", {"phone": "1"}, submission_id="portal-form-1")
    assert (again.instance_id, again.reference, again.created) == (first.instance_id, first.reference, False)
    assert count(care, ProcessInstance) == 1


def test_a_repeated_operation_call_records_and_applies_once(care, smtp_server):  # noqa: F811
    started = request_account_change(care, "C-1", {"phone": "5"})
    context = OperationContext(
        idempotency_key=f"cc-{started.instance_id}-again-1",
        instance_id=started.instance_id,
        process_key="account_change",
        element_id="again",
        tracking_code=started.tracking_code,
        reference=started.reference,
        db=care.db,
        clock=care.clock,
        settings=care.settings,
    )
    check = REGISTRY.get("check_account_change")
    arguments = {"customer_id": "C-1", "changes": {"phone": "5"}, "requested_by": "customer:C-1", "channel": "web"}
    first, second = check.call(context, arguments), check.call(context, arguments)
    assert first == second and first["apply_now"] == ["phone"]
    apply = REGISTRY.get("apply_account_change")
    applied = [apply.call(context, {"customer_id": "C-1", "fields": ["phone"]}) for _ in range(2)]
    assert applied[0] == applied[1] and applied[0]["applied"] == {"phone": {"before": "+44 20 7946 0000", "after": "5"}}
    with care.db.read() as session:
        rows = list(session.scalars(select(CustomerChange).where(CustomerChange.idempotency_key.like("%again%"))))
        inbound = session.scalar(
            select(func.count()).select_from(Contact).where(Contact.direction == "in", Contact.subject.is_not(None))
        )
    assert [(r.field, r.status) for r in rows] == [("phone", "applied")]
    assert inbound == 1  # the process's own check has not run yet: only this call's contact


def test_the_customer_page_shows_account_data_and_every_change_with_before_and_after(care, smtp_server):  # noqa: F811
    started = request_account_change(
        care,
        "C-1",
        {
            "preferred_channel": "letter",
            "billing_address": "PO Box 7",
            "authorized_contacts": [{"name": "Bo", "phone": "7"}],
        },
    )
    run(care)
    task = open_task(care, started.instance_id)
    care.tasks.complete(task["id"], {"decision": "reject", "reason": "No PO boxes."}, "lea")
    run(care)
    client = site(care)
    sign_in(client, "lea")
    page = client.get("/customers/C-1").get_data(as_text=True)
    assert "Account changes, newest first" in page
    assert page.count('class="change-rejected"') == 2 and page.count('class="change-applied"') == 1
    assert "Reason: No PO boxes." in page and "declined by lea" in page and "requested by the customer" in page
    assert '<span class="account-lines">1 Main St\nLondon</span>' in page  # the billing address kept, as two lines
    lea = next(user for user in care.identity.users() if user.username == "lea")
    care.identity.set_preferences(lea.id, language="de", time_zone=None)
    german = client.get("/customers/C-1").get_data(as_text=True)
    assert "Änderungen der Kontodaten, neueste zuerst" in german and "abgelehnt von lea" in german
    assert '<td data-label="Feld">Rechnungsanschrift</td>' in german and "Brief" in german


def test_history_rows_page_newest_first(care, smtp_server):  # noqa: F811
    for number in range(3):
        request_account_change(care, "C-1", {"phone": f"{number}"})
        run(care)
    with care.db.read() as session:
        first, before = account_changes.of_customer(session, "C-1", 2, None)
        rest, after = account_changes.of_customer(session, "C-1", 2, before)
    assert [(r["before"], r["after"]) for r in first + rest] == [("1", "2"), ("0", "1"), ("+44 20 7946 0000", "0")]
    assert after is None


def test_a_previous_address_that_refuses_mail_is_not_readdressed_and_the_change_goes_on(care, smtp_server):  # noqa: F811
    smtp_server.fail_next(1, "550 5.1.1 mailbox gone")
    started = request_account_change(care, "C-1", {"email": "ada@new.example"})
    run(care)
    task = open_task(care, started.instance_id)
    care.tasks.complete(task["id"], {"decision": "approve"}, "lea")
    run(care)
    with care.db.read() as session:
        told = session.scalar(select(OutboxMessage).where(OutboxMessage.subject.like("The e-mail address%")))
    assert (told.recipient, told.status, told.payload["fixed_recipient"]) == ("ada@example.com", "failed", True)
    assert care.runtime.get(started.instance_id, with_data=False)["status"] == "completed"  # the model goes on
    assert [m["To"] for m in smtp_server.messages] == ["ada@new.example"]  # only the confirmation to the new one


def test_notify_customer_writes_in_the_customers_language_and_to_a_given_address(care, smtp_server):  # noqa: F811
    from process_library import operations

    def context(key: str) -> OperationContext:
        return OperationContext(key, 0, "account_change", "e", "", "", care.db, care.clock, care.settings)

    texts = {
        "de": {"subject": "Hallo {{ customer.name }}", "body": "Auf Deutsch"},
        "cs": {"subject": "Ahoj", "body": "Č"},
    }
    operations.notify_customer(context("k1"), customer_id="C-2", subject="Hello", body="In English", translations=texts)
    operations.notify_customer(
        context("k2"), customer_id="C-1", subject="Hello", body="In English", translations=texts, recipient="old@ex.com"
    )
    assert [(m["To"], m["Subject"], m.get_content().strip()) for m in smtp_server.messages] == [
        ("bert@example.com", "Hallo Bert Brecht", "Auf Deutsch"),
        ("old@ex.com", "Hello", "In English"),  # Ada reads English: no English entry needed
    ]
    with pytest.raises(ValueError, match="translations must map"):
        operations.notify_customer(context("k3"), customer_id="C-2", subject="s", body="b", translations={"de": "x"})
    with pytest.raises(ValueError, match="recipient must be an e-mail address"):
        operations.notify_customer(context("k4"), customer_id="C-2", subject="s", body="b", recipient="nobody")
