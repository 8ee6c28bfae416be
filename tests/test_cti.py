"""Zammad's generic CTI API replayed against a real carecenter on 127.0.0.1, in JSON and form encoding.

A phone system posts ``newCall``, ``answer`` and ``hangup`` to ``/api/cti/{token}``: the call is in
the caller log, answered or missed, and logged as a contact on the customer whose number it is,
however the number is written; a wrong or revoked token is 401 and stores nothing; a blocked
caller is rejected. The events are sent as the generic CTI API documents them, unchanged.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from engine.models import Call, CallEvent, Contact
from process_library.csv_import import import_csv
from tests.conftest import make_engine
from tests.live_server import live_server

PASSWORD = "correct horse battery"
# Each number written as people write it in its country; the phone system sends them otherwise.
CUSTOMERS = """id,name,email,phone
C-1,Ada Lovelace,ada@example.com,030/1234567
C-2,Borealis Dental,office@borealis.example,+44 20 7946 0018
C-3,Jiri Dvorak,jiri@example.cz,+420 601 234 567
"""
OUR_NUMBER = "4989123456"


def post(url: str, fields: dict, encoding: str) -> tuple[int, dict]:
    """POST one event as a phone system does: JSON, or form fields with ``user[]`` repeated."""
    if encoding == "json":
        body, content_type = json.dumps(fields).encode(), "application/json"
    else:
        pairs = []
        for name, value in fields.items():
            if name == "user":
                pairs += [("user[]", user) for user in (value if isinstance(value, list) else [value])]
            else:
                pairs.append((name, value))
        body, content_type = urllib.parse.urlencode(pairs).encode(), "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, body, {"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def call_events(caller: str, *, answered_by: str | None, cause: str, direction: str = "in") -> list[dict]:
    """The events of one call as the generic CTI API sends them: newCall, answer (if answered), hangup."""
    call_id = uuid.uuid4().hex
    ours, theirs = OUR_NUMBER, caller
    base = {
        "from": theirs if direction == "in" else ours,
        "to": ours if direction == "in" else theirs,
        "direction": direction,
        "callId": call_id,
    }
    events = [{"event": "newCall", **base, "user": ["Sam Agent", "Bella Agent"], "queue": "support"}]
    if answered_by:
        events.append({"event": "answer", **base, "user": "Sam Agent", "answeringNumber": answered_by})
    hangup = {"event": "hangup", **base, "cause": cause}
    if answered_by:
        hangup["answeringNumber"] = answered_by
    events.append(hangup)
    return events


@pytest.fixture
def phone(database_url, clock):
    """A care center with customers and an agent, served on 127.0.0.1, and a phone system's CTI URL."""
    care = make_engine(database_url, clock)
    care.identity.add_group("support")
    care.identity.add_user("sam", "staff", ["support"], password=PASSWORD, display_name="Sam Agent")
    import_csv(care.db, "customers", CUSTOMERS)
    _, token = care.cti.create("office PBX", "test")
    with live_server(care) as base:
        yield care, base, token, clock
    care.close()


def rows(care, model) -> int:
    with care.db.read() as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("encoding", ["json", "form"])
def test_an_answered_call_is_logged_on_the_customer_whose_number_it_is(phone, encoding):
    care, base, token, clock = phone
    url = f"{base}/api/cti/{token}"
    events = call_events("49301234567", answered_by="sam", cause="normalClearing")  # Ada's 030/1234567
    assert post(url, events[0], encoding) == (200, {})
    clock.advance(timedelta(seconds=8))
    assert post(url, events[1], encoding) == (200, {})
    clock.advance(timedelta(minutes=3, seconds=12))
    assert post(url, events[2], encoding) == (200, {})
    with care.db.read() as session:
        call = session.scalar(select(Call))
        contact = session.get(Contact, call.contact_id)
        kinds = list(session.scalars(select(CallEvent.kind).order_by(CallEvent.id)))
    assert (call.number, call.customer_id, call.status, call.agent, call.cause) == (
        "+49301234567",
        "C-1",
        "answered",
        "sam",
        "normalClearing",
    )
    assert call.users == ["Sam Agent", "Bella Agent"] and call.queue == "support"
    assert (call.ended_at - call.answered_at) == timedelta(minutes=3, seconds=12)
    assert kinds == ["newCall", "answer", "hangup"]
    logged = (contact.customer_id, contact.channel, contact.direction, contact.recorded_by)
    assert logged == ("C-1", "phone", "in", "sam")
    assert contact.subject == "Phone call"
    assert "+49 30 1234567" in contact.text and "Answered by sam, 3:12 min" in contact.text
    # the staff see it on the customer's page and in the caller log, without anyone typing it
    site = signed_in(base, "sam")
    page = site.get(f"{base}/customers/C-1")
    assert "Phone call" in page and "Call from +49 30 1234567." in page and "Answered by sam, 3:12 min" in page
    site.opener.addheaders = [("Accept-Language", "cs")]
    page = site.get(f"{base}/customers/C-1")
    assert "Telefonát" in page and "Hovor z čísla +49 30 1234567." in page and "Přijal(a) sam, 3:12 min." in page
    site.opener.addheaders = []
    log = site.get(f"{base}/calls")
    row = re.search(r'<tr data-call="\d+">(.*?)</tr>', log, re.S)[1]
    for shown in ("+49 30 1234567", "Ada Lovelace", "Incoming", "Answered", "3:12", "sam"):
        assert shown in row, shown


@pytest.mark.parametrize("encoding", ["json", "form"])
def test_a_missed_call_is_logged_as_missed(phone, encoding):
    care, base, token, clock = phone
    url = f"{base}/api/cti/{token}"
    events = call_events("00442079460018", answered_by=None, cause="cancel")  # Borealis, dialled from abroad
    for event in events:
        assert post(url, event, encoding) == (200, {})
        clock.advance(timedelta(seconds=20))
    with care.db.read() as session:
        call = session.scalar(select(Call))
        contact = session.get(Contact, call.contact_id)
    assert (call.customer_id, call.status, call.cause, call.agent, call.answered_at) == (
        "C-2",
        "missed",
        "cancel",
        None,
        None,
    )
    assert (contact.customer_id, contact.subject, contact.recorded_by) == ("C-2", "Missed call", "cti:office PBX")
    assert "Not answered (cancel)." in contact.text
    site = signed_in(base, "sam")
    page = site.get(f"{base}/customers/C-2")
    assert "Missed call" in page and "Not answered (the caller hung up)." in page
    site.opener.addheaders = [("Accept-Language", "de")]  # the page describes the call in the reader's language
    page = site.get(f"{base}/customers/C-2")
    assert "Verpasster Anruf" in page and "Nicht angenommen (der Anrufer hat aufgelegt)." in page
    assert "erfasst von der Telefonanlage office PBX" in page
    assert "Not answered" not in page and "Missed call" not in page


def test_a_call_out_is_logged_as_going_to_the_customer(phone):
    care, base, token, clock = phone
    url = f"{base}/api/cti/{token}"
    events = call_events("420601234567", answered_by="sam", cause="normalClearing", direction="out")
    events[0]["user"] = "Sam Agent"  # the calling agent, by display name
    for event in events:
        assert post(url, event, "json") == (200, {})
        clock.advance(timedelta(seconds=30))
    with care.db.read() as session:
        call = session.scalar(select(Call))
        contact = session.get(Contact, call.contact_id)
    assert (call.direction, call.number, call.customer_id, call.agent) == ("out", "+420601234567", "C-3", "sam")
    assert (contact.direction, contact.customer_id) == ("out", "C-3")
    assert contact.text.startswith("Call to +420 601 234 567.")


def test_form_fields_as_curl_sends_them_quoted_and_multipart(phone):
    """The generic CTI API's own curl examples (``--form 'event="newCall"'``) send multipart with quotes."""
    care, base, token, _ = phone
    boundary = "cti-boundary"
    fields = [
        ("event", '"newCall"'),
        ("from", '"0301234567"'),
        ("to", f'"{OUR_NUMBER}"'),
        ("direction", '"in"'),
        ("callId", '"25641e3f-3317"'),
        ("user[]", '"Sam Agent"'),
        ("user[]", '"Bella Agent"'),
    ]
    body = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n' for name, value in fields
    )
    body += f"--{boundary}--\r\n"
    request = urllib.request.Request(
        f"{base}/api/cti/{token}",
        body.encode(),
        {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert (response.status, json.loads(response.read())) == (200, {})
    with care.db.read() as session:
        call = session.scalar(select(Call))
    assert (call.call_id, call.customer_id, call.users) == ("25641e3f-3317", "C-1", ["Sam Agent", "Bella Agent"])


@pytest.mark.parametrize("encoding", ["json", "form"])
def test_a_wrong_or_revoked_token_is_refused_and_nothing_is_stored(phone, encoding):
    care, base, token, _ = phone
    event = call_events("0301234567", answered_by=None, cause="cancel")[0]
    for wrong in (token[:-1] + ("A" if token[-1] != "A" else "B"), "x", token + "x"):
        status, body = post(f"{base}/api/cti/{wrong}", event, encoding)
        assert (status, body["status"]) == (401, 401)
    revoked = care.cti.create("old PBX", "test")
    care.cti.revoke(revoked[0]["id"])
    assert post(f"{base}/api/cti/{revoked[1]}", event, encoding)[0] == 401
    assert (rows(care, Call), rows(care, CallEvent), rows(care, Contact)) == (0, 0, 0)


@pytest.mark.parametrize("encoding", ["json", "form"])
def test_a_blocked_number_is_rejected_in_any_notation_and_pops_up_for_nobody(phone, encoding):
    care, base, token, _ = phone
    care.cti.block("+49 (0)30 123 45 67", "calls every hour", "test")  # Ada's number, written another way
    url = f"{base}/api/cti/{token}"
    events = call_events("0049301234567", answered_by=None, cause="busy")
    assert post(url, events[0], encoding) == (200, {"action": "reject", "reason": "busy"})
    assert care.calls.going_on() == []
    assert post(url, events[1], encoding) == (200, {})  # the phone system still reports the hangup
    with care.db.read() as session:
        call = session.scalar(select(Call))
    assert (call.blocked, call.status, call.contact_id) == (True, "missed", None)
    assert rows(care, Contact) == 0
    # an unblocked number, and calls out, are never rejected
    other = call_events("02079460018", answered_by=None, cause="cancel")
    assert post(url, other[0], encoding) == (200, {})
    out = call_events("0301234567", answered_by=None, cause="cancel", direction="out")
    assert post(url, out[0], encoding) == (200, {})


def test_bad_events_are_refused_with_a_clear_error_and_store_nothing(phone):
    care, base, token, _ = phone
    url = f"{base}/api/cti/{token}"
    good = call_events("0301234567", answered_by=None, cause="cancel")[0]
    for broken, says in (
        ({**good, "event": "ring"}, "'event' must be one of newCall, answer, hangup"),
        ({key: value for key, value in good.items() if key != "callId"}, "'callId' is required"),
        ({**good, "direction": "sideways"}, "'direction' must be in or out"),
        ({**good, "callId": "x" * 251}, "'callId' must be at most 250 characters"),
        ({**good, "from": {"number": 1}}, "'from' must be a string"),
    ):
        status, body = post(url, broken, "json")
        assert (status, body["type"]) == (400, "/problems/invalid-request"), broken
        assert says in body["detail"]
    request = urllib.request.Request(url, b"[1, 2]", {"Content-Type": "application/json"}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    assert (rows(care, Call), rows(care, CallEvent)) == (0, 0)


def test_repeated_and_late_events_change_nothing_twice(phone):
    care, base, token, clock = phone
    url = f"{base}/api/cti/{token}"
    new_call, answer, hangup = call_events("0301234567", answered_by="sam", cause="normalClearing")
    for event in (new_call, new_call, answer):
        assert post(url, event, "json") == (200, {})
    clock.advance(timedelta(seconds=61))
    for event in (hangup, hangup, answer):  # a retried hangup, and an answer arriving after it
        assert post(url, event, "json") == (200, {})
    with care.db.read() as session:
        call = session.scalar(select(Call))
    assert (rows(care, Call), rows(care, CallEvent), rows(care, Contact)) == (1, 6, 1)
    assert (call.status, call.ended_at - call.answered_at) == ("answered", timedelta(seconds=61))


def test_an_unknown_caller_is_in_the_log_and_logged_once_filed_during_the_call(phone):
    care, base, token, clock = phone
    url = f"{base}/api/cti/{token}"
    new_call, answer, hangup = call_events("+49 40 98765432", answered_by="sam", cause="normalClearing")
    post(url, new_call, "json")
    post(url, answer, "json")
    log = signed_in(base, "sam").get(f"{base}/calls")
    assert "unknown" in re.search(r'<tr data-call="\d+">(.*?)</tr>', log, re.S)[1]
    # the agent files the caller while talking, with the number as they say it
    import_csv(care.db, "customers", "id,name,email,phone\nC-9,Nina Neu,nina@example.com,040 98765432\n")
    post(url, hangup, "json")
    with care.db.read() as session:
        call = session.scalar(select(Call))
        contact = session.get(Contact, call.contact_id)
    assert (call.customer_id, contact.customer_id) == ("C-9", "C-9")


def test_the_token_never_reaches_the_log(phone, caplog):
    care, base, token, _ = phone
    caplog.set_level(logging.DEBUG)
    url = f"{base}/api/cti/{token}"
    for event in call_events("0301234567", answered_by="sam", cause="normalClearing"):
        post(url, event, "form")
    post(f"{base}/api/cti/{token}x", {"event": "newCall"}, "json")
    with care.db.engine.begin() as connection:  # a real fault: the events table is gone
        connection.execute(text("ALTER TABLE call_events RENAME TO call_events_away"))
    try:
        status, _ = post(url, call_events("0301234567", answered_by=None, cause="cancel")[0], "json")
    finally:
        with care.db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE call_events_away RENAME TO call_events"))
    assert status == 500
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "unhandled error on POST /api/cti/<token>" in logged
    assert token not in logged and token not in caplog.text


# -- signed in as staff, over HTTP ---------------------------------------------------------------


class Site:
    """A staff member's browser session on the live server, without a browser: cookies and the CSRF token."""

    def __init__(self, base: str) -> None:
        import http.cookiejar

        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, url: str) -> str:
        with self.opener.open(url, timeout=10) as response:
            return response.read().decode()

    def post(self, url: str, fields: dict) -> tuple[int, str]:
        request = urllib.request.Request(url, urllib.parse.urlencode(fields).encode(), method="POST")
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def csrf(self, page: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def signed_in(base: str, username: str) -> Site:
    site = Site(base)
    token = site.csrf(site.get(f"{base}/login"))
    status, _ = site.post(f"{base}/login", {"username": username, "password": PASSWORD, "csrf_token": token})
    assert status == 200
    return site
