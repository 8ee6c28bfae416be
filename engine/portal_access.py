"""How a customer gets into the portal: single-use sign-in links, and the sessions they open.

A link carries a random nonce; the database keeps only its SHA-256 (``portal_links``), whose it
is, until when it works and whether it was used. Using it is one conditional ``UPDATE`` (``used_at``
still empty, not expired), so two clicks racing on the same link open one session at most. A
session is a random token in the customer's cookie; the database keeps its SHA-256
(``portal_sessions``) with the customer, the expiry and, once signed out, ``ended_at``, so signing
out ends every copy of the cookie, and a restart of the server ends nothing.

Times come from the engine's clock, so tests move it instead of waiting. No Flask here: the pages
(:mod:`api.pages.portal`, :mod:`api.pages.portal_session`) put the token into the cookie.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from engine.models import PortalLink, PortalSession
from process_library.store import Customer

LINK_LIFETIME = timedelta(hours=1)
LINKS_PER_HOUR = 3  # sign-in mails one customer receives per hour at most, however often someone asks
KEEP_ENDED = timedelta(days=7)  # expired links and sessions are deleted this long after their end
MAX_NEXT = 500  # the portal_links.next_path column

VALID, USED, EXPIRED, UNKNOWN = "valid", "used", "expired", "unknown"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class LinkState:
    """What a link's nonce is: ``valid``, ``used``, ``expired`` or ``unknown``; the customer and page it is for."""

    state: str
    customer_id: str | None = None
    next_path: str | None = None


def links_sent_since(session: Session, customer_id: str, since: datetime) -> int:
    """How many sign-in links the customer was sent since ``since``."""
    return session.scalar(
        select(func.count())
        .select_from(PortalLink)
        .where(PortalLink.customer_id == customer_id, PortalLink.created_at >= since)
    )


def issue_link(session: Session, customer_id: str, now: datetime, next_path: str | None = None) -> str:
    """A new link's nonce (stored hashed), valid for :data:`LINK_LIFETIME`; old links' rows are cleared out."""
    session.execute(delete(PortalLink).where(PortalLink.expires_at < now - KEEP_ENDED))
    nonce = secrets.token_urlsafe(32)
    session.add(
        PortalLink(
            nonce_hash=_hash(nonce),
            customer_id=customer_id,
            next_path=next_path if next_path and len(next_path) <= MAX_NEXT else None,
            created_at=now,
            expires_at=now + LINK_LIFETIME,
        )
    )
    return nonce


def link_state(session: Session, nonce: str, now: datetime) -> LinkState:
    """What the link with ``nonce`` is now, without using it."""
    link = session.scalar(select(PortalLink).where(PortalLink.nonce_hash == _hash(nonce)))
    if link is None:
        return LinkState(UNKNOWN)
    if link.used_at is not None:
        state = USED
    elif link.expires_at <= now:
        state = EXPIRED
    else:
        state = VALID
    return LinkState(state, link.customer_id, link.next_path)


def use_link(session: Session, nonce: str, now: datetime) -> LinkState:
    """Use the link once: ``valid`` (now used) with its customer, or why not (another click may have won)."""
    taken = session.execute(
        update(PortalLink)
        .where(PortalLink.nonce_hash == _hash(nonce), PortalLink.used_at.is_(None), PortalLink.expires_at > now)
        .values(used_at=now)
    ).rowcount
    state = link_state(session, nonce, now)
    if taken != 1:
        return state if state.state != VALID else LinkState(USED, state.customer_id)
    if session.get(Customer, state.customer_id) is None:  # the customer was removed meanwhile
        return LinkState(UNKNOWN)
    return LinkState(VALID, state.customer_id, state.next_path)


def open_session(session: Session, customer_id: str, now: datetime, lifetime: timedelta) -> str:
    """A new session's token for the cookie (stored hashed); sessions long over are cleared out."""
    session.execute(delete(PortalSession).where(PortalSession.expires_at < now - KEEP_ENDED))
    token = secrets.token_urlsafe(32)
    session.add(
        PortalSession(token_hash=_hash(token), customer_id=customer_id, created_at=now, expires_at=now + lifetime)
    )
    return token


def session_customer(session: Session, token: str, now: datetime) -> str | None:
    """The customer a session token signs in, while it is neither expired nor ended and the customer exists."""
    if not token:
        return None
    row = session.scalar(select(PortalSession).where(PortalSession.token_hash == _hash(token)))
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    return row.customer_id if session.get(Customer, row.customer_id) is not None else None


def end_session(session: Session, token: str, now: datetime) -> None:
    """Sign out: the session with this token ends for every copy of the cookie."""
    if token:
        session.execute(
            update(PortalSession)
            .where(PortalSession.token_hash == _hash(token), PortalSession.ended_at.is_(None))
            .values(ended_at=now)
        )


def end_sessions_of(session: Session, customer_id: str, now: datetime) -> int:
    """End every open session of a customer (e.g. when their e-mail address changes); how many ended."""
    return session.execute(
        update(PortalSession)
        .where(PortalSession.customer_id == customer_id, PortalSession.ended_at.is_(None))
        .values(ended_at=now)
    ).rowcount
