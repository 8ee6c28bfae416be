"""The data lifecycle (#22 item 6): ended instances past the retention are archived and purged, the rest stays.

Instances are started and ended on a virtual clock three years back, so that a retention of two
years finds them with the wall clock too (``carecenter purge`` runs on it). Afterwards no row of a
purged instance is left in any table that goes with it, the kept records (contacts) remain, the
archive holds each purged instance once, and ``data_removals`` records the purge without its data.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import ForeignKey, func, select

from api.commands import main
from engine import contacts
from engine.clock import VirtualClock
from engine.lifecycle import KEPT, WITH_THE_INSTANCE, parse_period
from engine.models import (
    Base,
    ChatMessage,
    Contact,
    DataRemoval,
    HistoryEvent,
    HumanTask,
    HumanTaskCandidate,
    InboundMail,
    ProcessInstance,
)
from engine.runtime import StartRequest
from engine.worker import housekeeping
from tests.conftest import make_engine, source

THREE_YEARS_AGO = datetime.now(UTC) - timedelta(days=3 * 365)


class Cases:
    """Four hello_care cases of customer C-1: two ended three years ago, one ended half a year ago, one running."""

    def __init__(self, care) -> None:
        self.care = care
        care.repository.deploy([source("hello_care.bpmn")], "test", "test")
        self.old = [self.start(), self.start()]
        self.running = self.start()
        self.complete(self.old[0])
        care.runtime.cancel(self.old[1], "test")
        with care.db.write() as session:
            contacts.record(
                session,
                customer_id="C-1",
                instance_id=self.old[0],
                channel="phone",
                direction="in",
                subject="Printer",
                text="It prints nothing.",
                recorded_by="sam",
                at=care.clock.now(),
            )
        care.notes.add(self.old[0], "Called back, fixed.", "sam")
        self.chat_into(self.old[1])
        care.clock.advance(timedelta(days=int(2.5 * 365)))
        self.recent = self.start()
        self.complete(self.recent)
        care.clock.advance(timedelta(days=int(0.5 * 365)))

    def chat_into(self, instance_id: int) -> None:
        """A chat from the case's tracking page, ended: filed into that case."""
        self.care.identity.add_group("support")
        with self.care.db.read() as session:
            code = session.get(ProcessInstance, instance_id).tracking_code
        chat = self.care.chats.start(
            topic="support", name="Ada", email="ada@example.com", language="en", tracking_code=code
        )
        self.care.chats.leave_message(chat.chat["id"], "Thanks!")  # nobody of the team is in: a message, filed

    def start(self) -> int:
        view, _ = self.care.runtime.start(StartRequest("hello_care", {"subject": "Printer"}, customer_id="C-1"), "t")
        return view["id"]

    def complete(self, instance_id: int) -> None:
        with self.care.db.read() as session:
            task = session.scalar(select(HumanTask.id).where(HumanTask.instance_id == instance_id))
        self.care.tasks.complete(task, {"answer": "Switch it on.", "minutes_spent": 3}, "sam")


@pytest.fixture
def cases(database_url):
    care = make_engine(database_url, VirtualClock(THREE_YEARS_AGO))
    yield Cases(care)
    care.close()


def rows_of(care, instance_ids: list[int]) -> dict[str, int]:
    """How many rows of these instances each table holds that has an ``instance_id`` column."""
    found = {}
    with care.db.read() as session:
        for table in Base.metadata.sorted_tables:
            if "instance_id" in table.c:
                count = session.scalar(select(func.count()).where(table.c.instance_id.in_(instance_ids)))
                found[table.name] = count
        tasks = select(HumanTask.id).where(HumanTask.instance_id.in_(instance_ids))
        found["human_task_candidates"] = session.scalar(
            select(func.count()).where(HumanTaskCandidate.task_id.in_(tasks))
        )
        found["process_instances"] = session.scalar(select(func.count()).where(ProcessInstance.id.in_(instance_ids)))
    return found


def test_every_table_that_names_an_instance_either_goes_with_it_or_is_kept():
    """A new table with an instance's id must be sorted into one list or the other (engine/lifecycle.py)."""
    purged = {model.__tablename__ for model in WITH_THE_INSTANCE} | {"human_tasks", "notes", "inbound_mails", "chats"}
    for table in Base.metadata.sorted_tables:
        names_an_instance = any(
            isinstance(fk, ForeignKey) and fk.column.table.name == "process_instances"
            for column in table.c
            for fk in column.foreign_keys
        ) or any(column.name.endswith("instance_id") and column.name != "started_instance_id" for column in table.c)
        if names_an_instance and table.name != "process_instances":
            assert table.name in purged | set(KEPT), f"{table.name}: purged with its instance, or kept?"


def test_a_period_is_an_iso_8601_duration_longer_than_zero():
    now = datetime(2026, 3, 31, tzinfo=UTC)
    assert now - parse_period("P2Y") == datetime(2024, 3, 31, tzinfo=UTC)
    assert now - parse_period("P1M") == datetime(2026, 2, 28, tzinfo=UTC)  # by the calendar
    assert now - parse_period(" PT36H ") == datetime(2026, 3, 29, 12, tzinfo=UTC)
    for wrong in ("2Y", "P", "", "P0D", "-P1D", "P1Q"):
        with pytest.raises(ValueError):
            parse_period(wrong)


def test_purge_archives_and_removes_the_ended_instances_past_the_retention_and_nothing_else(cases, tmp_path):
    care = cases.care
    kept = [cases.running, cases.recent]
    before_kept = rows_of(care, kept)
    cutoff = care.lifecycle.cutoff("P2Y")

    counted = care.lifecycle.count(cutoff)
    assert counted.instances == 2 and counted.counts["history_events"] >= 4
    assert rows_of(care, cases.old)["process_instances"] == 2  # counting changes nothing

    done = care.lifecycle.purge(cutoff, "ops", tmp_path / "archive", batch=1)
    assert done.counts == counted.counts
    left = rows_of(care, cases.old)
    # the customer's record (the contact, the note naming the customer) and the event log stay
    assert {table for table, n in left.items() if n} == {"contacts", "notes", "events"}
    assert rows_of(care, kept) == before_kept
    with care.db.read() as session:
        assert session.scalar(select(func.count()).select_from(ChatMessage)) == 0  # the chat filed into a purged case
    with care.db.read() as session:
        [removal] = session.scalars(select(DataRemoval))
    assert (removal.kind, removal.principal, removal.cutoff, removal.customer_id) == ("purge", "ops", cutoff, None)
    assert removal.counts == done.counts

    lines = [json.loads(line) for path in done.archives for line in gzip.decompress(path.read_bytes()).splitlines()]
    assert sorted(line["id"] for line in lines) == sorted(cases.old)  # one file per batch of one
    completed = next(line for line in lines if line["id"] == cases.old[0])
    assert completed["status"] == "completed" and isinstance(completed["state"], dict) and completed["state"]
    assert {event["event_type"] for event in completed["history_events"]} >= {"instance_started", "task_completed"}
    assert [task["status"] for task in completed["human_tasks"]] == ["completed"]
    assert not list((tmp_path / "archive").glob("*.partial"))

    assert care.lifecycle.purge(cutoff, "ops").instances == 0  # nothing twice
    for instance_id in kept:
        care.runtime.get(instance_id)  # still whole


def test_the_worker_purges_when_a_retention_is_set(cases):
    care = cases.care
    housekeeping(care)  # no retention: nothing goes
    assert rows_of(care, cases.old)["process_instances"] == 2
    care.settings = dataclasses.replace(care.settings, retention="P2Y")
    housekeeping(care)
    assert rows_of(care, cases.old)["process_instances"] == 0
    assert rows_of(care, [cases.running, cases.recent])["process_instances"] == 2
    with pytest.raises(ValueError, match="CARECENTER_RETENTION"):
        dataclasses.replace(care.settings, retention="two years")


def test_the_purge_command_counts_first_asks_and_purges(cases, database_url, monkeypatch, tmp_path):
    care = cases.care
    monkeypatch.setenv("CARECENTER_DATABASE_URL", database_url)
    runner = CliRunner()

    result = runner.invoke(main, ["purge", "--older-than", "P2Y", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "instances that ended before " in result.output and ": 2\n" in result.output
    assert "  history_events: " in result.output and "dry run: nothing was removed" in result.output

    result = runner.invoke(main, ["purge", "--older-than", "P2Y"], input="n\n")  # asked, and said no
    assert result.exit_code == 1 and "Aborted" in result.output
    assert rows_of(care, cases.old)["process_instances"] == 2

    result = runner.invoke(main, ["purge", "--older-than", "two years", "--yes"])
    assert result.exit_code == 2 and "not an ISO 8601 duration" in result.output

    archive = tmp_path / "archive"
    result = runner.invoke(main, ["purge", "--older-than", "P2Y", "--yes", "--archive", str(archive), "--by", "ops"])
    assert result.exit_code == 0, result.output
    assert "purged 2 instances" in result.output and f"archived: {archive}" in result.output
    assert rows_of(care, cases.old)["process_instances"] == 0
    with care.db.read() as session:
        assert session.scalar(select(DataRemoval.principal)) == "ops"
        assert session.scalar(select(func.count()).select_from(Contact)) == 2  # the phone call and the chat, kept
        assert session.scalar(select(func.count()).select_from(InboundMail)) == 0
        assert session.scalar(select(func.count()).select_from(HistoryEvent)) > 0  # the kept instances' history
