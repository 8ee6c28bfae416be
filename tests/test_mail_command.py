"""``carecenter mail receive`` as the mail server meets it (a real process on a port), and the worker's mail job."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select

from engine.clock import Clock
from engine.config import PROJECT_ROOT, Settings
from engine.core import CareEngine
from engine.db import Database
from engine.mail_store import MailStore
from engine.models import InboundMail
from engine.worker import start_embedded
from tests.conftest import source
from tests.smtp_server import free_port
from tests.test_mail import INTAKE_FILES
from tests.worker_processes import wait_until

CARECENTER = Path(sys.executable).parent / "carecenter"


def test_the_receiver_command_stores_mail_and_stops_on_sigterm(database_url):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARECENTER_")}
    env["CARECENTER_DATABASE_URL"] = database_url
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    process = subprocess.Popen(
        [str(CARECENTER), "mail", "receive", "--port", str(port), "--lmtp"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == f"carecenter mail receiver (LMTP) on 127.0.0.1:{port}"
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "ada@example.com", "care@example.com", "Hello"
        message.set_content("Stored by a real receiver process.")
        with smtplib.LMTP("127.0.0.1", port, timeout=30) as client:
            assert client.sendmail("ada@example.com", ["care@example.com"], message.as_bytes()) == {}
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, process.stderr.read()
    database = Database(database_url)
    with database.read() as session:
        [row] = session.scalars(select(InboundMail))
        assert (row.source, row.status, row.envelope_from) == ("lmtp", "received", "ada@example.com")
    database.dispose()


def test_the_worker_turns_stored_mail_into_a_case(any_database_url):
    """The worker's mail job; on PostgreSQL a receiver's NOTIFY wakes it long before its 30 s poll."""
    care = CareEngine(Settings.from_env(database_url=any_database_url, processes_dir=PROJECT_ROOT / "processes"))
    care.repository.deploy([source(name) for name in INTAKE_FILES], "test", "test")
    worker = start_embedded(care, poll_seconds=30)
    raw = b"From: ada@example.com\r\nSubject: Hi\r\n\r\nHello\r\n"
    try:
        wait_until(lambda: worker.scheduler.get_job("mail").next_run_time is not None, "the mail job is planned")
        receiver_database = Database(any_database_url)  # the receiver's own process and connection
        MailStore(receiver_database, Clock(), 1_000_000).receive(
            raw, source="smtp", envelope_from="ada@example.com", recipients=["care@example.com"]
        )
        receiver_database.dispose()
        if care.db.is_sqlite:
            worker.wake_mail()  # SQLite has no NOTIFY: the worker would find it at its next poll

        def processed() -> bool:
            with care.db.read() as session:
                return session.scalar(select(InboundMail.status)) == "processed"

        wait_until(processed, "the mail was processed")
    finally:
        worker.stop()
        care.close()
