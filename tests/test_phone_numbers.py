"""Phone numbers in E.164: every way people and phone systems write a number is one form, and finds one customer."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, text

from engine import phone_numbers, search
from engine.calls import customers_with_number
from engine.schema import alembic_config, upgrade
from engine.search_query import Terms
from process_library import customers
from process_library.csv_import import import_csv
from process_library.store import Customer

BERLIN = "+49301234567"
NOTATIONS = (
    "030/1234567",
    "030 1234567",
    "030-123 45 67",
    "(030) 123 45 67",
    "+49 30 1234567",
    "+49 (0)30 1234567",
    "+49-30-1234567",
    "0049 30 1234567",
    "0049301234567",
    "49301234567",  # a phone system's international number without "+"
    "+49.30.123.45.67",
    " 030 / 12 34 567 ",
)


@pytest.mark.parametrize("typed", NOTATIONS)
def test_every_notation_of_a_german_number_is_one_e164_number(typed):
    assert phone_numbers.e164(typed) == BERLIN


@pytest.mark.parametrize(
    ("typed", "region", "expected"),
    [
        ("+44 20 7946 0018", "DE", "+442079460018"),
        ("00442079460018", "DE", "+442079460018"),
        ("442079460018", "DE", "+442079460018"),  # without "+", as phone systems send it
        ("020 7946 0018", "GB", "+442079460018"),
        ("601 234 567", "CZ", "+420601234567"),
        ("+420 601 234 567", "DE", "+420601234567"),
        ("0171 1234567", "DE", "+491711234567"),
        ("(212) 555-0123", "US", "+12125550123"),
        ("anonymous", "DE", None),
        ("", "DE", None),
        ("12", "DE", None),
        ("call me", "DE", None),
        ("0" * 60, "DE", None),
    ],
)
def test_numbers_of_other_countries_and_what_is_no_number(typed, region, expected):
    assert phone_numbers.e164(typed, region) == expected


def test_the_default_country_is_a_setting(monkeypatch):
    assert phone_numbers.default_region() == "DE"
    monkeypatch.setenv("CARECENTER_PHONE_REGION", "cz")
    assert phone_numbers.e164("601 234 567") == "+420601234567"
    monkeypatch.setenv("CARECENTER_PHONE_REGION", "XX")
    with pytest.raises(ValueError, match="CARECENTER_PHONE_REGION"):
        phone_numbers.e164("601 234 567")


def test_stored_numbers_are_shown_as_people_read_them():
    assert phone_numbers.display(BERLIN) == "+49 30 1234567"
    assert phone_numbers.display("+420601234567") == "+420 601 234 567"
    assert phone_numbers.display(None) == ""


def test_a_customer_keeps_the_e164_form_of_their_phone_however_written(care):
    import_csv(care.db, "customers", "id,name,email,phone\nC-1,Ada,ada@example.com,030/1234567\n")
    with care.db.write() as session:
        filed = customers.create_customer(session, name="Bert", email="bert@example.com", phone="(030) 765 43 21")
        session.add(Customer(id="C-3", name="Cleo", email="c@example.com", tier="standard", language="en"))
    with care.db.read() as session:
        stored = {c.id: (c.phone, c.phone_e164) for c in session.scalars(select(Customer))}
    assert stored == {
        "C-1": ("030/1234567", BERLIN),
        filed.id: ("(030) 765 43 21", "+49307654321"),
        "C-3": (None, None),
    }
    import_csv(care.db, "customers", "id,name,email,phone\nC-1,Ada,ada@example.com,+44 20 7946 0018\n")  # moved
    with care.db.read() as session:
        assert session.get(Customer, "C-1").phone_e164 == "+442079460018"
        for typed in ("0044 20 7946 0018", "442079460018"):
            assert [c.id for c in customers_with_number(session, phone_numbers.e164(typed))] == ["C-1"]


def test_the_staff_search_finds_a_customer_by_any_notation_of_their_number(care):
    import_csv(care.db, "customers", "id,name,email,phone\nC-1,Ada,ada@example.com,030/1234567\nC-2,Bo,b@x.example,\n")
    for typed in NOTATIONS + ("1234567", "301234567"):
        found = care.search.find(Terms.parse(typed), None).customers.items
        assert [customer["id"] for customer in found] == ["C-1"], typed
    assert care.search.find(Terms.parse("030 7654321"), None).customers.items == []


def test_migration_0031_fills_the_e164_numbers_and_the_search_words_of_existing_customers(care):
    import_csv(care.db, "customers", "id,name,email,phone\nC-1,Ada,ada@example.com,030/1234567\n")
    with care.db.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0030")
    with care.db.engine.begin() as connection:
        words = connection.execute(text("SELECT words FROM search_customers")).scalar()
    assert search.phone_token("49301234567") not in words.split()  # before: the digits as written only
    upgrade(care.db)
    with care.db.read() as session:
        assert session.get(Customer, "C-1").phone_e164 == BERLIN
        assert search.stored(session)[1] == search.from_scratch(session)[1]


def test_the_sample_customers_are_found_by_the_number_as_a_phone_system_sends_it(care):
    sample = (Path(customers.__file__).parent / "sample" / "customers.csv").read_text()
    import_csv(care.db, "customers", sample)
    sent = {"C-1001": "4940412345 67", "C-1002": "442079460018", "C-1003": "+33170363950", "C-1004": "00441614960123"}
    with care.db.read() as session:
        written = {c.id: c.phone for c in session.scalars(select(Customer))}
        for customer_id, number in sent.items():
            found = customers_with_number(session, phone_numbers.e164(number.replace(" ", "")))
            assert [c.id for c in found] == [customer_id], number
    assert len(set(written.values())) == 4 and all(phone != phone_numbers.e164(phone) for phone in written.values())
