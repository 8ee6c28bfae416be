"""Staff and designers at work in a real browser (Debian's Chromium driven by Playwright) against a real server.

Screenshots of every page land in ``test-artifacts/``.  Outside CI the module skips when
Chromium is not installed; in CI (``.ci/run`` installs it) a missing browser is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.runtime import StartRequest
from tests.conftest import DATA, IN_CI, make_engine, source
from tests.live_server import live_server

CHROMIUM = Path(os.environ.get("CARECENTER_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PASSWORD = "correct horse battery"

if not CHROMIUM.exists():
    if IN_CI:
        pytest.fail(f"Chromium is required in CI but {CHROMIUM} is missing", pytrace=False)
    pytest.skip(f"Chromium not installed at {CHROMIUM}", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def server(database_url):
    care = make_engine(database_url)
    for group in ("support", "billing"):
        care.identity.add_group(group)
    care.identity.add_user("sam", "staff", ["support"], password=PASSWORD)
    care.identity.add_user("dana", "designer", password=PASSWORD)
    care.repository.deploy([source("hello_care.bpmn")], "test", "test")
    with live_server(care) as base:
        yield base, care
    care.close()


@pytest.fixture
def page():
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        yield context.new_page()
        context.close()
        browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    shot(page, "login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def test_staff_claims_fills_in_fixes_and_completes_a_task(server, page):
    base, care = server
    instance = care.runtime.start(StartRequest("hello_care", {"subject": "Printer offline"}, customer_id="C-42"), "t")[
        0
    ]
    sign_in(page, base, "sam")
    page.locator("main").get_by_role("link", name="Tasks").click()
    row = page.locator(f"tr[data-task-id='{instance['tasks'][0]['id']}']")
    sync_api.expect(row).to_contain_text("C-42")
    shot(page, "task-list")
    row.get_by_role("button", name="Claim Answer the inquiry").click()
    sync_api.expect(page.get_by_role("status")).to_contain_text("Task claimed.")
    sync_api.expect(page.get_by_text("claimed by sam")).to_be_visible()
    sync_api.expect(page.get_by_text("Printer offline")).to_be_visible()

    page.get_by_label("Minutes spent").fill("900")
    page.get_by_role("button", name="Complete", exact=True).click()
    sync_api.expect(page.get_by_role("alert")).to_contain_text("need attention")
    sync_api.expect(page.locator("[data-field='answer']")).to_have_text("This field is required.")
    sync_api.expect(page.locator("[data-field='minutes_spent']")).to_have_text("Must be at most 480.")
    sync_api.expect(page.get_by_label("Minutes spent")).to_have_value("900")
    shot(page, "task-form-errors")

    page.get_by_role("textbox", name="Answer to the customer").fill("Restarted the print server.")
    page.get_by_label("Minutes spent").fill("15")
    page.get_by_label("workaround").check()
    page.get_by_role("button", name="Complete", exact=True).click()
    page.wait_for_url(f"{base}/instances/{instance['id']}")
    sync_api.expect(page.locator("#instance-status")).to_have_text("Completed")
    sync_api.expect(page.locator(".diagram svg")).to_be_visible()
    shot(page, "instance")
    data = care.runtime.get(instance["id"])["data"]
    assert (data["answer"], data["minutes_spent"], data["resolution"]) == (
        "Restarted the print server.",
        15,
        "workaround",
    )


def test_designer_uploads_an_invalid_file_and_sees_where_it_is_wrong(server, page):
    base, _ = server
    sign_in(page, base, "dana")
    page.get_by_role("link", name="Processes").first.click()
    sync_api.expect(page.get_by_role("heading", name="hello_care")).to_be_visible()
    shot(page, "processes")
    page.get_by_label("BPMN, DMN and form files").set_input_files(str(DATA / "bad_script.bpmn"))
    page.get_by_role("button", name="Check and deploy").click()
    problem = page.locator("tr.deploy-problem").first
    sync_api.expect(problem).to_contain_text("bad_script.bpmn")
    sync_api.expect(problem).to_contain_text("compute")
    sync_api.expect(problem).to_contain_text("7")
    sync_api.expect(problem).to_contain_text("syntax error")
    shot(page, "processes-errors")
