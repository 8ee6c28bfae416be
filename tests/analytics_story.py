"""The analytics story: instances of one review process with known durations on the virtual clock.

- A (email) at 0:00: claimed after 10 min, approved after 20 more → lead 30 min, first answer at 0:30;
- B (email) at 0:30: claimed at 1:00, refused at 2:00 (review 1 due 1:30: late); rework by billing
  claimed at 2:15, done at 2:30; review 2 approved unclaimed at 3:10 (due 3:30: on time) → lead 2 h 40 min;
- C (phone) at 3:10: waits unclaimed; at 5:10 it is overdue (due 4:10);
- D at 5:10: cancelled at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from engine import contacts
from engine.clock import VirtualClock
from engine.core import CareEngine
from engine.models import HumanTask, ProcessInstance
from engine.runtime import StartRequest
from tests.conftest import source

T0 = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)  # a Monday
KEY = "analytics_review"


def open_task(care, instance_id: int) -> int:
    with care.db.read() as session:
        return session.query(HumanTask.id).filter_by(instance_id=instance_id, status="open").one()[0]


def answered(care, instance_id: int, channel: str) -> None:
    """The instance came in on ``channel``, and the customer got an answer now."""
    with care.db.write() as session:
        session.execute(update(ProcessInstance).where(ProcessInstance.id == instance_id).values(channel=channel))
        contacts.record(
            session,
            customer_id=None,
            instance_id=instance_id,
            channel="email",
            direction="out",
            subject="Re",
            text="answer",
            recorded_by="sam",
            at=care.clock.now(),
        )


def minutes(clock: VirtualClock, n: int) -> None:
    clock.advance(timedelta(minutes=n))


def tell(care: CareEngine, clock: VirtualClock) -> dict[str, int]:
    """Deploy the review process and play the story; returns the instance ids by letter."""
    care.repository.deploy([source("analytics_review.bpmn")], "analytics", "test")
    start = lambda: care.runtime.start(StartRequest(KEY, {}), "test")[0]["id"]  # noqa: E731
    ids = {}
    ids["A"] = start()
    minutes(clock, 10)
    care.tasks.claim(open_task(care, ids["A"]), "sam")
    minutes(clock, 20)
    care.tasks.complete(open_task(care, ids["A"]), {"approved": True}, "sam")
    answered(care, ids["A"], "email")
    ids["B"] = start()
    minutes(clock, 30)
    care.tasks.claim(open_task(care, ids["B"]), "sam")
    minutes(clock, 60)
    care.tasks.complete(open_task(care, ids["B"]), {"approved": False}, "sam")
    minutes(clock, 15)
    care.tasks.claim(open_task(care, ids["B"]), "bill")
    minutes(clock, 15)
    care.tasks.complete(open_task(care, ids["B"]), {}, "bill")
    minutes(clock, 40)
    care.tasks.complete(open_task(care, ids["B"]), {"approved": True}, "sam")
    answered(care, ids["B"], "email")
    ids["C"] = start()
    with care.db.write() as session:
        session.execute(update(ProcessInstance).where(ProcessInstance.id == ids["C"]).values(channel="phone"))
    minutes(clock, 120)
    ids["D"] = start()
    care.runtime.cancel(ids["D"], "test")
    return ids
