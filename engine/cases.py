"""What staff see of one case before they act on it: who the customer is, where the case stands, the conversation.

One read loads the instance's workflow once and returns plain values by name: the process's title
rather than its key, the customer's name rather than their id, the stage's label in the viewer's
language, and the conversation (:mod:`engine.conversation`). Tracking codes stay out: staff work
with the case reference.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import conversation, state
from engine.db import Database
from engine.execution import Executor
from engine.models import CustomerStatus, ProcessInstance, User
from engine.repository import Repository
from engine.runtime import visible_data
from engine.views import iso
from engine.visibility import TaskScope, visible_instance
from process_library.store import Customer

# Variables the conversation already shows (the customer's words, who they are): not repeated as case data.
CONVERSATION_VARIABLES = frozenset(
    ("inquiry", "subject", "body", "text", "message", "reply", "last_reply")
    + ("channel", "customer", "customer_id", "customer_name")
)


class Cases:
    def __init__(self, db: Database, repository: Repository, executor: Executor) -> None:
        self.db = db
        self.repository = repository
        self.executor = executor

    def summary(self, instance_id: int, scope: TaskScope | None = None, language: str = "en") -> dict:
        """The case ``instance_id`` for staff, model texts in ``language``; 404 if none, 403 outside ``scope``."""
        with self.db.read() as session:
            row = visible_instance(session, instance_id, scope)
            definition = self.repository.load(row.definition_id)
            workflow = state.load(row.state, definition.spec, definition.subprocess_specs, self.executor.script_engine)
            data = visible_data(workflow)
            status = session.get(CustomerStatus, row.id)
            texts = self.repository.texts.of_definition(row.definition_id)  # the catalogs shipped with the model

            def translate(text: str) -> str:
                return texts.text(language, text)

            stage = None
            if status is not None and status.stage:
                known = definition.customer.stage(status.stage)
                stage = texts.get(language, status.stage) or (known.label(language) if known else status.stage)
            customer = _customer(session, row, data)
            name = customer["name"] if customer else None
            names = display_names(session)
            talk = conversation.contacts(session, row.id, name, names)
            if not any(turn["side"] == conversation.CUSTOMER for turn in talk):
                talk += conversation.first_words(row, data, name) + conversation.replies(session, row.id, name)
            talk += conversation.answers(session, row, workflow, definition, name, names, translate)
            talk.sort(key=lambda turn: turn["at"])  # stable: same-time turns keep their order
            return {
                "instance": {
                    "id": row.id,
                    "definition_id": row.definition_id,
                    "tracking_code": row.tracking_code,  # for the page to hide where a value holds it
                    "reference": row.reference,
                    "status": row.status,
                    "process_key": row.process_key,
                    "version": row.definition_version,
                    "channel": row.channel,
                    "started_at": iso(row.started_at),
                },
                "title": translate(definition.name or row.process_key),
                "stage": stage,
                "customer": customer,
                "conversation": [{**turn, "at": iso(turn["at"])} for turn in talk],
                "details": [
                    {"name": key, "value": conversation.plain(value)}
                    for key, value in sorted(data.items())
                    if key not in CONVERSATION_VARIABLES and value not in (None, "", [], {})
                ],
            }

    def customer_names(self, customer_ids: list[str]) -> dict[str, str]:
        """The names of the customers of the store among ``customer_ids`` (others are left out)."""
        wanted = sorted({i for i in customer_ids if i})
        if not wanted:
            return {}
        with self.db.read() as session:
            return dict(session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(wanted))).all())

    def people_names(self, usernames: list[str | None]) -> dict[str, str]:
        """User name -> display name, for the users among ``usernames``."""
        wanted = sorted({name for name in usernames if name})
        if not wanted:
            return {}
        with self.db.read() as session:
            return display_names(session, wanted)

    def process_titles(self) -> dict[str, str]:
        """Process key -> the name of its latest version, for lists that show processes by name."""
        return {d.key: d.name or d.key for d in self.repository.latest_definitions()}


def display_names(session: Session, usernames: list[str] | None = None) -> dict[str, str]:
    """User name -> the name people know them by (of every user, or of those in ``usernames``)."""
    query = select(User.username, User.display_name)
    if usernames is not None:
        query = query.where(User.username.in_(usernames))
    rows = session.execute(query)
    return {username: shown or username for username, shown in rows}


def _customer(session: Session, row: ProcessInstance, data: dict) -> dict | None:
    """The case's customer by name: from the customer store, else as they gave it (a contact not yet known)."""
    if not row.customer_id:
        return None
    known = session.get(Customer, row.customer_id)
    if known is not None:
        return {"id": row.customer_id, "name": known.name, "known": True}
    inquiry = data.get("inquiry") if isinstance(data.get("inquiry"), dict) else {}
    given = inquiry.get("customer") if isinstance(inquiry.get("customer"), dict) else {}
    name = data.get("customer_name") or given.get("name")
    return {"id": row.customer_id, "name": name if isinstance(name, str) and name else row.customer_id, "known": False}
