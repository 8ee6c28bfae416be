"""Reading an IMAP mailbox, against a real IMAP server on loopback (pymap), on the database under test.

A message is moved out of the folder only after it is stored; a reader killed (SIGKILL) between
fetching a message and storing it leaves the message in the folder, and the next round stores it
once.
"""

from __future__ import annotations

import imaplib
import os
import signal
import socket
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.config import PROJECT_ROOT
from engine.core import CareEngine
from engine.mail_imap import ImapMailbox, ImapReader
from engine.models import InboundMail
from engine.worker import start_embedded
from tests.smtp_server import free_port
from tests.test_mail import care, mail, smtp_server, wire  # noqa: F401 (fixtures)
from tests.worker_processes import wait_until

PYMAP = Path(sys.executable).parent / "pymap"


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def imap_server():
    port = free_port()
    server = subprocess.Popen(
        [str(PYMAP), "--host", "127.0.0.1", "--port", str(port), "--no-tls", "dict"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: answers(port), "the IMAP server answers", limit=30)
        yield f"imap://demouser:demopass@127.0.0.1:{port}/INBOX?processed=Processed"
    finally:
        server.kill()
        server.wait()


def client(url: str) -> imaplib.IMAP4:
    box = ImapMailbox.parse(url)
    connection = imaplib.IMAP4(box.host, box.port)
    connection.login(box.user, box.password)
    return connection


def deliver(url: str, *messages) -> None:
    connection = client(url)
    for message in messages:
        assert connection.append("INBOX", None, None, wire(message))[0] == "OK"
    connection.logout()


def count(url: str, folder: str) -> int:
    connection = client(url)
    connection.create(folder)
    status, data = connection.select(folder, readonly=True)
    connection.logout()
    return int(data[0])


def stored(care) -> list[InboundMail]:  # noqa: F811
    with care.db.read() as session:
        return list(session.scalars(select(InboundMail).order_by(InboundMail.id)))


def test_messages_are_stored_then_moved_and_a_second_round_finds_nothing(care, imap_server):  # noqa: F811
    deliver(imap_server, mail(subject="First"), mail(subject="Second"))
    reader = ImapReader(ImapMailbox.parse(imap_server), care.mail.store)
    assert reader.fetch_once() == 2
    assert (count(imap_server, "INBOX"), count(imap_server, "Processed")) == (0, 2)
    assert reader.fetch_once() == 0
    rows = stored(care)
    assert [row.source for row in rows] == ["imap", "imap"]
    care.mail.process_due("w")
    assert [row.kind for row in stored(care)] == ["inquiry", "inquiry"]


def test_a_message_over_the_size_limit_stays_in_the_mailbox_flagged(care, imap_server):  # noqa: F811
    deliver(imap_server, mail(subject="Big", body="x" * 50_000), mail(subject="Small"))
    care.mail.store.max_bytes = 20_000
    assert ImapReader(ImapMailbox.parse(imap_server), care.mail.store).fetch_once() == 1
    assert (count(imap_server, "INBOX"), count(imap_server, "Processed")) == (1, 1)
    assert [row.size < 20_000 for row in stored(care)] == [True]


KILLED_READER = """
import sys, time
from engine.clock import Clock
from engine.db import Database
from engine.mail_imap import ImapMailbox, ImapReader
from engine.mail_store import MailStore

class Stalling(MailStore):
    def receive(self, raw, **kwargs):
        print("fetched", len(raw), flush=True)
        time.sleep(600)  # killed here: between the fetch and the store

ImapReader(ImapMailbox.parse(sys.argv[1]), Stalling(Database(sys.argv[2]), Clock(), 10**8)).fetch_once()
"""


def test_a_reader_killed_between_fetch_and_store_loses_nothing_and_stores_once(care, imap_server):  # noqa: F811
    message = mail(subject="Fetched, then the worker died")
    deliver(imap_server, message)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    doomed = subprocess.Popen(
        [sys.executable, "-c", KILLED_READER, imap_server, care.settings.database_url],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert doomed.stdout.readline().startswith("fetched")
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
    assert stored(care) == [] and count(imap_server, "INBOX") == 1
    reader = ImapReader(ImapMailbox.parse(imap_server), care.mail.store)
    assert reader.fetch_once() == 1
    deliver(imap_server, message)  # and the same message again (a second copy, a re-delivery)
    assert reader.fetch_once() == 1
    [row] = stored(care)
    assert row.message_id == message["Message-ID"].strip("<>")
    assert (count(imap_server, "INBOX"), count(imap_server, "Processed")) == (0, 2)


def test_the_worker_reads_the_mailbox_and_makes_the_case(care, imap_server):  # noqa: F811
    engine = CareEngine(replace(care.settings, imap_url=imap_server, imap_poll_seconds=30.0))
    deliver(imap_server, mail(subject="By IMAP"))
    worker = start_embedded(engine, poll_seconds=30, listen=False)
    try:
        wait_until(lambda: [row.kind for row in stored(care)] == ["inquiry"], "the mail became a case")
    finally:
        worker.stop()
        engine.close()
    assert count(imap_server, "INBOX") == 0


def next_round(worker) -> datetime:
    return worker.scheduler.get_job("imap").next_run_time


def test_the_worker_hears_new_mail_by_idle_long_before_its_next_poll(care, imap_server):  # noqa: F811
    """The poll is ten minutes away: only the server's announcement to the IDLE connection can bring the mail in."""
    engine = CareEngine(replace(care.settings, imap_url=imap_server, imap_poll_seconds=600.0, imap_idle=True))
    worker = start_embedded(engine, poll_seconds=1, listen=False)
    try:
        wait_until(lambda: worker.imap_watcher is not None and worker.imap_watcher.idling.is_set(), "IDLE", limit=30)
        wait_until(lambda: worker.imap_rounds >= 1, "the first round done")
        deliver(imap_server, mail(subject="Heard by IDLE"))
        wait_until(lambda: [row.kind for row in stored(care)] == ["inquiry"], "the mail became a case", limit=120)
        assert next_round(worker) > datetime.now(UTC) + timedelta(minutes=5)  # no poll brought it: IDLE did
        assert not worker.imap_watcher.unsupported.is_set()
    finally:
        worker.stop()
        engine.close()
    assert not worker.imap_watcher._thread.is_alive()  # stopping ends the IDLE connection too
    assert count(imap_server, "INBOX") == 0


def test_without_idle_the_worker_reads_by_polling_and_holds_no_connection(care, imap_server):  # noqa: F811
    engine = CareEngine(replace(care.settings, imap_url=imap_server, imap_poll_seconds=30.0, imap_idle=False))
    deliver(imap_server, mail(subject="By polling"))
    worker = start_embedded(engine, poll_seconds=30, listen=False)
    try:
        wait_until(lambda: [row.kind for row in stored(care)] == ["inquiry"], "the mail became a case")
        assert worker.imap_watcher is None
    finally:
        worker.stop()
        engine.close()
