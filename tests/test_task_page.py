"""The task page through the Flask test client, on SQLite and PostgreSQL: the case first (customer, reference,
process, stage, due time, the conversation without reprs), internal notes, complete and next, reassigning by
team leads, and the pages in German."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path

import pytest

from api.app import create_app
from api.pages.staff import tasks as task_pages
from engine.bpmn import SourceFile
from engine.clock import VirtualClock
from engine.forms import MESSAGES
from engine.models import Contact, HistoryEvent, ProcessInstance
from engine.runtime import StartRequest
from process_library.csv_import import import_csv
from tests.conftest import make_engine, source
from tests.test_page_texts import catalog

PASSWORD = "correct horse battery"
SAMPLE = Path(__file__).resolve().parent.parent / "process_library" / "sample"
INQUIRY_FILES = ("inquiry_intake.bpmn", "escalation.bpmn", "classify_inquiry.dmn", "inquiry_sla.dmn")
ACME = {"id": "C-1001", "name": "Acme Logistics GmbH", "email": "it@acme-logistics.example"}
# A user task for the team in ${team}, due after the duration in ``sla``: a queue to work through.
QUEUE = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="queue_defs" targetNamespace="urn:test">
  <bpmn:process id="queue" name="Work queue" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="work" name="Work item">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="candidate_groups" value="${team}" />
        <spiffworkflow:property name="due" value="sla" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""
# What a page must never show: Python reprs and JSON of dicts and lists.
REPR = re.compile(r"\{'|'\}|\['|'\]|\{\"|\"\}|\[\"|\"\]|': |\": |\bNone\b")


@pytest.fixture
def care(any_database_url):
    engine = make_engine(any_database_url, VirtualClock())
    for group in ("support", "billing", "team_lead"):
        engine.identity.add_group(group)
    for name, groups, shown in (
        ("sam", ["support"], "Sam Carter"),
        ("tom", ["support"], "Tom Berg"),
        ("bea", ["billing"], "Bea Novak"),
        ("tina", ["support", "team_lead"], "Tina Lead"),
    ):
        engine.identity.add_user(name, "staff", groups, password=PASSWORD, display_name=shown)
    engine.identity.add_user("old", "staff", ["support"], password=PASSWORD, display_name="Old Timer")
    engine.identity.update_user(engine.identity.by_name("old").id, disabled=True)
    yield engine
    engine.close()


@pytest.fixture
def app(care):
    return create_app(care)


def csrf(page: bytes) -> str:
    return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()


def sign_in(app, username: str):
    client = app.test_client()
    token = csrf(client.get("/login").data)
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    client.token = csrf(client.get("/").data)
    return client


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def inquiry_case(care, clock_step="PT10M"):
    """An e-mailed inquiry from Acme, answered once by sam, then a reply from the customer: a second answer is due."""
    for kind in ("customers", "systems", "licenses"):
        import_csv(care.db, kind, (SAMPLE / f"{kind}.csv").read_text())
    care.repository.deploy([source(name) for name in INQUIRY_FILES], "test", "test")
    started = care.intake.submit(
        channel="email",
        customer=ACME,
        subject="Router R2 blinks red",
        body='Our router "R2" blinks red since Monday.\nWe restarted it twice.',
        reference=None,
        principal="mailer",
    )
    care.jobs.run_due("test")
    first = care.runtime.get(started.instance_id)["tasks"][0]
    care.clock.advance(clock_step)
    care.tasks.complete(first["id"], {"answer": "Please update the firmware.", "resolution": "workaround"}, "sam")
    care.jobs.run_due("test")
    care.clock.advance(clock_step)
    care.intake.submit(
        channel="phone",
        customer=ACME,
        subject="Still red",
        body="The update did not help.",
        reference=started.reference,
        principal="desk",
    )
    return started, care.runtime.get(started.instance_id)["tasks"][0]


def queue(care, team: str, sla: str) -> int:
    care.clock.advance("PT1M")  # creation order is time order
    instance = care.runtime.start(StartRequest("queue", {"team": team, "sla": sla}), "test")[0]
    return instance["tasks"][0]["id"]


def test_the_case_comes_first_and_reads_as_a_conversation(app, care):
    started, task = inquiry_case(care)
    sam = sign_in(app, "sam")
    response = sam.get(f"/tasks/{task['id']}")
    assert response.status_code == 200
    page = text_of(response)
    assert '<a href="/customers/C-1001">Acme Logistics GmbH</a>' in page
    assert f'<dd id="reference">{started.reference}</dd>' in page
    assert ">Inquiry</a>" in page and 'id="stage">In review<' in page and "inquiry_intake" not in page
    assert started.tracking_code not in page
    # oldest first: the inquiry, sam's answer (form values by their labels), the customer's reply by phone
    words = ['Our router "R2" blinks red since Monday.\nWe restarted it twice.', "Please update the firmware."]
    words += ["The update did not help."]
    positions = [page.index(w) for w in words]
    assert positions == sorted(positions)
    assert "Sam Carter" in page and "Answer to the customer" in page and "E-mail" in page and "Phone" in page
    assert "workaround" in page and "needs_follow_up" not in page.split('id="form-title"')[0]
    conversation = page.split('id="conversation-title"')[1].split('id="notes-title"')[0]
    assert not REPR.search(conversation), REPR.search(conversation)
    assert page.index('id="conversation-title"') < page.index('id="notes-title"') < page.index('id="form-title"')
    assert "overdue" not in page.split('id="due"')[1].split("</dd>")[0]
    care.clock.advance("PT5H")  # past the answer time
    assert "(overdue)" in text_of(sam.get(f"/tasks/{task['id']}")).split('id="due"')[1].split("</dd>")[0]


def test_the_contact_history_is_the_conversation_where_the_channels_wrote_it(app, care):
    started, task = inquiry_case(care)
    with care.db.write() as session:
        at = care.clock.now()
        for minutes, direction, channel, subject, text in (
            (-50, "in", "email", "Router R2 blinks red", "As mailed: our router blinks red."),
            (-20, "out", "email", "Re: Router R2", "Please update the firmware (mailed)."),
            (-5, "in", "chat", None, "Chatting: still red."),
        ):
            session.add(
                Contact(
                    customer_id="C-1001",
                    instance_id=started.instance_id,
                    channel=channel,
                    direction=direction,
                    subject=subject,
                    text=text,
                    recorded_by="sam" if direction == "out" else "mailer",
                    created_at=at + timedelta(minutes=minutes),
                )
            )
    page = text_of(sign_in(app, "sam").get(f"/tasks/{task['id']}"))
    talk = page.split('id="conversation-title"')[1].split('id="notes-title"')[0]
    words = ["As mailed: our router blinks red.", "Please update the firmware (mailed).", "Chatting: still red."]
    assert [talk.index(w) for w in words] == sorted(talk.index(w) for w in words)
    assert "Chat" in talk and "Sam Carter" in talk
    # intake recorded the inquiry as a contact too: it shows once, from the contact log, not again from the variables
    assert talk.count("since Monday") == 1 and talk.count("The update did not help.") == 1
    assert "Answer to the customer" in talk  # earlier answers stay


def test_case_data_is_readable_without_reprs(app, care):
    care.repository.deploy([source("hello_care.bpmn")], "test", "test")
    variables = {
        "subject": "Printer",
        "text": "It jams.",
        "devices": ["P-1", "P-2"],
        "contract": {"level": "gold"},
        "minutes_spent": 5,
        "link": "https://care.example.com/track/KNOWN-SECRET-CODE",
    }
    instance = care.runtime.start(StartRequest("hello_care", variables, customer_id="C-404"), "test")[0]
    with care.db.write() as session:  # the case's secret is the one the link holds
        session.get(ProcessInstance, instance["id"]).tracking_code = "KNOWN-SECRET-CODE"
    page = text_of(sign_in(app, "sam").get(f"/tasks/{instance['tasks'][0]['id']}"))
    assert "Printer" in page and "It jams." in page
    details = page.split('class="case-details"')[1].split("</details>")[0]
    assert "<li>P-1</li>" in details
    assert "<dt>level</dt><dd>gold</dd>" in details  # a key the model does not label: by its name, as on the case page
    # a variable the process labels reads by its label, its name in small print (api.pages.case_data)
    assert '<dt>Minutes spent <span class="variable-name">minutes_spent</span></dt><dd>5</dd>' in details
    assert not REPR.search(details)
    assert "KNOWN-SECRET-CODE" not in page and "https://care.example.com/track/•••" in details  # hidden from staff
    assert '<a href="/customers/C-404">C-404</a>' in page  # no name known: the customer number


def test_notes_are_for_staff_with_their_author_in_history(app, care):
    started, task = inquiry_case(care)
    sam = sign_in(app, "sam")
    empty = sam.post(f"/tasks/{task['id']}/notes", data={"csrf_token": sam.token, "text": "   "})
    assert empty.status_code == 422 and 'data-field="text"' in text_of(empty)
    added = sam.post(f"/tasks/{task['id']}/notes", data={"csrf_token": sam.token, "text": "Called them: firmware 2.1."})
    assert added.status_code == 302
    page = text_of(sam.get(f"/tasks/{task['id']}"))
    notes = page.split('id="notes-title"')[1]
    assert "Sam Carter" in notes and "Called them: firmware 2.1." in notes
    with care.db.read() as session:
        events = session.query(HistoryEvent).filter_by(instance_id=started.instance_id, event_type="note_added").all()
        assert [(e.principal, list(e.details)) for e in events] == [("sam", ["note_id"])]
    status = app.test_client().get(f"/api/status/{started.tracking_code}")
    assert status.status_code == 200 and "firmware 2.1" not in status.get_data(as_text=True)
    track = app.test_client().get(f"/track/{started.tracking_code}")
    assert "firmware 2.1" not in track.get_data(as_text=True)


def test_notes_through_the_api_follow_the_team_scope(app, care):
    started, _ = inquiry_case(care)
    api = app.test_client()
    sam = {"Authorization": f"Bearer {care.tokens.create('sam', username='sam')[1]}"}
    bea = {"Authorization": f"Bearer {care.tokens.create('bea', username='bea')[1]}"}
    url = f"/api/instances/{started.instance_id}/notes"
    created = api.post(url, json={"text": "  Prefers mail.  "}, headers=sam)
    assert created.status_code == 201, created.json
    assert {k: created.json[k] for k in ("author", "author_name", "text")} == {
        "author": "sam",
        "author_name": "Sam Carter",
        "text": "Prefers mail.",
    }
    assert [n["text"] for n in api.get(url, headers=sam).json["items"]] == ["Prefers mail."]
    assert api.get(url, headers=bea).status_code == 403
    assert api.post(url, json={"text": "x"}, headers=bea).status_code == 403
    assert api.post(url, json={"text": " "}, headers=sam).status_code in (400, 422)
    assert api.post(url, json={"text": "x" * 5001}, headers=sam).status_code in (400, 422)
    assert api.get("/api/instances/999999/notes", headers=sam).status_code == 404


def test_complete_and_next_takes_the_teams_soonest_due_task(app, care):
    care.repository.deploy([SourceFile("queue.bpmn", QUEUE)], "test", "test")
    later = queue(care, "support", "PT5H")
    soonest = queue(care, "support", "PT1H")
    queue(care, "billing", "PT10M")  # more urgent, but another team's
    toms = queue(care, "support", "PT2H")
    care.tasks.claim(toms, "tom")  # claimed by someone else
    middle = queue(care, "support", "PT3H")
    sam = sign_in(app, "sam")
    step = sam.post(f"/tasks/{later}", data={"csrf_token": sam.token, "action": "next"})
    assert step.status_code == 302 and step.headers["Location"] == f"/tasks/{soonest}"
    opened = text_of(sam.get(step.headers["Location"]))
    assert "Task “Work item” completed. Next: “Work item”." in opened
    step = sam.post(f"/tasks/{soonest}", data={"csrf_token": sam.token, "action": "next"})
    assert step.headers["Location"] == f"/tasks/{middle}"
    step = sam.post(f"/tasks/{middle}", data={"csrf_token": sam.token, "action": "next"})
    assert step.headers["Location"] == "/tasks"
    assert "Your team has no more open tasks." in text_of(sam.get("/tasks"))
    assert care.tasks.get(toms)["status"] == "open"


def test_complete_only_shows_the_case(app, care):
    care.repository.deploy([SourceFile("queue.bpmn", QUEUE)], "test", "test")
    first = queue(care, "support", "PT1H")
    queue(care, "support", "PT2H")
    sam = sign_in(app, "sam")
    done = sam.post(f"/tasks/{first}", data={"csrf_token": sam.token, "action": "complete"})
    assert done.headers["Location"].startswith("/instances/")


def test_team_leads_reassign_from_the_page_and_plain_staff_cannot(app, care):
    care.repository.deploy([SourceFile("queue.bpmn", QUEUE)], "test", "test")
    task = queue(care, "support", "PT1H")
    billing = queue(care, "billing", "PT1H")
    care.tasks.claim(task, "tom")
    tina = sign_in(app, "tina")
    page = text_of(tina.get(f"/tasks/{task}"))
    picker = page.split('id="assignee"')[1].split("</select>")[0]
    assert ">Sam Carter<" in picker and ">Tom Berg<" in picker and ">Tina Lead<" in picker
    assert "Bea Novak" not in picker and "Old Timer" not in picker  # other team; disabled
    assert 'id="form-title"' not in page  # tom's to fill in
    moved = tina.post(f"/tasks/{task}/assign", data={"csrf_token": tina.token, "assignee": "sam"})
    assert moved.status_code == 302 and care.tasks.get(task)["assignee"] == "sam"
    assert "Task given to Sam Carter." in text_of(tina.get(f"/tasks/{task}"))
    refused = tina.post(f"/tasks/{task}/assign", data={"csrf_token": tina.token, "assignee": "bea"})
    assert refused.status_code == 302 and care.tasks.get(task)["assignee"] == "sam"
    assert "Only an active member of the task's teams" in text_of(tina.get(f"/tasks/{task}"))
    tina.post(f"/tasks/{task}/assign", data={"csrf_token": tina.token, "assignee": ""})
    assert care.tasks.get(task)["assignee"] is None
    with care.db.read() as session:
        assigned = session.query(HistoryEvent).filter_by(event_type="task_assigned", human_task_id=task).all()
        assert [(e.principal, e.details["assignee"]) for e in assigned] == [("tina", "sam"), ("tina", None)]
    assert tina.get(f"/tasks/{billing}").status_code == 403
    assert tina.post(f"/tasks/{billing}/assign", data={"csrf_token": tina.token, "assignee": "tina"}).status_code == 403
    sam = sign_in(app, "sam")
    assert 'id="assignee"' not in text_of(sam.get(f"/tasks/{task}"))
    assert sam.post(f"/tasks/{task}/assign", data={"csrf_token": sam.token, "assignee": "sam"}).status_code == 403
    assert care.tasks.get(task)["assignee"] is None


def test_a_lead_sees_a_colleagues_claimed_task_but_does_not_fill_it_in(app, care):
    care.repository.deploy([SourceFile("queue.bpmn", QUEUE)], "test", "test")
    task = queue(care, "support", "PT1H")
    care.tasks.claim(task, "tom")
    tina = sign_in(app, "tina")
    page = text_of(tina.get(f"/tasks/{task}"))
    assert 'id="form-title"' not in page and "Tom Berg is working on this task." in page
    refused = tina.post(f"/tasks/{task}", data={"csrf_token": tina.token, "action": "complete"})
    assert refused.status_code == 403 and care.tasks.get(task)["status"] == "open"
    assert sign_in(app, "sam").get(f"/tasks/{task}").status_code == 403


def test_the_pages_speak_german(app, care):
    """Page texts from the catalogs in api/translations, model texts from the catalogs deployed with the process."""
    files = ("hello_care.bpmn", "hello_care.de.po", "hello_care.cs.po")
    care.repository.deploy([source(name) for name in files], "test", "test")
    instance = care.runtime.start(StartRequest("hello_care", {"subject": "Router"}, customer_id="C-1"), "test")[0]
    care.identity.set_preferences(care.identity.by_name("sam").id, language="de", time_zone="Europe/Berlin")
    sam = sign_in(app, "sam")
    listing = text_of(sam.get("/tasks"))
    assert all(t in listing for t in ("Meine Teams", "Übernehmen", "Älteste zuerst", "Fällig", "Kunde"))
    assert ">Anfrage beantworten</a>" in listing and "Hallo Kundendienst" in listing
    task_id = instance["tasks"][0]["id"]
    page = text_of(sam.get(f"/tasks/{task_id}"))
    for text in ("Der Fall", "Gesprächsverlauf", "Interne Notizen", "Abschließen und weiter", "Antwort an den Kunden"):
        assert text in page, text
    assert "<h1>Anfrage beantworten</h1>" in page and 'id="stage">In Bearbeitung<' in page
    assert ">Hallo Kundendienst</a>" in page
    bad = sam.post(f"/tasks/{task_id}", data={"csrf_token": sam.token, "action": "next", "minutes_spent": "lots"})
    assert bad.status_code == 422
    assert "Dieses Feld ist ein Pflichtfeld." in text_of(bad) and "Erwartet wird eine ganze Zahl." in text_of(bad)
    high = sam.post(
        f"/tasks/{task_id}", data={"csrf_token": sam.token, "action": "next", "answer": "Ja", "minutes_spent": "900"}
    )
    assert "Darf höchstens 480 sein." in text_of(high)
    done = sam.post(f"/tasks/{task_id}", data={"csrf_token": sam.token, "action": "next", "answer": "Erledigt"})
    assert done.headers["Location"] == "/tasks"
    assert "Aufgabe „Anfrage beantworten“ abgeschlossen." in text_of(sam.get("/tasks"))
    care.repository.deploy([source("camunda_form_data.bpmn")], "test", "test")
    callback = care.runtime.start(StartRequest("camunda_form_data", {}), "test")[0]["tasks"][0]["id"]
    assert '<option value="">Bitte wählen…</option>' in text_of(sam.get(f"/tasks/{callback}"))


def test_earlier_answers_read_in_the_viewers_language(app, care):
    files = ("hello_care.bpmn", "hello_care.de.po", "hello_care.cs.po")
    care.repository.deploy([source(name) for name in files], "test", "test")
    first = care.runtime.start(StartRequest("hello_care", {"subject": "Router"}), "test")[0]
    care.tasks.complete(first["tasks"][0]["id"], {"answer": "Neu starten", "resolution": "workaround"}, "sam")
    summary = care.cases.summary(first["id"], language="de")
    [answer] = [turn for turn in summary["conversation"] if turn["channel"] == "task"]
    assert answer["title"] == "Anfrage beantworten" and answer["author"] == "Sam Carter"
    assert {"label": "Ergebnis", "value": "Umgehungslösung"} in answer["answers"]
    assert summary["title"] == "Hallo Kundendienst" and summary["stage"] == "Beantwortet"


def test_texts_translated_at_run_time_have_german_and_czech():
    """Texts the pages pass to gettext as values (the engine's form messages, the page's own) are in the catalogs."""
    texts = {*MESSAGES.values(), task_pages.NOT_OPEN, "Expected a whole number.", "Expected a number."}
    for language in ("de", "cs"):
        known = catalog(language)
        assert sorted(t for t in texts if not known.get(t)) == [], language


def test_a_task_completed_meanwhile_is_refused_in_the_viewers_words(app, care):
    care.repository.deploy([SourceFile("queue.bpmn", QUEUE)], "test", "test")
    task = queue(care, "support", "PT1H")
    sam = sign_in(app, "sam")
    care.tasks.complete(task, {}, "tom")
    refused = sam.post(f"/tasks/{task}", data={"csrf_token": sam.token, "action": "next"})
    assert refused.status_code == 302 and refused.headers["Location"] == f"/tasks/{task}"
    assert "This task is no longer open" in text_of(sam.get(f"/tasks/{task}"))
