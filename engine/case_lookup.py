"""A customer finds their case by its reference and something only they know: their e-mail address or postcode.

The reference is not a secret (it is read out on the phone and printed in mail subjects), so it
opens nothing alone. Together with the e-mail address or postcode on file it stands in for the
secret tracking code: :func:`tracking_code_for` answers the tracking code, or None, and None is
the only answer for every way of failing (no such reference, a malformed one, a wrong address or
postcode), so the caller cannot tell them apart. Comparisons ignore case (and, for postcodes,
spaces and hyphens) and take the same time whatever matches.

What is on file: the e-mail address and postcode of the customer store, and the address the
customer wrote from when the case came in through channel intake (a portal customer the store
does not know, ``web:<e-mail>``, has only that one).
"""

from __future__ import annotations

import hmac

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import case_reference
from engine.models import CustomerStatus, ProcessInstance
from process_library.store import Customer

MAX_CONTACT = 300


def tracking_code_for(session: Session, typed_reference: str, contact: str) -> str | None:
    """The tracking code of the case with this reference if ``contact`` is on file for it; None in every other case."""
    try:
        reference = case_reference.parse(typed_reference)
    except case_reference.InvalidReference:
        return None
    if not isinstance(contact, str) or len(contact) > MAX_CONTACT:
        return None
    row = session.execute(
        select(CustomerStatus.tracking_code, ProcessInstance.customer_id, ProcessInstance.contact_email)
        .join(ProcessInstance, ProcessInstance.id == CustomerStatus.instance_id)
        .where(CustomerStatus.reference == reference)
    ).first()
    if row is None:
        return None
    customer = session.get(Customer, row.customer_id) if row.customer_id else None
    if "@" in contact:
        normalize, on_file = _email, [row.contact_email, customer.email if customer else None]
    else:
        normalize, on_file = _postcode, [customer.postcode if customer else None]
    given = normalize(contact).encode()
    matched = False
    for value in filter(None, on_file):
        matched |= hmac.compare_digest(normalize(value).encode(), given)
    return row.tracking_code if matched and given else None


def _email(value: str) -> str:
    return value.strip().casefold()


def _postcode(value: str) -> str:
    return "".join(c for c in value if c.isalnum()).casefold()
