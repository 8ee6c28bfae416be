"""Who and what a script runs for, for the helper functions scripts may call (``get_current_user()`` ...).

The script engine is shared by every request and worker thread, so the step's principal and instance
travel in a context variable set around each change of an instance (:class:`engine.execution.Executor`),
not in the engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class StepContext:
    principal: str  # who caused this step: a user, a token, "worker", "timer" ...
    initiator: str  # who started the instance
    instance_id: int | None
    process_key: str


_current: ContextVar[StepContext | None] = ContextVar("carecenter_step", default=None)


@contextmanager
def running_for(context: StepContext) -> Iterator[None]:
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> StepContext | None:
    return _current.get()
