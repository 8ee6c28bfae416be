"""Entry points for self-service forms: change account data, place an order — checked first, refused clearly.

The portal (or a staff page acting for a customer) calls these with what the customer typed; each
checks the input against the store and the catalog and either refuses it, naming the problem of
each field and starting nothing, or starts the care process that does the work
(``account_change``, ``product_order``) and returns its case reference and tracking code:

    started = request_account_change(care, "C-1001", {"phone": "+49 40 1234", "email": "new@example.com"})
    started.reference      # "CC-7K4M-2QXE", for the answer page; started.tracking_code opens /track/<code>

    try:
        place_order(care, "C-1002", "U-CS-PRO", 1)
    except Refused as refused:
        refused.problems   # {"item": "Your license is at this level or higher already."}

Messages are English page texts (``api/translations/*/LC_MESSAGES/selfservice.po`` holds German and
Czech), so a page shows ``gettext(message)`` next to the field. ``submission_id`` (the form's own id)
makes a resubmitted form return the instance the first submission started. Who asks is
``customer:<id>`` unless a staff member acts for the customer (``requested_by``): the process records
them as the requester, and the engine never lets them approve their own request.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from engine import contacts
from engine.errors import Unprocessable
from engine.models import IdempotencyRecord
from engine.runtime import StartRequest
from process_library import account_changes, orders
from process_library.store import PREFERRED_CHANNELS, Customer

if TYPE_CHECKING:
    from engine.core import CareEngine

ACCOUNT_CHANGE = "account_change"
PRODUCT_ORDER = "product_order"
CUSTOMER_PREFIX = "customer:"  # who asks when the customer does it themselves: customer:<id>
MAX_SUBMISSION_ID = 200  # idempotency_records.key
IDEMPOTENCY_SCOPE = "self-service:"  # + the customer id: one customer's submission ids never meet another's


class Refused(Unprocessable):
    """The input cannot be used and nothing was started; ``problems`` maps each field to its message."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(
            "; ".join(f"{field}: {message}" for field, message in problems.items()),
            errors=[{"field": field, "message": message} for field, message in problems.items()],
        )
        self.problems = problems


@dataclass(frozen=True)
class Started:
    """The care process a request started: how the customer and staff refer to it."""

    instance_id: int
    process_key: str
    reference: str  # the case reference, to read out and quote
    tracking_code: str  # the secret of the status page /track/<code>
    created: bool  # False: an earlier submission with the same submission_id started it
    fields: tuple[str, ...] = ()  # an account change: the fields it changes (a repeated submission: none known)


@dataclass(frozen=True)
class ChangeableField:
    name: str
    sensitive: bool  # changes only after a colleague approves


def changeable_fields() -> list[ChangeableField]:
    """The account fields a customer may change, in form order; the sensitive ones wait for approval."""
    return [ChangeableField(field.name, field.sensitive) for field in account_changes.FIELDS.values()]


PREFERRED = PREFERRED_CHANNELS  # the choices of ``preferred_channel``
LANGUAGES = account_changes.LANGUAGES  # the choices of ``language``


def account(care: CareEngine, customer_id: str) -> dict[str, Any] | None:
    """The customer's current values of the changeable fields (to fill the form), or None for an unknown id."""
    with care.db.read() as session:
        customer = session.get(Customer, customer_id) if isinstance(customer_id, str) else None
        if customer is None:
            return None
        return {name: account_changes.current(customer, name) for name in account_changes.FIELDS}


def catalog(care: CareEngine) -> list[dict]:
    """The catalog items, by kind then name, with their prices (to list on an order form)."""
    with care.db.read() as session:
        return orders.catalog(session)


def request_account_change(
    care: CareEngine,
    customer_id: str,
    changes: dict[str, Any],
    channel: str = "web",
    *,
    requested_by: str | None = None,
    submission_id: str | None = None,
) -> Started:
    """Start ``account_change`` for the fields that really change; Refused (nothing started) for bad input.

    ``changes`` maps field names (:func:`changeable_fields`) to new values; ``authorized_contacts``
    is a list of ``{"name", "email", "phone"}`` (a name and an address or number each).
    """
    earlier = _earlier(care, ACCOUNT_CHANGE, customer_id, submission_id)
    if earlier is not None:  # checked again now, it might change nothing any more: it was made already
        return earlier
    with care.db.read() as session:
        customer = session.get(Customer, customer_id) if isinstance(customer_id, str) else None
        normalized, problems = account_changes.check(customer, changes)
    problems |= _channel_problem(channel)
    if problems:
        raise Refused(problems)
    variables = {"customer_id": customer_id, "changes": normalized, "channel": channel}
    started = _start(care, ACCOUNT_CHANGE, customer_id, variables, requested_by, submission_id)
    return replace(started, fields=tuple(normalized))


def place_order(
    care: CareEngine,
    customer_id: str,
    item: str,
    quantity: int = 1,
    channel: str = "web",
    *,
    requested_by: str | None = None,
    submission_id: str | None = None,
) -> Started:
    """Start ``product_order`` for ``quantity`` of catalog item ``item``; Refused (nothing started) for bad input.

    Refused for an unknown customer or item, a quantity outside 1–10 (an upgrade: 1), a license the
    customer holds already, an add-on without its base license, or an upgrade to no higher level.
    """
    earlier = _earlier(care, PRODUCT_ORDER, customer_id, submission_id)
    if earlier is not None:  # checked again now, the license it bought would refuse it
        return earlier
    with care.db.read() as session:
        customer = session.get(Customer, customer_id) if isinstance(customer_id, str) else None
        _item, problems = orders.check(session, customer, item, quantity, care.clock.now())
    problems |= _channel_problem(channel)
    if problems:
        raise Refused(problems)
    variables = {"customer_id": customer_id, "item_id": item, "quantity": quantity, "channel": channel}
    return _start(care, PRODUCT_ORDER, customer_id, variables, requested_by, submission_id)


def _channel_problem(channel: object) -> dict[str, str]:
    return {} if channel in contacts.CHANNELS else {"channel": account_changes.CHOOSE}


def _earlier(care: CareEngine, process_key: str, customer_id: object, submission_id: object) -> Started | None:
    """What the first submission of this form started, if it was sent before (a double click, a reload).

    Looked up before the input is checked again: once the first one took effect, the same input
    would be refused ("nothing would change", "you hold this license already").
    """
    if not isinstance(customer_id, str) or not isinstance(submission_id, str):
        return None
    with care.db.read() as session:
        record = session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.scope == IDEMPOTENCY_SCOPE + customer_id, IdempotencyRecord.key == submission_id
            )
        )
    view = record.response if record is not None else None
    if not isinstance(view, dict) or view.get("process_key") != process_key:
        return None
    return Started(view["id"], view["process_key"], view["reference"], view["tracking_code"], False)


def _start(
    care: CareEngine,
    process_key: str,
    customer_id: str,
    variables: dict,
    requested_by: str | None,
    submission_id: str | None,
) -> Started:
    usable = isinstance(submission_id, str) and 0 < len(submission_id) <= MAX_SUBMISSION_ID
    if submission_id is not None and not usable:
        raise ValueError(f"submission_id must be a string of 1 to {MAX_SUBMISSION_ID} characters")
    view, created = care.runtime.start(
        StartRequest(process_key, variables, None, customer_id),
        requested_by or CUSTOMER_PREFIX + customer_id,
        idempotency_scope=IDEMPOTENCY_SCOPE + customer_id if submission_id else None,
        idempotency_key=submission_id,
    )
    return Started(view["id"], view["process_key"], view["reference"], view["tracking_code"], created)
