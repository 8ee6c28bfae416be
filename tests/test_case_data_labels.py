"""The staff's case page shows the case data as people read it, through the Flask test client: each variable by
the label its process gives it (a form field's title, a Camunda form field's label, a customer field's label) in
the viewer's language, its technical name beside it; values as yes/no, choices by their labels, times in the
viewer's zone; labels of the definition version the case runs, never of another version or another process."""

from __future__ import annotations

import json
import re

import pytest

from engine.bpmn import SourceFile
from engine.config import PROJECT_ROOT
from engine.runtime import StartRequest
from tests.conftest import DATA, source
from tests.test_instance_pages import PASSWORD, get, visible
from tests.test_pages import sign_in


@pytest.fixture
def site(care, anonymous):
    for group in ("support", "billing"):
        care.identity.add_group(group)
    care.identity.add_user("sam", "staff", ["support", "billing"], password=PASSWORD, display_name="Sam Miller")
    care.identity.add_user("ada", "admin", password=PASSWORD, display_name="Ada Admin")
    return anonymous


def start(care, key: str, **variables) -> dict:
    return care.runtime.start(StartRequest(key, variables), "test")[0]


def case_data(client, case: dict) -> str:
    """The text a person reads in the page's "Case data" section."""
    page = get(client, f"/instances/{case['id']}")
    return visible(re.search(r'<section class="card" aria-labelledby="data-title">.*?</section>', page, re.S).group(0))


def speaks(care, username: str, language: str, zone: str | None = None) -> None:
    care.identity.set_preferences(care.identity.by_name(username).id, language=language, time_zone=zone)


def test_form_fields_and_customer_fields_by_their_labels_in_english_and_german(site, care):
    names = ("hello_care.bpmn", "hello_care.de.po")
    care.repository.deploy([SourceFile(n, (PROJECT_ROOT / "processes" / n).read_bytes()) for n in names], "c", "t")
    case = start(care, "hello_care", subject="Router", urgent=True, called_at="2030-03-01T12:00:00+00:00")
    answer = {
        "answer": f"Restart it; your code is {case['tracking_code']}",
        "resolution": "needs_follow_up",
        "minutes_spent": 5,
        "follow_up_on": "2030-03-08",
    }
    care.tasks.complete(case["tasks"][0]["id"], answer, "sam")
    sign_in(site, "sam")
    speaks(care, "sam", "en", "UTC")
    text = case_data(site, case)
    for shown in (
        "Answer to the customer answer Restart it; your code is •••",  # the tracking code stays hidden from staff
        "Resolution resolution needs follow up",  # a choice by its label, not its value
        "Minutes spent minutes_spent 5",
        "Follow up on follow_up_on 2030-03-08",  # a day stays a day
        "Subject subject Router",  # a customer field, labelled as on the customer's status page
        "urgent Yes",  # the model does not label it: its name, as before
        "called_at Mar 1, 2030, 12:00:00 PM UTC",
    ):
        assert shown in text, shown
    assert case["tracking_code"] not in text and "2030-03-01T12" not in text and "needs_follow_up" not in text
    assert '<span class="variable-name">minutes_spent</span>' in get(site, f"/instances/{case['id']}")

    speaks(care, "sam", "de", "Europe/Berlin")
    text = case_data(site, case)
    for shown in (
        "Antwort an den Kunden answer",
        "Ergebnis resolution Nachfassen nötig",
        "Aufgewendete Minuten minutes_spent 5",
        "Nachfassen am follow_up_on 2030-03-08",
        "Betreff subject Router",
        "urgent Ja",
        "called_at 01.03.2030, 13:00:00 MEZ",  # the viewer's zone, labelled
    ):
        assert shown in text, shown
    sign_in(site, "ada")
    assert case["tracking_code"] in case_data(site, case)  # admins may read it


def test_camunda_form_fields_by_their_labels_and_choices(site, care):
    care.repository.deploy([source("camunda_form_data.bpmn")], "c", "t")
    case = start(care, "camunda_form_data")
    values = {"phone": "+49 30 1234567", "attempts": 2, "slot": "afternoon", "urgent": False}
    care.tasks.complete(case["tasks"][0]["id"], values, "sam")
    sign_in(site, "sam")
    text = case_data(site, case)
    for shown in (
        "Phone number phone +49 30 1234567",
        "Attempts attempts 2",
        "Time slot slot Afternoon (12-17)",
        "Urgent urgent No",
    ):
        assert shown in text, shown


def test_labels_come_from_the_version_the_case_runs_and_its_own_process(site, care):
    schema = json.loads((DATA / "invoice_check.json").read_text())
    care.repository.deploy(
        [source("hello_care.bpmn"), source("camunda_billing.bpmn"), source("invoice_check.json")], "v1", "t"
    )
    variables = {"invoice_ok": True, "reason": "duplicate", "answer": "Credit sent", "contact_person": {"name": "Jo"}}
    old = start(care, "camunda_billing", **variables)
    schema["properties"]["invoice_ok"]["title"] = "Invoice checked and correct"
    schema["properties"]["contact_person"] = {
        "type": "object",
        "title": "Contact person",
        "properties": {"name": {"type": "string", "title": "Full name"}},
    }
    ui = {"reason": {"ui:enumNames": ["Wrong price", "Charged twice", "Other"]}}
    care.repository.deploy(
        [
            source("camunda_billing.bpmn"),
            SourceFile("invoice_check.json", json.dumps(schema).encode()),
            SourceFile("invoice_check.ui.json", json.dumps(ui).encode()),
        ],
        "v2",
        "t",
    )
    new = start(care, "camunda_billing", **variables)
    assert (old["version"], new["version"]) == (1, 2)
    sign_in(site, "sam")
    text = case_data(site, old)
    for shown in ("The invoice is correct invoice_ok Yes", "Reason reason duplicate", "contact_person name Jo"):
        assert shown in text, shown
    assert "Invoice checked" not in text and "Charged twice" not in text
    # hello_care was deployed with it, but its form's "Answer to the customer" is another process's label
    assert "answer Credit sent" in text and "Answer to the customer" not in text
    text = case_data(site, new)
    for shown in (
        "Invoice checked and correct invoice_ok Yes",
        "Reason reason Charged twice",
        "Contact person contact_person Full name name Jo",  # a form's object: its fields labelled too
    ):
        assert shown in text, shown
