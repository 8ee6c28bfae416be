"""Staff answers by e-mail (engine/mail_answers.py): the API, the pages and the form field a designer marks.

Real parts: the receiver takes the customer's mail over SMTP on loopback, the relay sends the answer
to a real SMTP server standing for the customer's inbox, on the database under test.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from api.app import create_app
from engine.forms import parse_form, reply_field
from engine.mail_answers import ANSWER_MAILED
from engine.models import Contact, HistoryEvent, Incident
from engine.tasks import TaskFilter
from process_library.outbox_relay import relay_held_mail
from process_library.store import Customer, OutboxMessage
from tests.conftest import source
from tests.smtp_server import free_port, smtp_server  # noqa: F401 (a fixture)
from tests.test_mail import INTAKE_FILES, engine_on, mail, rows, send

PASSWORD = "correct horse battery"


@pytest.fixture
def case(database_url, smtp_server):  # noqa: F811
    """A mailed inquiry of Ada's, waiting for the support team's answer; sam is in the team, bella is not."""
    from engine.mail_receiver import MailReceiver

    care = engine_on(database_url, smtp_server.port)
    care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    with care.db.write() as session:
        session.add(Customer(id="C-1", name="Ada Lovelace", email="ada@example.com", tier="premium", language="en"))
    receiver = MailReceiver(care.mail.store, "127.0.0.1", free_port())
    receiver.start()
    question = mail(subject="AW: Printer broken", body="It prints nothing since this morning.")
    send(receiver, question)
    receiver.stop()
    care.mail.process_due("test")
    [row] = care.mail.store.list().items
    care.jobs.run_due("test")
    [task] = care.tasks.list(TaskFilter(instance_id=row["instance_id"]), 10, None).items
    team = task["candidate_groups"][0]
    care.identity.add_group(team)
    care.identity.add_group("elsewhere")
    care.identity.add_user("sam", "staff", [team], password=PASSWORD)
    care.identity.add_user("bella", "staff", ["elsewhere"], password=PASSWORD)
    yield {"care": care, "instance_id": row["instance_id"], "task": task, "question": question, "smtp": smtp_server}
    care.close()


def token_of(care, username: str) -> dict:
    return {"Authorization": f"Bearer {care.tokens.create(f'{username}-token', username=username)[1]}"}


def signed_in(app, username: str):
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)[1]
    assert (
        client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token}).status_code == 302
    )
    return client


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def test_an_answer_through_the_api_is_threaded_logged_with_its_author_and_sent_once_per_key(case):
    care, instance_id, question = case["care"], case["instance_id"], case["question"]
    client = create_app(care).test_client()
    body = {"body": "Switch it off and on again.", "request_key": "k-1"}
    first = client.post(f"/api/instances/{instance_id}/answers", json=body, headers=token_of(care, "sam"))
    again = client.post(f"/api/instances/{instance_id}/answers", json=body, headers=token_of(care, "sam"))
    assert first.status_code == 201 and again.status_code == 201, first.text
    assert first.json["outbox_id"] == again.json["outbox_id"]
    reference = care.runtime.get(instance_id)["reference"]
    assert first.json["subject"] == f"Re: Printer broken [{reference}]"  # the customer's AW: is not repeated
    assert first.json["in_reply_to"] == question["Message-ID"]
    [contact] = rows(
        care, Contact, Contact.instance_id == instance_id, Contact.direction == "out", Contact.recorded_by == "sam"
    )
    assert contact.text == "Switch it off and on again."
    events = rows(care, HistoryEvent, HistoryEvent.instance_id == instance_id, HistoryEvent.event_type == ANSWER_MAILED)
    assert [event.principal for event in events] == ["sam"]
    assert relay_held_mail(care.db, care.settings, care.clock) >= 1
    [answer] = [m for m in case["smtp"].messages if "Switch it off" in m.get_content()]
    assert answer["To"] == "ada@example.com" and answer["In-Reply-To"] == question["Message-ID"]
    assert question["Message-ID"] in answer["References"] and answer["Auto-Submitted"] is None
    assert f"[{reference}]" in answer["Subject"]


def test_an_answer_is_refused_outside_the_scope_and_when_it_is_empty_and_nothing_is_written(case):
    care, instance_id = case["care"], case["instance_id"]
    client = create_app(care).test_client()
    before = len(rows(care, OutboxMessage))
    outside = client.post(
        f"/api/instances/{instance_id}/answers",
        json={"body": "Hi", "request_key": "x"},
        headers=token_of(care, "bella"),
    )
    assert outside.status_code == 403
    empty = client.post(
        f"/api/instances/{instance_id}/answers", json={"body": "   ", "request_key": "x"}, headers=token_of(care, "sam")
    )
    assert empty.status_code == 422 and empty.json["field"] == "body"
    bad_key = client.post(
        f"/api/instances/{instance_id}/answers",
        json={"body": "Hi", "request_key": "a b"},
        headers=token_of(care, "sam"),
    )
    assert bad_key.status_code == 400  # outside the documented pattern
    assert len(rows(care, OutboxMessage)) == before


def test_a_case_without_any_address_answers_409_and_writes_nothing(case):
    care = case["care"]
    from engine.runtime import StartRequest

    care.repository.deploy([source("hello_care.bpmn")], "test", "test")
    silent, _ = care.runtime.start(StartRequest("hello_care", {"subject": "Called in"}), "test")
    before = len(rows(care, OutboxMessage))
    answer = (
        create_app(care)
        .test_client()
        .post(
            f"/api/instances/{silent['id']}/answers",
            json={"body": "Hello", "request_key": "k"},
            headers={"Authorization": f"Bearer {care.tokens.create('admin')[1]}"},
        )
    )
    assert answer.status_code == 409 and answer.json["type"].endswith("/no-customer-address")
    assert len(rows(care, OutboxMessage)) == before


def test_reply_by_e_mail_on_the_task_page_and_on_the_customer_page(case):
    care, instance_id, task = case["care"], case["instance_id"], case["task"]
    app = create_app(care)
    sam = signed_in(app, "sam")
    page = sam.get(f"/tasks/{task['id']}")
    assert "Reply by e-mail" in page.text and "ada@example.com" in page.text
    key = re.search(r'name="request_key" value="([^"]+)"', page.text)[1]
    form = {"csrf_token": csrf(page.text), "request_key": key, "subject": "", "body": "We are on it."}
    assert sam.post(f"/tasks/{task['id']}/reply", data=form).status_code == 302
    assert sam.post(f"/tasks/{task['id']}/reply", data=form).status_code == 302  # a double click sends once
    empty = sam.post(f"/tasks/{task['id']}/reply", data={**form, "body": "", "request_key": "other"})
    assert empty.status_code == 422 and "Write an e-mail of 1 to" in empty.text
    shown = sam.get(f"/tasks/{task['id']}").text
    assert "We are on it." in shown  # the conversation shows the answer
    customer_page = sam.get("/customers/C-1")
    assert "Reply by e-mail" in customer_page.text
    sam.post(
        "/customers/C-1/reply",
        data={
            "csrf_token": csrf(customer_page.text),
            "request_key": "staff-form:" + "a" * 32,
            "request": str(instance_id),
            "subject": "Your printer",
            "body": "A technician comes on Monday.",
        },
    )
    wrong = sam.post(
        "/customers/C-1/reply",
        data={"csrf_token": csrf(customer_page.text), "request_key": "k2", "request": "999999", "body": "Hi"},
    )
    assert wrong.status_code == 422
    answers = [m for m in rows(care, OutboxMessage) if (m.payload or {}).get("purpose") == "answer"]
    assert [(m.body, m.payload["author"]) for m in answers] == [
        ("We are on it.", "sam"),
        ("A technician comes on Monday.", "sam"),
    ]
    assert answers[1].subject.startswith("Your printer [")
    bella = signed_in(app, "bella")
    bellas_form = {**form, "request_key": "b", "csrf_token": csrf(bella.get("/settings").text)}
    assert bella.post(f"/tasks/{task['id']}/reply", data=bellas_form).status_code == 403


def test_the_form_field_marked_as_the_reply_goes_to_the_customer_when_the_task_is_completed(case):
    care, instance_id, task = case["care"], case["instance_id"], case["task"]
    # the answer time passes: the escalation review's form has the marked field "message_to_customer"
    care.clock.advance("P30D")
    care.timers.fire_due("test")
    care.jobs.run_due("test")
    [review] = [
        t
        for t in care.tasks.list(TaskFilter(instance_id=instance_id), 10, None).items
        if t["element_id"] != task["element_id"]
    ]
    care.identity.add_group(review["candidate_groups"][0])
    care.identity.add_user("lena", "staff", [review["candidate_groups"][0]], password=PASSWORD)
    care.tasks.complete(
        review["id"],
        {"action": "add_note", "note": "Late, sorry", "message_to_customer": "Sorry for the wait: tomorrow."},
        "lena",
    )
    [answer] = [m for m in rows(care, OutboxMessage) if (m.payload or {}).get("purpose") == "answer"]
    assert answer.body == "Sorry for the wait: tomorrow." and answer.payload["author"] == "lena"
    assert answer.payload["headers"]["In-Reply-To"] == case["question"]["Message-ID"]


def test_a_marked_field_left_empty_sends_nothing(case):
    care, instance_id, task = case["care"], case["instance_id"], case["task"]
    care.clock.advance("P30D")
    care.timers.fire_due("test")
    care.jobs.run_due("test")
    [review] = [
        t
        for t in care.tasks.list(TaskFilter(instance_id=instance_id), 10, None).items
        if t["element_id"] != task["element_id"]
    ]
    care.tasks.complete(review["id"], {"action": "add_note", "note": "Late", "message_to_customer": "  "}, "admin")
    assert not [m for m in rows(care, OutboxMessage) if (m.payload or {}).get("purpose") == "answer"]


@pytest.mark.parametrize(
    ("properties", "complaint"),
    [
        (
            {
                "a": {"type": "string", "x-reply-to-customer": True},
                "b": {"type": "string", "x-reply-to-customer": True},
            },
            "only one field",
        ),
        ({"a": {"type": "integer", "x-reply-to-customer": True}}, "must be of type string"),
        ({"a": {"type": "string", "x-reply-to-customer": "yes"}}, "must be true or false"),
    ],
)
def test_a_form_that_marks_the_reply_wrongly_is_refused_at_deploy(properties, complaint):
    document = {"type": "object", "properties": properties}
    with pytest.raises(ValueError, match=complaint):
        parse_form("bad.json", __import__("json").dumps(document).encode())


def test_the_shipped_escalation_review_marks_its_message_to_the_customer():
    from engine.config import PROJECT_ROOT

    schema = parse_form("escalation_review.json", (PROJECT_ROOT / "forms" / "escalation_review.json").read_bytes())
    assert reply_field(schema) == "message_to_customer"


def test_a_mail_the_customers_server_refuses_for_good_shows_on_the_task_page(case):
    care, instance_id, task = case["care"], case["instance_id"], case["task"]
    care.answers.send(instance_id, subject="", body="Hello", request_key="k", author="sam")
    case["smtp"].fail_next(1, "550 5.1.1 mailbox unknown")
    relay_held_mail(care.db, care.settings, care.clock)
    with care.db.read() as session:
        [incident] = session.scalars(
            select(Incident).where(Incident.instance_id == instance_id, Incident.status == "open")
        )
    page = signed_in(create_app(care), "sam").get(f"/tasks/{task['id']}").text
    assert "Something went wrong in this case" in page and "could not be delivered" in page
    assert f'data-incident="{incident.id}"' in page


def test_a_busy_mail_server_is_tried_again_after_a_growing_pause_and_the_answer_arrives_once(case):
    care, instance_id = case["care"], case["instance_id"]
    relay_held_mail(care.db, care.settings, care.clock)  # the confirmation of the inquiry goes first
    care.answers.send(instance_id, subject="", body="Hello again", request_key="k", author="sam")
    case["smtp"].fail_next(2)  # 451: try again later
    relay_held_mail(care.db, care.settings, care.clock)
    relay_held_mail(care.db, care.settings, care.clock)  # too early: not tried again
    assert case["smtp"].refused == 1
    care.clock.advance("PT1M")
    relay_held_mail(care.db, care.settings, care.clock)
    assert case["smtp"].refused == 2
    care.clock.advance("PT1M")
    relay_held_mail(care.db, care.settings, care.clock)  # the second pause is two minutes
    assert case["smtp"].refused == 2 and not [m for m in case["smtp"].messages if "Hello again" in m.get_content()]
    care.clock.advance("PT1M")
    relay_held_mail(care.db, care.settings, care.clock)
    assert len([m for m in case["smtp"].messages if "Hello again" in m.get_content()]) == 1
