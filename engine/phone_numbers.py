"""Phone numbers in one form, E.164, so that every way of writing a number finds the same customer.

People write one number many ways: ``030/1234567``, ``+49 30 1234567``, ``0049 30 123 45 67``,
``(030) 123-4567``; a phone system sends ``493012345 67`` or ``0301234567``. Customers, calls and
the staff search compare the E.164 form (``+49301234567``) that Google's libphonenumber (the
``phonenumbers`` package) makes of them. A number written without its country code is read as one
of the care center's own country, ``CARECENTER_PHONE_REGION`` (an ISO 3166 code, default ``DE``).

Phone systems often send international numbers without the ``+`` (``442079460018``,
``493055571600``): a string of digits only, not starting with 0, that is a valid number with a ``+``
in front is taken as that (a number of the own country is sent with its trunk prefix, ``030…``, or
its country code). What is no possible number at all (``anonymous``, ``12``, a name) has no E.164
form: None.
"""

from __future__ import annotations

import os
import re

import phonenumbers

REGION_VARIABLE = "CARECENTER_PHONE_REGION"
DEFAULT_REGION = "DE"
MAX_TYPED = 50  # longer text is no phone number (the customers.phone column holds 50 characters)
MAX_E164 = 16  # "+" and at most 15 digits (ITU-T E.164)
MIN_DIGITS = 5  # shorter numbers are extensions or typing slips, not a caller's number
_DIGITS_ONLY = re.compile(r"[1-9][0-9]{6,14}")


def default_region() -> str:
    """The country of numbers written without a country code: ``CARECENTER_PHONE_REGION``, or DE."""
    region = os.environ.get(REGION_VARIABLE, "").strip().upper() or DEFAULT_REGION
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{REGION_VARIABLE}={region!r} is not a country code phonenumbers knows (e.g. DE, CZ, GB)")
    return region


def parse(text: str | None, region: str | None = None) -> phonenumbers.PhoneNumber | None:
    """The number ``text`` is, read as :mod:`the module <engine.phone_numbers>` says; None if it is none."""
    if not text or len(text) > MAX_TYPED:
        return None
    typed = text.strip()
    region = region or default_region()
    if _DIGITS_ONLY.fullmatch(typed):  # a phone system's international number without its "+"?
        international = _parsed("+" + typed, region)
        if international is not None and phonenumbers.is_valid_number(international):
            return international
    number = _parsed(typed, region)
    if number is None or len(str(number.national_number)) < MIN_DIGITS:
        return None
    if phonenumbers.is_valid_number(number) or phonenumbers.is_possible_number(number):
        return number  # possible only: not in the numbering plan as libphonenumber knows it, but shaped like one
    return None


def _parsed(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def e164(text: str | None, region: str | None = None) -> str | None:
    """``text`` as an E.164 number (``+49301234567``), or None if it is no phone number."""
    number = parse(text, region)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if number is not None else None


def is_valid(text: str | None, region: str | None = None) -> bool:
    """Whether ``text`` is a number of the numbering plan (not only shaped like one)."""
    number = parse(text, region)
    return number is not None and phonenumbers.is_valid_number(number)


def display(number: str | None) -> str:
    """A stored E.164 number as people read it, in the international format (``+49 30 1234567``)."""
    if not number:
        return ""
    parsed = _parsed(number, default_region())
    if parsed is None:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
