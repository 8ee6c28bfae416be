"""``carecenter purge`` and ``carecenter customer export|erase``: the data lifecycle from the command line.

See :mod:`engine.lifecycle` (what a purge removes and what stays) and :mod:`engine.customer_data`
(what an export holds and what an erasure does), and docs/operations.md, "Data lifecycle".
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import click

from engine.errors import CareError
from engine.lifecycle import parse_period


def _principal(by: str | None) -> str:
    """Who runs the command, for the record: ``--by``, else ``cli:`` and the operating-system user."""
    if by and by.strip():
        return by.strip()[:200]
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in this environment (a container without one)
        return "cli"


def _print_counts(counts: dict[str, int]) -> None:
    for table, count in sorted(counts.items()):
        if count:
            click.echo(f"  {table}: {count}")


@click.command()
@click.option(
    "--older-than",
    "period",
    default=None,
    help="Purge instances that ended longer ago than this ISO 8601 duration, e.g. P2Y [default: CARECENTER_RETENTION].",
)
@click.option("--dry-run", is_flag=True, help="Only count what would go; change nothing.")
@click.option(
    "--archive",
    "archive_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write each instance to gzipped JSON lines in this folder first [default: CARECENTER_ARCHIVE_DIR].",
)
@click.option("--yes", is_flag=True, help="Do not ask before purging.")
@click.option("--by", default=None, help="Who purges, for the record [default: cli:<your user name>].")
def purge(period: str | None, dry_run: bool, archive_dir: Path | None, yes: bool, by: str | None) -> None:
    """Remove completed and cancelled instances past the retention, with their history, tasks, timers and jobs.

    Contacts, calls, orders and the event log stay (docs/operations.md). The counts come first; without
    --yes you are asked before anything is removed.
    """
    from api.commands import _engine

    care = _engine()
    period = period or care.settings.retention
    if not period:
        raise click.UsageError("say --older-than (e.g. P2Y), or set CARECENTER_RETENTION")
    try:
        parse_period(period)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--older-than") from None
    cutoff = care.lifecycle.cutoff(period)
    found = care.lifecycle.count(cutoff)
    click.echo(f"instances that ended before {cutoff.isoformat()}: {found.instances}")
    _print_counts(found.counts)
    if dry_run or not found.instances:
        click.echo("dry run: nothing was removed" if dry_run else "nothing to purge")
        return
    if not yes:
        click.confirm(f"Remove these {found.instances} instances and their rows? This cannot be undone", abort=True)
    if archive_dir is None and care.settings.archive_dir:
        archive_dir = Path(care.settings.archive_dir)
    done = care.lifecycle.purge(cutoff, _principal(by), archive_dir)
    for path in done.archives:
        click.echo(f"archived: {path}")
    click.echo(f"purged {done.instances} instances")
    _print_counts(done.counts)


@click.command("export")
@click.argument("customer_id")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the JSON to this file [default: standard output].",
)
def customer_export(customer_id: str, output: Path | None) -> None:
    """Everything carecenter holds about one customer (a store id or web:<e-mail>), as JSON."""
    from api.commands import _engine

    try:
        data = _engine().customer_data.export(customer_id)
    except CareError as error:
        raise click.ClickException(error.detail) from None
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True, default=str) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}", err=True)


@click.command("erase")
@click.argument("customer_id")
@click.option("--note", default=None, help="Your reference for the record, e.g. the request's ticket number.")
@click.option("--by", default=None, help="Who erases, for the record [default: cli:<your user name>].")
@click.option("--dry-run", is_flag=True, help="Only count what would be erased; change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask before erasing.")
def customer_erase(customer_id: str, note: str | None, by: str | None, dry_run: bool, yes: bool) -> None:
    """Erase one customer's personal data on their request; the erasure itself is recorded without it.

    Their ended cases go, contacts and calls keep only their date and channel, the record keeps its id
    (for licenses and orders) with the name "(erased)". Refused while a case of theirs has not ended.
    """
    from api.commands import _engine

    care = _engine()
    principal = _principal(by)
    note = note.strip()[:300] if note and note.strip() else None
    try:
        planned = care.customer_data.erase(customer_id, principal, note, dry_run=True)
        click.echo(f"customer {customer_id}: records to erase or blank")
        _print_counts(planned.counts)
        if dry_run:
            click.echo("dry run: nothing was erased")
            return
        if not yes:
            click.confirm(f"Erase the personal data of {customer_id}? This cannot be undone", abort=True)
        done = care.customer_data.erase(customer_id, principal, note)
    except CareError as error:
        raise click.ClickException(error.detail) from None
    click.echo(f"erased customer {customer_id} (recorded as data removal {done.removal_id} by {principal})")
