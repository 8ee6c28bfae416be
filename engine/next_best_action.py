"""The next best action for a customer: a DMN decision table the designer owns suggests what to offer or do.

The table is ``next_best_action.dmn``, deployed like any other process file (the newest deployed
file of that name counts; without one, nothing is suggested). It reads the customer's profile
(:func:`profile`, from :mod:`engine.customer_insight`) and answers ``action``, ``reason``,
``process_key`` (the process to start when staff accept) and optionally ``item_id`` (a catalog item,
for ``product_order``). The table's expressions run in the engine's sandboxed script engine, as in
a business rule task; a table that fails on a profile suggests nothing and is logged.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.dmn.parser.BpmnDmnParser import BpmnDmnParser
from sqlalchemy.orm import Session

from engine import customer_insight
from engine.bpmn import SourceFile, read_xml
from engine.db import Database
from engine.decision_sources import current_dmn
from process_library.store import Customer

log = logging.getLogger(__name__)
FILENAME = "next_best_action.dmn"
DECISION_ID = "next_best_action"
MAX_TEXT = 500  # an action or reason longer than this is cut


@dataclass(frozen=True)
class Suggestion:
    action: str
    reason: str
    process_key: str
    item_id: str | None

    def variables(self, customer_id: str) -> dict:
        """The start variables of the process it names: the customer, and the catalog item with quantity 1."""
        variables: dict = {"customer_id": customer_id, "subject": self.action}
        if self.item_id:
            variables |= {"item_id": self.item_id, "quantity": 1}
        return variables

    def as_dict(self) -> dict:
        return {"action": self.action, "reason": self.reason, "process_key": self.process_key, "item_id": self.item_id}


def profile(session: Session, customer_id: str, now: datetime) -> dict | None:
    """What the table reads about a customer; None for an unknown customer."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return None
    insight = customer_insight.of_customer(session, customer_id, now)
    problems = customer_insight.repeated_problems(session, now, customer_id=customer_id)
    return {
        "tier": customer.tier,
        "expiring_licenses": insight["licenses"]["expiring_soon"],
        "current_licenses": insight["licenses"]["current"],
        "systems": insight["systems"],
        "open_requests": insight["requests"]["open"],
        "repeated_problems": len(problems),
        "contacts_90_days": insight["contacts"]["last_90_days"],
    }


class NextBestAction:
    """Evaluates the deployed table; the parsed table is kept per file content."""

    def __init__(self, db: Database, script_engine) -> None:
        self.db = db
        self.script_engine = script_engine
        self._tables: dict[str, DMNEngine] = {}
        self._lock = threading.Lock()

    def _table(self) -> DMNEngine | None:
        content = current_dmn(self.db, FILENAME)
        if content is None:
            return None
        digest = hashlib.sha256(content).hexdigest()
        with self._lock:
            table = self._tables.get(digest)
            if table is None:
                parser = BpmnDmnParser()
                parser.add_dmn_xml(read_xml(SourceFile(FILENAME, content)).getroot(), filename=FILENAME)
                table = parser.get_engine(DECISION_ID, None)
                self._tables = {digest: table}  # only the newest file is ever asked
        return table

    def suggest(self, data: dict) -> Suggestion | None:
        """The first matching rule's suggestion for this profile, or None (no table, no rule, or a failing table)."""
        try:
            table = self._table()
            if table is None:
                return None
            task = SimpleNamespace(data=dict(data), workflow=SimpleNamespace(script_engine=self.script_engine))
            result = table.result(task)
        except Exception:  # the designer's table: a broken one must not take the customer page down
            log.exception("the next-best-action table failed on a profile")
            return None
        action, process_key = result.get("action"), result.get("process_key")
        if not isinstance(action, str) or not action or not isinstance(process_key, str) or not process_key:
            return None
        reason, item = result.get("reason"), result.get("item_id")
        return Suggestion(
            action[:MAX_TEXT],
            reason[:MAX_TEXT] if isinstance(reason, str) else "",
            process_key,
            item if isinstance(item, str) and item else None,
        )
