"""The care center's public address: the one source of every link that leaves a request.

A link built from a request's ``Host`` header can be poisoned: a stranger asks for a victim's portal
link with ``Host: evil.example`` and the victim gets a mail pointing there, token included. So links
in mails (portal sign-in, confirmations, tracking links in notifications) are built from
``CARECENTER_PUBLIC_URL`` only, by the web process and the worker alike, and the web process refuses
requests for any other host when it is set (see :mod:`api.security`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

# Where `carecenter serve` listens by default; links point here while no public URL is configured.
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class PublicUrl:
    """``scheme://host[:port][/prefix]`` without a trailing slash."""

    base: str
    hostname: str
    is_https: bool

    @classmethod
    def parse(cls, raw: str) -> PublicUrl:
        """The public URL in ``raw``; ValueError saying what is wrong with it otherwise."""
        text = raw.strip().rstrip("/")
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"{raw!r} must start with https:// (or http:// for a local trial)")
        if not parts.hostname or parts.username is not None or parts.password is not None:
            raise ValueError(f"{raw!r} must name a host, without user or password")
        if parts.query or parts.fragment:
            raise ValueError(f"{raw!r} must not carry a query or fragment")
        try:
            parts.port  # noqa: B018  (raises ValueError for a port out of range)
        except ValueError as error:
            raise ValueError(f"{raw!r} has an invalid port: {error}") from None
        return cls(text, parts.hostname, parts.scheme == "https")

    def link(self, path: str, **query: str) -> str:
        """An absolute link to ``path`` (which starts with ``/``) on the public site."""
        if not path.startswith("/"):
            raise ValueError(f"a public link needs an absolute path, not {path!r}")
        suffix = f"?{urlencode(query)}" if query else ""
        return f"{self.base}{path}{suffix}"
