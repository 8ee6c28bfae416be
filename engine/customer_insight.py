"""Customer insight: what the care center knows about one customer in figures, and the lists sales reads.

The customer page's "Insight" block (:func:`of_customer`) counts the customer's contacts per channel,
their requests and how long the closed ones took, and their systems and licenses. It reads the live
rows of one customer (all indexed by customer), not the worker's facts, so it is exact at once.

The lists (:func:`expiring_licenses`, :func:`repeated_problems`, :func:`without_contact`) go over
all customers and are read per view; each reads one indexed range (licenses by their end, inquiries
by their start, contacts grouped by customer). docs/analytics.md says how each figure is defined.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine.contacts import CHANNELS
from engine.messages import OPEN_STATUSES
from engine.models import Contact, ProcessInstance
from engine.views import iso
from process_library.store import Customer, License, System

EXPIRING_DAYS = 90  # licenses ending within this many days count as expiring soon
PROBLEM_DAYS = 90  # inquiries naming one system in this many days ...
PROBLEM_LEAST = 2  # ... at least this often make a repeated problem
CONTACT_DAYS = 90  # "contacts in the last 90 days" of the profile
CURRENT_LICENSES = ("active", "renewing")  # licenses that still run (expired and renewed ones do not)


def median(values: list[float]) -> float | None:
    """The nearest-rank median (rank ⌈n/2⌉ of the sorted values), as the analytics reports define it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[(len(ordered) + 1) // 2 - 1]


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (the month's last day where it is shorter)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    following = datetime(year + month // 12, month % 12 + 1, 1)
    last_day = (following - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def _of_customer_contacts(customer_id: str):
    """Contacts filed under the customer or belonging to one of their cases (as the customer page lists them)."""
    cases = select(ProcessInstance.id).where(ProcessInstance.customer_id == customer_id)
    return or_(Contact.customer_id == customer_id, Contact.instance_id.in_(cases))


def of_customer(session: Session, customer_id: str, now: datetime) -> dict:
    """The insight block's figures for one customer, at ``now``."""
    per_channel: dict[str, dict[str, int]] = {}
    recent = 0
    since = now - timedelta(days=CONTACT_DAYS)
    rows = session.execute(
        select(Contact.channel, Contact.direction, func.count(), func.count().filter(Contact.created_at >= since))
        .where(_of_customer_contacts(customer_id))
        .group_by(Contact.channel, Contact.direction)
    )
    for channel, direction, count, count_recent in rows:
        per_channel.setdefault(channel, {"in": 0, "out": 0})[direction] += count
        recent += count_recent
    last_contact = session.scalar(select(func.max(Contact.created_at)).where(_of_customer_contacts(customer_id)))
    instances = session.execute(
        select(ProcessInstance.status, ProcessInstance.started_at, ProcessInstance.ended_at).where(
            ProcessInstance.customer_id == customer_id
        )
    ).all()
    resolved = [(end - start).total_seconds() for status, start, end in instances if status == "completed" and end]
    open_starts = [start for status, start, _ in instances if status in OPEN_STATUSES]
    systems = session.scalar(select(func.count()).select_from(System).where(System.customer_id == customer_id))
    licenses = list(session.scalars(select(License).where(License.customer_id == customer_id)))
    current = [lic for lic in licenses if lic.status in CURRENT_LICENSES and lic.valid_until >= now]
    soon = [lic for lic in current if lic.valid_until < now + timedelta(days=EXPIRING_DAYS)]
    return {
        "customer_id": customer_id,
        "contacts": {
            "total": sum(c["in"] + c["out"] for c in per_channel.values()),
            "last_90_days": recent,
            "last_at": iso(last_contact),
            "by_channel": [
                {"channel": channel, "in": per_channel[channel]["in"], "out": per_channel[channel]["out"]}
                for channel in CHANNELS
                if channel in per_channel
            ],
        },
        "requests": {
            "total": len(instances),
            "open": len(open_starts),
            "oldest_open_since": iso(min(open_starts, default=None)),
            "resolved": len(resolved),
            "median_time_to_resolve": median(resolved),
        },
        "systems": systems,
        "licenses": {
            "total": len(licenses),
            "current": len(current),
            "expiring_soon": len(soon),
            "next_end": iso(min((lic.valid_until for lic in current), default=None)),
        },
    }


# -- the lists -------------------------------------------------------------------------------------


def expiring_licenses(session: Session, now: datetime, days: int = EXPIRING_DAYS) -> list[dict]:
    """Licenses still running that end in ``[now, now + days)``, soonest first, with their customer."""
    rows = session.execute(
        select(License, Customer.name, Customer.tier)
        .join(Customer, Customer.id == License.customer_id)
        .where(
            License.status.in_(CURRENT_LICENSES),
            License.valid_until >= now,
            License.valid_until < now + timedelta(days=days),
        )
        .order_by(License.valid_until, License.id)
    )
    return [
        {
            "customer_id": lic.customer_id,
            "customer_name": name,
            "tier": tier,
            "license_id": lic.id,
            "product": lic.product,
            "level": lic.level,
            "status": lic.status,
            "valid_until": lic.valid_until.isoformat(),
            "days_left": (lic.valid_until - now).days,
        }
        for lic, name, tier in rows
    ]


@dataclass(frozen=True)
class _Named:
    system_id: str
    patterns: tuple[re.Pattern, ...]


def _system_patterns(systems: list[System]) -> dict[str, list[_Named]]:
    """Per customer, each system with what names it in a text: its id or its host name, as a whole word."""
    found: dict[str, list[_Named]] = defaultdict(list)
    for system in systems:
        words = [w for w in (system.id, system.hostname) if w]
        patterns = tuple(re.compile(rf"(?<![\w.-]){re.escape(w)}(?![\w-]|\.\w)", re.IGNORECASE) for w in words)
        found[system.customer_id].append(_Named(system.id, patterns))
    return found


def repeated_problems(
    session: Session,
    now: datetime,
    days: int = PROBLEM_DAYS,
    least: int = PROBLEM_LEAST,
    customer_id: str | None = None,
) -> list[dict]:
    """Customers whose inquiries named one of their systems at least ``least`` times in ``[now - days, now)``.

    An inquiry is a request started on a channel (``channel`` set) and filed under a customer; it names
    a system when a message from the customer in it (a contact in, its subject or text) holds the
    system's id or host name as a whole word, in any case. Each inquiry counts once per system.
    With ``customer_id``, only that customer's.
    """
    since = now - timedelta(days=days)
    whose = (
        ProcessInstance.customer_id.is_not(None) if customer_id is None else ProcessInstance.customer_id == customer_id
    )
    inquiries = (
        select(ProcessInstance.id, ProcessInstance.customer_id)
        .where(
            ProcessInstance.started_at >= since,
            ProcessInstance.started_at < now,
            ProcessInstance.channel.is_not(None),
            whose,
        )
        .subquery()
    )
    customer_ids = select(inquiries.c.customer_id).distinct()
    named = _system_patterns(list(session.scalars(select(System).where(System.customer_id.in_(customer_ids)))))
    if not named:
        return []
    hits: dict[tuple[str, str], set[int]] = defaultdict(set)
    last: dict[tuple[str, str], datetime] = {}
    texts = session.execute(
        select(inquiries.c.id, inquiries.c.customer_id, Contact.subject, Contact.text, Contact.created_at)
        .join(Contact, Contact.instance_id == inquiries.c.id)
        .where(Contact.direction == "in", inquiries.c.customer_id.in_(list(named)))
    )
    for instance_id, customer_id, subject, text, at in texts:
        body = f"{subject or ''}\n{text or ''}"
        for system in named[customer_id]:
            if any(p.search(body) for p in system.patterns):
                key = (customer_id, system.system_id)
                hits[key].add(instance_id)
                last[key] = max(last.get(key, at), at)
    repeated = {key: ids for key, ids in hits.items() if len(ids) >= least}
    if not repeated:
        return []
    customers = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_({c for c, _ in repeated})))}
    systems = {s.id: s for s in session.scalars(select(System).where(System.id.in_({s for _, s in repeated})))}
    rows = [
        {
            "customer_id": customer_id,
            "customer_name": customers[customer_id].name,
            "tier": customers[customer_id].tier,
            "system_id": system_id,
            "product": systems[system_id].product,
            "hostname": systems[system_id].hostname,
            "inquiries": len(ids),
            "last_at": last[(customer_id, system_id)].isoformat(),
        }
        for (customer_id, system_id), ids in repeated.items()
    ]
    return sorted(rows, key=lambda r: (-r["inquiries"], r["customer_id"], r["system_id"]))


def without_contact(session: Session, now: datetime, months: int) -> list[dict]:
    """Customers with no contact (in or out, any channel) since ``months`` calendar months before ``now``.

    A customer's contacts are those filed under them or belonging to one of their cases; a customer
    never contacted is listed with no last contact. Longest silent first (never contacted first).
    """
    since = months_before(now, months)
    filed = dict(
        session.execute(
            select(Contact.customer_id, func.max(Contact.created_at))
            .where(Contact.customer_id.is_not(None))
            .group_by(Contact.customer_id)
        ).all()
    )
    by_case = session.execute(
        select(ProcessInstance.customer_id, func.max(Contact.created_at))
        .join(Contact, Contact.instance_id == ProcessInstance.id)
        .where(ProcessInstance.customer_id.is_not(None))
        .group_by(ProcessInstance.customer_id)
    ).all()
    latest = dict(filed)
    for customer_id, at in by_case:
        latest[customer_id] = max(latest.get(customer_id, at), at)
    rows = []
    for customer in session.scalars(select(Customer).order_by(Customer.id)):
        at = latest.get(customer.id)
        if at is not None and at >= since:
            continue
        rows.append(
            {
                "customer_id": customer.id,
                "customer_name": customer.name,
                "tier": customer.tier,
                "last_contact_at": iso(at),
                "days_without": (now - at).days if at else None,
            }
        )
    return sorted(rows, key=lambda r: (r["last_contact_at"] is not None, r["last_contact_at"] or "", r["customer_id"]))
