"""Where log lines go and what they look like: text for people, or one JSON object a line for machines.

Every process (``serve``, its web processes, ``worker``) logs to standard error, as the
Twelve-Factor app does: the service manager or container runtime keeps and ships the stream.
``--log-format json`` (or ``CARECENTER_LOG_FORMAT=json``) writes each record as an object with
``time`` (UTC), ``level``, ``logger``, ``message``, the ``request_id`` of the request it was
logged in, and the record's structured fields (a request line's ``method``, ``path``,
``status``...; see :mod:`api.request_log`).
"""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The id of the request being served in this thread (set by api.request_log), for every line logged meanwhile.
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("carecenter_request_id", default=None)
_CHATTY = ("spiff", "apscheduler", "alembic")  # log every task state change, every scheduler run, at INFO


class JsonFormatter(logging.Formatter):
    """One JSON object per record; ``extra={"fields": {...}}`` adds keys of its own."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update({key: value for key, value in fields.items() if key not in entry})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


def configure(verbose: bool = False, log_format: str = "text", replace: bool = False) -> None:
    """INFO (DEBUG with ``verbose``) to standard error as ``log_format`` (text or json).

    Like :func:`logging.basicConfig`, nothing changes where logging is set up already (a test runner's
    capture), unless ``replace``: ``--log-format`` on a command replaces what the command group set up.
    """
    handler = logging.StreamHandler()
    handler.addFilter(_RequestId())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=replace)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)
