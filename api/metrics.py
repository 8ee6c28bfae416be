"""``GET /metrics``: Prometheus's text format, for admin tokens (``api.policy`` lets no one else in).

What it holds:

- request latency, a histogram per route (the Flask URL rule such as ``/api/tasks/<id:task_id>``,
  never the raw path, so ids and secrets make no new series), method and status;
- what the engine did, counters per process (:mod:`engine.metrics`), and what the worker did
  (:mod:`engine.worker`);
- what the database holds now, gauges read at scrape time (:mod:`engine.gauges`), and
  ``carecenter_database_up``.

Counters and histograms are per process. Under ``carecenter serve --processes N`` every web
process and the worker write them to files in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's
multiprocess mode) and whichever web process answers adds all of them up, so one scrape of a host
is the whole host. Without that variable (one process: ``make run``), they are the process's own.
"""

from __future__ import annotations

import logging
import os
import time

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from api.routes.common import care
from engine import gauges

log = logging.getLogger(__name__)
MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED = "(unmatched)"  # the route label of requests that matched no route (404, 405)

REQUEST_SECONDS = Histogram(
    "carecenter_http_request_duration_seconds",
    "Time from a request's arrival in the app to its answer, by route (the URL rule), method and status",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)

blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
def scrape():
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector())
    body = generate_latest(_process_registry()) + generate_latest(database)
    return Response(body, mimetype=None, content_type=CONTENT_TYPE)


def _process_registry() -> CollectorRegistry:
    """Every process's counters (multiprocess mode), or this process's own (with its CPU and memory)."""
    if not os.environ.get(MULTIPROC_VARIABLE):
        return REGISTRY
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry)
    return registry


class DatabaseCollector:
    """The gauges of :func:`engine.gauges.snapshot`, read when scraped."""

    def collect(self):
        engine = care()
        up = GaugeMetricFamily("carecenter_database_up", "1 when the database answered this scrape's queries")
        try:
            state = gauges.snapshot(engine.db, engine.clock.now())
        except Exception:
            log.warning("the database did not answer the metrics queries", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        teams = GaugeMetricFamily(
            "carecenter_open_tasks",
            "Open human tasks offered to a team (a task offered to two counts for each)",
            labels=["team"],
        )
        for team, count in sorted(state.open_tasks_by_team.items()):
            teams.add_metric([team], count)
        yield teams
        yield GaugeMetricFamily(
            "carecenter_open_tasks_all", "Open human tasks, whoever they are for", value=state.open_tasks
        )
        yield GaugeMetricFamily(
            "carecenter_overdue_tasks", "Open human tasks past their due time", value=state.overdue_tasks
        )
        yield GaugeMetricFamily(
            "carecenter_timer_lag_seconds",
            "How late the oldest due, unfired timer is (0: none is late)",
            value=state.timer_lag_seconds,
        )
        yield GaugeMetricFamily("carecenter_due_timers", "Timers due and not fired yet", value=state.due_timers)
        queue = GaugeMetricFamily(
            "carecenter_job_queue_depth",
            "Service-task jobs due and waiting for a worker, by kind (operation: carecenter's worker; "
            "external: an outside worker)",
            labels=["kind"],
        )
        retries = GaugeMetricFamily(
            "carecenter_job_retries_waiting",
            "Service-task jobs that failed and wait for another try, by kind",
            labels=["kind"],
        )
        for kind in ("operation", "external"):
            queue.add_metric([kind], state.job_queue.get(kind, 0))
            retries.add_metric([kind], state.job_retries.get(kind, 0))
        yield queue
        yield retries
        yield GaugeMetricFamily(
            "carecenter_open_incidents", "Incidents waiting for a retry", value=state.open_incidents
        )
        yield GaugeMetricFamily(
            "carecenter_messages_buffered",
            "Published messages no waiting catch has taken yet (kept until their ttl)",
            value=state.buffered_messages,
        )
        yield GaugeMetricFamily(
            "carecenter_workers_alive", "Workers that sent a heartbeat within 30 s", value=state.workers_alive
        )
        beats = GaugeMetricFamily(
            "carecenter_worker_heartbeat_timestamp_seconds",
            "When each running worker last reported (Unix time; workers heard of within the last hour)",
            labels=["worker", "hostname"],
        )
        for worker in state.workers:
            beats.add_metric([worker.id, worker.hostname], worker.heartbeat_at.timestamp())
        yield beats


def configure(app: Flask) -> None:
    """Time every request (``before_request`` first, so refused and unknown requests count too); serve /metrics."""

    @app.before_request
    def _start_clock() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("metrics_started")
        if started is not None:
            route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
            REQUEST_SECONDS.labels(route, request.method, str(response.status_code)).observe(
                time.perf_counter() - started
            )
        return response

    app.register_blueprint(blueprint)
