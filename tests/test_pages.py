"""The staff and designer pages, through the Flask test client (the browser tests drive a real Chromium)."""

import io
import re

import pytest

from engine.bpmn import SourceFile
from engine.runtime import StartRequest
from tests.conftest import source, upload


def csrf(page: bytes) -> str:
    return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()


@pytest.fixture
def site(care, anonymous):
    care.identity.add_group("support")
    care.identity.add_group("billing")
    care.identity.add_user("sam", "staff", ["support"], password="correct horse battery")
    care.identity.add_user("dana", "designer", password="correct horse battery")
    care.repository.deploy([source("hello_care.bpmn")], "test", "test")
    return anonymous


def sign_in(client, username):
    token = csrf(client.get("/login").data)
    client.post("/login", data={"username": username, "password": "correct horse battery", "csrf_token": token})
    return csrf(client.get("/").data)


def start(care, **variables):
    return care.runtime.start(StartRequest("hello_care", variables, customer_id="cust-9"), "test")[0]


def test_task_list_shows_team_tasks_with_customer_and_claim(site, care):
    instance = start(care, subject="Router")
    token = sign_in(site, "sam")
    page = site.get("/tasks").get_data(as_text=True)
    assert "Answer the inquiry" in page and "cust-9" in page and "Claim" in page
    task_id = instance["tasks"][0]["id"]
    assert site.post(f"/tasks/{task_id}/claim", data={"csrf_token": token}).status_code == 302
    mine = site.get("/tasks?tab=mine").get_data(as_text=True)
    assert f'data-task-id="{task_id}"' in mine and "Release" in mine


def test_a_task_list_cursor_that_is_no_row_id_is_ignored(site, care):
    """Were 500s: a cursor past the id column's range, and a digit int() does not read."""
    start(care, subject="Router")
    sign_in(site, "sam")
    for after in ("99999999999999999999", "\u00b2", "0"):
        page = site.get("/tasks", query_string={"after": after})
        assert page.status_code == 200 and "Answer the inquiry" in page.get_data(as_text=True), after


def test_task_form_errors_keep_values_then_completion_moves_on(site, care):
    instance = start(care, subject="Router")
    task_id = instance["tasks"][0]["id"]
    token = sign_in(site, "sam")
    page = site.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'name="answer"' in page and "Router" in page and 'type="radio"' in page
    bad = site.post(f"/tasks/{task_id}", data={"csrf_token": token, "action": "complete", "minutes_spent": "lots"})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert 'data-field="answer"' in text and "This field is required." in text
    assert 'data-field="minutes_spent"' in text and "Expected a whole number." in text
    assert 'value="lots"' in text  # what was typed stays in the field
    bad2 = site.post(
        f"/tasks/{task_id}",
        data={"csrf_token": token, "action": "complete", "answer": "Restart it", "minutes_spent": "900"},
    )
    assert bad2.status_code == 422 and "Must be at most 480." in bad2.get_data(as_text=True)
    assert "Restart it" in bad2.get_data(as_text=True)
    follow_up = {"csrf_token": token, "action": "complete", "answer": "Restart it", "resolution": "needs_follow_up"}
    bad3 = site.post(f"/tasks/{task_id}", data=follow_up)  # a follow-up needs its day
    assert bad3.status_code == 422 and 'data-field="follow_up_on"' in bad3.get_data(as_text=True)
    done = site.post(
        f"/tasks/{task_id}",
        data={
            "csrf_token": token,
            "action": "complete",
            "answer": "Restart it",
            "minutes_spent": "5",
            "resolution": "solved",
        },
    )
    assert done.status_code == 302 and done.headers["Location"] == f"/instances/{instance['id']}"
    assert care.runtime.get(instance["id"])["data"]["minutes_spent"] == 5


def test_drafts_are_kept_for_later(site, care):
    task_id = start(care)["tasks"][0]["id"]
    token = sign_in(site, "sam")
    site.post(f"/tasks/{task_id}", data={"csrf_token": token, "action": "draft", "answer": "Half-written"})
    assert "Half-written" in site.get(f"/tasks/{task_id}").get_data(as_text=True)


def test_instance_page_shows_diagram_history_and_variables(site, care):
    instance = start(care, subject="Router")
    sign_in(site, "sam")
    page = site.get(f"/instances/{instance['id']}").get_data(as_text=True)
    assert "<svg" in page and "Router" in page and "Started the case" in page
    assert f'<span id="reference">{instance["reference"]}</span>' in page
    task_page = site.get(f"/tasks/{instance['tasks'][0]['id']}").get_data(as_text=True)
    assert f'<dd id="reference">{instance["reference"]}</dd>' in task_page


def test_staff_cannot_open_other_teams_work_or_designer_pages(site, care):
    care.repository.deploy([source("camunda_billing.bpmn"), source("invoice_check.json")], "t", "t")
    from engine.runtime import StartRequest

    billing = care.runtime.start(StartRequest("camunda_billing", {}), "test")[0]
    sign_in(site, "sam")
    assert site.get(f"/tasks/{billing['tasks'][0]['id']}").status_code == 403
    assert site.get(f"/instances/{billing['id']}").status_code == 403
    assert site.get("/processes").status_code == 403


def test_designer_uploads_and_sees_errors_by_file_line_and_element(site):
    token = sign_in(site, "dana")
    page = site.get("/processes").get_data(as_text=True)
    assert "hello_care" in page and "<svg" in page
    bad = site.post(
        "/processes",
        data={"csrf_token": token, "files": [(io.BytesIO(source("bad_script.bpmn").content), "bad_script.bpmn")]},
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "bad_script.bpmn" in text and "compute" in text and ">7<" in text
    ok = site.post("/processes", data={"csrf_token": token, **upload("parallel_tasks.bpmn")})
    assert ok.status_code == 302
    assert "parallel_tasks v1" in site.get("/processes").get_data(as_text=True)
    assert site.get("/tasks").status_code == 403


def test_task_list_sorts_by_due_date(site, care):
    first, second = start(care), start(care)
    from sqlalchemy import update

    from engine.models import HumanTask

    with care.db.write() as session:
        due = care.clock.now()
        session.execute(update(HumanTask).where(HumanTask.id == second["tasks"][0]["id"]).values(due_at=due))
    sign_in(site, "sam")
    page = site.get("/tasks?sort=due").get_data(as_text=True)
    assert page.index(f'data-task-id="{second["tasks"][0]["id"]}"') < page.index(
        f'data-task-id="{first["tasks"][0]["id"]}"'
    )
    plain = site.get("/tasks").get_data(as_text=True)
    assert plain.index(f'data-task-id="{first["tasks"][0]["id"]}"') < plain.index(
        f'data-task-id="{second["tasks"][0]["id"]}"'
    )


def test_a_camunda_generated_form_is_a_page_form_with_labels_and_read_only_values(site, care):
    text = (
        source("camunda_form_data.bpmn")
        .content.decode()
        .replace(
            '<camunda:formField id="urgent" label="Urgent" type="boolean" />',
            '<camunda:formField id="urgent" label="Urgent" type="boolean" defaultValue="No" />'
            '<camunda:formField id="customer_name" label="Customer" type="string">'
            '<camunda:validation><camunda:constraint name="readonly" /></camunda:validation></camunda:formField>',
        )
    )
    care.repository.deploy([SourceFile("camunda_form_data.bpmn", text.encode())], "test", "test")
    instance = care.runtime.start(StartRequest("camunda_form_data", {"customer_name": "Ada Lovelace"}), "test")[0]
    task_id = instance["tasks"][0]["id"]
    token = sign_in(site, "sam")
    page = site.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert re.search(r'<option value="afternoon"\s*>Afternoon \(12-17\)</option>', page)
    assert "Ada Lovelace" in page and 'name="customer_name"' not in page  # shown, not an input
    assert 'name="urgent"' in page and "checked" not in page.split('name="urgent"')[1].split(">")[0]  # "No" is false
    answer = site.post(
        f"/tasks/{task_id}",
        data={"csrf_token": token, "phone": "+49 30 1234567", "attempts": "2", "slot": "morning", "customer_name": "X"},
    )
    assert answer.status_code == 302
    assert care.runtime.get(instance["id"])["data"]["customer_name"] == "Ada Lovelace"


def test_staff_and_customer_pages_name_their_icon_and_it_is_served(anonymous):
    for page in ("/login", "/track"):
        found = re.search(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)">', anonymous.get(page).text)
        assert found, page
        icon = anonymous.get(found[1])
        assert (icon.status_code, icon.mimetype) == (200, "image/svg+xml") and b"<svg" in icon.data
