"""Case references: the short name of a case that people read out, type and find in a mail subject.

The tracking code is a secret (it opens the status page) and too long to say on the phone; a case
needs a second, harmless name as well. A reference looks like ``CC-7K4M-2QXE``: the prefix, then
eight characters of Douglas Crockford's base 32 alphabet (digits and capitals without I, L, O
and U, so nothing is mistaken for something else), the last of them a check character.

The check character is Crockford's check symbol: the value of the seven characters before it,
read as one base-32 number, modulo 37. Because 37 is prime and divides neither 32**k nor
32**(k+1) - 32**k, changing one character changes that remainder, and so does swapping two
neighbours (the check character included); :func:`parse` therefore refuses every single
substitution and every adjacent transposition. Crockford writes remainders 32 to 36 as the
extra symbols ``*~$=U``; references whose remainder would be one of those are simply never
issued, so every reference stays within the 32 plain characters.

References are drawn with :mod:`secrets`, never derived from an id, so they say nothing about
how many cases there are; uniqueness is the database's unique column (see :func:`unused`).
Parsing is forgiving in Crockford's way: case, hyphens and spaces do not matter, the prefix may
be left out, ``O`` reads as ``0`` and ``I``/``L`` as ``1``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX = "CC"
BODY_LENGTH = 8  # seven random characters and the check character
CHECK_MODULUS = 37
MAX_LENGTH = len(PREFIX) + 1 + BODY_LENGTH + 1  # "CC-7K4M-2QXE"
_VALUES = {char: value for value, char in enumerate(ALPHABET)}
_AS_PYTHON_DIGITS = str.maketrans(ALPHABET, "0123456789ABCDEFGHIJKLMNOPQRSTUV")  # what int(text, 32) reads
_READS_AS = str.maketrans("OIL", "011")
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\ufe58\ufe63\uff0d]")  # spaces, hyphens, dashes, minus


class InvalidReference(ValueError):
    """The text is no case reference; the message says why, in words a person can act on."""


def check_value(data: str) -> int:
    """Crockford's check value of characters of the alphabet: their base-32 number modulo 37."""
    return int(data.translate(_AS_PYTHON_DIGITS), 32) % CHECK_MODULUS


def is_consistent(body: str) -> bool:
    """Whether the last of these alphabet characters is the check character of the ones before it."""
    return check_value(body[:-1]) == _VALUES[body[-1]]


def new() -> str:
    """A fresh random reference in its canonical form (``CC-XXXX-XXXX``)."""
    while True:
        data = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH - 1))
        check = check_value(data)
        if check < 32:  # never a reference ending in one of Crockford's extra symbols
            return _format(data + ALPHABET[check])


def unused(taken: Callable[[str], bool], tries: int = 20) -> str:
    """A new reference for which ``taken`` says no (it asks the unique column); drawn again on a collision."""
    for _ in range(tries):
        reference = new()
        if not taken(reference):
            return reference
    raise RuntimeError(f"no unused case reference in {tries} draws; the reference space is nearly full")


def parse(text: str) -> str:
    """The canonical form of a typed or spoken reference; :class:`InvalidReference` if it is none.

    Upper or lower case, hyphens, dashes and spaces anywhere (or none), the ``CC`` prefix or not,
    and ``O``/``I``/``L`` for ``0``/``1``/``1`` are all accepted.
    """
    if not isinstance(text, str) or len(text) > 4 * MAX_LENGTH:
        raise InvalidReference("a case reference looks like CC-7K4M-2QXE")
    kept = _SEPARATORS.sub("", text).upper()
    if len(kept) == len(PREFIX) + BODY_LENGTH and kept.startswith(PREFIX):
        kept = kept[len(PREFIX) :]
    body = kept.translate(_READS_AS)
    if len(body) != BODY_LENGTH:
        raise InvalidReference(
            f"a case reference has {BODY_LENGTH} characters after {PREFIX}- (like CC-7K4M-2QXE); this has {len(body)}"
        )
    wrong = sorted({c for c in body if c not in _VALUES})
    if wrong:
        raise InvalidReference(f"a case reference has only digits and letters other than I, L, O and U; not {wrong[0]}")
    if not is_consistent(body):
        raise InvalidReference(
            "the last character of this case reference does not match the others: "
            "a character was mistyped or two were swapped"
        )
    return _format(body)


def _format(body: str) -> str:
    return f"{PREFIX}-{body[:4]}-{body[4:]}"
