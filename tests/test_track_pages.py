"""The customer's tracking pages: public, server-rendered, en/de/cs, and nothing internal on them."""

import re
from datetime import UTC, datetime

import pytest

from api.app import create_app
from engine.clock import VirtualClock
from engine.runtime import StartRequest
from tests.conftest import make_engine, source
from tests.test_status import SENSITIVE, complete, start


@pytest.fixture
def deployed(client):
    from tests.conftest import upload

    assert (
        client.post("/api/deployments", data=upload("customer_tracking.bpmn", "confirm_address.json")).status_code
        == 201
    )


def test_enter_a_code_and_see_the_stage_change(client, anonymous, deployed):
    instance = start(client)
    code = instance["tracking_code"]
    form = anonymous.get("/track")
    assert form.status_code == 200 and 'name="reference"' in form.text and "<script" not in form.text
    redirected = anonymous.get(f"/track?code={code}")  # links of the earlier form, which asked for the code
    assert redirected.status_code == 302 and redirected.headers["Location"].startswith(f"/track/{code}")
    page = anonymous.get(f"/track/{code}").text
    assert "Repair request" in page
    assert 'aria-current="step">review' in page
    assert "Dear Alice Example, we are looking at your Router X1." in page
    assert "Expected by" in page and "<script" not in page
    complete(client, instance["id"])
    page = anonymous.get(f"/track/{code}").text
    assert 'aria-current="step">your_input' in page
    assert "Waiting for you" in page and "Confirm your address" in page


def test_languages_from_the_query_or_accept_language(client, anonymous, deployed):
    code = start(client)["tracking_code"]
    german = anonymous.get(f"/track/{code}?lang=de").text
    assert '<html lang="de">' in german and "In Bearbeitung" in german and "In Prüfung" in german
    czech = anonymous.get(f"/track/{code}", headers={"Accept-Language": "cs"}).text
    assert '<html lang="cs">' in czech and "Zpracovává se" in czech and "Posuzování" in czech
    english = anonymous.get(f"/track/{code}", headers={"Accept-Language": "fr"}).text
    assert '<html lang="en">' in english and "In progress" in english


def test_an_unknown_code_is_a_404_page(anonymous, deployed):
    response = anonymous.get("/track/not-a-code?lang=de")
    assert response.status_code == 404
    assert "Zu diesem Link gibt es keine Anfrage." in response.text


def test_the_page_shows_nothing_internal(client, anonymous, deployed):
    instance = start(client, variables=dict(SENSITIVE))
    complete(client, instance["id"])
    complete(client, instance["id"], {"address": "Main street 1"})  # the script fails: an incident
    page = anonymous.get(f"/track/{instance['tracking_code']}").text
    assert "In progress" in page
    for forbidden in ("troublemaker", "secret_note", "4711", "divisor", "ZeroDivision", "test-admin", "Main street"):
        assert forbidden not in page, forbidden
    for element_id in ("triage", "confirm", "compute", "lane_support"):
        assert f'"{element_id}"' not in page and f">{element_id}<" not in page


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page)[1]


def test_the_customer_answers_a_customer_task(client, anonymous, deployed):
    instance = start(client)
    code = instance["tracking_code"]
    complete(client, instance["id"])
    page = anonymous.get(f"/track/{code}").text
    task_id = int(re.search(rf'action="/track/{code}/tasks/(\d+)', page)[1])
    assert 'name="address"' in page
    assert "Alice Example" not in page.split('<form method="post"')[1]  # nothing of the instance is prefilled

    forged = anonymous.post(f"/track/{code}/tasks/{task_id}", data={"address": "Main street 1", "csrf_token": "x"})
    assert forged.status_code == 400
    too_short = anonymous.post(f"/track/{code}/tasks/{task_id}", data={"address": "x", "csrf_token": _csrf(page)})
    assert too_short.status_code == 422 and 'role="alert"' in too_short.text
    other = anonymous.post(
        f"/track/not-the-code/tasks/{task_id}", data={"address": "Main street 1", "csrf_token": _csrf(page)}
    )
    assert other.status_code == 404
    assert client.get(f"/api/tasks?instance_id={instance['id']}").json["items"][0]["id"] == task_id  # unchanged

    done = anonymous.post(
        f"/track/{code}/tasks/{task_id}", data={"address": "Main street 1", "csrf_token": _csrf(page)}
    )
    assert done.status_code == 302
    view = anonymous.get(f"/api/status/{code}").json
    assert view["stage"] == "resolution" and view["tasks"] == []
    history = client.get(f"/api/instances/{instance['id']}/history").json["items"]
    completed = [e for e in history if e["event_type"] == "task_completed"]
    assert completed[-1]["principal"] == "customer"


def test_every_text_of_the_customer_pages_is_translated():
    from pathlib import Path

    from babel.messages.pofile import read_po

    from api import i18n

    templates = Path(i18n.__file__).parent / "templates" / "track"
    texts = {m[2] for f in templates.glob("*.html") for m in re.finditer(r"""_\((["'])(.+?)\1\)""", f.read_text())}
    assert "Case reference" in texts
    for language in ("de", "cs"):
        known = {}
        for path in i18n.catalog_files(language):  # messages.po, and portal.po for the portal's pages
            with path.open("rb") as po:
                known |= {m.id: m.string for m in read_po(po, locale=language) if m.id}
        assert [text for text in sorted(texts) if not known.get(text)] == []


def test_times_are_written_in_the_readers_language_and_the_sites_time_zone(database_url, monkeypatch):
    monkeypatch.setenv("CARECENTER_TIME_ZONE", "Europe/Berlin")
    care = make_engine(database_url, VirtualClock(datetime(2026, 12, 7, 7, 20, tzinfo=UTC)))
    care.repository.deploy([source("customer_tracking.bpmn"), source("confirm_address.json")], "test", "test")
    code = care.runtime.start(StartRequest("customer_tracking", dict(SENSITIVE, divisor=4)), "test")[0]["tracking_code"]
    customer = create_app(care).test_client()
    german = customer.get(f"/track/{code}?lang=de").text
    assert 'datetime="2026-12-07T07:20:00+00:00">7. Dezember 2026, 08:20 MEZ</time>' in german
    english = customer.get(f"/track/{code}?lang=en").text
    assert ">December 7, 2026, 8:20\u202fAM +0100</time>" in english
    assert " UTC</time>" not in german + english  # ISO dates in UTC, whatever the reader's zone and language
    care.close()
