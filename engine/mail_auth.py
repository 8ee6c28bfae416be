"""Whether the care center's own mail server found a mail's sender forged (DMARC), from its Authentication-Results.

Anyone can write any ``From``. A receiving server that checks SPF, DKIM and DMARC records its
verdict in an ``Authentication-Results`` header (RFC 8601) that starts with its own name, the
authserv-id. Only the server named in ``CARECENTER_MAIL_TRUSTED_AUTHSERV`` is believed — any
other such header may have been written by the sender — and of its headers only the topmost,
the one it added on arrival (a server should remove headers claiming its name from arriving mail,
and the topmost is the last one added). When that one says ``dmarc=fail``, the mail is treated
as coming from an unverified address: it is filed under ``email:<address>`` even when the address
is a customer's, a case reference in its subject threads nothing, and no automatic answer goes
to the (probably forged) address.
"""

from __future__ import annotations

import re

_DMARC = re.compile(r"(?:^|[;\s])dmarc\s*=\s*([a-z]+)", re.IGNORECASE)


def authserv_id(result: str) -> str:
    """The authserv-id an Authentication-Results value starts with (lower case)."""
    words = result.split(";", 1)[0].split()
    return words[0].lower() if words else ""


def dmarc_result(results: list[str], trusted: str) -> str | None:
    """The trusted server's DMARC result (``pass``, ``fail``, ``none``, …) or None when it gave none."""
    trusted = trusted.strip().lower()
    if not trusted:
        return None
    for result in results:  # topmost first
        if authserv_id(result) == trusted:
            found = _DMARC.search(result.split(";", 1)[1] if ";" in result else "")
            return found.group(1).lower() if found else None
    return None


def dmarc_failed(results: list[str], trusted: str) -> bool:
    return dmarc_result(results, trusted) == "fail"
