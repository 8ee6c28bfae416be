"""Request input the API refuses cleanly, among them every request with which the fuzzer made it answer 500.

Each crash found by tests/test_schema_fuzz.py stands here as the concrete request, so it cannot
come back even when the fuzzer's examples change. They run on SQLite and, in CI, on PostgreSQL,
where several of them failed only.
"""

from __future__ import annotations

import io
import re

import pytest

from api.requests import date_time, numbers_up_to
from engine.models import MAX_ID
from tests.conftest import upload

PROBLEM = "application/problem+json"


def refused(response, status: int, problem_type: str) -> str:
    assert (response.status_code, response.mimetype) == (status, PROBLEM), response.get_data(as_text=True)
    assert response.json["type"] == problem_type
    return response.json["detail"]


@pytest.fixture
def deployed(client):
    assert client.post("/api/deployments", data=upload("hello_care.bpmn")).status_code == 201
    return client.post("/api/process-definitions/hello_care/instances", json={}).json


# -- crashes found by the fuzzer ------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/tasks/83534094914087062471233749873852416/claim"),
        ("get", f"/api/instances/{MAX_ID + 1}"),
        ("patch", f"/api/users/{MAX_ID + 1}"),  # was 405: the GET rule matched the path, PATCH refused the value
        ("post", "/api/incidents/0/retry"),
    ],
)
def test_ids_out_of_the_column_range_are_not_found(client, method, path):
    refused(getattr(client, method)(path, json={}), 404, "/problems/not-found")


@pytest.mark.parametrize(
    "query",
    [
        "operation=%C2%92P&status=completed&limit=-852&after=-9677150306486919168",
        f"instance_id={MAX_ID + 1}",
        "after=0",
        "limit=",
        "limit=null&limit=null",
    ],
)
def test_numbers_out_of_range_in_the_query_are_refused(client, query):
    detail = refused(client.get(f"/api/jobs?{query}"), 400, "/problems/invalid-request")
    assert "query parameter" in detail


def test_a_token_without_a_name_is_refused(client):
    detail = refused(
        client.post("/api/tokens", json={"expires_at": "2000-01-01T00:00:00Z", "name": None, "username": ""}),
        400,
        "/problems/invalid-request",
    )
    assert "body.name: None is not of type 'string'" in detail


def test_text_longer_than_its_column_is_refused(client):
    """PostgreSQL refuses text longer than the column (SQLite stores it): these were 500s there."""
    customer = {"id": "C" * 201, "name": "Acme", "email": "it@acme.example"}
    inquiry = {"channel": "email", "customer": customer, "subject": "s", "body": "b"}
    assert "body.customer.id" in refused(client.post("/api/inquiries", json=inquiry), 400, "/problems/invalid-request")
    assert "body.name" in refused(
        client.post("/api/tokens", json={"name": "t" * 201}), 400, "/problems/invalid-request"
    )


@pytest.mark.parametrize("ttl", ["\n\t\rp5162w16891430,0D ", "P1W1D", "P1.5DT1H"])
def test_durations_spiff_cannot_compute_are_refused(client, ttl):
    detail = refused(client.post("/api/messages", json={"name": "x", "ttl": ttl}), 400, "/problems/invalid-request")
    assert "body.ttl" in detail


def test_a_ttl_past_the_calendar_is_refused_at_once(client):
    detail = refused(
        client.post("/api/messages", json={"name": "x", "ttl": "P99999999Y"}), 422, "/problems/unprocessable"
    )
    assert "past the year 9999" in detail


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/tasks?process_key=%00", None),
        ("get", "/api/instances?business_key=a%00b", None),
        ("get", "/api/customers/a%00b", None),
        ("get", "/api/customers/a%00b/timeline", None),
        ("get", "/api/status/a%00b", None),
        ("get", "/api/process-definitions/a%00b", None),
        ("post", "/api/process-definitions/a%00b/instances", {}),
        ("post", "/api/groups", {"name": "a", "description": "x\x00y"}),
        ("post", "/api/tokens", {"name": "a\x00b"}),
        ("post", "/api/process-definitions/hello_care/instances", {"variables": {"\x00": 1}}),
    ],
)
def test_text_with_nul_characters_is_refused(client, deployed, method, path, body):
    """PostgreSQL can neither store nor compare text with NUL in it: these were 500s there."""
    response = getattr(client, method)(path, json=body) if body is not None else getattr(client, method)(path)
    assert "NUL character" in refused(response, 422, "/problems/unprocessable")


def test_a_draft_with_nul_in_its_data_is_refused(client, deployed):
    task = deployed["tasks"][0]["id"]
    response = client.post(f"/api/tasks/{task}/draft", json={"data": {"note": "a\u0000b"}})
    assert "NUL character" in refused(response, 422, "/problems/unprocessable")
    assert client.post(f"/api/tasks/{task}/draft", json={"data": {"note": "ab"}}).status_code == 200


# -- well-formed, but not to be done: 422 ---------------------------------------------------


def test_what_cannot_be_carried_out_is_422(client):
    past = client.post("/api/tokens", json={"name": "t", "expires_at": "2001-01-01T00:00:00Z"})
    assert refused(past, 422, "/problems/unprocessable") == "the expiry must lie in the future"
    unknown_group = client.post("/api/users", json={"username": "y", "role": "staff", "groups": ["nope"]})
    assert "unknown group(s): nope" in refused(unknown_group, 422, "/problems/unprocessable")
    cursor = client.get(f"/api/timers?after={MAX_ID}")
    assert "'after' names no timer" in refused(cursor, 422, "/problems/unprocessable")
    not_bpmn = client.post(
        "/api/deployments", data=upload("hello_care.bpmn") | {"files": [(io.BytesIO(b"x"), "a.png")]}
    )
    refused(not_bpmn, 422, "/problems/invalid-deployment")
    assert not_bpmn.json["errors"][0]["file"] == "a.png"


# -- how request input is read ---------------------------------------------------------------


def test_bodies_are_checked_against_the_document(client, deployed):
    task = deployed["tasks"][0]["id"]
    detail = refused(client.post(f"/api/tasks/{task}/complete", json={"answer": "x"}), 400, "/problems/invalid-request")
    assert detail == "body: Additional properties are not allowed ('answer' was unexpected)"
    detail = refused(
        client.post("/api/inquiries", json={"channel": "fax", "customer": {}, "subject": " ", "body": "b"}),
        400,
        "/problems/invalid-request",
    )
    assert (
        "body.channel: 'fax' is not one of" in detail
        and "body.subject: ' ' is blank: it needs at least one visible character" in detail
    )


def test_a_body_must_be_json(client, deployed):
    task = deployed["tasks"][0]["id"]
    response = client.post(f"/api/tasks/{task}/draft", data="data=1", content_type="application/x-www-form-urlencoded")
    refused(response, 415, "/problems/unsupported-media-type")
    for text in ("{", '{"data": NaN}', '{"data": {"x": Infinity}}', '{"data": {"\\ud800": 1}}'):
        refused(
            client.post(f"/api/tasks/{task}/draft", data=text, content_type="application/json"),
            400,
            "/problems/invalid-request",
        )


def test_an_optional_body_may_be_left_out(client, deployed):
    assert client.post("/api/process-definitions/hello_care/instances").status_code == 201


def test_query_parameters_are_typed_and_checked(client, deployed):
    assert client.get("/api/instances?limit=1").json["items"] == [client.get("/api/instances").json["items"][0]]
    refused(client.get("/api/instances?limit=201"), 400, "/problems/invalid-request")
    refused(client.get("/api/instances?limit=1.5"), 400, "/problems/invalid-request")
    refused(client.get("/api/instances?status=sleeping"), 400, "/problems/invalid-request")
    refused(client.get("/api/status/x?lang=fr"), 400, "/problems/invalid-request")
    refused(client.get("/api/timers?due_before=2030-01-01"), 400, "/problems/invalid-request")
    assert client.get("/api/timers?due_before=2030-01-01t00:00:00z").status_code == 200


def test_an_idempotency_key_is_checked_as_documented(client, deployed):
    response = client.post("/api/process-definitions/hello_care/instances", headers={"Idempotency-Key": "k" * 201})
    assert "header parameter 'Idempotency-Key'" in refused(response, 400, "/problems/invalid-request")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-01-01T00:00:00Z", "2027-01-01T00:00:00+00:00"),
        ("2027-01-01t10:30:00.1234567+02:00", "2027-01-01T10:30:00.123456+02:00"),
        ("2016-12-31T23:59:60Z", "2016-12-31T23:59:59.999999+00:00"),
    ],
)
def test_date_times_are_rfc_3339(text, expected):
    assert date_time(text).isoformat() == expected


@pytest.mark.parametrize("text", ["2027-01-01", "2027-01-01T00:00:00", "20270101T000000Z", "2027-W01-1T00:00Z", ""])
def test_other_date_time_forms_are_refused(text):
    with pytest.raises(ValueError):
        date_time(text)


def test_the_id_pattern_takes_exactly_1_to_the_limit():
    pattern = re.compile(f"(?:{numbers_up_to(MAX_ID)})")
    for number in (1, 9, 10, 99, 1_000_000_000, 1_999_999_999, 2_000_000_000, MAX_ID - 1, MAX_ID):
        assert pattern.fullmatch(str(number)), number
    for text in ("0", "007", str(MAX_ID + 1), "2147483650", "2200000000", "9999999999", "10000000000", "-1"):
        assert not pattern.fullmatch(text), text


def test_blank_means_the_same_to_python_and_to_ecmascript_clients():
    """\\S differs between the two (NEL, the separators U+001C-U+001F, BOM): a generated client must not send as
    visible what the server reads as blank, nor the other way round."""
    import re

    from api.requests import VISIBLE_CHARACTER

    python_blank = [c for c in map(chr, range(0x3001)) if c.isspace()]
    ecmascript_blank = "\t\n\v\f\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    ecmascript_blank += "\u2028\u2029\u202f\u205f\u3000\ufeff"
    for character in set(python_blank) | set(ecmascript_blank):
        assert re.search(VISIBLE_CHARACTER, character) is None, hex(ord(character))
    assert re.search(VISIBLE_CHARACTER, " Ada ")
