"""What *My account* in the customer portal shows: one customer's record, contacts, systems, licenses and requests.

Everything is read by the signed-in customer's id and nothing else: their row of the store, their
systems and licenses, the contacts filed under them or their cases, and the customer status rows
of their requests (the read model of :mod:`engine.status`: titles, stages, statuses, tracking
codes; never a variable, a staff name or an internal note). A request someone sent from the web
form with their address shows only once they (or staff) filed it under them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import contacts, status
from engine.models import CustomerStatus, ProcessInstance
from process_library.store import Customer, customer_view

# Account data the customer keeps up to date (process account_change): shown when the store has the column.
ACCOUNT_DATA = ("contact_person", "address", "billing_address", "preferred_channel", "authorized_contacts")
MAX_REQUESTS = 200  # the newest this many requests are listed
MAX_CONTACTS = 20  # the newest this many contacts are listed
CLOSED = ("completed", "cancelled")


def account_of(session: Session, repository, customer_id: str, language: str, now: datetime) -> dict | None:
    """The account page's data for ``customer_id`` in ``language``; None if the store has no such customer."""
    record = customer_view(session, customer_id)
    if record is None:
        return None
    row = session.get(Customer, customer_id)
    account_data = {name: getattr(row, name, None) for name in ACCOUNT_DATA}
    for item in record["licenses"]:
        valid_until = datetime.fromisoformat(item["valid_until"])
        item["expired"] = item["status"] == "expired" or valid_until < now
    requests = _requests(session, repository, customer_id, language)
    contact_rows, _ = contacts.of_customer(session, customer_id, MAX_CONTACTS, None)
    return {
        "customer": {key: record[key] for key in ("id", "name", "email", "phone", "postcode", "language")},
        **account_data,
        "authorized_contacts": [c for c in account_data["authorized_contacts"] or [] if isinstance(c, dict)],
        "systems": record["systems"],
        "licenses": record["licenses"],
        "open_requests": [r for r in requests if r["status"] not in CLOSED],
        "closed_requests": [r for r in requests if r["status"] in CLOSED],
        "contacts": [
            {
                "created_at": c["created_at"],
                "channel": c["channel"],
                "direction": c["direction"],
                "subject": c["subject"],
                "reference": c["reference"],
            }
            for c in contact_rows
        ],
    }


def _requests(session: Session, repository, customer_id: str, language: str) -> list[dict]:
    """The customer's requests, newest first, with title and stage label in ``language``."""
    rows = session.execute(
        select(CustomerStatus, ProcessInstance.definition_id)
        .join(ProcessInstance, ProcessInstance.id == CustomerStatus.instance_id)
        .where(CustomerStatus.customer_id == customer_id)
        .order_by(CustomerStatus.instance_id.desc())
        .limit(MAX_REQUESTS)
    )
    found = []
    for row, definition_id in rows:
        texts = repository.texts.of_definition(definition_id)
        found.append(
            {
                "title": texts.text(language, row.title),
                "reference": row.reference,
                "status": row.status,
                "stage": status.stage_label(repository, definition_id, row.stage, language),
                "code": row.tracking_code,
                "started_at": row.started_at.isoformat(),
                "updated_at": row.updated_at.isoformat(),
            }
        )
    return found
