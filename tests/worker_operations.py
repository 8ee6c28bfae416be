"""An operation module for the worker-process tests, loaded through ``CARECENTER_OPERATION_MODULES``.

``test_slow_call`` notes each call in a file and takes its time (the lease and fault tests count the calls).
``test_dispatch_then_stall`` dispatches an update exactly as ``dispatch_update`` does and then,
on the first try of a call only, stalls: the window in which a worker has changed the outside
world but not yet recorded the result, where the tests kill it.
"""

from __future__ import annotations

import os
import time

from process_library.operations import dispatch_update
from process_library.registry import OperationContext, operation
from process_library.store import Dispatch, by_idempotency_key


@operation(name="test_dispatch_then_stall", stall_seconds="seconds to stall after the first try's dispatch")
def dispatch_then_stall(context: OperationContext, *, system_id: str, version: str, stall_seconds: float) -> dict:
    """Dispatch an update, then stall on the first try (a test operation)."""
    with context.db.read() as session:
        first_try = by_idempotency_key(session, Dispatch, context.idempotency_key) is None
    result = dispatch_update(context, system_id=system_id, version=version)
    if first_try:
        time.sleep(stall_seconds)
    return result


@operation(
    name="test_slow_call",
    seconds="how long the call takes",
    calls_file="a file that gets one line per call: the call's idempotency key and the worker's pid",
)
def slow_call(context: OperationContext, *, seconds: float, calls_file: str) -> dict:
    """Note the call in ``calls_file``, then take ``seconds`` (a test operation: an outside call that takes a while)."""
    with open(calls_file, "a", encoding="utf-8") as calls:  # one short append: whole lines, even from several processes
        calls.write(f"{context.idempotency_key} {os.getpid()}\n")
    time.sleep(seconds)
    return {"key": context.idempotency_key}
