"""The task list and the task page in a real browser: the case first, notes, complete and next, a lead's hand-on form.

Screenshots at 390 and 1280 px land in ``test-artifacts/`` (``tasks-*``, ``task-*``), each page checked for
sideways scrolling and serious axe-core findings.
"""

from __future__ import annotations

import pytest

from engine.clock import VirtualClock
from tests.browser import PASSWORD, check_page, sign_in, sync_api
from tests.conftest import make_engine
from tests.live_server import live_server
from tests.test_task_page import ACME, inquiry_case

BOREALIS = {"id": "C-1002", "name": "Borealis Dental", "email": "office@borealis-dental.example"}


@pytest.fixture
def server(database_url):
    care = make_engine(database_url, VirtualClock())
    for group in ("support", "team_lead"):
        care.identity.add_group(group)
    care.identity.add_user("sam", "staff", ["support"], password=PASSWORD, display_name="Sam Carter")
    care.identity.add_user("tom", "staff", ["support"], password=PASSWORD, display_name="Tom Berg")
    care.identity.add_user("tina", "staff", ["support", "team_lead"], password=PASSWORD, display_name="Tina Lead")
    with live_server(care) as base:
        yield base, care
    care.close()


def test_an_agent_works_through_the_queue(server, browser_page):
    base, care = server
    started, first = inquiry_case(care)
    care.clock.advance("PT1M")
    second = care.intake.submit(
        channel="web",
        customer=BOREALIS,
        subject="Reminders sent twice: " + "appointment-reminder-" * 6 + "twice",
        body="Every patient gets each appointment reminder twice since the weekend. " * 6,
        reference=None,
        principal="portal",
    )
    care.jobs.run_due("test")
    page = browser_page
    sign_in(page, base, "sam")
    page.goto(f"{base}/tasks")
    row = page.locator(f"tr[data-task-id='{first['id']}']")
    sync_api.expect(row).to_contain_text(ACME["name"])
    sync_api.expect(row).to_contain_text("Inquiry")
    check_page(page, "tasks-list")

    row.get_by_role("link", name="Answer the inquiry").click()
    sync_api.expect(page.locator("#customer")).to_have_text(ACME["name"])
    sync_api.expect(page.locator("#stage")).to_have_text("In review")
    sync_api.expect(page.locator(".conversation .turn")).to_have_count(
        4
    )  # the inquiry, the answer given, the mail that took it, the reply
    sync_api.expect(page.locator(".conversation")).to_contain_text("The update did not help.")
    page.get_by_label("New note").fill("Customer prefers a call back after 14:00.")
    page.get_by_role("button", name="Add note").click()
    sync_api.expect(page.get_by_role("status")).to_have_text("Note added.")
    sync_api.expect(page.locator(".notes")).to_contain_text("Sam Carter")
    page.get_by_text("All case data").click()
    sync_api.expect(page.locator(".case-details")).to_contain_text("carestation")  # from the customer store
    check_page(page, "task-page")

    page.get_by_role("textbox", name="Answer to the customer").fill("We will replace the router this week.")
    page.get_by_role("button", name="Complete and next").click()
    second_task = care.runtime.get(second.instance_id)["tasks"][0]
    page.wait_for_url(f"{base}/tasks/{second_task['id']}")
    sync_api.expect(page.get_by_role("status")).to_contain_text("completed. Next:")
    sync_api.expect(page.locator("#customer")).to_have_text(BOREALIS["name"])
    check_page(page, "task-next")

    page.get_by_role("textbox", name="Answer to the customer").fill("Corrected; a new invoice is on its way.")
    page.get_by_role("button", name="Complete and next").click()
    page.wait_for_url(f"{base}/tasks")
    sync_api.expect(page.get_by_role("status")).to_contain_text("Your team has no more open tasks.")
    assert care.runtime.get(started.instance_id)["data"]["answer"] == "We will replace the router this week."


def test_a_team_lead_hands_a_task_on(server, browser_page):
    base, care = server
    _, task = inquiry_case(care)
    care.tasks.claim(task["id"], "tom")
    page = browser_page
    sign_in(page, base, "tina")
    page.goto(f"{base}/tasks/{task['id']}")
    sync_api.expect(page.get_by_text("Tom Berg is working on this task.")).to_be_visible()
    check_page(page, "task-reassign")
    page.get_by_label("Team member").select_option(label="Sam Carter")
    page.get_by_role("button", name="Reassign").click()
    sync_api.expect(page.get_by_role("status")).to_have_text("Task given to Sam Carter.")
    assert care.tasks.get(task["id"])["assignee"] == "sam"
