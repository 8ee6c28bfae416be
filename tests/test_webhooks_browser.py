"""The webhook pages in a real browser at 390 and 1280 px with axe-core: register, read the secret, see deliveries."""

from __future__ import annotations

import re

import pytest

from engine.runtime import StartRequest
from engine.webhooks import WebhookConfig
from tests.browser import PASSWORD, check_page, sign_in
from tests.conftest import make_engine, source
from tests.live_server import live_server
from tests.webhook_receiver import Receiver


@pytest.fixture
def server(database_url):
    care = make_engine(database_url)
    care.identity.add_user("ada", "admin", password=PASSWORD, display_name="Ada Admin")
    care.repository.deploy([source("hello_care.bpmn")], "test", "test")
    care.webhooks.config = care.deliveries.config = WebhookConfig(allow_private=True)
    receiver = Receiver().start()
    with live_server(care) as base:
        yield base, care, receiver
    receiver.stop()
    care.close()


def test_an_admin_registers_a_webhook_and_follows_its_deliveries(server, browser_page):
    base, care, receiver = server
    sign_in(browser_page, base, "ada")
    browser_page.get_by_role("link", name="Webhooks").first.click()
    check_page(browser_page, "admin-webhooks-empty")
    browser_page.get_by_role("button", name="Register endpoint").click()
    assert browser_page.locator("#url-error").inner_text() == "Enter the URL the events are sent to."
    browser_page.locator("#url").fill(receiver.url("/warehouse/events"))
    browser_page.get_by_label("Description").fill("Data warehouse loader")
    browser_page.get_by_label("Only these:").check()
    browser_page.get_by_label("instance.started").check()
    browser_page.get_by_label("task.created").check()
    browser_page.get_by_role("button", name="Register endpoint").click()
    secret = browser_page.get_by_label("Signing secret").input_value()
    assert secret.startswith("whsec_")
    check_page(browser_page, "admin-webhooks-created")
    receiver.secrets["/warehouse/events"] = secret
    receiver.answers = lambda path, earlier: (200, {}, b'{"stored": true}') if earlier else (503, {}, b"warming up")
    for number in range(2):
        care.runtime.start(StartRequest("hello_care", {"subject": f"Printer {number}"}), "sam")
    care.deliveries.run_due("w1")
    browser_page.get_by_role("link", name="Done").click()
    browser_page.get_by_role("link", name=receiver.url("/warehouse/events")).click()
    rows = browser_page.locator("#deliveries tbody tr")
    assert rows.count() == 4
    assert "HTTP 503" in browser_page.locator("#deliveries").inner_text()
    check_page(browser_page, "admin-webhook-deliveries")
    rows.first.get_by_role("button", name=re.compile(r"^Send task\.created of .+ again$")).click()
    assert browser_page.get_by_role("status").inner_text() == "The event will be sent again in a moment."
