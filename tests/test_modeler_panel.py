"""The panel's value checks (engine/value_checks.py) and their endpoint, POST /processes/check-value.

The browser test (tests/test_browser_modeler_panel.py) types into the fields; here each kind of value
is held to the rules the deploy and the engine apply.
"""

from __future__ import annotations

import pytest

from engine.value_checks import KINDS, check
from tests.test_modeler_pages import page_data
from tests.test_pages import sign_in


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("timeDuration", "PT1H"),
        ("timeDuration", '"P" + str(days) + "D"'),
        ("timeDuration", "PT${hours}H"),
        ("timeDate", "2030-01-01T06:00:00Z"),
        ("timeCycle", "R3/PT1H"),
        ("due", ""),
        ("due", "P2D"),
        ("due", "${follow_up_at}"),
        ("condition", "amount > 100"),
        ("condition", "${amount > 100}"),
        ("script", "total = sum([1, 2, 3])"),
        ("customer_message", "We answer “{{ subject }}” today."),
    ],
)
def test_values_that_work(kind, value):
    assert check(kind, value) is None


@pytest.mark.parametrize(
    ("kind", "value", "saying"),
    [
        ("timeDuration", "", "is empty"),
        ("timeDuration", "PT1X", "would be read as a variable's name"),
        ("timeDate", "2030-13-01", "month must be in 1..12"),
        ("timeCycle", "R3/PTxH", ""),
        ("due", "P1Q", "not ISO 8601"),
        ("condition", "amount >", "SyntaxError"),
        ("condition", '__import__("os")', "invalid variable name"),
        ("script", "import os", 'import of "os" is not allowed'),
        ("script", "   ", "the script is empty"),
        ("customer_message", "Hi {{ name }", "template syntax error"),
    ],
)
def test_values_that_do_not(kind, value, saying):
    problem = check(kind, value)
    assert problem and saying in problem


def test_unknown_kinds_are_refused():
    with pytest.raises(ValueError, match="unknown kind"):
        check("query", "x")
    assert "due" in KINDS


@pytest.fixture
def site(care, anonymous):
    care.identity.add_group("support")
    care.identity.add_user("sam", "staff", ["support"], password="correct horse battery")
    care.identity.add_user("dana", "designer", password="correct horse battery")
    return anonymous


def test_the_endpoint_answers_a_fragment_for_designers(site):
    token = sign_in(site, "dana")
    ok = site.post("/processes/check-value", data={"csrf_token": token, "kind": "due", "value": "P2D"})
    assert ok.status_code == 200 and ok.content_type.startswith("text/html")
    assert ok.get_data(as_text=True).strip() == '<span class="ok" data-valid="yes">Works.</span>'
    bad = site.post("/processes/check-value", data={"csrf_token": token, "kind": "script", "value": "import os"})
    assert 'data-valid="no"' in bad.get_data(as_text=True) and "is not allowed" in bad.get_data(as_text=True)
    assert (
        site.post("/processes/check-value", data={"csrf_token": token, "kind": "sql", "value": ""}).status_code == 400
    )
    assert site.post("/processes/check-value", data={"csrf_token": "forged", "kind": "due"}).status_code == 400
    token = sign_in(site, "sam")
    assert site.post("/processes/check-value", data={"csrf_token": token, "kind": "due"}).status_code == 403


def test_the_page_offers_the_registry_operations(site):
    sign_in(site, "dana")
    data = page_data(site.get("/processes/new").get_data(as_text=True))
    lookup = next(o for o in data["operations"] if o["name"] == "lookup_customer")
    assert [p["name"] for p in lookup["parameters"]] == ["customer_id"] and lookup["parameters"][0]["required"]
    assert data["urls"]["check_value"] == "/processes/check-value"
