"""The calls pages, the screen-pop stream and the API around calls, on a real server on 127.0.0.1.

The agent chooses the case during the call and the hangup logs it there; a softphone's URL opens
the caller's page or the new-caller form with the number; the stream sends a ringing call to a
signed-in page, and beyond its limit of streams answers at once and closes (polling); admins
create CTI URLs from the public URL only, and block numbers; staff read ``GET /api/calls``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import socket
import threading
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from sqlalchemy import select

from api.pages.staff import calls as call_pages
from engine.models import Call, Contact
from engine.runtime import StartRequest
from engine.tasks import TaskFilter
from process_library.csv_import import import_csv
from tests.conftest import make_engine, source
from tests.live_server import live_server
from tests.test_cti import CUSTOMERS, PASSWORD, call_events, post, signed_in

PUBLIC = "https://care.example.com"


@pytest.fixture
def office(database_url, clock):
    """Customers (one with an open case), staff and an admin, a CTI URL, served on 127.0.0.1."""
    care = make_engine(database_url, clock)
    care.repository.deploy([source("hello_care.bpmn")], "test", "test")
    care.identity.add_group("support")
    care.identity.add_user("sam", "staff", ["support"], password=PASSWORD, display_name="Sam Agent")
    care.identity.add_user("ada", "admin", password=PASSWORD)
    care.identity.add_user("pbx", "integration", password=None)
    import_csv(care.db, "customers", CUSTOMERS)
    case, _ = care.runtime.start(StartRequest("hello_care", {"subject": "Printer"}, customer_id="C-1"), "test")
    _, token = care.cti.create("office PBX", "test")
    with live_server(care) as base:
        care.settings = dataclasses.replace(care.settings, public_url=PUBLIC)  # links go there, whatever the request
        yield care, base, token, case
    care.close()


def answered_call(office) -> tuple[str, dict, object]:
    """A call from Ada's number answered by sam: the CTI URL, the hangup still to send, sam's signed-in browser."""
    care, base, token, case = office
    new_call, answer, hangup = call_events("+49 30 1234567", answered_by="sam", cause="normalClearing")
    url = f"{base}/api/cti/{token}"
    post(url, new_call, "json")
    post(url, answer, "json")
    return url, hangup, signed_in(base, "sam")


def test_the_agent_chooses_the_case_during_the_call_and_the_hangup_logs_it_there(office):
    care, base, token, case = office
    url, hangup, site = answered_call(office)
    page = site.get(f"{base}/calls")  # without JavaScript: the call going on, with its form
    call_id = int(re.search(r'action="/calls/(\d+)/choice"', page)[1])
    assert "Ada Lovelace" in page and case["reference"] in page
    fields = {
        "csrf_token": site.csrf(page),
        "request": str(case["id"]),
        "subject": "Printer again",
        "note": "Paper jam.",
    }
    status, after = site.post(f"{base}/calls/{call_id}/choice", {**fields, "next": "https://evil.example/"})
    assert status == 200 and "Saved. The call is logged with it when it ends." in after  # back on /calls, not evil
    post(url, hangup, "json")
    with care.db.read() as session:
        call = session.get(Call, call_id)
        contact = session.get(Contact, call.contact_id)
    assert (contact.instance_id, contact.subject, contact.customer_id) == (case["id"], "Printer again", "C-1")
    assert contact.text.endswith("Paper jam.")
    # the case's conversation on its task page describes the call in the reader's language
    [task] = care.tasks.list(TaskFilter(instance_id=case["id"]), 10, None).items
    site.opener.addheaders = [("Accept-Language", "de")]
    task_page = site.get(f"{base}/tasks/{task['id']}")
    site.opener.addheaders = []
    for shown in ("Printer again", "Anruf von +49 30 1234567.", "Angenommen von sam", "Paper jam."):
        assert shown in task_page, shown
    assert "Call from" not in task_page
    # logged: the form is gone, and choosing again is refused without changing anything
    status, _ = site.post(f"{base}/calls/{call_id}/choice", {**fields, "subject": "Other"})
    with care.db.read() as session:
        assert session.get(Call, call_id).subject == "Printer again"
    # a case that is not the customer's is refused
    other = call_events("0301234567", answered_by="sam", cause="normalClearing")
    post(url, other[0], "json")
    with care.db.read() as session:
        second = session.scalar(select(Call.id).where(Call.call_id == other[0]["callId"]))
    page = site.get(f"{base}/calls")
    status, answer_page = site.post(
        f"{base}/calls/{second}/choice", {"csrf_token": site.csrf(page), "request": "999999", "subject": "x"}
    )
    assert "Choose one of the options." in answer_page
    with care.db.read() as session:
        assert session.get(Call, second).instance_id is None


def test_the_screen_pop_form_answers_with_the_pop_itself(office):
    care, base, token, case = office
    new_call = call_events("0301234567", answered_by=None, cause="cancel")[0]
    post(f"{base}/api/cti/{token}", new_call, "json")
    site = signed_in(base, "sam")
    page = site.get(f"{base}/calls")
    call_id = re.search(r'action="/calls/(\d+)/choice"', page)[1]
    request = urllib.request.Request(
        f"{base}/calls/{call_id}/choice",
        urllib.parse.urlencode({"csrf_token": site.csrf(page), "request": str(case["id"]), "subject": "S"}).encode(),
        {"X-Screen-Pop": "1"},
        method="POST",
    )
    with site.opener.open(request, timeout=10) as response:
        fragment = response.read().decode()
    assert response.status == 200 and fragment.strip().startswith('<section class="call-pop ringing"')
    assert "Saved. The call is logged with it when it ends." in fragment and "<html" not in fragment


def test_the_caller_log_says_why_a_call_was_missed_in_words(office):
    care, base, token, _ = office
    for event in call_events("0301234567", answered_by=None, cause="cancel"):
        post(f"{base}/api/cti/{token}", event, "json")
    page = signed_in(base, "sam").get(f"{base}/calls")
    assert "(the caller hung up)" in page and ">cancel<" not in page


def test_the_softphone_url_opens_the_caller_or_the_new_caller_form(office):
    care, base, _, _ = office
    site = signed_in(base, "sam")
    for typed in ("030/1234567", "+49 30 1234567", "0049301234567", "493012345 67"):
        with site.opener.open(f"{base}/calls/incoming?from={urllib.parse.quote(typed)}", timeout=10) as response:
            assert response.url.endswith("/customers/C-1"), typed
    with site.opener.open(f"{base}/calls/incoming?from=040%2098765432", timeout=10) as response:
        page = response.read().decode()
    assert "/customers/new" in response.url and 'value="+49 40 98765432"' in page  # prefilled
    import_csv(care.db, "customers", "id,name,email,phone\nC-8,Ada Two,two@example.com,+49301234567\n")
    page = site.get(f"{base}/calls/incoming?from=0301234567")
    assert "Several customers have the number +49 30 1234567" in page and "/customers/C-8" in page
    with pytest.raises(urllib.error.HTTPError) as refused:
        site.get(f"{base}/calls/incoming?from=anonymous")
    assert refused.value.code == 400 and "is not a phone number" in refused.value.read().decode()


def read_events(response, wanted: int, timeout: float = 10.0) -> list[tuple[str, dict]]:
    """Server-sent events (name, data) from a streaming response, until ``wanted`` of them or its end."""
    response.fp.raw._sock.settimeout(timeout)
    events, name, data = [], None, []
    for raw in response:
        line = raw.decode().rstrip("\r\n")
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif line == "" and name:
            events.append((name, json.loads("\n".join(data))))
            name, data = None, []
            if len(events) >= wanted:
                break
    return events


def test_a_ringing_call_reaches_a_signed_in_stream(office):
    care, base, token, case = office
    site = signed_in(base, "sam")
    stream = site.opener.open(f"{base}/calls/stream", timeout=10)
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    assert read_events(stream, 1) == [("going-on", [])]
    new_call = call_events("+49 30 1234567", answered_by=None, cause="cancel")[0]
    threading.Timer(0.2, post, (f"{base}/api/cti/{token}", new_call, "form")).start()
    [(name, pop)] = read_events(stream, 1)
    stream.close()
    assert (name, pop["state"]) == ("call", "ringing")
    assert "Incoming call" in pop["html"] and "Ada Lovelace" in pop["html"] and case["reference"] in pop["html"]


def test_beyond_its_limit_the_stream_answers_at_once_and_the_browser_polls(office, monkeypatch):
    care, base, token, _ = office
    post(f"{base}/api/cti/{token}", call_events("0301234567", answered_by=None, cause="cancel")[0], "json")
    monkeypatch.setattr(call_pages, "MAX_STREAMS", 1)
    site = signed_in(base, "sam")
    first = site.opener.open(f"{base}/calls/stream", timeout=10)
    assert [name for name, _ in read_events(first, 2)] == ["going-on", "call"]
    with site.opener.open(f"{base}/calls/stream", timeout=10) as second:  # no slot left: answered and closed
        body = second.read().decode()
    assert "event: going-on" in body and "event: call" in body and body.rstrip().endswith("retry: 2000")
    first.close()


def test_the_stream_and_pages_are_for_staff(office):
    care, base, _, _ = office
    anonymous = urllib.request.build_opener(NoRedirect())
    for path in ("/calls", "/calls/stream", "/calls/incoming?from=0301234567", "/admin/telephony"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            anonymous.open(f"{base}{path}", timeout=10)
        assert refused.value.code == 302 and "/login" in refused.value.headers["Location"], path
    with pytest.raises(urllib.error.HTTPError) as forbidden:
        signed_in(base, "sam").get(f"{base}/admin/telephony")
    assert forbidden.value.code == 403


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_admins_create_cti_urls_on_the_public_url_only_once_and_revoke_them(office):
    care, base, _, _ = office
    _, admin_token = care.tokens.create("admin")
    request = urllib.request.Request(
        f"{base}/api/cti/integrations",
        json.dumps({"name": "Asterisk"}).encode(),
        {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {admin_token}",
            "X-Forwarded-Host": "evil.example",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        created = json.loads(response.read())
    assert response.status == 201 and created["url"] == f"{PUBLIC}/api/cti/{created['token']}"
    listed = api(base, admin_token, "/api/cti/integrations")
    assert created["token"] not in json.dumps(listed) and {i["name"] for i in listed["items"]} == {
        "Asterisk",
        "office PBX",
    }
    event = call_events("0301234567", answered_by=None, cause="cancel")[0]
    assert post(f"{base}/api/cti/{created['token']}", event, "json")[0] == 200
    api(base, admin_token, f"/api/cti/integrations/{created['id']}/revoke", {})
    assert post(f"{base}/api/cti/{created['token']}", event, "json")[0] == 401
    # the page shows the new URL once, from the public URL too
    site = signed_in(base, "ada")
    page = site.get(f"{base}/admin/telephony")
    status, answer = site.post(
        f"{base}/admin/telephony/integrations", {"csrf_token": site.csrf(page), "name": "Sipgate"}
    )
    url = re.search(r'id="new-cti-url"[^>]*>([^<]+)</textarea>', answer)[1]
    assert status == 200 and url.startswith(f"{PUBLIC}/api/cti/")
    listed = site.get(f"{base}/admin/telephony")
    assert url not in listed
    assert '<summary aria-label="Revoke Sipgate…">Revoke…</summary>' in listed  # two clicks: it cannot be undone


def test_admins_block_numbers_in_any_notation_once(office):
    care, base, token, _ = office
    site = signed_in(base, "ada")
    page = site.get(f"{base}/admin/telephony")
    status, answer = site.post(
        f"{base}/admin/telephony/blocked", {"csrf_token": site.csrf(page), "number": "030 1234567"}
    )
    assert status == 200 and "Calls from +49 30 1234567 are rejected from now on." in answer
    for typed, says in (
        ("+49 30 123 4567", "This number is blocked already."),
        ("spam", "This is not a phone number."),
    ):
        status, answer = site.post(f"{base}/admin/telephony/blocked", {"csrf_token": site.csrf(page), "number": typed})
        assert status in (409, 422) and says in answer
    assert [row["number"] for row in care.cti.blocked()] == ["+49301234567"]
    event = call_events("0049 30 1234567", answered_by=None, cause="busy")[0]
    assert post(f"{base}/api/cti/{token}", event, "json") == (200, {"action": "reject", "reason": "busy"})


def api(base: str, token: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}", **({"Content-Type": "application/json"} if data else {})}
    request = urllib.request.Request(f"{base}{path}", data, headers, method="POST" if data else "GET")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_staff_read_the_caller_log_through_the_api_page_by_page(office, clock):
    care, base, token, _ = office
    for caller in ("0301234567", "00442079460018", "+420601234567"):
        for event in call_events(caller, answered_by="sam", cause="normalClearing"):
            post(f"{base}/api/cti/{token}", event, "json")
            clock.advance(timedelta(seconds=30))
    _, staff = care.tokens.create("sam's", username="sam")
    first = api(base, staff, "/api/calls?limit=2")
    assert [c["customer_id"] for c in first["items"]] == ["C-3", "C-2"] and first["next"]
    second = api(base, staff, first["next"].removeprefix(PUBLIC).removeprefix(base))
    assert [c["customer_id"] for c in second["items"]] == ["C-1"] and second["next"] is None
    one = second["items"][0]
    assert (one["status"], one["duration_seconds"], one["agent"], one["number"]) == (
        "answered",
        30,
        "sam",
        "+49301234567",
    )
    assert [c["id"] for c in api(base, staff, "/api/calls?number=030%2F1234567")["items"]] == [one["id"]]
    assert api(base, staff, f"/api/calls/{one['id']}") == one
    _, integration = care.tokens.create("pbx's", username="pbx")
    with pytest.raises(urllib.error.HTTPError) as forbidden:
        api(base, integration, "/api/calls")
    assert forbidden.value.code == 403


def test_a_stream_of_a_closed_tab_frees_its_thread(office, monkeypatch):
    """The heartbeat finds a closed connection: the stream's slot is free again for the next page."""
    care, base, _, _ = office
    monkeypatch.setattr(call_pages, "HEARTBEAT", 0.1)
    monkeypatch.setattr(call_pages, "MAX_STREAMS", 1)
    site = signed_in(base, "sam")
    first = site.opener.open(f"{base}/calls/stream", timeout=10)
    read_events(first, 1)
    first.fp.raw._sock.shutdown(socket.SHUT_RDWR)
    first.close()
    deadline = threading.Event()
    for _ in range(50):
        with site.opener.open(f"{base}/calls/stream", timeout=10) as again:
            again.readline(), again.readline()  # ": calls" and its blank line
            head = again.readline().decode()
        if head.startswith("retry: 1000"):
            break
        deadline.wait(0.1)
    else:
        pytest.fail("the closed stream kept its slot")


def test_a_call_nobody_gave_a_subject_reads_in_each_readers_language(office):
    """The pop leaves the subject empty (its placeholder shows the default); the call is logged under the default's
    English key, which the customer's portal and the staff's pages show in their own language."""
    from api.app import create_app
    from tests.test_portal_session import portal_mails

    care, base, token, case = office
    url, hangup, site = answered_call(office)
    site.opener.addheaders = [("Accept-Language", "de")]  # a German-speaking agent
    page = site.get(f"{base}/calls")
    subject_input = re.search(r'<input type="text" id="[\w-]+-subject" name="subject"[^>]*>', page)[0]
    assert 'value=""' in subject_input and 'placeholder="Telefonat"' in subject_input
    call_id = re.search(r'action="/calls/(\d+)/choice"', page)[1]
    fields = {"csrf_token": site.csrf(page), "request": str(case["id"]), "subject": "", "note": "Paper jam."}
    site.post(f"{base}/calls/{call_id}/choice", fields)
    post(url, hangup, "json")
    with care.db.read() as session:
        assert session.get(Contact, session.get(Call, int(call_id)).contact_id).subject == "Phone call"
    assert "Telefonat" in site.get(f"{base}/customers/C-1")
    site.opener.addheaders = []
    staff_page = site.get(f"{base}/customers/C-1")
    assert '<p class="contact-subject">Phone call</p>' in staff_page
    portal = create_app(care).test_client()
    on_site = functools.partial(portal.open, base_url=PUBLIC)  # the customer is on the public site
    token = re.search(r'name="csrf_token" value="([^"]+)"', on_site("/portal?lang=cs").text)[1]
    on_site("/portal/link?lang=cs", method="POST", data={"email": "ada@example.com", "csrf_token": token})
    mailed = portal_mails(care, "ada@example.com")[-1].body
    link = on_site(re.search(rf"{re.escape(PUBLIC)}(/portal/signin\?token=[^\s&]+&lang=\w+)", mailed)[1]).text
    fields = {name: re.search(rf'name="{name}" value="([^"]+)"', link)[1] for name in ("token", "csrf_token")}
    assert on_site("/portal/signin", method="POST", data=fields).status_code == 303
    account = on_site("/portal/account?lang=cs").text
    assert "Telefonát" in account and "Phone call" not in account and "Telefonat" not in account
