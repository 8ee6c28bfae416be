"""Chats without a browser: the queue per team, the staff's API, timeouts on the virtual clock, leaving a message,
limits, the chat's token and the origin check, and the stream resuming after the last line a page has.

The browser test (``tests/test_browser_chat.py``) chats through a restart of a real server.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.models import Chat, Contact, EventRecord, ProcessInstance
from engine.runtime import StartRequest
from process_library.csv_import import import_csv
from process_library.store import OutboxMessage
from tests.conftest import source
from tests.test_cti import CUSTOMERS

PUBLIC = "https://care.example.com"
SITE = {"Origin": PUBLIC}
INTAKE_FILES = ("inquiry_intake.bpmn", "escalation.bpmn", "classify_inquiry.dmn", "inquiry_sla.dmn")


@pytest.fixture
def office(care, app):
    """Two teams with a member each, customers, a case of C-1; the app's public URL is PUBLIC."""
    care.repository.deploy([source(name) for name in ("hello_care.bpmn", *INTAKE_FILES)], "test", "test")
    for team in ("support", "billing"):
        care.identity.add_group(team)
    care.identity.add_user("sam", "staff", ["support"], password=None)
    care.identity.add_user("sue", "staff", ["support"], password=None)
    care.identity.add_user("bea", "staff", ["billing"], password=None)
    import_csv(care.db, "customers", CUSTOMERS)
    care.settings = dataclasses.replace(care.settings, public_url=PUBLIC)
    care.chats.settings = care.settings
    tokens = {name: care.tokens.create(f"{name}'s", username=name)[1] for name in ("sam", "sue", "bea")}
    return care, app, tokens


def api(app, token: str):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def start(care, topic: str = "support", **given):
    fields = {"name": "Nina Neu", "email": "nina@example.org", "language": "en", **given}
    started = care.chats.start(topic=topic, **fields)
    return started.chat["id"], started.token


def test_the_queue_shows_each_team_its_own_chats_with_their_waiting_time(office, clock, client):
    care, app, tokens = office
    support, _ = start(care, "support")
    billing, _ = start(care, "billing")
    clock.advance(timedelta(seconds=90))

    def waiting(token):
        answer = api(app, token).get("/api/chats?status=waiting")
        assert answer.status_code == 200
        return {chat["id"]: chat["waiting_seconds"] for chat in answer.json["items"]}

    assert waiting(tokens["sam"]) == {support: 90}
    assert waiting(tokens["bea"]) == {billing: 90}
    assert {chat["id"] for chat in client.get("/api/chats").json["items"]} == {support, billing}  # admins: all
    assert api(app, tokens["bea"]).get(f"/api/chats/{support}").status_code == 403
    assert api(app, tokens["bea"]).post(f"/api/chats/{support}/accept").status_code == 403
    assert api(app, tokens["sam"]).post(f"/api/chats/{support}/accept").json["agent"] == "sam"
    taken = api(app, tokens["sue"]).post(f"/api/chats/{support}/accept")
    assert taken.status_code == 409 and taken.mimetype == "application/problem+json"
    assert api(app, tokens["sue"]).post(f"/api/chats/{support}/messages", json={"text": "Hi"}).status_code == 409
    assert waiting(tokens["sam"]) == {}
    mine = api(app, tokens["sam"]).get("/api/chats?status=active&agent=sam").json["items"]
    assert [(chat["id"], chat["waiting_seconds"]) for chat in mine] == [(support, 90)]


def test_an_accepted_chat_is_written_ended_and_its_transcript_starts_an_inquiry(office):
    care, app, tokens = office
    chat_id, _ = start(care)
    care.chats.post(chat_id, "customer", "My <b>invoice</b> is wrong.")
    sam = api(app, tokens["sam"])
    sam.post(f"/api/chats/{chat_id}/accept")
    written = sam.post(f"/api/chats/{chat_id}/messages", json={"text": "Which one?"})
    assert written.status_code == 201 and written.json["author"] == "agent"
    newer = sam.get(f"/api/chats/{chat_id}?after={written.json['id'] - 1}").json["messages"]
    assert [m["text"] for m in newer] == ["Which one?"]
    closed = sam.post(f"/api/chats/{chat_id}/close").json
    assert closed["status"] == "closed" and closed["close_reason"] == "agent" and closed["filed_reference"]
    with care.db.read() as session:
        case = session.get(ProcessInstance, closed["filed_instance_id"])
        [contact] = session.scalars(select(Contact).where(Contact.channel == "chat"))
        event = session.scalar(
            select(EventRecord).where(
                EventRecord.type == "contact.logged", EventRecord.data["contact_id"].as_integer() == contact.id
            )
        )
        confirmation = session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == "nina@example.org"))
    assert (case.channel, case.customer_id) == ("chat", "web:nina@example.org")
    assert (contact.instance_id, contact.subject, contact.recorded_by) == (case.id, "Chat: General questions", "sam")
    assert "Nina Neu: My <b>invoice</b> is wrong." in contact.text and "sam: Which one?" in contact.text
    assert event is not None and event.data["channel"] == "chat"
    assert confirmation is not None and closed["filed_reference"] in confirmation.subject
    assert sam.post(f"/api/chats/{chat_id}/close").json["filed_at"] == closed["filed_at"]  # ending twice: nothing new
    care.chats.file_pending()
    with care.db.read() as session:
        assert len(list(session.scalars(select(Contact).where(Contact.channel == "chat")))) == 1


def test_a_chat_from_a_tracking_page_continues_its_case(office):
    care, _, _ = office
    case, _ = care.runtime.start(StartRequest("hello_care", {"subject": "Printer"}, customer_id="C-1"), "test")
    with care.db.read() as session:
        code = session.get(ProcessInstance, case["id"]).tracking_code
    chat_id, _ = start(care, tracking_code=code)
    assert care.chats.customer_view(chat_id)["reference"] == case["reference"]
    care.chats.post(chat_id, "customer", "Still jams.")
    care.chats.close(chat_id, "customer")
    view = care.chats.customer_view(chat_id)
    assert (view["status"], view["filed"], view["reference"]) == ("closed", True, case["reference"])
    with care.db.read() as session:
        contact = session.scalar(select(Contact).where(Contact.channel == "chat"))
        chat = session.get(Chat, chat_id)
    assert (contact.instance_id, contact.customer_id, chat.filed_instance_id) == (case["id"], "C-1", case["id"])


def test_timeouts_on_the_virtual_clock_and_leaving_a_message(office, clock):
    care, _, _ = office
    care.chats.config = dataclasses.replace(care.chats.config, wait_seconds=60, idle_seconds=300)
    waiting, _ = start(care)
    talking, _ = start(care)
    care.chats.accept(talking, "sam", None)
    care.chats.post(talking, "agent", "Hello!", agent="sam")
    clock.advance(timedelta(seconds=59))
    assert care.chats.expire() == 0
    clock.advance(timedelta(seconds=2))
    assert care.chats.expire() == 1
    assert care.chats.customer_view(waiting)["status"] == "missed"
    with pytest.raises(Exception, match="leave a message"):
        care.chats.post(waiting, "customer", "Hello?")  # nobody is there: the page offers to leave a message
    care.chats.leave_message(waiting, "Please call me back about my contract.")
    view = care.chats.customer_view(waiting)
    assert (view["status"], view["close_reason"], view["filed"]) == ("closed", "message_left", True)
    with care.db.read() as session:
        case = session.get(ProcessInstance, session.get(Chat, waiting).filed_instance_id)
        contact = session.scalar(select(Contact).where(Contact.instance_id == case.id, Contact.channel == "chat"))
    assert case.channel == "chat" and view["reference"] == case.reference
    assert contact.subject == "Message from the chat: General questions"
    assert "Please call me back about my contract." in contact.text

    care.chats.post(talking, "customer", "Still there?")
    clock.advance(timedelta(seconds=299))
    assert care.chats.expire() == 0  # the customer wrote 5 minutes ago, less one second
    clock.advance(timedelta(seconds=2))
    assert care.chats.expire() == 1
    assert care.chats.customer_view(talking)["close_reason"] == "idle"

    silent, _ = start(care)  # waits in vain, then nobody writes: closed, with nothing to file
    clock.advance(timedelta(seconds=61))
    care.chats.expire()
    clock.advance(timedelta(seconds=301))
    care.chats.expire()
    view = care.chats.customer_view(silent)
    assert (view["close_reason"], view["filed"], view["reference"]) == ("unanswered", True, None)


def test_a_team_without_staff_sends_the_customer_to_leave_a_message(office):
    care, _, _ = office
    chat_id, _ = start(care, "technical")  # no user is in the team technical
    assert care.chats.customer_view(chat_id)["status"] == "missed"


def test_limits_on_size_and_rate(office, clock):
    care, app, tokens = office
    care.chats.config = dataclasses.replace(care.chats.config, max_message_chars=100, messages_per_minute=3)
    chat_id, token = start(care)
    customer = app.test_client()
    for n in range(3):
        assert customer.post(f"/chat/{token}/messages", data={"text": f"line {n}"}, headers=SITE).status_code == 303
    fast = customer.post(f"/chat/{token}/messages", data={"text": "one more"}, headers={**SITE, "X-Chat-Live": "1"})
    assert fast.status_code == 429 and "very fast" in fast.text
    long = customer.post(f"/chat/{token}/messages", data={"text": "x" * 101}, headers=SITE)
    assert long.status_code == 400 and "at most 100 characters" in long.text  # the chat's page, with the problem
    clock.advance(timedelta(seconds=61))
    assert customer.post(f"/chat/{token}/messages", data={"text": "now"}, headers=SITE).status_code == 303
    assert len([m for m in care.chats.messages(chat_id) if m["author"] == "customer"]) == 4
    care.chats.accept(chat_id, "sam", None)
    refused = api(app, tokens["sam"]).post(f"/api/chats/{chat_id}/messages", json={"text": "y" * 101})
    assert refused.status_code == 400 and "at most 100 characters" in refused.json["detail"]


def test_a_wrong_token_finds_nothing_and_posts_from_elsewhere_are_refused(office):
    care, app, _ = office
    chat_id, token = start(care)
    customer = app.test_client()
    for path in ("/chat/not-a-chat", "/chat/not-a-chat/stream", f"/chat/{token[:-1]}"):
        answer = customer.get(path)
        assert answer.status_code == 404 and answer.mimetype == "text/html"
    assert customer.post("/chat/not-a-chat/messages", data={"text": "Hi"}, headers=SITE).status_code == 404
    for headers in ({}, {"Origin": "https://evil.example"}, {"Origin": "null"}, {"Referer": "https://evil.example/x"}):
        answer = customer.post(f"/chat/{token}/messages", data={"text": "Hi"}, headers=headers)
        assert answer.status_code == 403
        assert customer.post(f"/chat/{token}/close", headers=headers).status_code == 403
    assert [m["author"] for m in care.chats.messages(chat_id)] == ["system"]  # nothing stored, still open
    referer = {"Referer": f"{PUBLIC}/chat/{token}"}  # a browser that sends no Origin names the page
    assert customer.post(f"/chat/{token}/messages", data={"text": "Hi"}, headers=referer).status_code == 303
    page = customer.get(f"/chat/{token}").text
    assert "Hi" in page and token in page


def test_the_customer_starts_from_the_form_and_the_stream_resumes_after_the_last_line(office):
    care, app, _ = office
    care.chats.config = dataclasses.replace(care.chats.config, streams=0)  # every stream answers at once: polling
    customer = app.test_client()
    form = customer.get("/chat/new").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
    fields = {"csrf_token": csrf, "topic": "support", "name": "", "email": "nope", "message": "<script>x</script>"}
    refused = customer.post("/chat/new", data=fields, headers=SITE)
    assert refused.status_code == 422 and "Please fill in this field." in refused.text
    started = customer.post("/chat/new", data={**fields, "name": "Nina", "email": "nina@example.org"}, headers=SITE)
    assert started.status_code == 303
    token = started.headers["Location"].split("/chat/")[1].split("?")[0]
    page = customer.get(f"/chat/{token}").text
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page
    chat_id = care.chats.find(token)
    first = care.chats.messages(chat_id)[-1]["id"]
    care.chats.accept(chat_id, "sam", None)
    care.chats.post(chat_id, "agent", "Hello Nina", agent="sam")

    stream = customer.get(f"/chat/{token}/stream", headers={"Last-Event-ID": str(first)})
    body = stream.get_data(as_text=True)
    assert stream.mimetype == "text/event-stream" and stream.headers["X-Accel-Buffering"] == "no"
    ids = [int(i) for i in re.findall(r"^id: (\d+)$", body, re.M)]
    assert ids == [first + 1, first + 2] and "An agent has joined the chat." in body and "Hello Nina" in body
    assert "sam" not in body  # the customer's view names no staff
    assert "event: state" in body and "retry: 2000" in body
    again = customer.get(f"/chat/{token}/stream", headers={"Last-Event-ID": str(ids[-1])}).get_data(as_text=True)
    assert "id:" not in again

    care.chats.close(chat_id, "agent", agent="sam")
    ended = customer.get(f"/chat/{token}/stream", headers={"Last-Event-ID": str(ids[-1])}).get_data(as_text=True)
    assert "The agent ended the chat." in ended and "event: end" in ended


def test_without_an_intake_process_the_transcript_is_still_a_contact(care):
    care.identity.add_group("support")
    care.identity.add_user("sam", "staff", ["support"], password=None)
    chat_id = care.chats.start(topic="support", name="Nina", email="nina@example.org", language="de").chat["id"]
    care.chats.post(chat_id, "customer", "Hallo")
    care.chats.close(chat_id, "customer")
    with care.db.read() as session:
        contact = session.scalar(select(Contact).where(Contact.channel == "chat"))
    assert (contact.customer_id, contact.instance_id) == ("web:nina@example.org", None)
    assert "Nina: Hallo" in contact.text and "The customer ended the chat." in contact.text
