"""API tokens: random bearer secrets, stored only as SHA-256 digests, expiring and revocable.

A token is 32 random bytes, so a fast digest is safe to store (passwords, which are
guessable, use argon2 instead).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from engine.clock import Clock
from engine.db import Database
from engine.errors import Conflict, InvalidRequest, NotFound, Unprocessable
from engine.identity import ROLES
from engine.models import ApiToken, User

TOKEN_PREFIX = "cc_"
MAX_NAME = 200  # the api_tokens.name column
LAST_USED_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the name recorded in history, their role and teams."""

    name: str
    role: str
    groups: frozenset[str] = frozenset()
    token_id: int | None = None
    user_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def user_principal(user: User, token_id: int | None = None) -> Principal:
    return Principal(user.username, user.role, frozenset(g.name for g in user.groups), token_id, user.id)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Tokens:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

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
        """Make sure a token with this value exists (for ``CARECENTER_BOOTSTRAP_TOKEN``)."""
        with self.db.read() as session:
            if session.scalar(select(ApiToken.id).where(ApiToken.token_hash == digest(value))) is not None:
                return
        self.create(name, role, value=value)

    def authenticate(self, value: str) -> Principal | None:
        """The principal of a valid token, or None for unknown, revoked or expired ones."""
        now = self.clock.now()
        with self.db.read() as session:
            row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(value)))
            if row is None or row.revoked_at is not None or (row.expires_at and row.expires_at <= now):
                return None
            if row.user_id is not None:
                user = session.get(User, row.user_id)
                if user is None or user.disabled:
                    return None
                principal = user_principal(user, row.id)
            else:
                principal = Principal(f"token:{row.name}", row.role, token_id=row.id)
            stale = row.last_used_at is None or now - row.last_used_at > LAST_USED_GRANULARITY
        if stale:
            with self.db.write() as session:
                session.get(ApiToken, principal.token_id).last_used_at = now
        return principal

    def revoke(self, token_id: int) -> ApiToken:
        with self.db.write() as session:
            row = session.get(ApiToken, token_id)
            if row is None:
                raise NotFound(f"no token with id {token_id}")
            if row.revoked_at is None:
                row.revoked_at = self.clock.now()
            return row

    def list(self) -> list[ApiToken]:
        with self.db.read() as session:
            return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))
