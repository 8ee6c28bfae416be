"""A counter that one process's live streams wait on: bumped when a service changes something they show.

The screen pop's calls and the chats each keep one, so that a stream wakes at once when its own
process changed a row, instead of at its next look at the database.
"""

from __future__ import annotations

import threading


class ChangeSignal:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._version = 0

    @property
    def version(self) -> int:
        """The current count: pass it to :meth:`wait` to wait for the next change."""
        return self._version

    def wait(self, seen: int, timeout: float) -> None:
        """Until a change after ``seen`` (a :attr:`version`), or ``timeout`` seconds."""
        with self._changed:
            self._changed.wait_for(lambda: self._version != seen, timeout)

    def notify(self) -> None:
        with self._changed:
            self._version += 1
            self._changed.notify_all()
