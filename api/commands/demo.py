"""``carecenter demo``: a working care center at once, for a new user after ``make run``.

On a database without customers it creates the teams, one staff user per team (passwords
generated and printed once, never stored in clear), the sample customers, systems, licenses and
order catalog of ``process_library/sample/``, and a few instances of the deployed processes standing at
different steps. On a database that has customers already it changes nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import click
from sqlalchemy import func, select

import process_library
from engine.config import Settings
from engine.core import CareEngine
from engine.errors import CareError
from engine.runtime import StartRequest
from engine.tasks import TaskFilter
from process_library import self_service
from process_library.csv_import import import_csv
from process_library.store import Customer

SAMPLE = Path(process_library.__file__).resolve().parent / "sample"

# name (what the models' lanes say) -> (what staff read, description)
TEAMS = {
    "support": ("First-line support", "Answers inquiries on every channel"),
    "technical": ("Technicians", "Installations, outages, updates"),
    "billing": ("Billing", "Invoices, payments, refunds"),
    "sales": ("Sales", "Licenses and renewals"),
    "team_lead": ("Team leads", "Escalated inquiries"),
    "care_manager": ("Care managers", "Second-level escalations"),
}


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: str
    groups: tuple[str, ...]


USERS = (
    DemoUser("ana", "Ana Support", "staff", ("support",)),
    DemoUser("tomas", "Tomas Technician", "staff", ("technical",)),
    DemoUser("berta", "Berta Billing", "staff", ("billing",)),
    DemoUser("sam", "Sam Sales", "staff", ("sales",)),
    DemoUser("lea", "Lea Lead", "staff", ("team_lead", "support")),
    DemoUser("max", "Max Manager", "staff", ("care_manager", "team_lead")),
    DemoUser("dora", "Dora Designer", "designer", ()),
    # The accounts `make run` names: one staff user in every team, a designer and an administrator.
    DemoUser("demo-staff", "Demo Staff", "staff", tuple(TEAMS)),
    DemoUser("demo-designer", "Demo Designer", "designer", ()),
    DemoUser("demo-admin", "Demo Admin", "admin", ()),
)

# (process, variables, business key, customer, task names to complete in order)
INSTANCES = (
    ("hello_care", {"subject": "Printer offline at the front desk"}, "demo-1", "C-1001", ()),
    ("hello_care", {"subject": "How do I export the monthly report?"}, "demo-2", "C-1002", ()),
    (
        "hello_care",
        {"subject": "Login fails after the update"},
        "demo-3",
        "C-1004",
        (("Answer the inquiry", {"answer": "Clear the browser cache, then sign in again."}),),
    ),
    (
        "escalation",
        {"customer_id": "C-1001", "priority": "high", "subject": "Warehouse scanner down"},
        "demo-4",
        "C-1001",
        (),
    ),
)


@click.command("demo")
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="One password for every demo user, read from this file (make run: var/demo-password); "
    "without it each user gets its own, printed once.",
)
def demo(password_file: Path | None) -> None:
    """Create demo teams, users, customers and instances on a database without customers."""
    shared = password_file.read_text(encoding="utf-8").strip() if password_file else None
    care = CareEngine(Settings.from_env())
    try:
        with care.db.read() as session:
            if session.scalar(select(func.count()).select_from(Customer)):
                click.echo("demo: the database has customers already; nothing changed")
                return
        passwords = fill(care, shared)
    finally:
        care.close()
    if shared is not None:
        click.echo(f"demo users (password in {password_file}):")
        for user, _ in passwords:
            click.echo(f"  {user.username:<13} {user.role}, {', '.join(user.groups) or 'no team'}")
        return
    click.echo("demo users (passwords are shown only now):")
    for user, password in passwords:
        click.echo(f"  {user.username:<13} {password}  {user.role}, {', '.join(user.groups) or 'no team'}")


def fill(care: CareEngine, password: str | None = None) -> list[tuple[DemoUser, str]]:
    """Teams, users, the sample customers and the demo instances; the users created, with their passwords.

    Also the seed of tests that need a care center in use (the API fuzz test).
    """
    _teams(care)
    passwords = _users(care, password)
    for kind in ("customers", "systems", "licenses", "catalog"):
        click.echo(f"demo: {import_csv(care.db, kind, (SAMPLE / f'{kind}.csv').read_text(encoding='utf-8'))}")
    click.echo(f"demo: {_instances(care)} instances started")
    return passwords


def _teams(care: CareEngine) -> None:
    existing = {group["name"] for group in care.identity.groups()}
    for name, (display_name, description) in TEAMS.items():
        if name not in existing:
            care.identity.add_group(name, description, display_name)


def _users(care: CareEngine, shared_password: str | None) -> list[tuple[DemoUser, str]]:
    existing = {user.username for user in care.identity.users()}
    created = []
    for user in USERS:
        if user.username in existing:
            continue
        password = shared_password or secrets.token_urlsafe(9)
        care.identity.add_user(user.username, user.role, list(user.groups), password, user.display_name)
        created.append((user, password))
    return created


def _instances(care: CareEngine) -> int:
    """Start the demo instances of the processes that are deployed; complete the tasks each lists."""
    started = 0
    for process, variables, business_key, customer_id, completions in INSTANCES:
        try:
            view, _ = care.runtime.start(StartRequest(process, variables, business_key, customer_id), "demo")
        except CareError as error:
            click.echo(f"demo: {process} not started ({error.detail})")
            continue
        started += 1
        for task_name, data in completions:
            tasks = care.tasks.list(TaskFilter(instance_id=view["id"]), limit=50, after=None).items
            task = next(t for t in tasks if t["name"] == task_name)
            care.tasks.complete(task["id"], data, "ana")
    started += _care_processes(care)
    care.jobs.run_due("demo")
    return started


INQUIRIES = (
    (
        "email",
        "C-1001",
        "Acme Logistics GmbH",
        "it@acme-logistics.example",
        "Scanner app crashes",
        "It crashes at start.",
    ),
    ("phone", "C-1002", "Borealis Dental", "office@borealis-dental.example", "Invoice wrong", "Charged twice in May."),
    ("web", "C-1003", "Cafe Lumiere", "bonjour@cafe-lumiere.example", "Renew license", "How do I renew?"),
)


def _care_processes(care: CareEngine) -> int:
    """Inquiries from three channels (one answered), a software release, a license sweep, if deployed."""
    started = 0
    for channel, customer_id, name, email, subject, body in INQUIRIES:
        try:
            result = care.intake.submit(
                channel=channel,
                customer={"id": customer_id, "name": name, "email": email},
                subject=subject,
                body=body,
                reference=None,
                principal="demo",
            )
        except CareError as error:
            click.echo(f"demo: inquiry not started ({error.detail})")
            return started
        started += 1
    care.jobs.run_due("demo")
    tasks = care.tasks.list(TaskFilter(instance_id=result.instance_id), limit=50, after=None).items
    for task in tasks:
        if task["name"] == "Answer the inquiry":
            care.tasks.complete(task["id"], {"answer": "Renew online under Account > Licenses."}, "sam")
    release = care.messages.broadcast(
        "software_release_published", {"product": "carestation", "version": "4.3.0"}, "demo"
    )
    started += release["receivers"]
    try:
        care.runtime.start(StartRequest("license_sweep", {}), "demo")
        started += 1
    except CareError as error:
        click.echo(f"demo: license sweep not started ({error.detail})")
    return started + _self_service(care)


def _self_service(care: CareEngine) -> int:
    """A change of address done at once, a billing address waiting for support, an upgrade waiting for sales."""
    requests = (
        lambda: self_service.request_account_change(care, "C-1003", {"phone": "+33 1 42 68 53 00"}),
        lambda: self_service.request_account_change(
            care, "C-1002", {"billing_address": "Borealis Dental\nAccounts\n1 Harley St\nLondon W1G 9QD"}
        ),
        lambda: self_service.place_order(care, "C-1002", "U-CS-ENTERPRISE", 1),
    )
    started = 0
    for request in requests:
        try:
            request()
            started += 1
        except CareError as error:
            click.echo(f"demo: self-service request not started ({error.detail})")
    return started
