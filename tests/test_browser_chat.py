"""A chat in a real browser through a restart of the server: a customer (from their case's tracking page) and an agent.

The server is a real ``carecenter serve`` process on 127.0.0.1. The customer starts a chat about
their case, the agent accepts it from the queue, both write and see each other's lines arrive live;
then the server process is stopped and started again (same port, same database). The pages
reconnect by themselves, nothing written is lost or shown twice, a message the customer sent while
the server was away is refused visibly and sent again. The agent ends the chat, the customer sees
it saved with the case's reference, and the transcript is on the customer's page. Screenshots of
the customer's chat and the staff's queue at 390 and 1280 px, axe-core on each.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from engine.config import PROJECT_ROOT
from engine.models import ProcessInstance
from engine.runtime import StartRequest
from process_library.csv_import import import_csv
from tests.browser import ARTIFACTS, PASSWORD, check_page, launch, sign_in, sync_api
from tests.conftest import make_engine, source
from tests.test_cti import CUSTOMERS
from tests.worker_processes import CARECENTER

expect = pytest.importorskip("playwright.sync_api").expect
INTAKE_FILES = ("inquiry_intake.bpmn", "escalation.bpmn", "classify_inquiry.dmn", "inquiry_sla.dmn")
LIVE = 10_000  # ms a line may take to arrive (a loaded two-core machine; it is usually well under a second)
# ms for the first line after the restart: the pages retry at most 10 s apart, and the server takes its start-up time
RESUMED = 30_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """``carecenter serve`` on one port, stopped and started again on it."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARECENTER_")}
        env.update(
            CARECENTER_DATABASE_URL=database_url,
            CARECENTER_SECRET_KEY=secrets.token_hex(32),  # the staff's session outlives the restart
            CARECENTER_PUBLIC_URL=self.base,  # the chat's POSTs must come from here
        )
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(
                [CARECENTER, "serve", "--port", str(self.port)],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=PROJECT_ROOT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"carecenter serve exited: {self.log.read_text()}")
            try:
                urllib.request.urlopen(f"{self.base}/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        pytest.fail("carecenter serve did not come up: " + self.log.read_text())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def served(database_url, tmp_path):
    care = make_engine(database_url)
    care.repository.deploy([source(name) for name in ("hello_care.bpmn", *INTAKE_FILES)], "test", "test")
    care.identity.add_group("support")
    care.identity.add_user("sam", "staff", ["support"], password=PASSWORD, display_name="Sam Agent")
    import_csv(care.db, "customers", CUSTOMERS)
    case, _ = care.runtime.start(StartRequest("hello_care", {"subject": "Printer"}, customer_id="C-1"), "test")
    with care.db.read() as session:
        code = session.get(ProcessInstance, case["id"]).tracking_code
    care.close()
    server = Served(database_url, tmp_path / "serve.log")
    server.start()
    yield server, case, code
    server.stop()


def lines(page) -> list[str]:
    return [text.strip() for text in page.locator("#chat-log .chat-text").all_inner_texts()]


def test_a_chat_goes_on_through_a_restart_and_ends_on_the_customer_page(served):
    server, case, code = served
    base = server.base
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        chromium = launch(playwright)
        customer = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
        agent = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
        try:
            # the agent has the queue open; the customer starts a chat from their case's tracking page
            sign_in(agent, base, "sam")
            agent.get_by_role("navigation", name="Main").get_by_role("link", name="Chats").click()
            expect(agent.locator("#chat-waiting")).to_have_text("No customer is waiting.")
            customer.goto(f"{base}/track/{code}?lang=en")
            customer.get_by_role("link", name="Questions about this request? Chat with us").click()
            expect(customer.locator("#chat-about")).to_contain_text(case["reference"])
            customer.get_by_label("What is it about?").select_option("support")
            customer.get_by_label("Name").fill("Ada Lovelace")
            customer.get_by_label("E-mail address").fill("ada@example.com")
            customer.get_by_label("Your question (optional)").fill("My printer jams <again>")
            check_page(customer, "chat-customer-start")
            customer.get_by_role("button", name="Start the chat").click()
            expect(customer.locator("#chat-status")).to_contain_text("Waiting for an agent.")
            expect(customer.locator("#chat-reference")).to_have_text(case["reference"])
            check_page(customer, "chat-customer-waiting")

            # the agent's queue shows it at once, waiting for the team, and the agent accepts it
            row = agent.locator("#chat-waiting tbody tr").first
            expect(row).to_contain_text("Ada Lovelace", timeout=LIVE)
            expect(row).to_contain_text("General questions")
            expect(row).to_contain_text(case["reference"])
            expect(row).to_contain_text(" min")
            check_page(agent, "chat-queue")
            row.get_by_role("button", name="Accept").click()
            agent.wait_for_url(f"{base}/chats/*")
            assert lines(agent) == ["My printer jams <again>"]  # text, escaped: no element made of it

            # both write; each sees the other's line arrive
            expect(customer.locator("#chat-status")).to_contain_text(
                "You are chatting with our care team.", timeout=LIVE
            )
            agent.get_by_label("Your answer").fill("Which model is it?")
            agent.get_by_label("Your answer").press("Enter")
            expect(customer.locator("#chat-log .from-agent").last).to_contain_text("Which model is it?", timeout=LIVE)
            customer.get_by_label("Your message").fill("A P-42.")
            customer.get_by_role("button", name="Send").click()
            expect(agent.locator("#chat-log .from-customer").last).to_contain_text("A P-42.", timeout=LIVE)
            check_page(agent, "chat-agent")

            # the server goes away: a line sent meanwhile is refused visibly and kept in the form
            server.stop()
            customer.get_by_label("Your message").fill("Are you still there?")
            customer.get_by_role("button", name="Send").click()
            expect(customer.locator("#chat-send .chat-problem")).to_contain_text("the connection is lost")
            expect(customer.get_by_label("Your message")).to_have_value("Are you still there?")
            server.start()

            # the pages reconnect by themselves and the chat goes on
            agent.get_by_label("Your answer").fill("Back again. Try a new drum.")
            agent.get_by_role("button", name="Send").click()
            expect(customer.locator("#chat-log .from-agent").last).to_contain_text("Try a new drum.", timeout=RESUMED)
            customer.get_by_role("button", name="Send").click()
            expect(agent.locator("#chat-log .from-customer").last).to_contain_text("still there", timeout=RESUMED)
            written = ["My printer jams <again>", "Which model is it?", "A P-42.", "Back again. Try a new drum."]
            written.append("Are you still there?")
            assert lines(customer) == written  # nothing lost, nothing twice
            assert lines(agent) == written

            # the agent ends it: the customer sees it saved with their case, the transcript is on the customer page
            agent.get_by_role("button", name="End the chat").click()
            expect(agent.locator("#chat-filed")).to_contain_text(case["reference"], timeout=LIVE)
            expect(customer.locator("#chat-status")).to_have_text("The chat has ended.", timeout=LIVE)
            expect(customer.locator("#chat-filed")).to_contain_text(case["reference"], timeout=LIVE)
            expect(customer.locator("#chat-send")).to_be_hidden()
            check_page(customer, "chat-customer-ended")
            customer.reload()
            assert lines(customer) == written

            agent.goto(f"{base}/customers/C-1")
            contact = agent.locator("ol.contacts li").first
            expect(contact).to_contain_text("Chat: General questions")
            expect(contact).to_contain_text("Ada Lovelace: My printer jams <again>")
            expect(contact).to_contain_text("sam: Back again. Try a new drum.")
            expect(contact).to_contain_text(f"request {case['reference']}")
        finally:
            chromium.close()
