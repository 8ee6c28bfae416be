"""The screen pop in a real browser: a phone system's newCall pops up on a signed-in staff page, the agent who
answers gets the customer's page, says which case the call is about, and the hangup logs it there.

At 390 and 1280 px with axe-core: the pop ringing and answered, the caller log, the telephony administration.
"""

from __future__ import annotations

import re

import pytest

from engine.runtime import StartRequest
from process_library.csv_import import import_csv
from tests.browser import PASSWORD, check_page, sign_in
from tests.conftest import make_engine, source
from tests.live_server import live_server
from tests.test_cti import CUSTOMERS, call_events, post

expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture
def server(database_url):
    care = make_engine(database_url)
    care.repository.deploy([source("hello_care.bpmn")], "test", "test")
    care.identity.add_group("support")
    care.identity.add_user("sam", "staff", ["support"], password=PASSWORD, display_name="Sam Agent")
    care.identity.add_user("ada", "admin", password=PASSWORD)
    import_csv(care.db, "customers", CUSTOMERS)
    case, _ = care.runtime.start(StartRequest("hello_care", {"subject": "Printer"}, customer_id="C-1"), "test")
    _, token = care.cti.create("office PBX", "test")
    with live_server(care) as base:
        yield base, care, token, case
    care.close()


def test_an_incoming_call_pops_up_is_answered_and_logged_on_the_chosen_case(server, browser_page):
    base, care, token, case = server
    page = browser_page
    sign_in(page, base, "sam")
    page.goto(f"{base}/tasks")
    expect(page.locator("#call-pops")).to_be_attached()
    new_call, answer, hangup = call_events("030/1234567", answered_by="sam", cause="normalClearing")
    page.wait_for_timeout(300)  # the page's stream is open
    assert post(f"{base}/api/cti/{token}", new_call, "json") == (200, {})
    pop = page.locator("#call-pops .call-pop")
    expect(pop).to_be_visible(timeout=5000)
    expect(pop.locator("h2")).to_have_text("Incoming call")
    expect(pop).to_contain_text("+49 30 1234567")
    expect(pop).to_contain_text("Ada Lovelace")
    expect(pop).to_contain_text(case["reference"])
    check_page(page, "screen-pop-ringing")

    # sam answers: the customer's page opens by itself, with the pop and its form
    post(f"{base}/api/cti/{token}", answer, "json")
    page.wait_for_url(f"{base}/customers/C-1", timeout=5000)
    # once: a tab sam opens during the call shows the call and stays on its own page
    other_tab = page.context.new_page()
    other_tab.goto(f"{base}/chats")
    expect(other_tab.locator("#call-pops .call-pop h2")).to_have_text("Call in progress", timeout=5000)
    other_tab.wait_for_timeout(500)
    assert other_tab.url == f"{base}/chats"
    other_tab.close()
    pop = page.locator("#call-pops .call-pop")
    expect(pop.locator("h2")).to_have_text("Call in progress", timeout=5000)
    expect(pop).to_contain_text("Answered by sam")
    pop.get_by_label("About").select_option(str(case["id"]))
    pop.get_by_label("Subject").fill("Printer still jams")
    pop.get_by_label("Note").fill("Sent a new drum.")
    pop.get_by_role("button", name="Save for the call log").click()
    expect(page.locator("#call-pops .call-saved")).to_be_visible(timeout=5000)
    check_page(page, "screen-pop-answered")

    # the hangup logs the call on the case, without anyone typing it again
    post(f"{base}/api/cti/{token}", hangup, "json")
    pop = page.locator("#call-pops .call-pop")
    expect(pop.locator("h2")).to_have_text("Call ended", timeout=5000)
    expect(pop).to_contain_text(f"Logged on request {case['reference']}.")
    page.reload()
    contact = page.locator("ol.contacts li").first
    expect(contact).to_contain_text("Printer still jams")
    expect(contact).to_contain_text("Sent a new drum.")
    expect(contact).to_contain_text(f"request {case['reference']}")
    expect(page.locator("#call-pops .call-pop")).to_have_count(0)  # nothing going on any more

    # the caller log lists it
    page.goto(f"{base}/calls")
    row = page.locator("#call-log tbody tr").first
    for shown in ("+49 30 1234567", "Ada Lovelace", "Incoming", "Answered", "sam"):
        expect(row).to_contain_text(shown)
    check_page(page, "calls-log")


def test_a_missed_call_from_an_unknown_number_offers_to_file_the_caller(server, browser_page):
    base, care, token, _ = server
    page = browser_page
    sign_in(page, base, "sam")
    page.goto(f"{base}/customers")
    page.wait_for_timeout(300)
    new_call, hangup = call_events("+49 40 98765432", answered_by=None, cause="cancel")
    post(f"{base}/api/cti/{token}", new_call, "form")
    pop = page.locator("#call-pops .call-pop")
    expect(pop).to_contain_text("Unknown caller.", timeout=5000)
    with page.expect_navigation():
        pop.get_by_role("link", name="File as a new customer").click()
    expect(page.get_by_label("Phone (optional)")).to_have_value("+49 40 98765432")
    post(f"{base}/api/cti/{token}", hangup, "form")
    expect(page.locator("#call-pops .call-pop")).to_have_count(0, timeout=5000)  # ended: gone for everyone
    page.goto(f"{base}/calls")
    row = page.locator("#call-log tbody tr").first
    expect(row).to_contain_text("unknown")
    expect(row).to_contain_text("Missed")


def test_the_calls_page_follows_the_calls_without_a_reload(server, browser_page):
    base, care, token, _ = server
    page = browser_page
    sign_in(page, base, "sam")
    page.goto(f"{base}/calls")
    expect(page.get_by_text("No calls yet.")).to_be_visible()
    going_on = page.locator("section[data-live-going-on]")
    expect(going_on).to_contain_text("No call is ringing or going on.")
    page.wait_for_timeout(300)  # the page's stream is open
    # answered by a colleague: sam's page stays (the agent who answers is taken to the customer's page)
    new_call, answer, hangup = call_events("030/1234567", answered_by="bella", cause="normalClearing")
    answer["user"] = "Bella Agent"  # no user of carecenter
    post(f"{base}/api/cti/{token}", new_call, "json")
    row = page.locator("#call-log tbody tr", has_text="Ada Lovelace")
    expect(row).to_contain_text("Ringing", timeout=5000)
    # the call going on is listed in its section, with its form, and pops up nowhere else on this page
    ringing = going_on.locator(".call-pop")
    expect(ringing).to_have_count(1)
    expect(ringing).to_contain_text("Ada Lovelace")
    expect(page.locator("#call-pops .call-pop")).to_have_count(0)
    expect(ringing.get_by_role("button", name="Hide")).to_be_hidden()  # a pop's own button, not the page's
    check_page(page, "calls-going-on-live")

    # a second call rings while sam types a note on the first: what sam typed stays, the list follows after
    second_call, second_hangup = call_events("+49 40 98765432", answered_by=None, cause="cancel")
    ringing.get_by_label("Note").fill("Asked for a callback")
    post(f"{base}/api/cti/{token}", second_call, "json")
    expect(page.locator("#call-log tbody tr")).to_have_count(2, timeout=5000)
    page.wait_for_timeout(600)
    expect(going_on.locator(".call-pop")).to_have_count(1)
    expect(going_on.get_by_label("Note")).to_have_value("Asked for a callback")
    page.locator("h1").click()  # done typing, not sent yet
    expect(going_on.locator(".call-pop")).to_have_count(2, timeout=5000)
    first = going_on.locator('.call-pop:has-text("Ada Lovelace")')
    expect(first.get_by_label("Note")).to_have_value("Asked for a callback")  # kept through the refresh

    post(f"{base}/api/cti/{token}", second_hangup, "json")
    post(f"{base}/api/cti/{token}", answer, "json")
    post(f"{base}/api/cti/{token}", hangup, "json")
    expect(row).to_contain_text("Answered", timeout=5000)
    expect(row.locator("td").nth(5)).not_to_have_text("—", timeout=5000)  # ended: its duration
    expect(page.locator("#call-log tbody tr")).to_have_count(2)
    expect(going_on).to_contain_text("No call is ringing or going on.", timeout=5000)
    check_page(page, "calls-log-live")


def test_admins_give_a_phone_system_its_address_and_block_a_number(server, browser_page):
    base, care, _, _ = server
    page = browser_page
    sign_in(page, base, "ada")
    page.goto(f"{base}/admin/telephony")
    page.get_by_label("New phone system").fill("Asterisk in the office")
    page.get_by_role("button", name="Create its address").click()
    url = page.get_by_label("Address for the phone system's CTI events").input_value()
    assert re.fullmatch(rf"{re.escape(care.settings.public.base)}/api/cti/[\w-]{{43}}", url)
    page.get_by_label("Number to block").fill("0171 1234567")
    page.get_by_label("Note (optional)").fill("Robocalls")
    page.get_by_role("button", name="Block the number").click()
    expect(page.locator("#blocked-numbers")).to_contain_text("+49 171 1234567")
    check_page(page, "telephony-admin")
