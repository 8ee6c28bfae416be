"""API tokens: random bearer secrets, stored only as SHA-256 digests, expiring and revocable.

A token is 32 random bytes, so a fast digest is safe to store (passwords, which are
guessable, use argon2 instead). Checking a token on a request is :mod:`engine.principals`:
one statement on a miss, none while its answer is cached (at most a second).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from engine.clock import Clock
from engine.db import Database
from engine.errors import Conflict, InvalidRequest, NotFound, Unprocessable
from engine.identity import ROLES
from engine.models import ApiToken, User
from engine.principals import LAST_USED_GRANULARITY, Principal, Principals

__all__ = ["LAST_USED_GRANULARITY", "MAX_NAME", "TOKEN_PREFIX", "Principal", "Tokens", "digest", "user_principal"]

TOKEN_PREFIX = "cc_"
MAX_NAME = 200  # the api_tokens.name column


def user_principal(user: User, token_id: int | None = None) -> Principal:
    return Principal(user.username, user.role, frozenset(g.name for g in user.groups), token_id, user.id)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Tokens:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.principals = Principals(db, clock)

    def create(
        self,
        name: str,
        role: str = "admin",
        expires_at: datetime | None = None,
        value: str | None = None,
        username: str | None = None,
    ) -> tuple[ApiToken, str]:
        """A new token; the plain value is returned once and never stored.

        A token of a user acts as that user (role and groups are read at each use); a token
        without a user is an admin token (bootstrap, automation).
        """
        if not name.strip() or len(name) > MAX_NAME:
            raise InvalidRequest(f"a token needs a name of at most {MAX_NAME} characters")
        if expires_at is not None and expires_at <= self.clock.now():
            raise Unprocessable("the expiry must lie in the future")
        value = value or TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.db.write() as session:
            user = None
            if username is not None:
                user = session.scalar(select(User).where(User.username == username.strip().lower()))
                if user is None:
                    raise NotFound(f"no user named '{username}'")
                role = user.role
            elif role != "admin":
                raise InvalidRequest(f"a token with role '{role}' must belong to a user (or integration account)")
            if role not in ROLES:
                raise InvalidRequest(f"unknown role '{role}'; known roles: {', '.join(ROLES)}")
            if session.scalar(select(ApiToken.id).where(ApiToken.token_hash == digest(value))) is not None:
                raise Conflict("a token with this value exists already")
            row = ApiToken(
                name=name.strip(),
                token_hash=digest(value),
                role=role,
                user_id=user.id if user else None,
                created_at=self.clock.now(),
                expires_at=expires_at,
            )
            session.add(row)
        return row, value

    def ensure(self, value: str, name: str, role: str = "admin") -> None:
        """Make sure a token with this value exists (for ``CARECENTER_BOOTSTRAP_TOKEN``).

        Several servers starting at once against one database each call this: the one that
        loses the race to insert finds the winner's row and is content with it.
        """
        if self._exists(value):
            return
        try:
            self.create(name, role, value=value)
        except (Conflict, IntegrityError):
            if not self._exists(value):
                raise

    def _exists(self, value: str) -> bool:
        with self.db.read() as session:
            return session.scalar(select(ApiToken.id).where(ApiToken.token_hash == digest(value))) is not None

    def authenticate(self, value: str) -> Principal | None:
        """The principal of a valid token, or None for unknown, revoked or expired ones (:mod:`engine.principals`)."""
        return self.principals.token(digest(value))

    def revoke(self, token_id: int) -> ApiToken:
        with self.db.write() as session:
            row = session.get(ApiToken, token_id)
            if row is None:
                raise NotFound(f"no token with id {token_id}")
            if row.revoked_at is None:
                row.revoked_at = self.clock.now()
        self.principals.invalidate()  # also done by the commit itself (engine.principals); said here to be plain
        return row

    def list(self) -> list[ApiToken]:
        with self.db.read() as session:
            return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))
