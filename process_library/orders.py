"""Online orders from the catalog: what a customer may order, what it costs, and the license it gives them.

The catalog (``catalog_items``, imported from CSV like customers and licenses) lists three kinds of
item, all of them licenses in the store in the end:

- ``license``: a new product's license at a level, for ``term_months`` per quantity ordered;
- ``addon``: the same for an add-on product, which needs a valid license of its base (``requires``);
- ``upgrade``: a higher level of a license the customer holds; ordered once, its validity unchanged.

Process ``product_order`` checks an order (:func:`check`), lets a decision table say whether sales
approves it (customer tier and amount), and fulfils it (:func:`fulfil`): the license is created, or
extended when the customer meanwhile holds one of that product, or upgraded.  The new license is
``active``, so license renewal (the daily sweep) picks it up a month before it ends.
"""

from __future__ import annotations

import calendar
import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from process_library.account_changes import UNKNOWN_CUSTOMER
from process_library.store import CatalogItem, Customer, License, Order, find_licenses, level_rank

MAX_QUANTITY = 10
CENT = Decimal("0.01")

# Field-level messages: English page texts, translated by api/translations/*/LC_MESSAGES/selfservice.po.
UNKNOWN_ITEM = "This is not in our catalog."
BAD_QUANTITY = "Order a whole number from 1 to 10."
UPGRADE_ONCE = "An upgrade is ordered once."
LICENSED_ALREADY = "You hold a valid license of this product already: order an upgrade, or renew it."
NOTHING_TO_UPGRADE = "You hold no valid license of this product to upgrade."
HIGH_ENOUGH = "Your license is at this level or higher already."
NEEDS_BASE = "This add-on needs a valid license of its product."


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus whole calendar months (the 31st becomes the month's last day where it has fewer)."""
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def item_dict(item: CatalogItem) -> dict:
    return {
        "id": item.id,
        "name": item.name,
        "kind": item.kind,
        "product": item.product,
        "level": item.level,
        "requires": item.requires,
        "price": str(item.price.quantize(CENT)),
        "currency": item.currency,
        "term_months": item.term_months,
    }


def catalog(session: Session) -> list[dict]:
    """Every item, by kind then name (for an order form)."""
    return [
        item_dict(item) for item in session.scalars(select(CatalogItem).order_by(CatalogItem.kind, CatalogItem.name))
    ]


def _upgradable(session: Session, customer_id: str, product: str, now: datetime) -> list[License]:
    return find_licenses(session, now, customer_id=customer_id, product=product)


def check(
    session: Session, customer: Customer | None, item_id: Any, quantity: Any, now: datetime
) -> tuple[CatalogItem | None, dict[str, str]]:
    """The item, and the problems by field (``customer``, ``item``, ``quantity``); no problems: it may be ordered."""
    if customer is None:
        return None, {"customer": UNKNOWN_CUSTOMER}
    item = session.get(CatalogItem, item_id) if isinstance(item_id, str) and item_id else None
    problems: dict[str, str] = {}
    if item is None:
        problems["item"] = UNKNOWN_ITEM
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        problems["quantity"] = BAD_QUANTITY
    elif item is not None and item.kind == "upgrade" and quantity != 1:
        problems["quantity"] = UPGRADE_ONCE
    if item is None:
        return None, problems
    held = _upgradable(session, customer.id, item.product, now)
    if item.kind in ("license", "addon") and held:
        problems["item"] = LICENSED_ALREADY
    elif item.kind == "addon" and not _upgradable(session, customer.id, item.requires or "", now):
        problems["item"] = NEEDS_BASE
    elif item.kind == "upgrade":
        if not held:
            problems["item"] = NOTHING_TO_UPGRADE
        elif all(level_rank(license_.level) >= level_rank(item.level) for license_ in held):
            problems["item"] = HIGH_ENOUGH
    return item, problems


def _license_text(license_: License) -> str:
    return f"{license_.product} {license_.level}, valid until {license_.valid_until.date().isoformat()} ({license_.id})"


def license_change(session: Session, customer_id: str, item: CatalogItem, quantity: int, now: datetime) -> str:
    """What the order does to the customer's licenses of its product, ``now → after``, for the approver."""
    held = _upgradable(session, customer_id, item.product, now)
    before = "; ".join(_license_text(license_) for license_ in held) or "—"
    if item.kind == "upgrade" and held:
        target = held[-1]
        after = f"{item.product} {item.level}, valid until {target.valid_until.date().isoformat()} ({target.id})"
    else:
        after = f"{item.product} {item.level}, {quantity * (item.term_months or 12)} months from approval"
    return f"{before} → {after}"


def amount(item: CatalogItem, quantity: int) -> Decimal:
    return (item.price * quantity).quantize(CENT)


def new_order(
    *,
    key: str,
    item: CatalogItem,
    customer: Customer,
    instance_id: int,
    quantity: int,
    channel: str | None,
    requested_by: str,
    at: datetime,
) -> Order:
    return Order(
        idempotency_key=key,
        instance_id=instance_id,
        customer_id=customer.id,
        item_id=item.id,
        item_name=item.name,
        kind=item.kind,
        product=item.product,
        level=item.level,
        quantity=quantity,
        term_months=item.term_months,
        amount=amount(item, quantity),
        currency=item.currency,
        status="placed",
        channel=channel,
        requested_by=requested_by,
        created_at=at,
    )


def order_dict(order: Order) -> dict:
    return {
        "order_id": order.id,
        "item_id": order.item_id,
        "item_name": order.item_name,
        "kind": order.kind,
        "product": order.product,
        "level": order.level,
        "quantity": order.quantity,
        "amount": float(order.amount),
        "amount_text": f"{order.amount.quantize(CENT)} {order.currency}",
        "currency": order.currency,
        "status": order.status,
        "reason": order.reason,
        "license_id": order.license_id,
    }


def _new_license_id(session: Session) -> str:
    alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
    for _ in range(10):
        candidate = "L-" + "".join(secrets.choice(alphabet) for _ in range(8))
        if session.get(License, candidate) is None:
            return candidate
    raise RuntimeError("no unused license id found")  # 31**8 ids: never in practice


class CannotFulfil(Exception):
    """The order can no longer be fulfilled as placed (the license to upgrade ended meanwhile): staff decide."""


def fulfil(session: Session, order: Order, now: datetime) -> License:
    """Create, extend or upgrade the license the order buys (once: a fulfilled order returns its license)."""
    if order.status == "fulfilled" and order.license_id:
        return session.get(License, order.license_id)
    held = _upgradable(session, order.customer_id, order.product, now)
    if order.kind == "upgrade":
        lower = [license_ for license_ in held if level_rank(license_.level) < level_rank(order.level)]
        if not lower and not held:
            raise CannotFulfil(f"customer {order.customer_id} holds no valid {order.product} license to upgrade")
        target = (lower or held)[-1]  # the one valid longest
        if level_rank(target.level) < level_rank(order.level):
            target.level = order.level
    elif held:  # licensed meanwhile (another order, a renewal): the order buys more time on that license
        target = held[-1]
        target.valid_until = add_months(max(target.valid_until, now), order.quantity * (order.term_months or 12))
    else:
        target = License(
            id=_new_license_id(session),
            customer_id=order.customer_id,
            product=order.product,
            level=order.level,
            valid_until=add_months(now, order.quantity * (order.term_months or 12)),
            status="active",
        )
        session.add(target)
    order.status, order.license_id = "fulfilled", target.id
    session.flush()
    return target
