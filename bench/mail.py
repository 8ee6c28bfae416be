"""Section 8: mail arriving while no worker runs is all stored, then one worker turns it into cases; none lost or twice.

A real ``carecenter mail receive`` process takes the mails over SMTP on loopback from a few
concurrent connections (as a mail server delivers), on PostgreSQL, with no worker running: every
mail must be committed before it is acknowledged. Then one ``carecenter worker`` starts and turns
the stored mails into inquiries of the deployed intake process (parse, loops, threading, intake,
the confirmation in the outbox, and the service tasks the new cases reach). The processing rate is
taken from the ``processed_at`` times of the first and last mail, so the worker's start-up is not
in it; the wall time including start-up is reported beside it.

Lost: a mail acknowledged with 250 that is not stored, or not processed by the end. Twice: a mail
stored twice, or more cases with channel e-mail than mails.
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import func, select

from bench.common import CARECENTER, WORK_DIR, database, engine_for, free_port, stop, workers
from engine.bpmn import SourceFile
from engine.config import PROJECT_ROOT
from engine.models import InboundMail, ProcessInstance

INTAKE_FILES = ("inquiry_intake.bpmn", "escalation.bpmn", "classify_inquiry.dmn", "inquiry_sla.dmn")
CONNECTIONS = 4  # concurrent deliveries, as a sending mail server makes them


@contextlib.contextmanager
def receiver(url: str) -> Iterator[int]:
    """A ``carecenter mail receive`` process against ``url``; yields its port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARECENTER_")}
    env["CARECENTER_DATABASE_URL"] = url
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    with open(WORK_DIR / "mail-receiver.log", "wb") as log:
        process = subprocess.Popen(
            [str(CARECENTER), "mail", "receive", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("carecenter mail receive exited; see var/bench/mail-receiver.log")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.2)
        yield port
    finally:
        stop(process)


def _mail(number: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"Customer {number} <customer{number}@example.com>"
    message["To"] = "support@carecenter.example"
    message["Subject"] = f"Printer {number} prints nothing"
    message["Message-ID"] = make_msgid(idstring=f"bench{number}", domain="customer.example")
    message.set_content(f"Since this morning printer {number} prints nothing.\n\nRegards,\nCustomer {number}\n")
    return message.as_bytes()


def _deliver(port: int, mails: list[bytes], acknowledged: list[int]) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        for raw in mails:
            client.sendmail("sender@customer.example", ["support@carecenter.example"], raw)
            acknowledged.append(1)  # sendmail raises unless the receiver answered 250


def measure(count: int, drain: float) -> dict:
    mails = [_mail(number) for number in range(count)]
    with database("postgresql") as url:
        care = engine_for(url)
        sources = [SourceFile(n, (PROJECT_ROOT / "processes" / n).read_bytes()) for n in INTAKE_FILES]
        care.repository.deploy(sources, "bench", "bench")
        acknowledged: list[int] = []
        with receiver(url) as port:
            began = time.perf_counter()
            threads = [
                threading.Thread(target=_deliver, args=(port, mails[index::CONNECTIONS], acknowledged))
                for index in range(CONNECTIONS)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            receive_seconds = time.perf_counter() - began
        stored = _count(care, InboundMail.status == "received")
        began = time.perf_counter()
        with workers(url, 1):
            deadline = time.monotonic() + drain
            while time.monotonic() < deadline and _count(care, InboundMail.status == "received"):
                time.sleep(0.2)
            wall = time.perf_counter() - began
        with care.db.read() as session:
            first, last = session.execute(
                select(func.min(InboundMail.processed_at), func.max(InboundMail.processed_at))
            ).one()
            rows = session.scalar(select(func.count()).select_from(InboundMail))
            cases = session.scalar(
                select(func.count()).select_from(ProcessInstance).where(ProcessInstance.channel == "email")
            )
            processed = session.scalar(
                select(func.count(func.distinct(InboundMail.instance_id))).where(
                    InboundMail.status == "processed", InboundMail.kind == "inquiry"
                )
            )
        care.close()
    span = (last - first).total_seconds() if first and last and last > first else 0.0
    return {
        "mails": count,
        "connections": CONNECTIONS,
        "acknowledged": len(acknowledged),
        "stored_before_worker": stored,
        "receive_mails_per_s": count / receive_seconds,
        "processed": processed,
        "process_mails_per_s": (processed - 1) / span if span else 0.0,
        "process_wall_seconds": wall,
        "lost": count - min(len(acknowledged), stored, processed),
        "twice": max(rows - count, 0) + max(cases - count, 0),
    }


def _count(care, *where) -> int:
    with care.db.read() as session:
        return session.scalar(select(func.count()).select_from(InboundMail).where(*where))


def run(smoke: bool) -> dict:
    count, drain = (20, 60.0) if smoke else (1_000, 600.0)
    return {
        "backend": "postgresql",
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_at_start": os.getloadavg(),
        "run": measure(count, drain),
        "goals": {"receive_mails_per_s": 200, "process_mails_per_s": 20, "lost": 0, "twice": 0},
    }
