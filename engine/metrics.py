"""Counters of what the engine did (instances started, completed, failed; tasks completed), for Prometheus.

Every such change writes a history entry in its transaction (:mod:`engine.history`), so the
history is the one place that notes it; the counter moves only once that transaction has
committed, so a write that loses a race or fails half-way counts nothing. The counters live in
the process that did the work: a web process for an instance started over the API, the worker
for one started by a timer or completed by a service job. With ``PROMETHEUS_MULTIPROC_DIR`` set
(``carecenter serve --processes N`` sets it for its processes), prometheus-client keeps them in
files there, and ``GET /metrics`` (:mod:`api.metrics`) adds up every process of the host.

Why not count rows at scrape time: purging old instances would make the counts go down, which a
Prometheus counter must never do. Gauges of what the database holds now are computed at scrape
time instead (:mod:`api.metrics`).
"""

from __future__ import annotations

import logging
import os

from prometheus_client import Counter
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
_NOTES = "carecenter_metrics"
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # its files are opened as the counters below are made
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

INSTANCES_STARTED = Counter(
    "carecenter_instances_started", "Process instances started, by process (the BPMN process id)", ["process"]
)
INSTANCES_COMPLETED = Counter(
    "carecenter_instances_completed", "Process instances that reached their end, by process", ["process"]
)
INSTANCES_FAILED = Counter(
    "carecenter_instances_failed", "Process instances stopped by an incident, by process", ["process"]
)
TASKS_COMPLETED = Counter("carecenter_tasks_completed", "Human tasks completed, by process", ["process"])
INCIDENTS_RETRIED = Counter("carecenter_incidents_retried", "Incidents retried by an admin, by process", ["process"])

# What the worker's rounds did (engine/worker.py), in the process that ran them.
TIMERS_FIRED = Counter("carecenter_timers_fired", "Timers fired by this host's workers")
JOBS_RUN = Counter("carecenter_jobs_run", "Service-task jobs called by this host's workers (each try counts)")
WORKER_ROUND_FAILURES = Counter(
    "carecenter_worker_round_failures", "Worker rounds that failed (e.g. the database away), by round", ["round"]
)

# history entry type -> the counter it moves
COUNTED = {
    "instance_started": INSTANCES_STARTED,
    "instance_completed": INSTANCES_COMPLETED,
    "instance_failed": INSTANCES_FAILED,
    "task_completed": TASKS_COMPLETED,
    "incident_retried": INCIDENTS_RETRIED,
}


def note(session: Session, history_type: str, process_key: str | None) -> None:
    """Remember in ``session`` that a counted change happened; it counts when the session commits."""
    counter = COUNTED.get(history_type)
    if counter is not None and process_key is not None:
        session.info.setdefault(_NOTES, []).append((counter, process_key))


@event.listens_for(Session, "after_commit")
def _count(session: Session) -> None:
    for counter, process_key in session.info.pop(_NOTES, ()):
        try:
            counter.labels(process=process_key).inc()
        except Exception:  # e.g. PROMETHEUS_MULTIPROC_DIR unwritable: the change is committed, only its count is lost
            log.warning("could not count %s", counter, exc_info=True)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_NOTES, None)
