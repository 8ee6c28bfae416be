"""Pages never answer JSON: missing, forbidden and failed pages are HTML in the layout; the API keeps problem+json."""

from __future__ import annotations

import pytest

from tests.test_pages import sign_in


@pytest.fixture
def site(care, anonymous):
    care.identity.add_group("support")
    care.identity.add_user("sam", "staff", ["support"], password="correct horse battery")
    care.identity.add_user("dana", "designer", password="correct horse battery")
    return anonymous


def test_an_unknown_page_is_an_html_404_in_the_layout(site):
    response = site.get("/no/such/page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<h1>Page not found</h1>" in page and 'href="/login' in page
    assert "problem" not in page


def test_the_api_keeps_problem_json(site):
    response = site.get("/api/no/such/thing")
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == "/problems/not-found"


def test_a_signed_out_visit_goes_to_the_login_and_comes_back_with_its_query(site):
    response = site.get("/tasks?tab=mine&sort=due")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/tasks?tab%3Dmine%26sort%3Ddue"
    sign_in(site, "sam")
    token = site.get("/login").get_data(as_text=True)
    assert "csrf_token" in token


def test_a_forbidden_page_is_an_html_403_that_names_who_is_signed_in(site):
    sign_in(site, "dana")  # a designer has no task list
    response = site.get("/tasks")
    assert response.status_code == 403 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<h1>Not allowed</h1>" in page and "dana" in page and "Back to the start page" in page


def test_a_missing_task_is_an_html_404_for_staff(site):
    sign_in(site, "sam")
    response = site.get("/tasks/2147483647")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "Page not found" in response.get_data(as_text=True)


def test_error_pages_speak_the_browsers_language(site):
    response = site.get("/nirgends", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert "Seite nicht gefunden" in response.get_data(as_text=True)
    assert '<html lang="de">' in response.get_data(as_text=True)


def test_a_customer_page_error_stays_in_the_customer_layout(site):
    response = site.get("/track/" + "x" * 300, headers={"Accept-Language": "cs"})
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "track.css" in page and "carecenter.css" not in page


def test_an_unexpected_error_is_a_page_without_a_traceback(app, anonymous, caplog):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    from api import policy

    policy.PUBLIC_ENDPOINTS = policy.PUBLIC_ENDPOINTS | {"boom"}
    try:
        response = anonymous.get("/boom")
    finally:
        policy.PUBLIC_ENDPOINTS = policy.PUBLIC_ENDPOINTS - {"boom"}
    assert response.status_code == 500 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Something went wrong" in page and "secret internals" not in page and "Traceback" not in page
    assert "secret internals" in caplog.text  # logged for the operator


def test_a_form_with_a_nul_character_is_refused_and_changes_nothing(site, care):
    token = sign_in(site, "sam")
    response = site.post("/settings", data={"csrf_token": token, "language": "de", "time_zone": "Europe/Prague\x00"})
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "NUL character" in response.get_data(as_text=True)
    with care.db.read() as session:
        from engine.models import User

        assert session.get(User, care.identity.by_name("sam").id).language is None


def test_settings_refuse_an_unknown_time_zone_and_keep_the_old_one(site, care):
    token = sign_in(site, "sam")
    response = site.post("/settings", data={"csrf_token": token, "language": "cs", "time_zone": "Mars/Olympus"})
    assert response.status_code == 302
    page = site.get("/settings").get_data(as_text=True)
    assert "unknown time zone" in page
    with care.db.read() as session:
        from engine.models import User

        assert session.get(User, care.identity.by_name("sam").id).language is None
