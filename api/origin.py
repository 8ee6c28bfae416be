"""Whether a POST comes from a page of this site: its ``Origin`` (or, lacking one, its ``Referer``) is the public URL's.

Browsers name the page a form or script was posted from in ``Origin``. The customer's chat pages
take POSTs on the strength of the secret in their address alone (no signed-in session), so they
also refuse every POST that another site's page made: the origin must be the one of
``CARECENTER_PUBLIC_URL``, the address customers reach the site at (behind a reverse proxy too,
where the request's own host is the proxy's upstream). A POST naming no origin at all is refused as well.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request

from engine.public_url import PublicUrl

DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str | None) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL or an ``Origin`` value; None for ``null``, garbage or no value."""
    if not url or url == "null":
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme]


def from_public_site(public: PublicUrl) -> bool:
    """Whether this request's ``Origin`` (else ``Referer``) is the public URL's origin."""
    sent = request.headers.get("Origin") or request.headers.get("Referer")
    found = _origin(sent)
    return found is not None and found == _origin(public.base)
