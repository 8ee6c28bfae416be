"""Transport-level protections of every response: the host check, forwarded headers, security headers.

- With ``CARECENTER_PUBLIC_URL`` set, a request naming another host is refused (400) by Flask's
  ``TRUSTED_HOSTS``, so nothing can be made to think it runs elsewhere.
- ``X-Forwarded-*`` headers count only from the ``CARECENTER_TRUSTED_PROXIES`` proxies in front
  (Werkzeug's ProxyFix), and only on connections from ``CARECENTER_TRUSTED_PROXY_ADDRESSES``
  (loopback by default): behind a TLS proxy the request is then secure, cookies get ``Secure`` and
  the rate limit sees the client's address. A client that reaches a web process directly, past the
  proxy, has its forwarded headers dropped; without proxies configured, everyone's are.
- Every response says what browsers may do with it: a strict Content-Security-Policy without
  inline scripts or styles, no framing, no MIME sniffing, no referrer beyond this site, no caching
  of anything but static files, and HSTS when served over TLS.
"""

from __future__ import annotations

import ipaddress

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from engine.config import Settings

PAGE_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# JSON and other non-HTML answers load nothing at all.
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HSTS = "max-age=31536000; includeSubDomains"
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


FORWARDED_HEADERS = tuple(
    f"HTTP_{name}" for name in ("X_FORWARDED_FOR", "X_FORWARDED_PROTO", "X_FORWARDED_HOST", "X_FORWARDED_PORT")
) + ("HTTP_X_FORWARDED_PREFIX", "HTTP_FORWARDED")


class FromTrustedProxies:
    """WSGI middleware: requests from a trusted proxy's address go through ProxyFix; others lose X-Forwarded-*.

    The direct peer (``REMOTE_ADDR``) is what the operating system says connected, which no header
    can change. A peer without an IP address (a Unix socket) is on this machine and counts as trusted.
    """

    def __init__(self, direct, proxied, addresses: tuple[str, ...]) -> None:
        self.direct = direct
        self.proxied = proxied
        self.networks = tuple(ipaddress.ip_network(address, strict=False) for address in addresses)

    def __call__(self, environ, start_response):
        if self._trusted(environ.get("REMOTE_ADDR", "")):
            return self.proxied(environ, start_response)
        for name in FORWARDED_HEADERS:
            environ.pop(name, None)
        return self.direct(environ, start_response)

    def _trusted(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer.split("%", 1)[0])
        except ValueError:
            return True  # a Unix socket: only this machine reaches it
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)


def server_options(settings: Settings) -> dict:
    """Options for waitress: it drops X-Forwarded-* itself unless proxies are configured, then ProxyFix decides."""
    return {"clear_untrusted_proxy_headers": settings.trusted_proxies == 0}


def configure(app: Flask, settings: Settings) -> None:
    """Install the host check, ProxyFix and the response headers on ``app``."""
    if settings.public_url:
        app.config["TRUSTED_HOSTS"] = [settings.public.hostname, *settings.allowed_hosts]
    if settings.trusted_proxies:
        count = settings.trusted_proxies
        proxied = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count, x_port=count)
        app.wsgi_app = FromTrustedProxies(app.wsgi_app, proxied, settings.trusted_proxy_addresses)
    always_tls = settings.public_url and settings.public.is_https
    app.config["SESSION_COOKIE_SECURE"] = bool(always_tls)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        html = response.mimetype == "text/html"
        response.headers.setdefault("Content-Security-Policy", PAGE_POLICY if html else API_POLICY)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response
