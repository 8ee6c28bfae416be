"""Section 9: what checking a bearer token costs, before and after #21, in statements and microseconds.

The token check before #21 is kept here as :func:`legacy_authenticate` (the code of
``engine/tokens.py`` until 2026-12-05, unchanged), so both are measured in the same run on the
same database; ``tests/test_auth_cache.py`` counts its statements too. In process, no HTTP: the
figures are the check alone.
"""

from __future__ import annotations

import time

from sqlalchemy import select

from bench.common import count_statements, database, engine_for
from engine.clock import Clock, VirtualClock
from engine.db import Database
from engine.models import ApiToken, User
from engine.principals import CACHE_SECONDS, LAST_USED_GRANULARITY
from engine.tokens import Principal, digest, user_principal


def legacy_authenticate(db: Database, clock: Clock, value: str) -> Principal | None:
    """The token check before #21: its own session, the token, its user, the user's teams; then the use noted."""
    now = clock.now()
    with db.read() as session:
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
        with db.write() as session:
            session.get(ApiToken, principal.token_id).last_used_at = now
    return principal


def _per_check(db: Database, check, repeat: int) -> tuple[float, float]:
    """(statements, microseconds) per call of ``check``, averaged over ``repeat`` calls."""
    with count_statements(db) as counter:
        began = time.perf_counter()
        for _ in range(repeat):
            if check() is None:
                raise RuntimeError("the benchmark's token was refused")
        elapsed = time.perf_counter() - began
    return counter[0] / repeat, elapsed / repeat * 1e6


def measure(backend: str, repeat: int) -> list[dict]:
    """The three cases of a token in use: its first use, the next uses within the minute, a miss after the second."""
    clock = VirtualClock()
    with database(backend) as url:
        care = engine_for(url, clock=clock)
        care.identity.add_group("support")
        care.identity.add_group("billing")
        care.identity.add_user("bench", "staff", ["support", "billing"])
        _, value = care.tokens.create("bench", username="bench")
        principals = care.tokens.principals
        rows = []

        def first_use(check) -> tuple[float, float]:
            figures = []
            for _ in range(repeat):
                clock.advance(LAST_USED_GRANULARITY * 2)  # every check is the first of its minute
                principals.invalidate()
                figures.append(_per_check(care.db, check, 1))
            return sum(f[0] for f in figures) / repeat, sum(f[1] for f in figures) / repeat

        def legacy() -> Principal | None:
            return legacy_authenticate(care.db, clock, value)

        def current() -> Principal | None:
            return care.tokens.authenticate(value)

        def current_miss() -> Principal | None:
            principals.invalidate()  # as after the cache's second
            return care.tokens.authenticate(value)

        for label, legacy_figures, current_figures in (
            ("first use in a minute", first_use(legacy), first_use(current)),
            ("next uses within the minute", _per_check(care.db, legacy, repeat), _per_check(care.db, current, repeat)),
            (
                f"next uses, each after the cache's {CACHE_SECONDS:g} s",
                _per_check(care.db, legacy, repeat),
                _per_check(care.db, current_miss, repeat),
            ),
        ):
            rows.append(
                {
                    "backend": backend,
                    "case": label,
                    "before_statements": legacy_figures[0],
                    "before_us": legacy_figures[1],
                    "after_statements": current_figures[0],
                    "after_us": current_figures[1],
                }
            )
        care.close()
    return rows


def run(smoke: bool) -> dict:
    repeat = 20 if smoke else 500
    rows = measure("sqlite", repeat) + measure("postgresql", repeat)
    return {
        "what": "a staff member's token with two teams, checked in process (engine.tokens.Tokens.authenticate)",
        "repeat": repeat,
        "cache_seconds": CACHE_SECONDS,
        "rows": rows,
    }
