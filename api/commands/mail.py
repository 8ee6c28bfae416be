"""``carecenter mail``: the receiver the care center's mail server delivers to, and the failed-mail list."""

from __future__ import annotations

import logging
import signal
import sys
import threading

import click

from engine.clock import Clock
from engine.config import Settings
from engine.db import Database
from engine.errors import CareError
from engine.mail_store import MailStore


@click.group()
def mail() -> None:
    """The e-mail channel (docs/mail.md)."""


@mail.command("receive")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=2525, show_default=True, type=int)
@click.option("--lmtp", is_flag=True, help="Speak LMTP (a Postfix lmtp: transport) instead of SMTP.")
def receive(host: str, port: int, lmtp: bool) -> None:
    """Take mail by SMTP or LMTP and store it; answers 250 only once the mail is in the database."""
    from engine.mail_receiver import MailReceiver

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command of every connection
    settings = Settings.from_env()
    db = Database(settings.database_url)
    receiver = MailReceiver(MailStore(db, Clock(), settings.mail_max_bytes), host, port, lmtp=lmtp)
    stopped = threading.Event()

    def _stop(signum, frame) -> None:
        stopped.set()

    previous = {number: signal.signal(number, _stop) for number in (signal.SIGTERM, signal.SIGINT)}
    receiver.start()
    click.echo(f"carecenter mail receiver ({'LMTP' if lmtp else 'SMTP'}) on {host}:{port}")
    sys.stdout.flush()
    try:
        stopped.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        receiver.stop()
        db.dispose()


@mail.command("failed")
def failed() -> None:
    """List the mails that could not be processed, with their errors."""
    settings = Settings.from_env()
    db = Database(settings.database_url)
    for item in MailStore(db, Clock(), settings.mail_max_bytes).failed(limit=200).items:
        click.echo(f"{item['id']}\t{item['received_at']}\t{item['sender'] or '-'}\t{item['error']}")
    db.dispose()


@mail.command("retry")
@click.argument("mail_id", type=int)
def retry(mail_id: int) -> None:
    """Process a failed mail again."""
    settings = Settings.from_env()
    db = Database(settings.database_url)
    try:
        MailStore(db, Clock(), settings.mail_max_bytes).retry(mail_id)
    except CareError as error:
        raise click.ClickException(error.detail) from error
    finally:
        db.dispose()
    click.echo(f"mail {mail_id} will be processed again")
