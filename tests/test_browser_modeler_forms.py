"""The form editor in a real browser: the preview follows the typing, problems show, Deploy deploys the users again."""

from __future__ import annotations

import pytest

from tests.browser import check_page, sign_in, sync_api
from tests.conftest import make_engine, source
from tests.live_server import live_server


@pytest.fixture
def server(database_url):
    care = make_engine(database_url)
    care.identity.add_user("dana", "designer", password="correct horse battery")
    care.repository.deploy(
        [source("hello_care.bpmn"), source("hello_care.de.po"), source("hello_care.cs.po")], "test", "test"
    )
    with live_server(care) as base:
        yield base, care
    care.close()


def previewed(page, previous: str | None) -> str:
    """Wait for a preview newer than ``previous``; its number."""
    page.wait_for_function(
        "previous => (document.body.getAttribute('data-form-previewed') || '0') !== previous", arg=previous or "0"
    )
    return page.get_attribute("body", "data-form-previewed")


def test_edit_a_form_with_a_live_preview_and_deploy_it(server, browser_page):
    base, care = server
    page = browser_page
    sign_in(page, base, "dana")
    page.goto(f"{base}/processes")
    page.get_by_role("link", name="Forms").click()
    check_page(page, "designer-forms")
    page.get_by_role("link", name="Edit answer_inquiry.json").click()
    page.wait_for_selector("body[data-form-ready=yes]")
    preview = page.locator(".form-preview")
    sync_api.expect(preview.get_by_role("textbox", name="Answer to the customer")).to_be_visible()
    check_page(page, "modeler-form")

    schema = page.get_by_label("Schema (answer_inquiry.json)")
    text = schema.input_value()
    schema.fill(text.replace('"title": "Answer to the customer"', '"title": "Your answer"'))
    seen = previewed(page, None)
    sync_api.expect(preview.get_by_role("textbox", name="Your answer")).to_be_visible()

    schema.fill(text[:-10])
    seen = previewed(page, seen)
    assert "is not valid JSON" in page.locator("li.modeler-problem").inner_text()

    schema.fill(text.replace('"title": "Answer to the customer"', '"title": "Your answer"'))
    previewed(page, seen)
    page.locator("#form-status", has_text="Draft saved").wait_for()
    with page.expect_navigation():  # the form goes once the file is read: after the click returns
        page.get_by_role("button", name="Deploy").click()
    assert page.get_by_role("status").first.inner_text() == "Deployed with the processes using it: hello_care 2."
    assert [v.version for v in care.repository.versions("hello_care")] == [2, 1]
    sync_api.expect(page.locator(".form-preview").get_by_role("textbox", name="Your answer")).to_be_visible()
