"""Drafts of the modeler: a designer's unfinished edit of a process, kept on the server until Deploy.

The modeler page (api/pages/modeler.py) saves the diagram here while the designer works, so a
closed tab loses nothing. A draft is stored text only: it is never parsed, run or shown to anyone
but its designer, and what is deployed changes only when the designer deploys it (which goes the
way of every deployment, :meth:`engine.repository.Repository.deploy`, and then discards the draft).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from engine.clock import Clock
from engine.db import Database
from engine.errors import InvalidRequest
from engine.models import ProcessDraft

NEW_PROCESS = ""  # the process_key of the draft of /processes/new: a process with no key yet
MAX_KEY = 200
MAX_FILENAME = 300


@dataclass(frozen=True)
class Draft:
    process_key: str
    designer: str
    filename: str
    base_version: int | None
    xml: bytes
    updated_at: datetime


def _draft(row: ProcessDraft) -> Draft:
    return Draft(row.process_key, row.designer, row.filename, row.base_version, row.xml, row.updated_at)


class ProcessDrafts:
    def __init__(self, db: Database, clock: Clock, max_bytes: int) -> None:
        self.db = db
        self.clock = clock
        self.max_bytes = max_bytes

    def get(self, process_key: str, designer: str) -> Draft | None:
        with self.db.read() as session:
            row = session.scalar(
                select(ProcessDraft).where(ProcessDraft.process_key == process_key, ProcessDraft.designer == designer)
            )
            return _draft(row) if row is not None else None

    def save(self, process_key: str, designer: str, filename: str, xml: bytes, base_version: int | None) -> Draft:
        """Keep ``xml`` as the designer's draft of the process (replacing the previous one)."""
        if len(process_key) > MAX_KEY or not filename or len(filename) > MAX_FILENAME:
            raise InvalidRequest("a draft needs a process key of at most 200 and a file name of at most 300 characters")
        if not xml.strip() or len(xml) > self.max_bytes:
            raise InvalidRequest(f"a draft holds 1 to {self.max_bytes} bytes of XML")
        for attempt in range(2):  # two designers' first saves cannot collide; one designer's two tabs can
            try:
                with self.db.write() as session:
                    row = session.scalar(
                        select(ProcessDraft).where(
                            ProcessDraft.process_key == process_key, ProcessDraft.designer == designer
                        )
                    )
                    if row is None:
                        row = ProcessDraft(process_key=process_key, designer=designer)
                        session.add(row)
                    row.filename, row.xml, row.base_version = filename, xml, base_version
                    row.updated_at = self.clock.now()
                    session.flush()
                    return _draft(row)
            except IntegrityError:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def discard(self, process_key: str, designer: str) -> bool:
        """Forget the draft; False when there was none."""
        with self.db.write() as session:
            result = session.execute(
                delete(ProcessDraft).where(ProcessDraft.process_key == process_key, ProcessDraft.designer == designer)
            )
            return result.rowcount > 0
