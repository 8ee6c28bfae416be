"""The customer-insight story: customers, systems, licenses and inquiries at known times on the virtual clock.

The clock starts 220 days before ``T0`` and ends at ``T0``:

- Dora (C-4) phoned at T0 - 220 d (a request resolved after 1 h), and never since;
- Ada (C-1, premium, systems S-1 ``cs1.ada.example`` and S-2 ``till.ada.example``) wrote at T0 - 80 d
  naming cs1.ada.example (resolved after 2 h), phoned at T0 - 40 d naming S-1 (resolved after 6 h),
  and wrote on the web at T0 - 10 d naming till.ada.example (still open); staff e-mailed her at T0 - 10 d;
- Bert (C-2, S-3 ``cs.bert.example``) named cs.bert.example at T0 - 100 d (outside 90 days) and at
  T0 - 5 d, and wrote about ``cs.bert.example.org`` (another host) at T0 - 3 d;
- Cara (C-3) was never in contact.

Licenses: Ada L-1 ends at T0 + 30 d, L-2 at T0 + 120 d, L-3 expired; Bert L-4 (being renewed) ends at
T0 + 89 d and L-5 at T0 + 90 d (not within the next 90 days).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from engine import contacts
from engine.clock import VirtualClock
from engine.core import CareEngine
from engine.models import HumanTask, ProcessInstance
from engine.runtime import StartRequest
from process_library.store import Customer, License, System
from tests.conftest import source

T0 = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)
START = T0 - timedelta(days=220)
KEY = "analytics_review"


def _task(care: CareEngine, instance_id: int) -> int:
    with care.db.read() as session:
        return session.query(HumanTask.id).filter_by(instance_id=instance_id, status="open").one()[0]


def inquiry(care: CareEngine, customer_id: str, channel: str, subject: str, text: str) -> int:
    """A request of the customer started on ``channel`` now, with the customer's message as its contact."""
    instance_id = care.runtime.start(StartRequest(KEY, {}, customer_id=customer_id), "test")[0]["id"]
    with care.db.write() as session:
        session.execute(update(ProcessInstance).where(ProcessInstance.id == instance_id).values(channel=channel))
        contacts.record(
            session,
            customer_id=customer_id,
            instance_id=instance_id,
            channel=channel,
            direction="in",
            subject=subject,
            text=text,
            recorded_by="intake",
            at=care.clock.now(),
        )
    return instance_id


def resolve(care: CareEngine, instance_id: int) -> None:
    care.tasks.complete(_task(care, instance_id), {"approved": True}, "sam")


def customers(care: CareEngine) -> None:
    with care.db.write() as session:
        session.add_all(
            [
                Customer(id="C-1", name="Ada Lovelace", email="ada@example.com", tier="premium", language="en"),
                Customer(id="C-2", name="Bert Brecht", email="bb@example.com", tier="standard", language="de"),
                Customer(id="C-3", name="Cara Ceres", email="cara@example.com", tier="standard", language="en"),
                Customer(id="C-4", name="Dora Dietz", email="dora@example.com", tier="premium", language="de"),
            ]
        )
        session.flush()
        session.add_all(
            [
                System(id="S-1", customer_id="C-1", product="carestation", version="4.1", hostname="cs1.ada.example"),
                System(id="S-2", customer_id="C-1", product="till", version="2.0", hostname="till.ada.example"),
                System(id="S-3", customer_id="C-2", product="carestation", version="4.0", hostname="cs.bert.example"),
            ]
        )
        for lid, customer, days, status in (
            ("L-1", "C-1", 30, "active"),
            ("L-2", "C-1", 120, "active"),
            ("L-3", "C-1", -3, "expired"),
            ("L-4", "C-2", 89, "renewing"),
            ("L-5", "C-2", 90, "active"),
        ):
            session.add(
                License(
                    id=lid,
                    customer_id=customer,
                    product="carestation",
                    level="pro",
                    valid_until=T0 + timedelta(days=days),
                    status=status,
                )
            )


def tell(care: CareEngine, clock: VirtualClock) -> dict[str, int]:
    """Deploy the review process, add the customers and play the story up to ``T0``."""
    care.repository.deploy([source("analytics_review.bpmn")], "insight", "test")
    customers(care)
    ids = {}

    def at(moment: datetime) -> None:
        clock.advance(moment - clock.now())

    ids["dora"] = inquiry(care, "C-4", "phone", "Hello", "A question about invoices")
    clock.advance(timedelta(hours=1))
    resolve(care, ids["dora"])
    at(T0 - timedelta(days=100))
    ids["bert_old"] = inquiry(care, "C-2", "email", "Down", "cs.bert.example does not start")
    at(T0 - timedelta(days=80))
    ids["ada_1"] = inquiry(care, "C-1", "email", "cs1.ada.example is down", "Again.")
    clock.advance(timedelta(hours=2))
    resolve(care, ids["ada_1"])
    at(T0 - timedelta(days=40))
    ids["ada_2"] = inquiry(care, "C-1", "phone", "Crash", "System s-1 crashes at night")
    clock.advance(timedelta(hours=6))
    resolve(care, ids["ada_2"])
    at(T0 - timedelta(days=10))
    ids["ada_3"] = inquiry(care, "C-1", "web", "Slow", "till.ada.example is slow")
    with care.db.write() as session:
        contacts.record(
            session,
            customer_id="C-1",
            instance_id=None,
            channel="email",
            direction="out",
            subject="Your licenses",
            text="A note from sales",
            recorded_by="sam",
            at=clock.now(),
        )
    at(T0 - timedelta(days=5))
    ids["bert_1"] = inquiry(care, "C-2", "email", "Down", "cs.bert.example is down")
    at(T0 - timedelta(days=3))
    ids["bert_2"] = inquiry(care, "C-2", "email", "Other", "cs.bert.example.org is a different host")
    at(T0)
    return ids
