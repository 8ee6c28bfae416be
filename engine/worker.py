"""The background worker: APScheduler jobs that keep the engine's rows moving.

It runs inside ``carecenter worker`` (blocking) or embedded in ``carecenter serve``
(background thread).  The rows in the database are the store of record; the scheduler
only decides when to look at them:

- ``timers`` claims and fires every due timer (:meth:`engine.timers.Timers.fire_due`), then
  plans its next run for the earliest pending due time, so a timer due in 300 ms is fired in
  300 ms rather than at the next poll.  A short poll (``--poll``, 1 s by default) is the
  fallback that finds timers written by other processes; on PostgreSQL those processes also
  ``NOTIFY carecenter_timers`` and a listener thread wakes the worker at once.  Timers written
  by this process wake it directly.
- ``jobs`` claims and runs due service-task jobs (:meth:`engine.jobs.Jobs.run_due`): every poll,
  at once when this process writes a new job, and on PostgreSQL at once when another process
  does (``NOTIFY carecenter_jobs``, heard by the same listener thread).
- ``mail`` turns stored inbound mail into inquiries and replies (:meth:`engine.mail_inbox.MailInbox.process_due`):
  every poll, and on PostgreSQL at once when a receiver stores one (``NOTIFY carecenter_mail``).
- ``imap`` reads ``CARECENTER_IMAP_URL`` into the same store every ``CARECENTER_IMAP_POLL_SECONDS``
  (:mod:`engine.mail_imap`), when it is set, and at once when the server announces a new message
  to the IDLE connection a watcher thread holds (:mod:`engine.mail_imap_idle`; ``CARECENTER_IMAP_IDLE=0`` turns it off).
- ``heartbeat`` records the worker in ``timer_workers`` for ``GET /api/worker/status``.
- ``messages`` expires buffered messages past their ttl, retries deliveries left pending, and sends
  held outbox mail that no service-task call sends itself (the portal's links, confirmations, mail sent again).
- ``housekeeping`` forgets old idempotency records, and delivered or expired messages; with
  ``CARECENTER_RETENTION`` set, it purges (and archives) ended instances past it, a few batches a run
  (:mod:`engine.lifecycle`).
- ``analytics`` brings the reports' facts up to date (:meth:`engine.analytics_facts.AnalyticsFacts.refresh`)
  every ``CARECENTER_ANALYTICS_SECONDS`` (60 by default).
- ``chats`` moves chats past their timeouts on (waiting → missed, idle → closed) and files closed chats
  whose transcript is not filed yet (:meth:`engine.chat.Chats.expire`): every :data:`CHAT_SECONDS`.
- ``webhooks`` fans new events out to webhook endpoints and sends what is due (:mod:`engine.webhook_delivery`):
  every poll, for up to 20 s a run.
- ``database`` pings the database (:mod:`engine.db_watch`): ``carecenter worker`` stops with status 1 when it
  stays unreachable for ``CARECENTER_WORKER_DB_TIMEOUT`` seconds, and carries on by itself when it comes back
  sooner; the worker embedded in ``carecenter serve`` only logs the outage and carries on.

What the rounds did counts for ``/metrics`` (:mod:`engine.metrics`): timers fired, jobs called, rounds failed.
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import delete
from sqlalchemy.engine import make_url

from engine import metrics
from engine.core import CareEngine
from engine.db_watch import DatabaseWatch
from engine.job_rows import NOTIFY_CHANNEL as JOBS_CHANNEL
from engine.mail_imap import ImapMailbox, ImapReader
from engine.mail_imap_idle import ImapWatcher
from engine.mail_store import NOTIFY_CHANNEL as MAIL_CHANNEL
from engine.models import IdempotencyRecord
from engine.timer_rows import NOTIFY_CHANNEL as TIMERS_CHANNEL
from engine.timer_specs import parse_datetime
from engine.webhook_delivery import DELIVERED_RETENTION
from process_library.outbox_relay import relay_held_mail

log = logging.getLogger(__name__)
# Runs guarded by their own non-blocking lock may overlap in the scheduler: the second returns at once. With one
# allowed instance, APScheduler would log a warning every poll while a long run (10,000 due timers) goes on.
GUARDED_RUNS = 2
IDEMPOTENCY_RETENTION = timedelta(hours=24)
HOUSEKEEPING_SECONDS = 300
HEARTBEAT_SECONDS = 10.0
MESSAGE_SECONDS = 5.0
FINISHED_TIMER_RETENTION = timedelta(days=30)
PURGE_BATCHES = 5  # per housekeeping run: a backlog is worked off over several runs, none holds the worker long
CHAT_SECONDS = 5.0


def housekeeping(care: CareEngine) -> int:
    """Forget idempotency records older than the retention window; returns how many were removed.

    Also forgets finished timer rows and stopped or silent workers after their retention
    (the ``timer_fired`` history events stay).
    """
    cutoff = care.clock.now() - IDEMPOTENCY_RETENTION
    with care.db.write() as session:
        removed = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff)).rowcount
    if removed:
        log.info("housekeeping removed %d idempotency records", removed)
    care.messages.forget(care.clock.now() - FINISHED_TIMER_RETENTION)
    timers = care.timers.forget_finished(care.clock.now() - FINISHED_TIMER_RETENTION)
    care.deliveries.forget(care.clock.now() - DELIVERED_RETENTION)
    if timers:
        log.info("housekeeping removed %d finished timer rows", timers)
    if care.settings.retention:
        archive = Path(care.settings.archive_dir) if care.settings.archive_dir else None
        cutoff = care.lifecycle.cutoff(care.settings.retention)
        care.lifecycle.purge(cutoff, "worker", archive, max_batches=PURGE_BATCHES)
    return removed


class Worker:
    """The jobs of one worker process on one scheduler."""

    def __init__(
        self,
        care: CareEngine,
        scheduler: BaseScheduler,
        *,
        poll_seconds: float | None = None,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        worker_id: str | None = None,
        listen: bool = True,
        exit_on_lost_database: bool = False,
    ) -> None:
        self.care = care
        self.scheduler = scheduler
        self.id = worker_id or care.timers.worker_id
        self.poll_seconds = poll_seconds or care.settings.worker_interval_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.listen = listen and not care.db.is_sqlite
        self.started_at = care.clock.now()
        self.last_run_at: datetime | None = None
        self.fired = 0
        self._unreported = 0
        self._ran_since_beat = False
        self._run_lock = threading.Lock()
        self._jobs_lock = threading.Lock()
        self._mail_lock = threading.Lock()
        self._webhooks_lock = threading.Lock()
        self._wake_lock = threading.Lock()
        self._wake_at: datetime | None = None  # wall-clock time of the planned extra run
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self.imap_watcher: ImapWatcher | None = None
        self._imap_news = threading.Event()  # set by the IDLE watcher; cleared by each read of the mailbox
        self.imap_rounds = 0  # finished reads of the mailbox (for status and tests)
        self.exit_on_lost_database = exit_on_lost_database
        self.database = DatabaseWatch(care.db.ping, care.settings.worker_db_timeout_seconds, self._lost_database)

    # -- jobs ----------------------------------------------------------------------------------

    def add_jobs(self) -> None:
        self._every(self.run_timers, self.poll_seconds, "timers")
        self._every(self.run_jobs, self.poll_seconds, "jobs")
        self.care.executor.job_listeners.append(self.wake_jobs)
        self._every(self.heartbeat, self.heartbeat_seconds, "heartbeat", max_instances=1)
        self._every(
            housekeeping, HOUSEKEEPING_SECONDS, "housekeeping", max_instances=1, at_once=False, args=[self.care]
        )
        self._every(self.run_mail, self.poll_seconds, "mail")
        if self.care.settings.imap_url:
            self._every(self.run_imap, self.care.settings.imap_poll_seconds, "imap", max_instances=1)
            if self.care.settings.imap_idle:
                mailbox = ImapMailbox.parse(self.care.settings.imap_url)
                self.imap_watcher = ImapWatcher(mailbox, self.wake_imap).start()
        self._every(self.run_messages, MESSAGE_SECONDS, "messages", max_instances=1, at_once=False)
        self._every(self.run_webhooks, self.poll_seconds, "webhooks")
        self._add_analytics()
        self.add_chat_job()
        database_check = min(5.0, max(0.5, self.database.timeout_seconds / 4))
        self._every(self.database.check, database_check, "database", max_instances=1)
        self.care.executor.timer_listeners.append(self.wake)
        if self.listen:
            self._listener = threading.Thread(target=self._listen, name="carecenter-timer-listener", daemon=True)
            self._listener.start()

    def _every(
        self,
        run: Callable,
        seconds: float,
        name: str,
        *,
        max_instances: int = GUARDED_RUNS,
        at_once: bool = True,
        args: list | None = None,
    ) -> None:
        """Run ``run`` every ``seconds`` (first right away with ``at_once``); runs missed meanwhile count once.

        A run is never dropped for being late (``misfire_grace_time=None``): on a busy machine the scheduler may
        start a run seconds after its time, and APScheduler's default (drop it when over a second late) would
        leave a ten-minute mailbox poll, or the first round after a start, undone until the next interval."""
        first = {"next_run_time": datetime.now(UTC)} if at_once else {}
        self.scheduler.add_job(
            run,
            "interval",
            args=args,
            seconds=seconds,
            id=name,
            coalesce=True,
            misfire_grace_time=None,
            max_instances=max_instances,
            **first,
        )

    # -- analytics (#23): one loop of its own, apart from the executor's jobs --------------------

    def _add_analytics(self) -> None:
        self._analytics_lock = threading.Lock()
        if self.care.settings.analytics_seconds == 0:  # another worker counts (CARECENTER_ANALYTICS_SECONDS=0 here)
            log.info("worker %s does not count analytics (CARECENTER_ANALYTICS_SECONDS=0)", self.id)
            return
        # not at once: a worker that (re)starts fires what fell due meanwhile first; counting can wait an interval
        self._every(self.run_analytics, self.care.settings.analytics_seconds, "analytics", at_once=False)

    def run_analytics(self) -> int:
        """Count what changed since the last run for the reports; a run in progress makes this one a no-op.

        Between batches the run gives way to the web requests (serve's embedded worker) and timer rounds of this
        process, and stops when the worker stops.
        """
        give_way = functools.partial(self.care.foreground.give_way, self._stop)
        return self._alone(
            self._analytics_lock, lambda: self.care.analytics.refresh(give_way), "analytics", "the analytics run"
        )

    def run_timers(self) -> int:
        """Fire everything due, then plan the next run; a run already in progress makes this one a no-op."""
        if not self._run_lock.acquire(blocking=False):
            return 0
        try:
            with self.care.foreground.working():  # the analytics run waits meanwhile
                fired = self.care.timers.fire_due(self.id)
            metrics.TIMERS_FIRED.inc(fired)
            self.fired += fired
            self._unreported += fired
            self.last_run_at = self.care.clock.now()
            self._ran_since_beat = True
        except Exception:  # a broken database connection must not stop the scheduler; the next run retries
            self._failed("firing timers")
            metrics.WORKER_ROUND_FAILURES.labels("timers").inc()
            return 0
        finally:
            self._run_lock.release()
        try:
            self._plan_next()
        except Exception:
            log.exception("planning the next timer run failed")
        return fired

    def run_jobs(self) -> int:
        """Call every due service-task job; a run already in progress makes this one a no-op."""
        return self._alone(self._jobs_lock, self._run_due_jobs, "jobs", "running service-task jobs")

    def _run_due_jobs(self) -> int:
        calls = self.care.jobs.run_due(self.id)
        metrics.JOBS_RUN.inc(calls)
        return calls

    def run_mail(self) -> int:
        """Turn stored inbound mail into inquiries and replies; a run already in progress makes this one a no-op."""
        return self._alone(
            self._mail_lock, lambda: self.care.mail.process_due(self.id), "mail", "processing inbound mail"
        )

    def run_webhooks(self) -> int:
        """Fan new events out to webhook endpoints and send what is due; a run in progress makes this one a no-op."""
        return self._alone(
            self._webhooks_lock, lambda: self.care.deliveries.run_due(self.id), "webhooks", "delivering webhooks"
        )

    def _alone(self, lock: threading.Lock, run: Callable[[], int], name: str, what: str) -> int:
        """``run()`` unless another run holds ``lock`` (then 0); a failure is logged and counts 0, so the scheduler
        keeps going (a broken database connection must not stop it; the next run retries)."""
        if not lock.acquire(blocking=False):
            return 0
        try:
            return run()
        except Exception:
            self._failed(what)
            metrics.WORKER_ROUND_FAILURES.labels(name).inc()
            return 0
        finally:
            lock.release()

    def _failed(self, what: str) -> None:
        """Log a failed round with its traceback; while the database is known to be away, one debug line (the
        outage itself is logged once, by :mod:`engine.db_watch`)."""
        if self.database.healthy:
            log.exception("%s failed", what)
        else:
            log.debug("%s failed: the database is unreachable", what, exc_info=True)

    # -- chats (#27): their timeouts and filing, kept apart from the engine's own jobs ------------

    def add_chat_job(self) -> None:
        self._chats_lock = threading.Lock()
        self._every(self.run_chats, CHAT_SECONDS, "chats", at_once=False)

    def run_chats(self) -> int:
        """Chats past their timeouts, and closed chats not filed yet; a run in progress makes this one a no-op."""
        return self._alone(self._chats_lock, self.care.chats.expire, "chats", "the chat round")

    def run_imap(self) -> int:
        """Read the IMAP mailbox into the store, then process what came in.

        News the IDLE watcher hears while a round runs would be lost to the scheduler (one round at a
        time: the extra run is skipped), so the round reads the mailbox again until no news came in.
        """
        moved = 0
        try:
            while True:
                self._imap_news.clear()
                reader = ImapReader(ImapMailbox.parse(self.care.settings.imap_url), self.care.mail.store)
                moved += reader.fetch_once()
                if not self._imap_news.is_set():
                    break
        except Exception:  # the server is away or refuses us: the messages stay in the mailbox for the next round
            log.exception("reading the IMAP mailbox failed")
        finally:
            self.imap_rounds += 1
        if moved:
            self.wake_mail()
        return moved

    def wake_imap(self) -> None:
        """The IMAP server announced a new message (IDLE): read the mailbox now rather than at the next poll."""
        self._imap_news.set()
        self._run_now("imap")

    def wake_mail(self) -> None:
        """Mail was stored (NOTIFY from a receiver): process it now rather than at the next poll."""
        self._run_now("mail")

    def run_messages(self) -> int:
        """Drop messages past their ttl; deliver again what a crash or a lost race left pending; send held mail."""
        try:
            expired = self.care.messages.run_pending()
            relay_held_mail(self.care.db, self.care.settings, self.care.clock)
            return expired
        except Exception:
            self._failed("the message round")
            return 0

    def wake_jobs(self) -> None:
        """A job was written in this process: run the jobs now rather than at the next poll."""
        self._run_now("jobs")

    def _run_now(self, job_id: str) -> None:
        """Move the scheduler job ``job_id`` to now; nothing if the scheduler is shutting down."""
        try:
            self.scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))
        except Exception:
            log.debug("could not wake the %s job", job_id, exc_info=True)

    def heartbeat(self) -> None:
        fired, self._unreported = self._unreported, 0
        ran, self._ran_since_beat = self._ran_since_beat, False
        try:
            self.care.timers.heartbeat(self.id, started_at=self.started_at, ran=ran, fired=fired)
        except Exception:
            self._unreported += fired
            self._failed("the worker heartbeat")

    # -- waking for the next due timer ---------------------------------------------------------

    def _plan_next(self) -> None:
        due = self.care.timers.next_due_at()
        if due is not None:
            self._wake_for(due)

    def wake(self, due_times: list) -> None:
        """Timers were written (here, or by another process that notified us): run when the first is due."""
        if due_times:
            self._wake_for(min(due_times))

    def _wake_for(self, due: datetime) -> None:
        delay = max((due - self.care.clock.now()).total_seconds(), 0.0)
        if delay >= self.poll_seconds:
            return  # the poll comes first
        run_at = datetime.now(UTC) + timedelta(seconds=delay)
        with self._wake_lock:
            if self._wake_at is not None and datetime.now(UTC) < self._wake_at <= run_at:
                return  # an earlier wake-up is planned already
            self._wake_at = run_at
            try:
                self.scheduler.add_job(
                    self._woken,
                    "date",
                    run_date=run_at,
                    id="timers-wake",
                    replace_existing=True,
                    misfire_grace_time=None,
                    max_instances=3,  # a wake-up during a run returns at once (the run lock); never log it as skipped
                )
            except Exception:  # the scheduler is shutting down
                log.debug("could not plan a wake-up", exc_info=True)

    def _woken(self) -> None:
        with self._wake_lock:
            self._wake_at = None
        self.run_timers()

    def _listen(self) -> None:
        """PostgreSQL: wake up when another process commits a new timer or a job (``NOTIFY``)."""
        import psycopg

        url = make_url(self.care.db.url).set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {TIMERS_CHANNEL}")
                    connection.execute(f"LISTEN {JOBS_CHANNEL}")
                    connection.execute(f"LISTEN {MAIL_CHANNEL}")
                    while not self._stop.is_set():
                        for notice in connection.notifies(timeout=1.0):
                            if notice.channel == JOBS_CHANNEL:
                                self.wake_jobs()
                                continue
                            if notice.channel == MAIL_CHANNEL:
                                self.wake_mail()
                                continue
                            try:
                                self.wake([parse_datetime(notice.payload)])
                            except ValueError:
                                self.wake([self.care.clock.now()])
            except Exception:
                log.warning("notifications unavailable; polling every %ss", self.poll_seconds, exc_info=True)
                self._stop.wait(max(self.poll_seconds, 5.0))

    # -- stopping ------------------------------------------------------------------------------

    def _lost_database(self) -> None:
        """The database stayed away too long: end ``carecenter worker`` (status 1); embedded, carry on."""
        if self.exit_on_lost_database:
            try:
                self.scheduler.shutdown(wait=False)
            except Exception:
                log.debug("scheduler shutdown", exc_info=True)

    def stop(self) -> None:
        """Stop the jobs, give back unfired claims, and record that this worker stopped."""
        self._stop.set()
        if self.imap_watcher is not None:
            self.imap_watcher.stop()
        if self.wake in self.care.executor.timer_listeners:
            self.care.executor.timer_listeners.remove(self.wake)
        if self.wake_jobs in self.care.executor.job_listeners:
            self.care.executor.job_listeners.remove(self.wake_jobs)
        try:
            if self.scheduler.running:
                self.scheduler.shutdown(wait=True)
        except Exception:
            log.debug("scheduler shutdown", exc_info=True)
        if self.database.gave_up and self.exit_on_lost_database:
            return  # nothing can be recorded; the claims run out and other workers take them over
        try:
            self.heartbeat()
            self.care.timers.release_claims(self.id)
            self.care.jobs.release_claims(self.id)
            self.care.mail.store.release_claims(self.id)
            self.care.deliveries.release_claims(self.id)
            self.care.timers.stopped(self.id)
        except Exception:
            log.exception("could not record the worker's stop")


def start_embedded(care: CareEngine, **options) -> Worker:
    """Start the worker jobs in a background thread of this process."""
    worker = Worker(care, BackgroundScheduler(timezone="UTC"), **options)
    worker.add_jobs()
    worker.scheduler.start()
    return worker


def run_blocking(care: CareEngine, **options) -> int:
    """Run the worker jobs in the foreground until interrupted (Ctrl-C or SIGTERM: 0) or the database stays
    away for ``CARECENTER_WORKER_DB_TIMEOUT`` seconds (1); returns that exit status."""
    worker = Worker(care, BlockingScheduler(timezone="UTC"), exit_on_lost_database=True, **options)
    worker.add_jobs()

    def _terminate(signum, frame):
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, _terminate)
    lease = care.timers.config.lease_seconds
    log.info("worker %s started (poll %ss, lease %ss)", worker.id, worker.poll_seconds, lease)
    try:
        worker.scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("worker %s stopping", worker.id)
    finally:
        signal.signal(signal.SIGTERM, previous)
        worker.stop()
    if worker.database.gave_up:
        log.error("worker %s stopped: the database stayed unreachable", worker.id)
        return 1
    return 0
