"""What *My account* in the customer portal shows: one customer's record, contacts, systems, licenses and requests.

Everything is read by the signed-in customer's id and nothing else: their row of the store, their
systems and licenses, the contacts filed under them or their cases, and the customer status rows
of their requests (the read model of :mod:`engine.status`: titles, stages, statuses, tracking
codes; never a variable, a staff name or an internal note). A request someone sent from the web
form with their address shows only once they (or staff) filed it under them.

Self-service adds the customer's account changes (``customer_changes``: field, before, after, waiting or
done) and orders (``orders``), each with the case that carries it, and the two answer pages of the
portal's forms (:func:`change_request`, :func:`order_request`): one request of the customer, found by
its case reference and the customer's id together, so a reference of someone else's case finds nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import contacts, status
from engine.models import CustomerStatus, HumanTask, ProcessInstance
from process_library import account_changes
from process_library.store import Customer, CustomerChange, License, Order, customer_view

# Account data the customer keeps up to date (process account_change): shown when the store has the column.
ACCOUNT_DATA = ("contact_person", "address", "billing_address", "preferred_channel", "authorized_contacts")
MAX_REQUESTS = 200  # the newest this many requests are listed
MAX_CONTACTS = 20  # the newest this many contacts are listed
MAX_CHANGES = 50  # the newest this many account changes are listed
MAX_ORDERS = 50  # the newest this many orders are listed
ABOUT_FIELDS = ("subject", "product")  # the whitelisted fields that say what a request is about, first found
ABOUT_LENGTH = 80
ACCOUNT_CHANGE, PRODUCT_ORDER = "account_change", "product_order"  # the processes of the portal's forms
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
        **_changes(session, customer_id),
        "orders": _orders(session, customer_id, MAX_ORDERS),
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
                "about": _about(row.fields or {}),
                "reference": row.reference,
                "status": row.status,
                "stage": status.stage_label(repository, definition_id, row.stage, language),
                "code": row.tracking_code,
                "started_at": row.started_at.isoformat(),
                "updated_at": row.updated_at.isoformat(),
            }
        )
    return found


def _about(fields: dict) -> str | None:
    """What a request is about, to tell the customer's requests apart: the subject, else the product, of the fields
    the process shows them (``customer_fields``); None if it shows neither."""
    for name in ABOUT_FIELDS:
        if isinstance(fields.get(name), str) and fields[name].strip():
            return fields[name].strip()[:ABOUT_LENGTH]
    return None


def _case(row: CustomerStatus | None) -> dict | None:
    """The case that carries a change or an order, as a link to its status page (None: purged)."""
    if row is None:
        return None
    return {"reference": row.reference, "code": row.tracking_code, "status": row.status}


def _change(row: CustomerChange, case: CustomerStatus | None) -> dict:
    """One change of one field, for the customer: no staff name, the reason of a refusal (they were mailed it)."""
    return {
        "field": row.field,
        "before": row.before,
        "after": row.after,
        "status": row.status,
        "sensitive": row.field in account_changes.SENSITIVE,  # waits for approval while requested
        "reason": row.reason if row.status == "rejected" else None,
        "requested_at": row.requested_at.isoformat(),
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "case": _case(case),
    }


def _changes(session: Session, customer_id: str) -> dict:
    """The customer's account changes, newest first, apart: still waiting (``pending``) and ``done``."""
    rows = session.execute(
        select(CustomerChange, CustomerStatus)
        .outerjoin(
            CustomerStatus,
            (CustomerStatus.instance_id == CustomerChange.instance_id) & (CustomerStatus.customer_id == customer_id),
        )
        .where(CustomerChange.customer_id == customer_id)
        .order_by(CustomerChange.id.desc())
        .limit(MAX_CHANGES)
    )
    changes = [_change(row, case) for row, case in rows]
    return {
        "pending_changes": [c for c in changes if c["status"] == "requested"],
        "done_changes": [c for c in changes if c["status"] != "requested"],
    }


def _orders(session: Session, customer_id: str, limit: int, instance_id: int | None = None) -> list[dict]:
    """The customer's orders, newest first (or the one of ``instance_id``), each with its case."""
    query = (
        select(Order, CustomerStatus)
        .outerjoin(
            CustomerStatus,
            (CustomerStatus.instance_id == Order.instance_id) & (CustomerStatus.customer_id == customer_id),
        )
        .where(Order.customer_id == customer_id)
        .order_by(Order.id.desc())
        .limit(limit)
    )
    if instance_id is not None:
        query = query.where(Order.instance_id == instance_id)
    rows = session.execute(query).all()
    waiting = _waiting_for_staff(session, [order.instance_id for order, _case in rows])
    return [_order(order, case, order.instance_id in waiting) for order, case in rows]


def _waiting_for_staff(session: Session, instance_ids: list[int]) -> set[int]:
    """Which of these instances wait on a colleague: an open task not in the customer's lane (an approval)."""
    if not instance_ids:
        return set()
    return set(
        session.scalars(
            select(HumanTask.instance_id).where(
                HumanTask.instance_id.in_(instance_ids),
                HumanTask.status == "open",
                HumanTask.lane.is_(None) | (HumanTask.lane != "customer"),
            )
        )
    )


def _order(order: Order, case: CustomerStatus | None, waits_for_approval: bool) -> dict:
    return {
        "item_id": order.item_id,
        "item_name": order.item_name,
        "kind": order.kind,
        "product": order.product,
        "level": order.level,
        "quantity": order.quantity,
        "term_months": order.term_months,
        "amount": f"{order.amount:.2f}",
        "currency": order.currency,
        "status": order.status,  # placed, fulfilled, rejected
        "waits_for_approval": order.status == "placed" and waits_for_approval,
        "reason": order.reason if order.status == "rejected" else None,
        "license_id": order.license_id,
        "created_at": order.created_at.isoformat(),
        "case": _case(case),
    }


def _own_case(session: Session, customer_id: str, reference: str, process_key: str) -> CustomerStatus | None:
    """The status row of the customer's own case with this reference and process; None for anyone else's."""
    return session.scalar(
        select(CustomerStatus).where(
            CustomerStatus.reference == reference,
            CustomerStatus.customer_id == customer_id,
            CustomerStatus.process_key == process_key,
        )
    )


def _request_view(session: Session, repository, case: CustomerStatus, language: str) -> dict:
    definition_id = session.scalar(select(ProcessInstance.definition_id).where(ProcessInstance.id == case.instance_id))
    return {
        "reference": case.reference,
        "code": case.tracking_code,
        "status": case.status,
        "closed": case.status in CLOSED,
        "stage": status.stage_label(repository, definition_id, case.stage, language) if definition_id else None,
        "waits_for_staff": case.instance_id in _waiting_for_staff(session, [case.instance_id]),  # an approval
        "updated_at": case.updated_at.isoformat(),
    }


def change_request(session: Session, repository, customer_id: str, reference: str, language: str) -> dict | None:
    """One account change request of the customer: its case and each field asked for; None if not theirs."""
    case = _own_case(session, customer_id, reference, ACCOUNT_CHANGE)
    if case is None:
        return None
    rows = session.scalars(
        select(CustomerChange)
        .where(CustomerChange.instance_id == case.instance_id, CustomerChange.customer_id == customer_id)
        .order_by(CustomerChange.id)
    )
    changes = [_change(row, case) for row in rows]
    return {
        **_request_view(session, repository, case, language),
        "now": [c for c in changes if not c["sensitive"]],
        "approval": [c for c in changes if c["sensitive"]],
        "checked": bool(changes),  # the process has checked and recorded the request
    }


def order_request(session: Session, repository, customer_id: str, reference: str, language: str) -> dict | None:
    """One order of the customer: its case, the order once recorded and the license it gave; None if not theirs."""
    case = _own_case(session, customer_id, reference, PRODUCT_ORDER)
    if case is None:
        return None
    found = _orders(session, customer_id, 1, case.instance_id)
    order = found[0] if found else None
    license_ = None
    if order and order["license_id"]:
        row = session.get(License, order["license_id"])
        if row is not None and row.customer_id == customer_id:
            license_ = {
                "id": row.id,
                "product": row.product,
                "level": row.level,
                "valid_until": row.valid_until.isoformat(),
            }
    return {**_request_view(session, repository, case, language), "order": order, "license": license_}
