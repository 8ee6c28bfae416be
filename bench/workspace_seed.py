"""A care center's database after a few years, seeded fast: customers, and cases filed under them.

For the workspace benchmarks (the search; the customer page next). Customers get names (some with
accents, some companies), e-mail addresses and phone numbers written the many ways people write
them; cases are copies of two real ``hello_care`` instances (one waiting at its staff task, one
completed), each with its own subject, customer, team, case reference, tracking code, business
key (some) and start time spread over three years. Everything is inserted with SQLAlchemy Core in
chunks: the instance rows with their serialized state, human tasks and candidates, history,
customer status and stages, and the staff search's index rows (computed by :mod:`engine.search`,
as the engine would have written them). Running 100,000 instances through the engine would
measure the engine, not a loaded database.

Seeding is deterministic for a given ``random.Random``, and can be repeated on the same database
(new customers and cases follow the ones there are).
"""

from __future__ import annotations

import json
import random
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import func, insert, select, text

from engine import case_reference, search
from engine.bpmn import SourceFile
from engine.config import PROJECT_ROOT
from engine.core import CareEngine
from engine.models import (
    CaseSearch,
    CustomerSearch,
    CustomerStageEvent,
    CustomerStatus,
    HistoryEvent,
    HumanTask,
    HumanTaskCandidate,
    ProcessInstance,
)
from engine.runtime import StartRequest
from process_library.store import Customer

CHUNK = 5000
PROCESS = "hello_care"
TEAMS = ("support", "billing", "technical", "sales")
TEMPLATE_SUBJECT = "Seed template subject 0x5eed"  # replaced in each copy's state and status message
# Rows that belong to one instance, copied with it (insert order).
PER_INSTANCE = {"task": HumanTask, "history": HistoryEvent, "status": CustomerStatus, "stage": CustomerStageEvent}
SEQUENCED = ("process_instances", "human_tasks", "history_events", "customer_stage_events")


def _listed(words: str) -> tuple[str, ...]:
    return tuple(words.split())


FIRST_NAMES = _listed(
    "Ada Adam Alan Alice Anna Anton Barbara Bernd Björn Carla Chiara Claire David Dora Eliška Emil Emma "
    "Erik Eva Felix Frank Grace Greta Hana Hans Helena Ingrid Isabel Jakub Jan Jana Jiří Jonas Julia "
    "Karel Karin Katharina Lars Laura Lena Leon Linus Lucie Lukas Marek Maria Martin Matěj Max Mia Nina "
    "Noah Ola Olga Oskar Paul Petra Radek Renée Sofia Søren Stefan Tereza Thomas Tomáš Ursula Václav Vera "
    "Zoë Zuzana"
)
LAST_NAMES = _listed(
    "Abbott Albrecht Bauer Becker Berger Brandt Brown Černý Dvořák Fischer Franke Fuchs García Graf "
    "Hartmann Hofmann Horák Hughes Jäger Jansen Kaiser Keller Klein Koch Kovář Král Krause Kučera Lange "
    "Lehmann Lindqvist Lovelace Maier Martin Marek Meyer Moreau Müller Nielsen Novák Novotný O'Brien "
    "Peters Pokorný Procházka Richter Roth Růžička Schmid Schneider Schulz Schwarz Sedláček Smith Svoboda "
    "Taylor Thompson Vogel Wagner Walker Weber Werner Wolf Zimmermann Zeman"
)
COMPANY_WORDS = _listed(
    "Acme Alpine Atlas Baltic Borealis Cascade Cobalt Delta Ember Falcon Granite Harbor Helix Iris "
    "Juniper Kestrel Lumen Meridian Nimbus Orbit Pioneer Quartz Raven Sierra Summit Tundra Vertex Willow "
    "Zenith"
)
COMPANY_KINDS = ("GmbH", "Ltd", "s.r.o.", "AG", "Logistics", "Dental", "Foods", "Systems", "Engineering", "Clinic")
DOMAINS = ("example.com", "example.org", "mail.example", "example.de", "example.cz", "example.co.uk")
PRODUCTS = _listed(
    "Router Printer Scanner Laptop Server Firewall Backup Mailbox VPN License Invoice Update Phone Tablet "
    "Monitor Keyboard Database Website Webshop Payment Account Password Network Storage Camera Headset "
    "Dock Badge"
)
ISSUES = (
    "not working",
    "keeps rebooting",
    "very slow",
    "error after the update",
    "cannot log in",
    "wrong amount",
    "missing",
    "renewal question",
    "offline",
    "crashes on start",
    "makes noise",
    "shows a red light",
    "lost connection",
    "needs replacement",
    "charged twice",
    "cannot print",
    "certificate expired",
)
DETAILS = ("", "", "since Monday", "again", "urgent", "at the Berlin office", "in Prague", "for the third time")


@dataclass(frozen=True)
class SeededCustomer:
    id: str
    name: str
    email: str
    phone: str
    phone_digits: str  # all digits, with the country code: how the number can be written differently


@dataclass(frozen=True)
class SeededCase:
    id: int
    reference: str
    customer_id: str
    subject: str
    team: str
    open: bool


def customer_rows(rng: random.Random, first: int, count: int) -> list[SeededCustomer]:
    """``count`` customers numbered from ``first``: about one in five a company, the others people."""
    customers = []
    for number in range(first, first + count):
        if rng.random() < 0.2:
            name = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)}"
            email = f"office{number}@{''.join(search.tokens(name))[:24]}.example"
        else:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            email = f"{'.'.join(search.tokens(name))}{number}@{rng.choice(DOMAINS)}"
        phone, digits = _phone(rng, number)
        customers.append(SeededCustomer(f"C-{number:06d}", name, email, phone, digits))
    return customers


def _phone(rng: random.Random, number: int) -> tuple[str, str]:
    """A phone number unique to the customer, written as people write them; and its digits with the country code."""
    line = f"{(number * 7919 + 1_000_003) % 10_000_000:07d}"
    country, area = rng.choice((("49", "30"), ("49", "89"), ("420", "60"), ("44", "20"), ("43", "1")))
    style = rng.randrange(4)
    if style == 0:
        written = f"+{country} {area} {line[:3]} {line[3:]}"
    elif style == 1:
        written = f"0{area} {line}"
    elif style == 2:
        written = f"+{country}-{area}-{line}"
    else:
        written = f"00{country} ({area}) {line[:4]}-{line[4:]}"
    return written, f"{country}{area}{line}"


def seed_customers(care: CareEngine, customers: list[SeededCustomer]) -> None:
    """Insert the customers and their search rows."""
    for start in range(0, len(customers), CHUNK):
        chunk = customers[start : start + CHUNK]
        rows = [
            {"id": c.id, "name": c.name, "email": c.email, "tier": "standard", "language": "en", "phone": c.phone}
            for c in chunk
        ]
        with care.db.write() as session:
            session.execute(insert(Customer.__table__), rows)
            session.execute(
                insert(CustomerSearch.__table__),
                [
                    {
                        "customer_id": row["id"],
                        "name": row["name"],
                        "words": search.customer_words(SimpleNamespace(**row)),
                    }
                    for row in rows
                ],
            )


def subject_of(rng: random.Random) -> str:
    return " ".join(filter(None, (rng.choice(PRODUCTS), rng.choice(ISSUES), rng.choice(DETAILS))))


def _template(care: CareEngine, customer_id: str, complete: bool) -> dict:
    request = StartRequest(PROCESS, {"subject": TEMPLATE_SUBJECT}, customer_id=customer_id)
    view, _ = care.runtime.start(request, "seed")
    if complete:
        care.tasks.complete(view["tasks"][0]["id"], {"answer": "Done.", "minutes_spent": 5}, "seed")
    with care.db.read() as session:

        def rows(model, column) -> list[dict]:
            return [dict(r._mapping) for r in session.execute(select(model.__table__).where(column == view["id"]))]

        template = {"instance": rows(ProcessInstance, ProcessInstance.id)[0]}
        for name, model in PER_INSTANCE.items():
            template[name] = rows(model, model.instance_id)
        task_ids = [t["id"] for t in template["task"]]
        candidates = select(HumanTaskCandidate.__table__).where(HumanTaskCandidate.task_id.in_(task_ids))
        template["candidate"] = [dict(c._mapping) for c in session.execute(candidates)]
    return template


def deploy(care: CareEngine) -> None:
    path = PROJECT_ROOT / "processes" / f"{PROCESS}.bpmn"
    care.repository.deploy([SourceFile(path.name, path.read_bytes())], "seed", "seed")


def seed_cases(
    care: CareEngine, customers: list[SeededCustomer], count: int, rng: random.Random, open_share: float = 0.1
) -> list[SeededCase]:
    """``count`` cases of the customers (about ``open_share`` of them waiting at their staff task), with all their rows.

    The process must be deployed (:func:`deploy`); each case goes to one of :data:`TEAMS`.
    """
    templates = {done: _template(care, customers[0].id, done) for done in (True, False)}
    now = care.clock.now()
    with care.db.read() as session:
        taken = set(session.scalars(select(ProcessInstance.reference)))
    seeded: list[SeededCase] = []
    for start in range(0, count, CHUNK):
        plan = []
        for _ in range(min(CHUNK, count - start)):
            customer = rng.choice(customers)
            reference = case_reference.unused(taken.__contains__)
            taken.add(reference)
            started = now - timedelta(days=rng.uniform(0, 3 * 365))
            business_key = f"ORD-{started.year}-{rng.randrange(10**6):06d}" if rng.random() < 0.3 else None
            is_open = rng.random() < open_share
            plan.append((customer, reference, business_key, subject_of(rng), rng.choice(TEAMS), is_open, started))
        with care.db.write() as session:
            seeded += _insert_cases(session, templates, plan)
    _settle(care)
    return seeded


def _insert_cases(session, templates: dict, plan: list) -> list[SeededCase]:
    next_ids = {
        name: (session.scalar(select(func.max(model.id))) or 0) + 1
        for name, model in [("instance", ProcessInstance), *PER_INSTANCE.items()]
        if hasattr(model, "id")
    }

    def new_id(name: str) -> int:
        next_ids[name] += 1
        return next_ids[name] - 1

    copies: dict[str, list[dict]] = {name: [] for name in ("instance", "candidate", "search", *PER_INSTANCE)}
    seeded = []
    for customer, reference, business_key, subject, team, is_open, started in plan:
        template = templates[not is_open]
        shift = started - template["instance"]["started_at"]
        instance_id = new_id("instance")
        codes = {"tracking_code": secrets.token_urlsafe(24), "reference": reference}
        quoted = _json_text(subject)
        instance = {
            **_shifted(template["instance"], shift),
            "id": instance_id,
            "customer_id": customer.id,
            "business_key": business_key,
            "state": template["instance"]["state"].replace(_json_text(TEMPLATE_SUBJECT), quoted),
            **codes,
        }
        copies["instance"].append(instance)
        task_ids = {}
        for name in PER_INSTANCE:
            for row in template[name]:
                copy = {**_shifted(row, shift), "instance_id": instance_id}
                if "id" in row and name in next_ids:
                    copy["id"] = new_id(name)
                if name == "task":
                    task_ids[row["id"]] = copy["id"]
                    copy["task_guid"] = str(uuid.uuid4())
                    if copy["completed_by"]:
                        copy["completed_by"] = f"{team}-agent-{instance_id % 7}"
                if name == "history" and row["human_task_id"] in task_ids:
                    copy["human_task_id"] = task_ids[row["human_task_id"]]
                if name == "status":
                    copy.update(codes, customer_id=customer.id)
                    if copy["message"]:
                        copy["message"] = copy["message"].replace(TEMPLATE_SUBJECT, subject)
                copies[name].append(copy)
        for candidate in template["candidate"]:
            if candidate["task_id"] in task_ids:
                copies["candidate"].append({**candidate, "task_id": task_ids[candidate["task_id"]], "name": team})
        row = SimpleNamespace(id=instance_id, customer_id=customer.id, reference=reference, business_key=business_key)
        facts = search.StartFacts(subject, None, None)
        copies["search"].append(search.case_row(row, facts, SimpleNamespace(name=customer.name)))
        seeded.append(SeededCase(instance_id, reference, customer.id, subject, team, is_open))
    tables = {"instance": ProcessInstance, "candidate": HumanTaskCandidate, "search": CaseSearch, **PER_INSTANCE}
    for name in ("instance", "task", "candidate", "history", "status", "stage", "search"):
        if copies[name]:
            session.execute(insert(tables[name].__table__), copies[name])
    return seeded


def _json_text(value: str) -> str:
    """``value`` as it appears inside a JSON string."""
    return json.dumps(value)[1:-1]


def _shifted(row: dict, shift: timedelta) -> dict:
    return {key: value + shift if isinstance(value, datetime) else value for key, value in row.items()}


def _settle(care: CareEngine) -> None:
    """Move PostgreSQL's sequences past the explicit ids, and let the planner know the new sizes."""
    if not care.db.is_sqlite:
        with care.db.engine.begin() as connection:
            for table in SEQUENCED:
                highest = f"(SELECT coalesce(max(id), 1) FROM {table})"
                connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {highest})"))
    # A database that has held these rows for a while has been vacuumed: measure that state, not autovacuum
    # catching up with fresh inserts. VACUUM runs outside a transaction.
    command = "ANALYZE" if care.db.is_sqlite else "VACUUM (ANALYZE)"
    with care.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(command))


@dataclass(frozen=True)
class Seeded:
    customers: list[SeededCustomer]
    cases: list[SeededCase]


def seed(care: CareEngine, customers: int, cases: int, rng: random.Random, first_customer: int = 1) -> Seeded:
    """Customers numbered from ``first_customer`` and cases of theirs; the process is deployed if it is not."""
    if PROCESS not in {definition.key for definition in care.repository.latest_definitions()}:
        deploy(care)
    people = customer_rows(rng, first_customer, customers)
    seed_customers(care, people)
    return Seeded(people, seed_cases(care, people, cases, rng))
