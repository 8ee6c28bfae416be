"""The small customer/system/license store the care operations read, and the rows they write.

Care processes need to know who a customer is (to address a notification), which systems run
which product (to dispatch an update) and which licenses are valid (to decide who gets it, and
to renew before they expire).  A real care center keeps this in a CRM; carecenter keeps a copy
in its own database, imported from CSV (``carecenter customers import``), so the processes run
without one.  The operations also write two tables here: ``dispatches`` (which update went to
which system) and ``outbox`` (mails and dispatch messages, each written once per idempotency
key before it is delivered, so a repeated call never sends twice).

Self-service adds three more: ``customer_changes`` (every change of a customer's account data, with
before and after, written by the account-change operations), ``catalog_items`` (what a customer can
order, imported from CSV like the rest) and ``orders`` (each order, keyed by the call that placed it).

The tables live on the engine's declarative base, so the engine's migrations create them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, Text, event, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine import phone_numbers
from engine.models import Base, JSONType

TIERS = ("standard", "premium")
LEVELS = ("basic", "pro", "enterprise")  # ascending: a higher level includes the lower ones
LICENSE_STATUSES = ("active", "renewing", "expired", "renewed")
# valid until their date: "renewing" marks a license whose renewal process runs (so no second one starts)
VALID_LICENSE_STATUSES = ("active", "renewing")
DISPATCH_STATUSES = ("dispatched", "confirmed", "failed")
PREFERRED_CHANNELS = ("email", "phone", "letter")  # how a customer wants to be contacted
CHANGE_STATUSES = ("requested", "applied", "rejected")
CATALOG_KINDS = ("license", "addon", "upgrade")  # a product's license, an add-on to one, a higher level of one
ORDER_STATUSES = ("placed", "rejected", "fulfilled")


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(300))
    tier: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(10))
    postcode: Mapped[str | None] = mapped_column(String(20))  # with a case reference, it opens the status page
    phone: Mapped[str | None] = mapped_column(String(50))  # as typed; staff find the caller by it
    # Account data the customer keeps up to date themselves (process account_change, docs/processes.md).
    contact_person: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(Text)  # postal address, lines; the postcode is its own column
    billing_address: Mapped[str | None] = mapped_column(Text)  # where invoices go; none: the postal address
    preferred_channel: Mapped[str | None] = mapped_column(String(20))  # one of PREFERRED_CHANNELS
    # People who may act for the customer: [{"name": ..., "email": ..., "phone": ...}]
    authorized_contacts: Mapped[list[Any] | None]
    # The phone number in E.164 (engine/phone_numbers.py), kept with ``phone`` on every write: calls find it.
    phone_e164: Mapped[str | None] = mapped_column(String(16), index=True)


@event.listens_for(Customer, "before_insert")
@event.listens_for(Customer, "before_update")
def _phone_in_e164(_mapper, _connection, customer: Customer) -> None:
    """However a customer row is written (import, intake, staff, tests), its E.164 number follows its phone."""
    customer.phone_e164 = phone_numbers.e164(customer.phone)


# Staff find customers by the beginning of their name, e-mail or id (process_library/customers.py). On
# PostgreSQL, migration 0014 creates these with COLLATE "C" (byte-wise), which Alembic does not compare.
Index("ix_customers_name_key", func.lower(Customer.name), Customer.id)
Index("ix_customers_email_key", func.lower(Customer.email))
Index("ix_customers_id_key", func.lower(Customer.id))


class System(Base):
    """An installation of one product at a customer's site."""

    __tablename__ = "systems"
    __table_args__ = (Index("ix_systems_product_customer", "product", "customer_id"),)

    id: Mapped[str] = mapped_column(String(50), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    product: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(50))
    hostname: Mapped[str] = mapped_column(String(300))


class License(Base):
    """A customer's right to a product at a level until a date."""

    __tablename__ = "licenses"
    __table_args__ = (
        Index("ix_licenses_customer_product", "customer_id", "product"),
        Index("ix_licenses_status_valid_until", "status", "valid_until"),
    )

    id: Mapped[str] = mapped_column(String(50), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    product: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(20))
    valid_until: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))


class Dispatch(Base):
    """One software update sent to one system by one service-task call (``idempotency_key``)."""

    __tablename__ = "dispatches"
    __table_args__ = (Index("ix_dispatches_system_id", "system_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    system_id: Mapped[str] = mapped_column(ForeignKey("systems.id"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    product: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))  # dispatched, confirmed, failed
    instance_id: Mapped[int] = mapped_column(Integer)  # no foreign key: the instance may be purged, the record stays
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]


class OutboxMessage(Base):
    """A mail or dispatch message, written once per call before delivery; ``held`` until it is sent."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # mail, dispatch
    recipient: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20))  # held (not sent yet), sent, failed (refused for good)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class CustomerChange(Base):
    """One field of a customer's account data changed (or asked to be): before, after, who asked, who decided.

    Written ``requested`` when a change request is checked (keyed by that call and the field), then
    ``applied`` (``before`` is the value the store held just before) or ``rejected`` with a reason.
    """

    __tablename__ = "customer_changes"
    __table_args__ = (
        Index("ix_customer_changes_customer_id", "customer_id", "id"),
        Index("ix_customer_changes_instance_id", "instance_id", "field"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    instance_id: Mapped[int] = mapped_column(Integer)  # no foreign key: the instance may be purged, the record stays
    field: Mapped[str] = mapped_column(String(50))
    before: Mapped[Any] = mapped_column(JSONType, nullable=True)
    after: Mapped[Any] = mapped_column(JSONType, nullable=True)
    status: Mapped[str] = mapped_column(String(20))  # requested, applied, rejected
    channel: Mapped[str | None] = mapped_column(String(20))
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(200))  # the approver; none: applied without approval
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)


class CatalogItem(Base):
    """Something a customer can order: a product's license, an add-on (a license needing another), an upgrade."""

    __tablename__ = "catalog_items"

    id: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # license, addon, upgrade
    product: Mapped[str] = mapped_column(String(100))  # the product whose license it creates or upgrades
    level: Mapped[str] = mapped_column(String(20))  # the level that license has afterwards
    requires: Mapped[str | None] = mapped_column(String(100))  # an add-on's base product (a valid license of it)
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))  # per term (license, add-on) or once (upgrade)
    currency: Mapped[str] = mapped_column(String(3))
    term_months: Mapped[int] = mapped_column(Integer)  # validity one quantity buys; 0 for an upgrade


class Order(Base):
    """One order of a catalog item, written once by the call that checked it (``idempotency_key``)."""

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_customer_id", "customer_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    instance_id: Mapped[int] = mapped_column(Integer)  # no foreign key: the instance may be purged, the record stays
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    item_id: Mapped[str] = mapped_column(String(50))  # no foreign key: the catalog changes, the order stays
    item_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    product: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[int] = mapped_column(Integer)
    term_months: Mapped[int] = mapped_column(Integer)  # as the catalog had it: validity per quantity
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))  # placed, rejected, fulfilled
    channel: Mapped[str | None] = mapped_column(String(20))
    requested_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    license_id: Mapped[str | None] = mapped_column(String(50))  # the license created or upgraded


Keyed = TypeVar("Keyed", Dispatch, OutboxMessage, CustomerChange, Order)


def level_rank(level: str) -> int:
    """The position of ``level`` in :data:`LEVELS`; ValueError names the levels for an unknown one."""
    if level not in LEVELS:
        raise ValueError(f"unknown license level '{level}' (levels: {', '.join(LEVELS)})")
    return LEVELS.index(level)


def levels_from(minimum: str | None) -> tuple[str, ...]:
    """The levels at least as high as ``minimum`` (all of them for None)."""
    return LEVELS if minimum is None else LEVELS[level_rank(minimum) :]


def customer_dict(customer: Customer) -> dict:
    return {
        "id": customer.id,
        "name": customer.name,
        "email": customer.email,
        "tier": customer.tier,
        "language": customer.language,
        "postcode": customer.postcode,
        "phone": customer.phone,
    }


def system_dict(system: System) -> dict:
    return {
        "id": system.id,
        "customer_id": system.customer_id,
        "product": system.product,
        "version": system.version,
        "hostname": system.hostname,
    }


def license_dict(license_: License) -> dict:
    return {
        "id": license_.id,
        "customer_id": license_.customer_id,
        "product": license_.product,
        "level": license_.level,
        "valid_until": license_.valid_until.isoformat(),
        "status": license_.status,
    }


def dispatch_dict(dispatch: Dispatch) -> dict:
    return {
        "dispatch_id": dispatch.id,
        "system_id": dispatch.system_id,
        "customer_id": dispatch.customer_id,
        "product": dispatch.product,
        "version": dispatch.version,
        "status": dispatch.status,
    }


def customer_view(session: Session, customer_id: str) -> dict | None:
    """The customer with their systems and licenses (by id), or None for an unknown id."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return None
    systems = session.scalars(select(System).where(System.customer_id == customer_id).order_by(System.id))
    licenses = session.scalars(select(License).where(License.customer_id == customer_id).order_by(License.id))
    return {
        **customer_dict(customer),
        "systems": [system_dict(s) for s in systems],
        "licenses": [license_dict(lic) for lic in licenses],
    }


def find_licenses(
    session: Session,
    now: datetime,
    *,
    customer_id: str | None = None,
    product: str | None = None,
    minimum_level: str | None = None,
    expiring_before: datetime | None = None,
) -> list[License]:
    """Licenses by validity then id.

    Without ``expiring_before``: those still valid at ``now`` (``active`` or ``renewing``).  With it:
    the ``active`` ones whose validity ends before that time, including ones already past it that
    nobody renewed; a license whose renewal runs already (``renewing``) is not among them.
    """
    query = select(License).where(License.level.in_(levels_from(minimum_level)))
    if expiring_before is None:
        query = query.where(License.status.in_(VALID_LICENSE_STATUSES), License.valid_until >= now)
    else:
        query = query.where(License.status == "active", License.valid_until < expiring_before)
    if customer_id is not None:
        query = query.where(License.customer_id == customer_id)
    if product is not None:
        query = query.where(License.product == product)
    return list(session.scalars(query.order_by(License.valid_until, License.id)))


def find_licensed_systems(
    session: Session, now: datetime, product: str, *, customer_id: str | None = None, minimum_level: str | None = None
) -> list[System]:
    """Systems running ``product`` whose customer holds a license for it, valid at ``now``, at the level or above."""
    licensed = (
        select(License.id)
        .where(
            License.customer_id == System.customer_id,
            License.product == System.product,
            License.status.in_(VALID_LICENSE_STATUSES),
            License.valid_until >= now,
            License.level.in_(levels_from(minimum_level)),
        )
        .exists()
    )
    query = select(System).where(System.product == product, licensed)
    if customer_id is not None:
        query = query.where(System.customer_id == customer_id)
    return list(session.scalars(query.order_by(System.id)))


def by_idempotency_key(session: Session, model: type[Keyed], key: str) -> Keyed | None:
    """The row one call wrote, if it did."""
    return session.scalar(select(model).where(model.idempotency_key == key))
