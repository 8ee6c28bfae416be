"""The ``carecenter`` command: serve, worker, deploy, check, test, demo, db, token, user, group, customers, mail, ...

One module per larger command: ``demo``, ``scenario`` (``test``), ``translations``, ``mail``, ``events``, ``config``
and ``lifecycle`` (``purge``, ``customers export|erase``; ``customer`` is another name of ``customers``).
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import datetime
from pathlib import Path

import click
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from api.commands.config import config
from api.commands.demo import demo
from api.commands.events import events
from api.commands.lifecycle import customer_erase, customer_export, purge
from api.commands.mail import mail
from api.commands.scenario import scenario_test
from api.commands.translations import translations
from api.logs import configure as configure_logging
from api.server import REQUEST_THREADS
from engine import secret_key
from engine.bpmn import DEPLOYABLE_SUFFIXES, SourceFile
from engine.config import LOG_FORMATS, Settings
from engine.core import CareEngine
from engine.errors import CareError, DeploymentInvalid
from engine.identity import ROLES

log = logging.getLogger("carecenter")


def _engine(require_schema: bool = True) -> CareEngine:
    """The engine on the configured database; unless told otherwise, stop with a plain message if it is not migrated."""
    care = CareEngine(Settings.from_env())
    if require_schema:
        _require_current_schema(care)
    return care


def _require_current_schema(care: CareEngine) -> None:
    from engine import schema

    current, head = schema.revisions(care.db)
    if schema.compatibility(current) == schema.AHEAD:
        log.warning("the database is at schema revision %s, newer than this version's %s: carrying on", current, head)
        return
    if current != head:
        found = f"at schema revision {current}" if current else "not set up"
        care.close()
        raise click.ClickException(
            f"the database {care.db.engine.url.render_as_string(hide_password=True)} is {found}; "
            f"this version needs revision {head}: run `carecenter db upgrade` first"
        )


def _sources(paths: tuple[str, ...]) -> list[SourceFile]:
    """Files named, and the deployable files directly inside folders named (with forms and catalogs), as one list."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                sorted(p for p in path.iterdir() if p.name.lower().endswith(DEPLOYABLE_SUFFIXES) and p.is_file())
            )
        elif path.is_file():
            files.append(path)
        else:
            raise click.BadParameter(f"{raw}: no such file or folder", param_hint="PATH")
    if not files:
        raise click.BadParameter("no .bpmn, .bpmn20.xml or .dmn files found", param_hint="PATH")
    return [SourceFile(p.name, p.read_bytes()) for p in files]


def _print_problems(invalid: DeploymentInvalid) -> None:
    for problem in invalid.problems:
        click.echo(str(problem), err=True)


def _log_format_from_env() -> str:
    value = os.environ.get("CARECENTER_LOG_FORMAT", "").strip().lower()
    return value if value in LOG_FORMATS else "text"


LOG_FORMAT_OPTION = click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default=None,
    help="Log lines as text, or as one JSON object a line for machines [default: CARECENTER_LOG_FORMAT, else text].",
)


def _relog(context: click.Context, log_format: str | None) -> str:
    """Log as ``log_format`` from now on (when given); the format in force."""
    root = context.find_root().obj or {}
    if log_format is not None:
        root["log_format"] = log_format
        configure_logging(root.get("verbose", False), log_format, replace=True)
    return root.get("log_format", "text")


class _Commands(click.Group):
    """The command group, with other names that work without being listed (``customer`` for ``customers``)."""

    ALIASES = {"customer": "customers"}

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, self.ALIASES.get(cmd_name, cmd_name))


@click.group(cls=_Commands)
@click.option("-v", "--verbose", is_flag=True, help="Log at debug level.")
@click.pass_context
def main(context: click.Context, verbose: bool) -> None:
    """carecenter: BPMN processes for customer care centers."""
    log_format = _log_format_from_env()
    context.obj = {"verbose": verbose, "log_format": log_format}
    configure_logging(verbose, log_format)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--threads",
    default=REQUEST_THREADS,
    show_default=True,
    type=int,
    help="Request threads per server process (live streams of calls and chats hold one each).",
)
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=None,
    help="Serve with this many processes on the port (gunicorn, POSIX), the worker in a process of its own "
    "[default: one process, waitress, the worker in it].",
)
@click.option("--no-worker", is_flag=True, help="Do not run the background worker with the server.")
@LOG_FORMAT_OPTION
@click.pass_context
def serve(
    context: click.Context,
    host: str,
    port: int,
    threads: int,
    processes: int | None,
    no_worker: bool,
    log_format: str | None,
) -> None:
    """Serve the API and pages (with the background worker unless --no-worker)."""
    from api import server

    log_format = _relog(context, log_format)

    if processes is not None and (unavailable := server.available()):
        raise click.UsageError(unavailable)
    care = CareEngine(secret_key.with_lasting_key(Settings.from_env()))
    _require_current_schema(care)
    if care.settings.bootstrap_token:
        care.tokens.ensure(care.settings.bootstrap_token, "bootstrap", "admin")
    if processes is None:
        _serve_one_process(care, host, port, threads, no_worker)
        return
    _print_addresses(care, host, port, f"{processes} processes, worker: {'off' if no_worker else 'own process'}")
    care.close()  # the supervisor keeps no connection: each web process and the worker have their own
    verbose = bool(context.find_root().obj and context.find_root().obj.get("verbose"))
    sys.exit(
        server.supervise(host, port, processes, threads, worker=not no_worker, verbose=verbose, log_format=log_format)
    )


def _serve_one_process(care: CareEngine, host: str, port: int, threads: int, no_worker: bool) -> None:
    """Listen first, then start the worker: its first rounds (a backlog after a crash) must not delay the port."""
    from waitress import create_server

    from api.app import create_app
    from api.security import server_options
    from engine import worker

    app = create_app(care)
    server = create_server(
        app, host=host, port=port, threads=threads, ident="carecenter", **server_options(care.settings)
    )
    if not no_worker:
        worker.start_embedded(care)
    _print_addresses(care, host, port, f"worker: {'off' if no_worker else 'embedded'}")
    server.print_listen("Serving on http://{}:{}")
    server.run()


def _print_addresses(care: CareEngine, host: str, port: int, how: str) -> None:
    base = f"http://{host}:{port}"
    click.echo(f"carecenter serving on {base}  ({how})")
    click.echo(f"  API:      {base}/api/process-definitions")
    click.echo(f"  OpenAPI:  {base}/api/openapi.json")
    click.echo(f"  Health:   {base}/healthz, {base}/readyz")
    click.echo(f"  Metrics:  {base}/metrics  (Prometheus, admin token)")
    if not care.settings.smtp_host:
        click.echo(f"  Mailbox:  {base}/admin/dev-mailbox  (for admins: no SMTP server set, mails wait there)")
    if not care.settings.public_url:
        click.echo(f"  CARECENTER_PUBLIC_URL is not set: links in mails point to {care.settings.public.base}")
    sys.stdout.flush()


@main.command("worker")
@click.option("--poll", type=float, default=None, help="Seconds between looks for due timers [default: 1].")
@click.option("--lease", type=float, default=None, help="Seconds a claimed timer stays with this worker [default: 30].")
@click.option("--batch", type=int, default=None, help="Timers claimed at once [default: 20].")
@click.option("--catch-up", type=int, default=None, help="Missed cycle occurrences fired after downtime [default: 10].")
@click.option(
    "--timer-threads",
    type=click.IntRange(min=0),
    default=None,
    help="Claimed timers fired side by side; 0: 2 on PostgreSQL, 1 on SQLite [default: 0].",
)
@click.option(
    "--job-lease",
    type=float,
    default=None,
    help="Seconds a claim on a service-task job lasts unless renewed (renewed while the call runs) [default: 120].",
)
@click.option("--job-batch", type=int, default=None, help="Service-task jobs claimed at once [default: 10].")
@click.option("--name", default=None, help="Worker id shown in /api/worker/status [default: host:pid:random].")
@LOG_FORMAT_OPTION
@click.pass_context
def worker_command(
    context: click.Context,
    poll: float | None,
    lease: float | None,
    batch: int | None,
    catch_up: int | None,
    timer_threads: int | None,
    job_lease: float | None,
    job_batch: int | None,
    name: str | None,
    log_format: str | None,
) -> None:
    """Run the background worker (timers, jobs, housekeeping) in the foreground.

    Exits with status 1 when the database stays unreachable for CARECENTER_WORKER_DB_TIMEOUT seconds.
    """
    from engine import worker

    _relog(context, log_format)
    from engine.jobs import JobConfig
    from engine.timers import TimerConfig

    timer_config = TimerConfig.from_env(
        lease_seconds=lease, batch_size=batch, cycle_catch_up=catch_up, threads=timer_threads
    )
    job_config = JobConfig.from_env(lease_seconds=job_lease, batch_size=job_batch)
    settings = secret_key.with_lasting_key(Settings.from_env())
    care = CareEngine(settings, timer_config=timer_config, job_config=job_config)
    _require_current_schema(care)
    sys.exit(worker.run_blocking(care, poll_seconds=poll, worker_id=name))


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--name", default="", help="A name for the deployment.")
def deploy(paths: tuple[str, ...], name: str) -> None:
    """Deploy .bpmn/.dmn files with their forms and .po catalogs (folders: the files in them) as one deployment."""
    care = _engine()
    try:
        result = care.repository.deploy(_sources(paths), name, "cli")
    except DeploymentInvalid as invalid:
        _print_problems(invalid)
        sys.exit(1)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    for outcome in result.definitions:
        click.echo(f"{outcome.key} v{outcome.version}: {outcome.status}")
    if not result.changed:
        click.echo("nothing changed; no deployment stored")


@main.command()
@click.argument("paths", nargs=-1, required=True)
def check(paths: tuple[str, ...]) -> None:
    """Check .bpmn/.dmn files as a deployment would, storing nothing; exit 1 on problems."""
    care = _engine(require_schema=False)
    try:
        result = care.repository.check(_sources(paths))
    except DeploymentInvalid as invalid:
        _print_problems(invalid)
        sys.exit(1)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    for outcome in result.definitions:
        click.echo(f"{outcome.key}: ok{'' if outcome.executable else ' (not executable)'}")


main.add_command(scenario_test)
main.add_command(demo)
main.add_command(translations)
main.add_command(mail)
main.add_command(events)
main.add_command(config)
main.add_command(purge)


@main.group()
def db() -> None:
    """Database schema."""


@db.command()
def upgrade() -> None:
    """Migrate the database to the newest schema."""
    from engine import schema

    care = _engine(require_schema=False)
    schema.upgrade(care.db)
    click.echo("database is up to date")


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.argument("name")
@click.option("--user", "username", default=None, help="The user or integration account the token acts as.")
@click.option("--expires", default=None, help="ISO 8601 duration, e.g. P30D.")
def token_create(name: str, username: str | None, expires: str | None) -> None:
    """Create a token and print its value (shown only this once); without --user it is an admin token."""
    care = _engine()
    expires_at = _expiry(care, expires)
    try:
        row, value = care.tokens.create(name, expires_at=expires_at, username=username)
    except CareError as error:
        raise click.ClickException(error.detail) from None
    click.echo(value)
    click.echo(
        f"token {row.id} '{row.name}' ({row.role})" + (f", expires {expires_at.isoformat()}" if expires_at else ""),
        err=True,
    )


def _expiry(care: CareEngine, expires: str | None) -> datetime | None:
    if not expires:
        return None
    try:
        parsed = TimerEventDefinition.parse_iso_duration(expires)
        return care.clock.now() + TimerEventDefinition.get_timedelta_from_start(parsed, care.clock.now())
    except Exception:
        raise click.BadParameter(
            f"'{expires}' is not an ISO 8601 duration such as P30D", param_hint="--expires"
        ) from None


@token.command("list")
def token_list() -> None:
    """List tokens (never their values)."""
    for row in _engine().tokens.list():
        state = "revoked" if row.revoked_at else "active"
        click.echo(f"{row.id}\t{row.name}\t{row.role}\t{state}\tlast used {row.last_used_at or 'never'}")


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke a token by id."""
    try:
        row = _engine().tokens.revoke(token_id)
    except CareError as error:
        raise click.ClickException(error.detail) from None
    click.echo(f"token {row.id} '{row.name}' revoked")


@main.group()
def user() -> None:
    """Users: staff, designers, admins and integration accounts."""


@user.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--group", "groups", multiple=True, help="A team of the user (repeatable).")
@click.option("--display-name", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--if-missing", is_flag=True, help="Do nothing if the user exists already.")
def user_add(
    username: str, role: str, groups: tuple[str, ...], display_name: str | None, password_stdin: bool, if_missing: bool
) -> None:
    """Add a user (groups must exist: see `group add`)."""
    care = _engine()
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        if if_missing and any(u.username == username.lower() for u in care.identity.users()):
            click.echo(f"user {username.lower()} exists already")
            return
        created = care.identity.add_user(username, role, list(groups), password, display_name)
    except CareError as error:
        raise click.ClickException(error.detail) from None
    click.echo(f"user {created.username} ({created.role}; groups: {', '.join(created.groups) or 'none'}) added")


@user.command("list")
def user_list() -> None:
    """List users with role, groups and state."""
    for item in _engine().identity.users():
        state = "disabled" if item.disabled else "active"
        click.echo(f"{item.id}\t{item.username}\t{item.role}\t{','.join(item.groups) or '-'}\t{state}")


@user.command("disable")
@click.argument("username")
def user_disable(username: str) -> None:
    """Disable a user: no login, and their tokens stop working."""
    care = _engine()
    try:
        found = care.identity.by_name(username)
        care.identity.update_user(found.id, disabled=True)
    except CareError as error:
        raise click.ClickException(error.detail) from None
    click.echo(f"user {found.username} disabled")


@user.command("sign-out")
@click.argument("username")
def user_sign_out(username: str) -> None:
    """End every page session of a user at once (their API tokens stay valid)."""
    care = _engine()
    try:
        care.identity.end_sessions(care.identity.by_name(username).id)
    except CareError as error:
        raise click.ClickException(error.detail) from None
    click.echo(f"every session of {username.strip().lower()} has ended")


@main.group()
def group() -> None:
    """Groups (teams)."""


@group.command("add")
@click.argument("name")
@click.option("--display-name", default="", help="What staff read for the team (default: its name).")
@click.option("--description", default="")
@click.option("--if-missing", is_flag=True, help="Do nothing if the group exists already.")
def group_add(name: str, display_name: str, description: str, if_missing: bool) -> None:
    """Add a group."""
    care = _engine()
    try:
        if if_missing and any(g["name"] == name.lower() for g in care.identity.groups()):
            return
        created = care.identity.add_group(name, description, display_name)
    except CareError as error:
        raise click.ClickException(error.detail) from None
    click.echo(f"group {created['name']} added")


@group.command("change")
@click.argument("name")
@click.option("--display-name", default=None, help="What staff read for the team; empty: its name.")
@click.option("--description", default=None)
def group_change(name: str, display_name: str | None, description: str | None) -> None:
    """Change what staff read for a group, or its description (its name stays)."""
    if display_name is None and description is None:
        raise click.UsageError("say what to change: --display-name and/or --description")
    try:
        changed = _engine().identity.update_group(name, display_name=display_name, description=description)
    except CareError as error:
        raise click.ClickException(error.detail) from None
    click.echo(f"group {changed['name']} is shown as {changed['display_name']}")


@group.command("list")
def group_list() -> None:
    """List groups."""
    for item in _engine().identity.groups():
        click.echo(f"{item['id']}\t{item['name']}\t{item['display_name']}\t{item['description']}")


@main.group()
def customers() -> None:
    """The customer store (customers, systems, licenses, the order catalog), and one customer's data."""


@customers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--kind",
    type=click.Choice(("customers", "systems", "licenses", "catalog")),
    default=None,
    help="What the rows are [default: the file's name, e.g. systems.csv].",
)
def customers_import(file: Path, kind: str | None) -> None:
    """Upsert customers, systems, licenses or catalog items by id from a CSV file with a header line (all or none)."""
    from process_library.csv_import import KINDS, CsvImportError, import_csv

    kind = kind or file.stem.lower()
    if kind not in KINDS:
        raise click.BadParameter(
            f"cannot tell what {file.name} holds; say --kind {'|'.join(KINDS)}", param_hint="--kind"
        )
    try:
        result = import_csv(_engine().db, kind, file.read_text(encoding="utf-8-sig"))
    except CsvImportError as error:
        for problem in error.problems:
            click.echo(f"{file.name}:{problem.line}: {problem.message}", err=True)
        click.echo(str(error), err=True)
        sys.exit(1)
    click.echo(str(result))


customers.add_command(customer_export)
customers.add_command(customer_erase)
