"""``carecenter customers import``: upserts by id, reports counts, refuses a bad file as a whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from api.commands import main
from process_library.store import Customer, License, System, customer_view

SAMPLE = Path(__file__).resolve().parent.parent / "process_library" / "sample"


@pytest.fixture
def run(database_url, monkeypatch):
    monkeypatch.setenv("CARECENTER_DATABASE_URL", database_url)

    def invoke(*args: str):
        return CliRunner().invoke(main, ["customers", "import", *args], catch_exceptions=False)

    return invoke


def rows(care, model) -> int:
    with care.db.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_the_sample_imports_and_a_second_import_changes_nothing(run, care):
    for kind in ("customers", "systems", "licenses"):
        result = run(str(SAMPLE / f"{kind}.csv"))
        assert result.exit_code == 0, result.output
    assert "licenses: 7 created, 0 updated, 0 unchanged" in result.output
    assert (rows(care, Customer), rows(care, System), rows(care, License)) == (4, 6, 7)
    again = run(str(SAMPLE / "customers.csv"))
    assert again.output.strip() == "customers: 0 created, 0 updated, 4 unchanged"


def test_rows_are_upserted_by_id_and_columns_left_out_keep_their_values(run, care, tmp_path):
    run(str(SAMPLE / "customers.csv"))
    changed = write(
        tmp_path,
        "export.csv",
        "id,name,email\nC-1001,Acme Logistics AG,it@acme-logistics.example\nC-1009,New Co,hi@new.example\n",
    )
    result = run(changed, "--kind", "customers")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "customers: 1 created, 1 updated, 0 unchanged"
    with care.db.read() as session:
        acme = customer_view(session, "C-1001")
        new = customer_view(session, "C-1009")
    assert (acme["name"], acme["tier"], acme["language"]) == ("Acme Logistics AG", "premium", "de")  # kept
    assert acme["postcode"] == "20095"  # kept
    assert (new["email"], new["tier"], new["systems"], new["postcode"]) == ("hi@new.example", "standard", [], None)


def test_a_bad_file_reports_every_bad_line_and_imports_nothing(run, care, tmp_path):
    bad = write(
        tmp_path,
        "customers.csv",
        "id,name,email,tier,language\n"
        "C-1,Good Row,good@example.com,standard,en\n"
        "C-2,,nobody@example.com,standard,en\n"
        "C-3,Wrong Mail,not-an-address,standard,en\n"
        "C-4,Gold,gold@example.com,gold,en\n"
        "C-1,Twice,twice@example.com,premium,en\n"
        "C-5,Short,short@example.com\n",
    )
    result = run(bad)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == [
        "customers.csv:3: name is empty",
        "customers.csv:4: email: 'not-an-address' is not an email address",
        "customers.csv:5: tier: 'gold' is not one of standard, premium",
        "customers.csv:6: id 'C-1' is on line 2 already",
        "customers.csv:7: 3 field(s), the header has 5",
        "5 problem(s) found; nothing was imported",
    ]
    assert rows(care, Customer) == 0


def test_references_to_unknown_customers_and_bad_dates_are_refused(run, care, tmp_path):
    run(str(SAMPLE / "customers.csv"))
    licenses = write(
        tmp_path,
        "licenses.csv",
        "id,customer_id,product,level,valid_until\n"
        "L-1,C-1001,till,pro,2030-01-01T12:00:00+02:00\n"
        "L-2,C-9999,till,pro,2030-01-01\n"
        "L-3,C-1001,till,pro,next year\n",
    )
    result = run(licenses)
    assert result.exit_code == 1
    assert "licenses.csv:3: customer 'C-9999' does not exist (import customers first)" in result.output
    assert "licenses.csv:4: valid_until: 'next year' is not an ISO 8601 date or date-time" in result.output
    assert rows(care, License) == 0
    fixed = write(
        tmp_path,
        "licenses.csv",
        "id,customer_id,product,level,valid_until\nL-1,C-1001,till,pro,2030-01-01T12:00+02:00\n",
    )
    assert run(fixed).exit_code == 0
    with care.db.read() as session:
        [item] = customer_view(session, "C-1001")["licenses"]
    assert (item["valid_until"], item["status"]) == ("2030-01-01T10:00:00+00:00", "active")


def test_a_file_whose_kind_cannot_be_told_or_with_wrong_columns(run, tmp_path):
    unnamed = write(tmp_path, "export.csv", "id,name,email\n")
    result = CliRunner().invoke(main, ["customers", "import", unnamed])
    assert result.exit_code == 2
    assert "say --kind customers|systems|licenses" in result.output
    wrong = write(tmp_path, "systems.csv", "id,customer,product,version\n")
    result = run(wrong)
    assert result.exit_code == 1
    assert "systems.csv:1: missing column(s) customer_id" in result.output
    assert (
        "systems.csv:1: unknown column(s) customer (expected: customer_id, hostname, id, product, version)"
        in result.output
    )
