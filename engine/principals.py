"""Who a request is, in one statement or none: bearer tokens cached for a second, page sessions in one join.

Every API request names a token and every page request a signed-in user; looking them up used to
cost two or three statements and a session of their own on each request. Here:

- a token lookup the cache cannot answer is **one statement** (the token with its user and the
  user's teams in one join), on a pooled connection;
- its answer is kept in this process for at most :data:`CACHE_SECONDS`, so a token revoked, a
  user disabled, a role or team changed *in another process* (another web process,
  ``carecenter token revoke``, an admin page served elsewhere) counts here within that second;
- a change written *through this process's engine* to the tables a principal is made of (users,
  teams, memberships, tokens) empties the cache when it is committed, so it counts at once;
- a token's expiry is checked on every use against the engine's clock, cached or not;
- ``api_tokens.last_used_at`` is written at most once a minute per token and process, by a
  conditional update that changes nothing when another process wrote it within the minute.

Unknown tokens are not cached (a guesser must not fill the memory); the cache is emptied whenever
it grows past :data:`MAX_ENTRIES`.

A page session's user is one statement on every page request (the user and their teams in one
join, was two), and not cached: signing a user out everywhere must end their sessions in every
process at once, and a page costs far more than that statement.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import event, or_, select, update
from sqlalchemy.engine import Engine

from engine.clock import Clock
from engine.db import Database
from engine.models import ApiToken, Group, User, UserGroup

CACHE_SECONDS = 1.0
MAX_ENTRIES = 10_000
LAST_USED_GRANULARITY = timedelta(minutes=1)
# Statements after which a cached principal may be wrong: writes to the tables principals are made of.
_PRINCIPAL_WRITE = re.compile(
    r"^\s*(?:UPDATE|DELETE\s+FROM|INSERT\s+INTO)\s+\"?(?:users|user_groups|groups|api_tokens)\b", re.I
)
# ... except the note of a token's use, which changes no principal (engine-rendered, one column).
_LAST_USED_NOTE = re.compile(r"^UPDATE api_tokens SET last_used_at=[^,]* WHERE ")


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


@dataclass(frozen=True)
class SessionUser:
    """The signed-in user of a page session, with the pages' settings of that user."""

    principal: Principal
    language: str | None
    time_zone: str | None


@dataclass(frozen=True)
class _TokenEntry:
    principal: Principal | None  # None: revoked, or its user disabled or gone
    expires_at: datetime | None
    read_at: float


class Principals:
    """Token → principal (one statement on a miss, none on a hit) and session user → principal (one statement)."""

    def __init__(self, db: Database, clock: Clock, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.clock = clock
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._tokens: dict[str, _TokenEntry] = {}
        self._last_used: dict[int, datetime] = {}  # token id → last_used_at as this process last knew it
        self._generation = 0  # bumped by every invalidation: a lookup read before it is not kept
        _watch_principal_writes(db.engine, self)

    def invalidate(self) -> None:
        """Forget every cached principal (a write to users, teams or tokens was committed here)."""
        with self._lock:
            self._generation += 1
            self._tokens.clear()

    def token(self, token_hash: str) -> Principal | None:
        """The principal of a valid token's digest, or None for unknown, revoked or expired tokens."""
        now = self.clock.now()
        entry = self._tokens.get(token_hash)
        if entry is None or self.monotonic() - entry.read_at >= CACHE_SECONDS:
            entry = self._read_token(token_hash)
            if entry is None:
                return None
        if entry.principal is None or (entry.expires_at is not None and entry.expires_at <= now):
            return None
        self._note_use(entry.principal.token_id, now)
        return entry.principal

    def session_user(self, user_id: int, generation: int) -> SessionUser | None:
        """The user of a page session signed in under ``generation``, unless it was ended or the user disabled.

        One statement, never cached: signing out everywhere, a password change or disabling a user
        ends the user's sessions in every process at once (pages cost far more than this statement).
        """
        query = (
            select(
                User.username,
                User.role,
                User.disabled,
                User.password_hash.is_not(None).label("has_password"),
                User.session_generation,
                User.language,
                User.time_zone,
                Group.name.label("group_name"),
            )
            .outerjoin(UserGroup, UserGroup.user_id == User.id)
            .outerjoin(Group, Group.id == UserGroup.group_id)
            .where(User.id == user_id)
        )
        with self.db.engine.begin() as connection:  # a read ending in COMMIT (Database.read says why)
            rows = connection.execute(query).all()
        if not rows:
            return None
        row = rows[0]
        if row.disabled or not row.has_password or row.session_generation != generation:
            return None
        groups = frozenset(r.group_name for r in rows if r.group_name is not None)
        return SessionUser(Principal(row.username, row.role, groups, None, user_id), row.language, row.time_zone)

    # -- lookups: one statement each ----------------------------------------------------------

    def _read_token(self, token_hash: str) -> _TokenEntry | None:
        began, generation = self.monotonic(), self._generation
        query = (
            select(
                ApiToken.id,
                ApiToken.name,
                ApiToken.role,
                ApiToken.user_id,
                ApiToken.expires_at,
                ApiToken.revoked_at,
                ApiToken.last_used_at,
                User.username,
                User.role.label("user_role"),
                User.disabled,
                Group.name.label("group_name"),
            )
            .outerjoin(User, User.id == ApiToken.user_id)
            .outerjoin(UserGroup, UserGroup.user_id == User.id)
            .outerjoin(Group, Group.id == UserGroup.group_id)
            .where(ApiToken.token_hash == token_hash)
        )
        with self.db.engine.begin() as connection:  # a read ending in COMMIT (Database.read says why)
            rows = connection.execute(query).all()
        if not rows:
            return None
        row = rows[0]
        if row.revoked_at is not None:
            principal = None
        elif row.user_id is None:
            principal = Principal(f"token:{row.name}", row.role, token_id=row.id)
        elif row.username is None or row.disabled:
            principal = None
        else:
            groups = frozenset(r.group_name for r in rows if r.group_name is not None)
            principal = Principal(row.username, row.user_role, groups, row.id, row.user_id)
        entry = _TokenEntry(principal, row.expires_at, began)
        with self._lock:
            known = self._last_used.get(row.id)
            if row.last_used_at is not None and (known is None or row.last_used_at > known):
                self._last_used[row.id] = row.last_used_at
            if generation == self._generation:
                self._keep(token_hash, entry)
        return entry

    def _keep(self, token_hash: str, entry: _TokenEntry) -> None:
        if len(self._tokens) >= MAX_ENTRIES:
            self._tokens.clear()
        self._tokens[token_hash] = entry

    # -- last_used_at, at most once a minute per token ------------------------------------------

    def _note_use(self, token_id: int | None, now: datetime) -> None:
        if token_id is None:
            return
        with self._lock:
            last = self._last_used.get(token_id)
            if last is not None and now - last <= LAST_USED_GRANULARITY:
                return
            self._last_used[token_id] = now  # before writing: other threads of this process skip it
        stale = or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - LAST_USED_GRANULARITY)
        with self.db.write() as session:
            session.execute(update(ApiToken).where(ApiToken.id == token_id, stale).values(last_used_at=now))


def _watch_principal_writes(engine: Engine, principals: Principals) -> None:
    """Empty the cache when a write to users, teams, memberships or tokens is committed through ``engine``.

    The statement marks its connection and empties the cache at once (a lookup in flight is then
    not kept); the commit, and the connection's return to the pool after it, empty it again, so
    that nothing read between the statement and the commit outlives the commit.
    """

    def after_execute(connection, _cursor, statement, _parameters, _context, _executemany) -> None:
        if _PRINCIPAL_WRITE.match(statement) and not _LAST_USED_NOTE.match(statement):
            connection.info["carecenter_principal_write"] = True
            principals.invalidate()

    def on_commit(connection) -> None:
        if connection.info.get("carecenter_principal_write"):
            principals.invalidate()

    def on_checkin(_dbapi_connection, record) -> None:
        if record.info.pop("carecenter_principal_write", False):
            principals.invalidate()

    event.listen(engine, "after_cursor_execute", after_execute)
    event.listen(engine, "commit", on_commit)
    event.listen(engine.pool, "checkin", on_checkin)
