"""Account services and online orders in the portal, through the Flask test client on the real database.

Two customers sign in through mailed links. Each changes their details and orders from the catalog
through the portal's forms; the processes run as the worker runs them (``care.jobs.run_due``), a
colleague approves what waits. Each sees their own changes and orders, never the other's, and
every bad input (an invalid e-mail address, an empty change, an unknown catalog item, a foreign
CSRF token, ...) is answered with the form and its messages, changing nothing.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import func, select

import process_library
from api import i18n
from engine.models import ProcessInstance
from engine.tasks import TaskFilter
from process_library import account_changes, orders
from process_library.csv_import import import_csv
from process_library.store import Customer, CustomerChange, License, Order
from tests.conftest import source
from tests.test_portal_session import csrf, sign_in_to_portal

SAMPLE = Path(process_library.__file__).resolve().parent / "sample"
FILES = (
    "account_change.bpmn",
    "account_change.de.po",
    "account_change.cs.po",
    "product_order.bpmn",
    "product_order.de.po",
    "product_order.cs.po",
    "order_approval.dmn",
)
ALICE, BRUNO = "alice@example.com", "bruno@example.de"
REFERENCE = re.compile(r"CC-[0-9A-Z]{4}-[0-9A-Z]{4}")


@pytest.fixture
def people(care):
    """Alice (English, standard tier, a carestation basic license) and Bruno (German, premium); the sample catalog."""
    care.repository.deploy([source(name) for name in FILES], "test", "test")
    care.identity.add_group("support")
    care.identity.add_group("sales")
    care.identity.add_user("lea", "staff", ["support"], password="correct horse battery")
    care.identity.add_user("sam", "staff", ["sales"], password="correct horse battery")
    with care.db.write() as session:
        session.add(
            Customer(
                id="C-A",
                name="Alice Example",
                email=ALICE,
                tier="standard",
                language="en",
                phone="+1 555 0100",
                address="1 Main Street\nSpringfield",
                billing_address="Alice Example Ltd\nAccounts\n1 Main Street",
                authorized_contacts=[{"name": "Carl Clerk", "email": "carl@example.com"}],
            )
        )
        session.add(Customer(id="C-B", name="Bruno Beispiel", email=BRUNO, tier="premium", language="de"))
        session.flush()
        session.add(
            License(
                id="L-A1",
                customer_id="C-A",
                product="carestation",
                level="basic",
                valid_until=care.clock.now() + timedelta(days=200),
                status="active",
            )
        )
    import_csv(care.db, "catalog", (SAMPLE / "catalog.csv").read_text(encoding="utf-8"))


def signed_in(app, care, email: str):
    client = app.test_client()
    sign_in_to_portal(client, care, email)
    return client


def form_fields(page: str) -> dict[str, str]:
    """What a browser sends for the account form as shown: every input, textarea and chosen option."""
    fields = {}
    for name, value in re.findall(r'<input type="[a-z]+" id="[^"]*" name="([^"]+)" value="([^"]*)"', page):
        fields[name] = value
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page):
        fields[name] = value
    for name, value in re.findall(r'<textarea id="[^"]+" name="([^"]+)"[^>]*>([^<]*)</textarea>', page, re.S):
        fields[name] = value
    for name, options in re.findall(r'<select id="[^"]+" name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]* selected>', options)
        fields[name] = chosen[1] if chosen else re.search(r'<option value="([^"]*)"', options)[1]
    return {name: value.replace("&#39;", "'").replace("&amp;", "&") for name, value in fields.items()}


def change(client, lang: str = "en", **edits):
    """Open the account form, edit some fields, send it; the answer."""
    page = client.get(f"/portal/account/change?lang={lang}").text
    return client.post(f"/portal/account/change?lang={lang}", data=form_fields(page) | edits)


def order(client, item: str, quantity: str = "1", lang: str = "en"):
    page = client.get(f"/portal/order?lang={lang}").text
    data = {"csrf_token": csrf(page), "submission": re.search(r'name="submission" value="([^"]+)"', page)[1]}
    return client.post(f"/portal/order?lang={lang}", data=data | {"item": item, "quantity": quantity})


def stored(care, customer_id: str) -> Customer:
    with care.db.read() as session:
        return session.get(Customer, customer_id)


def count(care, model, *where) -> int:
    with care.db.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def approve(care, instance_id: int, user: str) -> None:
    [task] = care.tasks.list(TaskFilter(instance_id=instance_id), 10, None).items
    care.tasks.complete(task["id"], {"decision": "approve"}, user)
    care.jobs.run_due("test")


def instance_of(care, reference: str) -> int:
    with care.db.read() as session:
        return session.scalar(select(ProcessInstance.id).where(ProcessInstance.reference == reference))


def section(page: str, heading_id: str) -> str:
    return re.search(rf'aria-labelledby="{heading_id}">(.*?)</section>', page, re.S)[1]


# -- account services ------------------------------------------------------------------------------


def test_my_account_links_the_form_which_is_prefilled_from_the_store(app, care, people):
    client = signed_in(app, care, ALICE)
    account = client.get("/portal/account?lang=en").text
    assert 'href="/portal/account/change?lang=en"' in account and 'href="/portal/order?lang=en"' in account
    page = client.get("/portal/account/change?lang=en")
    assert page.status_code == 200
    fields = form_fields(page.text)
    assert fields["email"] == ALICE and fields["phone"] == "+1 555 0100"
    assert fields["address"] == "1 Main Street\nSpringfield" and fields["language"] == "en"
    assert fields["preferred_channel"] == ""  # none chosen yet: the blank option, which asks nothing
    assert (fields["contact-0-name"], fields["contact-0-email"], fields["contact_rows"]) == (
        "Carl Clerk",
        "carl@example.com",
        "3",
    )
    assert "needs approval" in page.text and 'name="csrf_token"' in page.text


def test_low_risk_changes_apply_at_once_and_the_answer_says_so(app, care, people):
    client = signed_in(app, care, ALICE)
    answer = change(client, phone="+1 555 0199", address="2 Oak Road\r\nSpringfield", preferred_channel="letter")
    assert answer.status_code == 303
    location = answer.headers["Location"]
    assert re.fullmatch(r"/portal/account/changes/CC-[0-9A-Z]{4}-[0-9A-Z]{4}\?lang=en&asked=\S+", location)
    received = client.get(location).text  # before the worker ran: what the form asked, by field
    assert "We have received your request and are checking it now." in received
    assert "Changes at once: Phone, Postal address, Preferred channel" in received
    assert "approval" not in received

    care.jobs.run_due("test")
    done = client.get(location).text
    now_list = re.search(r'<ul class="portal-list change-list" id="changed-now">(.*?)</ul>', done, re.S)[1]
    assert (
        'Phone:</span> <span class="change-before">+1 555 0100</span> → <span class="change-after">+1 555 0199'
        in now_list
    )
    assert "2 Oak Road, Springfield" in now_list and now_list.count('class="status done"') == 3
    assert 'id="changed-after-approval"' not in done
    reference = REFERENCE.search(location)[0]
    code = re.search(r'href="/track/([^"?]+)\?lang=en" id="status-link"', done)[1]
    assert client.get(f"/track/{code}?lang=en").status_code == 200
    record = stored(care, "C-A")
    assert (record.phone, record.address, record.preferred_channel) == (
        "+1 555 0199",
        "2 Oak Road\nSpringfield",
        "letter",
    )

    account = client.get("/portal/account?lang=en").text
    changes = section(account, "changes-title")
    assert "No changes waiting." in changes and changes.count(reference) == 3
    assert '+1 555 0100</span> → <span class="change-after">+1 555 0199' in changes


def test_a_new_billing_address_waits_for_a_colleague_then_shows_done(app, care, people):
    client = signed_in(app, care, ALICE)
    answer = change(client, billing_address="Alice Example Ltd\r\nPO Box 7", contact_person="Alice")
    location = answer.headers["Location"]
    received = client.get(location).text.replace("&#39;", "'")
    assert "Changes at once: Contact person" in received
    assert "Waits for a colleague's approval: Billing address" in received
    care.jobs.run_due("test")
    waiting = client.get(location).text
    assert "A colleague checks these changes" in waiting
    pending = re.search(r'id="changed-after-approval">(.*?)</ul>', waiting, re.S)[1]
    assert (
        'Alice Example Ltd, Accounts, 1 Main Street</span> → <span class="change-after">Alice Example Ltd, PO Box 7'
        in pending
    )
    assert "Waiting for approval" in pending
    assert stored(care, "C-A").billing_address == "Alice Example Ltd\nAccounts\n1 Main Street"  # not yet
    account = client.get("/portal/account?lang=en").text
    assert "PO Box 7" in section(account, "changes-title").split("<h3>Done</h3>")[0]  # pending

    approve(care, instance_of(care, REFERENCE.search(location)[0]), "lea")
    done = client.get(location).text
    assert 'class="status done"' in re.search(r'id="changed-after-approval">(.*?)</ul>', done, re.S)[1]
    assert "lea" not in done  # staff names stay with staff
    assert stored(care, "C-A").billing_address == "Alice Example Ltd\nPO Box 7"
    account = client.get("/portal/account?lang=en").text
    waiting_part, done_part = section(account, "changes-title").split("<h3>Done</h3>")
    assert "No changes waiting." in waiting_part and "PO Box 7" in done_part


def test_authorized_contacts_and_the_email_address_are_sent_as_typed_and_wait(app, care, people):
    client = signed_in(app, care, ALICE)
    answer = change(
        client,
        **{
            "email": "alice.new@example.com",
            "contact-0-name": "",
            "contact-0-email": "",  # Carl removed
            "contact-1-name": "Dora Deputy",
            "contact-1-phone": "+1 555 0177",
        },
    )
    assert answer.status_code == 303
    care.jobs.run_due("test")
    with care.db.read() as session:
        rows = {row.field: row for row in session.scalars(select(CustomerChange))}
    assert set(rows) == {"email", "authorized_contacts"} and {r.status for r in rows.values()} == {"requested"}
    assert rows["authorized_contacts"].after == [{"name": "Dora Deputy", "phone": "+1 555 0177"}]
    page = client.get(answer.headers["Location"]).text
    assert 'Carl Clerk (carl@example.com)</span> → <span class="change-after">Dora Deputy (+1 555 0177)' in page


def test_the_answer_and_the_messages_come_in_the_customers_language(app, care, people):
    client = signed_in(app, care, BRUNO)
    refused = change(client, lang="de", email="bruno at example")
    assert refused.status_code == 422
    assert "Bitte prüfen Sie die markierten Felder; es wurde nichts geändert." in refused.text
    assert 'id="email-error">Bitte geben Sie eine gültige E-Mail-Adresse ein.</p>' in refused.text
    assert 'aria-invalid="true"' in refused.text and 'value="bruno at example"' in refused.text  # kept as typed
    answer = change(client, lang="de", language="cs", phone="+49 30 1")
    assert "lang=cs" in answer.headers["Location"]  # the answer in the language just chosen
    care.jobs.run_due("test")
    assert "Změněno ihned" in client.get(answer.headers["Location"]).text


@pytest.mark.parametrize(
    ("edits", "field", "message"),
    [
        ({"email": "not-an-address"}, "email", account_changes.BAD_EMAIL),
        ({"email": "   "}, "email", account_changes.REQUIRED),
        ({}, "changes", account_changes.NO_CHANGE),  # the form sent as it came: nothing would change
        ({"language": "fr"}, "language", account_changes.CHOOSE),
        ({"preferred_channel": "pigeon"}, "preferred_channel", account_changes.CHOOSE),
        ({"phone": "9" * 51}, "phone", account_changes.TOO_LONG),
        ({"contact-2-email": "someone@example.com"}, "authorized_contacts", account_changes.BAD_CONTACTS),
        (
            {"contact-2-name": "No Way", "contact-2-email": "no way"},
            "authorized_contacts",
            account_changes.BAD_CONTACTS,
        ),
    ],
)
def test_bad_account_input_is_refused_by_field_and_changes_nothing(app, care, people, edits, field, message):
    client = signed_in(app, care, ALICE)
    before = stored(care, "C-A")
    answer = change(client, **edits)
    assert answer.status_code == 422
    assert f'id="{field}-error">{message}</p>' in answer.text.replace("&#39;", "'")
    care.jobs.run_due("test")
    assert count(care, ProcessInstance) == 0 and count(care, CustomerChange) == 0
    after = stored(care, "C-A")
    assert [getattr(after, f) for f in account_changes.FIELDS] == [getattr(before, f) for f in account_changes.FIELDS]


def test_an_empty_form_a_foreign_csrf_token_and_a_forged_customer_change_nothing(app, care, people):
    client = signed_in(app, care, ALICE)
    page = client.get("/portal/account/change?lang=en").text
    empty = client.post("/portal/account/change?lang=en", data={"csrf_token": csrf(page)})
    assert empty.status_code == 422 and account_changes.EMPTY_REQUEST in empty.text
    other = signed_in(app, care, BRUNO)  # a token of another session
    foreign = client.post(
        "/portal/account/change",
        data=form_fields(page) | {"csrf_token": csrf(other.get("/portal/account/change").text), "phone": "1"},
    )
    assert foreign.status_code == 400 and "+1 555 0100" not in foreign.text
    missing = client.post("/portal/account/change", data={"phone": "1"})
    assert missing.status_code == 400
    # the form names no customer: a customer_id sent along changes the signed-in customer's record only
    forged = change(client, phone="+1 555 0111", customer_id="C-B", customer="C-B")
    assert forged.status_code == 303
    care.jobs.run_due("test")
    assert stored(care, "C-B").phone is None and stored(care, "C-A").phone == "+1 555 0111"
    assert count(care, ProcessInstance) == 1


def test_the_same_form_sent_twice_starts_one_request_even_after_it_took_effect(app, care, people):
    client = signed_in(app, care, ALICE)
    page = client.get("/portal/account/change?lang=en").text
    data = form_fields(page) | {"phone": "+1 555 0142"}
    first = client.post("/portal/account/change?lang=en", data=data)
    care.jobs.run_due("test")  # applied: checked again, the same input would change nothing
    again = client.post("/portal/account/change?lang=en", data=data)
    assert first.status_code == again.status_code == 303
    assert REFERENCE.search(first.headers["Location"])[0] == REFERENCE.search(again.headers["Location"])[0]
    assert count(care, ProcessInstance) == 1
    corrected = client.post("/portal/account/change?lang=en", data=data | {"phone": "+1 555 0143"})
    assert corrected.status_code == 303 and count(care, ProcessInstance) == 2  # went back and changed it: new


# -- orders ----------------------------------------------------------------------------------------


def test_the_catalog_lists_prices_and_marks_what_the_customer_cannot_order(app, care, people):
    client = signed_in(app, care, ALICE)
    page = client.get("/portal/order?lang=en").text
    assert page.count('type="radio" name="item"') == 9
    assert "290.00 EUR for 12 months" in page and "600.00 EUR once; the license keeps its end date" in page
    held = re.search(r'<li class="unavailable">\s*<input type="radio" name="item" id="item-P-CS-BASIC"[^>]*>', page)
    assert held and "disabled" in held[0]  # she holds a carestation license: an upgrade, not a new one
    assert orders.LICENSED_ALREADY.replace("'", "&#39;") in page
    assert re.search(r'id="item-U-CS-PRO" value="U-CS-PRO">', page)  # orderable, not disabled


def test_a_small_order_is_confirmed_at_once_and_listed_on_my_account(app, care, people):
    client = signed_in(app, care, ALICE)
    answer = order(client, "U-CS-PRO")
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/portal/orders/CC-")
    assert "checking it now" in client.get(answer.headers["Location"]).text
    care.jobs.run_due("test")
    page = client.get(answer.headers["Location"]).text
    assert "Your order is confirmed." in page and "License L-A1: carestation, level pro" in page
    assert "600.00 EUR" in page and "Stage: Completed" in page
    orders_part = section(client.get("/portal/account?lang=en").text, "orders-title")
    assert "Upgrade carestation to pro" in orders_part and "Confirmed" in orders_part and "L-A1" in orders_part


def test_a_large_order_waits_for_sales_and_is_confirmed_after_approval(app, care, people):
    client = signed_in(app, care, ALICE)
    answer = order(client, "U-CS-ENTERPRISE")
    care.jobs.run_due("test")
    page = client.get(answer.headers["Location"]).text
    assert "Your order waits for approval by our sales team." in page and "2,400.00 EUR" in page  # English grouping
    assert "Waiting for approval" in section(client.get("/portal/account?lang=en").text, "orders-title")
    approve(care, instance_of(care, REFERENCE.search(answer.headers["Location"])[0]), "sam")
    page = client.get(answer.headers["Location"]).text
    assert "Your order is confirmed." in page and "level enterprise" in page and "sam" not in page


def test_a_declined_order_says_why(app, care, people):
    client = signed_in(app, care, BRUNO)
    answer = order(client, "P-CS-PRO", "5", lang="de")  # 7450 EUR: above the premium limit
    care.jobs.run_due("test")
    [task] = care.tasks.list(
        TaskFilter(instance_id=instance_of(care, REFERENCE.search(answer.headers["Location"])[0])), 10, None
    ).items
    care.tasks.complete(task["id"], {"decision": "reject", "reason": "Five years is too long."}, "sam")
    care.jobs.run_due("test")
    page = client.get(answer.headers["Location"]).text
    assert "Ihre Bestellung wurde abgelehnt." in page and "Grund: Five years is too long." in page
    assert "7.450,00 EUR" in page  # the amount as German writes it


@pytest.mark.parametrize(
    ("item", "quantity", "field", "message"),
    [
        ("P-NOPE", "1", "item", orders.UNKNOWN_ITEM),
        ("", "1", "item", account_changes.CHOOSE),  # nothing chosen
        ("P-TILL-BASIC", "0", "quantity", orders.BAD_QUANTITY),
        ("P-TILL-BASIC", "eleven", "quantity", orders.BAD_QUANTITY),
        ("P-TILL-BASIC", "9" * 5000, "quantity", orders.BAD_QUANTITY),
        ("U-CS-PRO", "2", "quantity", orders.UPGRADE_ONCE),
        ("P-CS-BASIC", "1", "item", orders.LICENSED_ALREADY),  # disabled in the form, sent anyway
    ],
)
def test_bad_orders_are_refused_by_field_and_order_nothing(app, care, people, item, quantity, field, message):
    client = signed_in(app, care, ALICE)
    answer = order(client, item, quantity)
    assert answer.status_code == 422
    assert f'id="{field}-error">{message}</p>' in answer.text.replace("&#39;", "'")
    assert "Please check the marked fields; nothing was ordered." in answer.text
    care.jobs.run_due("test")
    assert count(care, ProcessInstance) == 0 and count(care, Order) == 0


def test_an_order_with_a_foreign_csrf_token_orders_nothing(app, care, people):
    client, other = signed_in(app, care, ALICE), signed_in(app, care, BRUNO)
    token = csrf(other.get("/portal/order").text)
    answer = client.post("/portal/order", data={"csrf_token": token, "item": "P-TILL-BASIC", "quantity": "1"})
    assert answer.status_code == 400
    assert count(care, ProcessInstance) == 0


# -- two customers, signing in, limits ---------------------------------------------------------------


def test_two_customers_never_see_each_others_changes_or_orders(app, care, people):
    alice, bruno = signed_in(app, care, ALICE), signed_in(app, care, BRUNO)
    alice_change = change(alice, phone="+1 555 0155").headers["Location"]
    alice_order = order(alice, "U-CS-ENTERPRISE").headers["Location"]
    bruno_change = change(bruno, lang="de", contact_person="Bruno B.").headers["Location"]
    bruno_order = order(bruno, "P-TILL-BASIC", lang="de").headers["Location"]
    care.jobs.run_due("test")
    for client, own, theirs, own_text, their_text in (
        (alice, (alice_change, alice_order), (bruno_change, bruno_order), "+1 555 0155", "Bruno B."),
        (bruno, (bruno_change, bruno_order), (alice_change, alice_order), "Bruno B.", "+1 555 0155"),
    ):
        account = client.get("/portal/account").text
        assert own_text in account and their_text not in account
        for location in own:
            assert REFERENCE.search(location)[0] in account and client.get(location).status_code == 200
        for location in theirs:
            assert REFERENCE.search(location)[0] not in account
            page = client.get(location)
            assert page.status_code == 404 and their_text not in page.text
    assert "Till basic" not in alice.get("/portal/account").text
    assert "Upgrade carestation to enterprise" not in bruno.get("/portal/account").text


def test_without_a_portal_session_the_forms_ask_to_sign_in_and_start_nothing(app, care, people):
    client = app.test_client()
    for path in ("/portal/account/change", "/portal/order", "/portal/orders/CC-0000-0000"):
        answer = client.get(path + "?lang=de")
        assert answer.status_code == 302 and answer.headers["Location"].startswith(f"/portal?next={path}")
    token = csrf(client.get("/portal").text)
    for path, data in (("/portal/account/change", {"phone": "1"}), ("/portal/order", {"item": "P-TILL-BASIC"})):
        answer = client.post(path, data=data | {"csrf_token": token, "quantity": "1"})
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/portal?")
    assert count(care, ProcessInstance) == 0
    signed = signed_in(app, care, ALICE)
    assert signed.get("/portal/orders/not-a-reference").status_code == 404


def test_the_forms_are_rate_limited(app, care, people):
    app.config["PUBLIC_RATE_LIMIT_PER_MINUTE"] = 3
    client = signed_in(app, care, ALICE)
    answers = [client.get("/portal/order").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]


def test_without_the_processes_the_forms_say_so_and_start_nothing(app, care):
    with care.db.write() as session:
        session.add(Customer(id="C-A", name="Alice Example", email=ALICE, tier="standard", language="en"))
    client = signed_in(app, care, ALICE)
    assert change(client, phone="1").status_code == 503
    page = client.get("/portal/order").text
    assert "Nothing can be ordered online right now." in page
    assert count(care, ProcessInstance) == 0


def test_every_message_the_forms_can_show_is_in_german_and_czech():
    messages = {
        value
        for module in (account_changes, orders)
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str) and value.endswith(".")
    }
    assert account_changes.BAD_EMAIL in messages and orders.UNKNOWN_ITEM in messages
    for language in ("de", "cs"):
        known = {}
        for path in i18n.catalog_files(language):
            with path.open("rb") as po:
                known |= {m.id: m.string for m in read_po(po, locale=language) if m.id}
        assert sorted(m for m in messages if not known.get(m)) == []


def test_an_order_form_sent_again_after_the_order_was_fulfilled_answers_with_that_order(app, care, people):
    client = signed_in(app, care, ALICE)
    page = client.get("/portal/order").text
    data = {"csrf_token": csrf(page), "submission": re.search(r'name="submission" value="([^"]+)"', page)[1]}
    data |= {"item": "P-TILL-BASIC", "quantity": "1"}
    first = client.post("/portal/order", data=data)
    care.jobs.run_due("test")  # fulfilled: checked again, she would hold a till license already
    again = client.post("/portal/order", data=data)
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    assert count(care, Order) == 1
