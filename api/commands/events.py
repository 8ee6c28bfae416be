"""``carecenter events export``: the event log as NDJSON, one CloudEvent per line, for a data warehouse.

The log is complete and ordered (see :mod:`engine.events`), so a warehouse loads history from it
instead of scraping the API: the first load without ``--since``, later loads ``--since`` the last
event id it has (or an overlapping time, dropping repeats by id).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from engine import events as event_log
from engine.config import Settings
from engine.db import Database
from engine.errors import CareError


@click.group()
def events() -> None:
    """The event log: what happened, as CloudEvents (docs/events.md)."""


@events.command("export")
@click.option("--since", default=None, help="After this event id, or from this ISO 8601 time on [default: the start].")
@click.option("--until", default=None, help="Up to this event id (included), or before this ISO 8601 time.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write here, not to stdout."
)
def export(since: str | None, until: str | None, output: Path | None) -> None:
    """Write the ordered event log as NDJSON (one CloudEvents 1.0 JSON object per line)."""
    settings = Settings.from_env()
    db = Database(settings.database_url)
    try:
        for value in (since, until):
            if value is not None:
                event_log.position(db, value)  # a bad value stops here, before a file is written
        stream = output.open("w", encoding="utf-8") if output else sys.stdout
        written = 0
        try:
            for event in event_log.export(db, settings.public.base, since, until):
                stream.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
                written += 1
        finally:
            if output:
                stream.close()
        if output:
            click.echo(f"{written} events written to {output}", err=True)
    except CareError as error:
        raise click.ClickException(error.detail) from None
    finally:
        db.dispose()
