"""The operations of the self-service processes: account changes (``account_change``) and orders (``product_order``).

Each writes the store in one transaction, keyed so that a repeated call (a retry, a worker that
died) changes nothing twice: a change request's rows are keyed by the call and field, an order by
the call; applying, rejecting and fulfilling move those rows on and answer the same when called again.

Four eyes: the approval task of both processes names the requester in ``excluded_users``, so the
engine never lets them decide; applying an approved change or order checks it again (the approver
is whoever completed the task named by ``approval_task``) and stops with an incident otherwise.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import contacts
from engine.models import HumanTask
from process_library import account_changes, orders
from process_library.registry import BpmnError, OperationContext, operation
from process_library.store import CatalogItem, Customer, CustomerChange, Order, by_idempotency_key, license_dict

DEFAULT_CHANNEL = "web"
MAX_REASON = 2000


def _approver(session: Session, instance_id: int, approval_task: str | None) -> str | None:
    """Who completed the instance's task ``approval_task`` last (None without one); ValueError if nobody did."""
    if approval_task is None:
        return None
    found = session.scalar(
        select(HumanTask.completed_by)
        .where(
            HumanTask.instance_id == instance_id,
            HumanTask.element_id == approval_task,
            HumanTask.status == "completed",
        )
        .order_by(HumanTask.id.desc())
        .limit(1)
    )
    if not found:
        raise ValueError(f"task '{approval_task}' of this instance was never completed: nobody approved")
    return found


def _four_eyes(approver: str | None, requested_by: str) -> None:
    if approver is not None and approver == requested_by:
        raise ValueError(f"{approver} requested this and approved it too: someone else must approve it")


def _channel(channel: str | None) -> str:
    channel = channel or DEFAULT_CHANNEL
    if channel not in contacts.CHANNELS:
        raise BpmnError("invalid_request", f"unknown channel '{channel}' (channels: {', '.join(contacts.CHANNELS)})")
    return channel


def _reason(reason: object) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("a refusal needs a reason the customer can read")
    return reason.strip()[:MAX_REASON]


def _problems_text(problems: dict[str, str]) -> str:
    return "; ".join(f"{field}: {message}" for field, message in problems.items())


# -- account changes -----------------------------------------------------------------------------


def _rows_of_call(session: Session, context: OperationContext) -> list[CustomerChange]:
    prefix = context.idempotency_key + ":"
    return [
        row
        for row in account_changes.of_instance(session, context.instance_id)
        if row.idempotency_key.startswith(prefix)
    ]


def _change_result(customer: Customer, rows: list[CustomerChange]) -> dict:
    now = [row for row in rows if not account_changes.FIELDS[row.field].sensitive]
    later = [row for row in rows if account_changes.FIELDS[row.field].sensitive]
    review = {f"review_{name}": None for name in account_changes.SENSITIVE}
    for row in later:
        before = account_changes.shown(row.field, row.before)
        review[f"review_{row.field}"] = f"{before} → {account_changes.shown(row.field, row.after)}"
    return {
        "customer": {"name": customer.name, "email": customer.email, "language": customer.language},
        "apply_now": [row.field for row in now],
        "for_approval": [row.field for row in later],
        "applies_now": bool(now),
        "needs_approval": bool(later),
        "requested": account_changes.summary([(row.field, row.before, row.after) for row in rows]),
        "now": account_changes.summary([(row.field, row.before, row.after) for row in now]),
        "pending": account_changes.summary([(row.field, row.before, row.after) for row in later]),
        "review": review,
    }


@operation(
    customer_id="The customer whose account data changes.",
    changes="The fields to change and their new values, e.g. {'phone': '+49 40 1234', 'email': 'new@example.com'}.",
    requested_by="Who asks: customer:<id> for the customer themselves, else the staff member's user name.",
    channel="Where the request came in (web, phone, email, letter, visit, chat); default web.",
)
def check_account_change(
    context: OperationContext, *, customer_id: str, changes: dict, requested_by: str, channel: str | None = None
) -> dict:
    """Check a change of account data and record it as requested: which fields apply at once, which need approval.

    BPMN error ``invalid_change`` for an unknown customer, a field that cannot be changed, a bad value
    or a request that changes nothing. The request is an inbound contact of the customer.
    """
    channel = _channel(channel)
    with context.db.read() as session:
        rows = _rows_of_call(session, context)
        if rows:
            return _change_result(session.get(Customer, customer_id), rows)
    now = context.clock.now()
    try:
        with context.db.write() as session:
            customer = session.get(Customer, customer_id)
            normalized, problems = account_changes.check(customer, changes)
            if problems:
                raise BpmnError("invalid_change", _problems_text(problems), {"problems": problems})
            rows = account_changes.request(
                session,
                key=context.idempotency_key,
                customer=customer,
                instance_id=context.instance_id,
                changes=normalized,
                requested_by=requested_by,
                channel=channel,
                at=now,
            )
            contacts.record(
                session,
                customer_id=customer.id,
                instance_id=context.instance_id,
                channel=channel,
                direction="in",
                subject="Change of account data",
                text=account_changes.summary([(row.field, row.before, row.after) for row in rows])["en"],
                recorded_by=requested_by,
                at=now,
            )
            return _change_result(customer, rows)
    except IntegrityError:  # another try of the same call wrote the rows first
        with context.db.read() as session:
            rows = _rows_of_call(session, context)
            if not rows:
                raise
            return _change_result(session.get(Customer, customer_id), rows)


def _requested_rows(session: Session, context: OperationContext, fields: list) -> list[CustomerChange]:
    if not isinstance(fields, list) or not fields:
        raise ValueError("fields must name at least one field of the request")
    rows = [row for row in account_changes.of_instance(session, context.instance_id) if row.field in fields]
    missing = sorted(set(fields) - {row.field for row in rows})
    if missing:
        raise ValueError(f"this instance requested no change of {', '.join(missing)}")
    return rows


@operation(
    customer_id="The customer whose account data changes.",
    fields="The fields of the checked request to apply (check_account_change's apply_now or for_approval).",
    approval_task="The id of the user task that approved them, if any: its completer is recorded as the approver.",
)
def apply_account_change(
    context: OperationContext, *, customer_id: str, fields: list, approval_task: str | None = None
) -> dict:
    """Write requested account changes to the customer store, each with before and after in the customer's history."""
    with context.db.write() as session:
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise BpmnError("unknown_customer", f"no customer '{customer_id}'")
        rows = _requested_rows(session, context, fields)
        approver = _approver(session, context.instance_id, approval_task)
        for row in rows:
            _four_eyes(approver, row.requested_by)
        account_changes.apply(session, customer, rows, approver, context.clock.now())
        email = next((row for row in rows if row.field == "email" and row.status == "applied"), None)
        return {
            "applied": {row.field: {"before": row.before, "after": row.after} for row in rows},
            "text": account_changes.summary([(row.field, row.before, row.after) for row in rows]),
            "email_changed": email is not None and email.before != email.after,
            "previous_email": email.before if email is not None else None,
            "approved_by": approver,
        }


@operation(
    fields="The fields of the checked request that are refused.",
    reason="Why: the customer reads it.",
    approval_task="The id of the user task that refused them: its completer is recorded as who decided.",
)
def reject_account_change(
    context: OperationContext, *, fields: list, reason: str, approval_task: str | None = None
) -> dict:
    """Record requested account changes as refused, with the reason, in the customer's history."""
    reason = _reason(reason)
    with context.db.write() as session:
        rows = _requested_rows(session, context, fields)
        approver = _approver(session, context.instance_id, approval_task)
        account_changes.reject(rows, approver, reason, context.clock.now())
        return {
            "rejected": [row.field for row in rows],
            "text": account_changes.summary([(row.field, row.before, row.after) for row in rows]),
            "reason": reason,
        }


# -- orders --------------------------------------------------------------------------------------


def _order_result(session: Session, order: Order, now) -> dict:
    customer = session.get(Customer, order.customer_id)
    item = session.get(CatalogItem, order.item_id)
    change = orders.license_change(session, order.customer_id, item, order.quantity, now) if item else None
    return {**orders.order_dict(order), "tier": customer.tier if customer else "standard", "license_change": change}


@operation(
    customer_id="The customer who orders.",
    item_id="The catalog item ordered.",
    quantity="How many terms of a license or add-on (an upgrade: 1).",
    requested_by="Who orders: customer:<id> for the customer themselves, else the staff member's user name.",
    channel="Where the order came in (web, phone, email, letter, visit, chat); default web.",
)
def check_order(
    context: OperationContext,
    *,
    customer_id: str,
    item_id: str,
    quantity: int,
    requested_by: str,
    channel: str | None = None,
) -> dict:
    """Check an order against the catalog and the customer's licenses, price it and record it (status placed).

    BPMN error ``invalid_order`` for an unknown customer or item, a bad quantity, a license held
    already, an add-on without its base license or an upgrade to no higher level. The customer's
    ``tier`` comes with the result, for the approval decision. The order is an inbound contact.
    """
    channel = _channel(channel)
    key = context.idempotency_key
    with context.db.read() as session:
        order = by_idempotency_key(session, Order, key)
        if order is not None:
            return _order_result(session, order, context.clock.now())
    now = context.clock.now()
    try:
        with context.db.write() as session:
            customer = session.get(Customer, customer_id)
            item, problems = orders.check(session, customer, item_id, quantity, now)
            if problems:
                raise BpmnError("invalid_order", _problems_text(problems), {"problems": problems})
            order = orders.new_order(
                key=key,
                item=item,
                customer=customer,
                instance_id=context.instance_id,
                quantity=quantity,
                channel=channel,
                requested_by=requested_by,
                at=now,
            )
            session.add(order)
            session.flush()
            contacts.record(
                session,
                customer_id=customer.id,
                instance_id=context.instance_id,
                channel=channel,
                direction="in",
                subject=f"Order: {item.name}",
                text=f"{quantity} × {item.name} ({item.id}): {orders.order_dict(order)['amount_text']}",
                recorded_by=requested_by,
                at=now,
            )
            return _order_result(session, order, context.clock.now())
    except IntegrityError:  # another try of the same call wrote it first
        with context.db.read() as session:
            order = by_idempotency_key(session, Order, key)
            if order is None:
                raise
            return _order_result(session, order, context.clock.now())


def _order(session: Session, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None:
        raise ValueError(f"no order {order_id}")
    return order


@operation(
    order_id="The order (check_order's order_id).",
    reason="Why it is refused: the customer reads it.",
    approval_task="The id of the user task that refused it: its completer is recorded as who decided.",
)
def reject_order(context: OperationContext, *, order_id: int, reason: str, approval_task: str | None = None) -> dict:
    """Record an order as refused, with the reason."""
    reason = _reason(reason)
    with context.db.write() as session:
        order = _order(session, order_id)
        if order.status == "placed":
            order.status, order.reason = "rejected", reason
            order.decided_by = _approver(session, context.instance_id, approval_task)
            order.decided_at = context.clock.now()
        return _order_result(session, order, context.clock.now())


@operation(
    order_id="The order (check_order's order_id).",
    approval_task="The id of the user task that approved it, if any: its completer is recorded as the approver.",
)
def fulfil_order(context: OperationContext, *, order_id: int, approval_task: str | None = None) -> dict:
    """Create the license the order buys (or extend the one held meanwhile), or upgrade the customer's license."""
    with context.db.write() as session:
        order = _order(session, order_id)
        if order.status == "rejected":
            raise ValueError(f"order {order_id} was refused; it cannot be fulfilled")
        approver = _approver(session, context.instance_id, approval_task)
        _four_eyes(approver, order.requested_by)
        if order.status == "placed":
            order.decided_by, order.decided_at = approver, context.clock.now()
        try:
            license_ = orders.fulfil(session, order, context.clock.now())
        except orders.CannotFulfil as problem:
            raise ValueError(f"{problem}: agree with the customer, then cancel or retry") from None
        return {**_order_result(session, order, context.clock.now()), "license": license_dict(license_)}
