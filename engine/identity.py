"""Users, groups and passwords: who may log in, which teams they are in, and lock-out after failures.

Passwords are hashed with argon2.  After ``MAX_FAILED_LOGINS`` failures in a row an account is
locked for ``LOCKOUT``; the error does not say whether the name or the password was wrong.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.db import Database
from engine.errors import CareError, Conflict, InvalidRequest, NotFound, Unprocessable
from engine.models import Group, User

ROLES = ("admin", "designer", "staff", "integration")
LANGUAGES = ("en", "de", "cs")  # of the pages; English is the source
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.@-]{0,99}$")
MAX_GROUP_DISPLAY_NAME = 100
MAX_GROUP_DESCRIPTION = 300
# Settings.password_hashing -> argon2-cffi's parameter profile. A hash names its own parameters, so passwords
# hashed under one profile still verify under another (and are hashed anew at their next change).
PROFILES = {
    "low-memory": profiles.RFC_9106_LOW_MEMORY,  # argon2-cffi's default: 64 MiB, 3 passes
    "high-memory": profiles.RFC_9106_HIGH_MEMORY,  # 2 GiB, 1 pass
    "cheapest-for-tests": profiles.CHEAPEST,  # the test suite's many users; never where real passwords are kept
}


@functools.cache
def _hasher_for(profile: str) -> PasswordHasher:
    return PasswordHasher.from_parameters(PROFILES[profile])


@functools.cache
def _dummy_hash(profile: str) -> str:
    """A hash to check wrong user names against, so they take as long as wrong passwords.

    Made at the first such login rather than at import: hashing takes 0.1 s of CPU, and every
    process (``carecenter serve`` starting after a crash, too) would pay it before answering.
    """
    return _hasher_for(profile).hash("carecenter-timing-equalizer")


class LoginFailed(CareError):
    problem_type = "/problems/login-failed"
    status = 401
    title = "Login failed"


class LastAdmin(Conflict):
    """Refused: the change would leave no enabled admin with a password, so nobody could administer from the pages."""

    problem_type = "/problems/last-admin"
    title = "The last admin"


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    display_name: str
    role: str
    groups: tuple[str, ...]
    disabled: bool
    has_password: bool
    session_generation: int  # sessions signed in under another generation are over (not part of the API view)
    last_login_at: datetime | None = None  # for the admin pages (not part of the API view)

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role,
            "groups": list(self.groups),
            "disabled": self.disabled,
            "has_password": self.has_password,
        }


def _view(user: User) -> UserView:
    return UserView(
        user.id,
        user.username,
        user.display_name,
        user.role,
        tuple(g.name for g in user.groups),
        user.disabled,
        user.password_hash is not None,
        user.session_generation,
        user.last_login_at,
    )


def _group_view(group: Group) -> dict:
    return {"id": group.id, "name": group.name, "display_name": group.display_name, "description": group.description}


def _team_display_name(display_name: str | None, name: str) -> str:
    """The display name to store: the given one, trimmed; the team's name when none is given."""
    display_name = (display_name or "").strip()
    if len(display_name) > MAX_GROUP_DISPLAY_NAME:
        raise InvalidRequest(f"a group's display name has at most {MAX_GROUP_DISPLAY_NAME} characters")
    return display_name or name


def _signs_in_as_admin(user: User) -> bool:
    return user.role == "admin" and not user.disabled and user.password_hash is not None


def check_name(kind: str, name: str) -> str:
    name = (name or "").strip().lower()
    if not NAME_PATTERN.match(name):
        raise InvalidRequest(f"{kind} name must be 1-100 characters of a-z, 0-9, '_', '.', '@', '-'")
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


class Identity:
    def __init__(self, db: Database, clock: Clock, password_hashing: str = "low-memory") -> None:
        self.db = db
        self.clock = clock
        self.password_hashing = password_hashing
        self._hasher = _hasher_for(password_hashing)

    # -- groups ------------------------------------------------------------------------------

    def add_group(self, name: str, description: str = "", display_name: str | None = None) -> dict:
        """A new team; ``display_name`` is what staff read for it (the name, if none is given)."""
        name = check_name("group", name)
        with self.db.write() as session:
            if session.scalar(select(Group.id).where(Group.name == name)) is not None:
                raise Conflict(f"group '{name}' exists already")
            group = Group(
                name=name,
                display_name=_team_display_name(display_name, name),
                description=description.strip()[:MAX_GROUP_DESCRIPTION],
                created_at=self.clock.now(),
            )
            session.add(group)
            session.flush()
            return _group_view(group)

    def update_group(self, name: str, *, display_name: str | None = None, description: str | None = None) -> dict:
        """Rename a team for the people who read it, or describe it anew; its name (the models' key) stays.
        An empty display name gives the team its name back."""
        with self.db.write() as session:
            group = session.scalar(select(Group).where(Group.name == name.strip().lower()))
            if group is None:
                raise NotFound(f"no group named '{name}'")
            if display_name is not None:
                group.display_name = _team_display_name(display_name, group.name)
            if description is not None:
                group.description = description.strip()[:MAX_GROUP_DESCRIPTION]
            return _group_view(group)

    def groups(self) -> list[dict]:
        with self.db.read() as session:
            return [_group_view(g) for g in session.scalars(select(Group).order_by(Group.name))]

    def team_names(self) -> dict[str, str]:
        """Each team's display name by its name, for pages that show teams (one short query)."""
        with self.db.read() as session:
            return {
                name: display_name for name, display_name in session.execute(select(Group.name, Group.display_name))
            }

    @staticmethod
    def _groups_named(session: Session, names: list[str]) -> list[Group]:
        names = [check_name("group", n) for n in names]
        found = list(session.scalars(select(Group).where(Group.name.in_(names))))
        missing = sorted(set(names) - {g.name for g in found})
        if missing:
            raise Unprocessable(f"unknown group(s): {', '.join(missing)}; create them first")
        return found

    # -- users -------------------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        role: str,
        groups: list[str] | None = None,
        password: str | None = None,
        display_name: str | None = None,
    ) -> UserView:
        username = check_name("user", username)
        if role not in ROLES:
            raise InvalidRequest(f"unknown role '{role}'; roles: {', '.join(ROLES)}")
        if password is not None:
            if role == "integration":
                raise Unprocessable("integration accounts use API tokens, not passwords")
            check_password(password)
        with self.db.write() as session:
            if session.scalar(select(User.id).where(User.username == username)) is not None:
                raise Conflict(f"user '{username}' exists already")
            user = User(
                username=username,
                display_name=(display_name or username).strip()[:200],
                role=role,
                password_hash=self._hasher.hash(password) if password else None,
                disabled=False,
                failed_logins=0,
                session_generation=0,
                created_at=self.clock.now(),
            )
            user.groups = self._groups_named(session, groups or [])
            session.add(user)
            session.flush()
            return _view(user)

    def update_user(
        self,
        user_id: int,
        *,
        role: str | None = None,
        groups: list[str] | None = None,
        disabled: bool | None = None,
        password: str | None = None,
        display_name: str | None = None,
        keep_an_admin: bool = False,
    ) -> UserView:
        """Change a user in one transaction; with ``keep_an_admin``, refuse (:class:`LastAdmin`) a role change or
        disabling that would leave no enabled admin with a password (the admin pages ask for this)."""
        with self.db.write() as session:
            user = session.get(User, user_id)
            if user is None:
                raise NotFound(f"no user with id {user_id}")
            if keep_an_admin and ((role is not None and role != "admin") or disabled):
                self._keep_an_admin(session, user)
            if role is not None:
                if role not in ROLES:
                    raise InvalidRequest(f"unknown role '{role}'; roles: {', '.join(ROLES)}")
                user.role = role
            if groups is not None:
                user.groups = self._groups_named(session, groups)
            if disabled is not None:
                user.disabled = disabled
                if disabled:
                    user.session_generation += 1
            if display_name is not None:
                user.display_name = display_name.strip()[:200] or user.username
            if password is not None:
                check_password(password)
                user.password_hash = self._hasher.hash(password)
                user.failed_logins, user.locked_until = 0, None
                user.session_generation += 1
            return _view(user)

    @staticmethod
    def _keep_an_admin(session: Session, user: User) -> None:
        """Raise :class:`LastAdmin` if ``user`` is the only admin who can sign in.

        Every admin row is locked first, always in id order: of two concurrent changes that would each
        remove one of the last two admins, the second waits, reads the first's result and is refused.
        """
        admins = select(User).where(User.role == "admin").order_by(User.id).with_for_update()
        rows = list(session.scalars(admins.execution_options(populate_existing=True)))
        if _signs_in_as_admin(user) and not any(_signs_in_as_admin(other) for other in rows if other.id != user.id):
            raise LastAdmin(f"'{user.username}' is the last enabled admin with a password; make another admin first")

    def set_preferences(self, user_id: int, *, language: str | None, time_zone: str | None) -> None:
        """The user's pages' language and time zone; None for either: the browser's language, the server's zone."""
        if language is not None and language not in LANGUAGES:
            raise InvalidRequest(f"unknown language '{language}'; languages: {', '.join(LANGUAGES)}")
        if time_zone is not None:
            try:
                ZoneInfo(time_zone)
            except (ZoneInfoNotFoundError, ValueError) as error:
                raise InvalidRequest(
                    f"unknown time zone '{time_zone}' (use an IANA name such as Europe/Prague)"
                ) from error
        with self.db.write() as session:
            user = session.get(User, user_id)
            if user is None:
                raise NotFound(f"no user with id {user_id}")
            user.language, user.time_zone = language, time_zone

    def end_sessions(self, user_id: int) -> UserView:
        """Sign the user out everywhere: every page session signed in before now stops working."""
        with self.db.write() as session:
            user = session.get(User, user_id)
            if user is None:
                raise NotFound(f"no user with id {user_id}")
            user.session_generation += 1
            return _view(user)

    def users(self) -> list[UserView]:
        with self.db.read() as session:
            return [_view(u) for u in session.scalars(select(User).order_by(User.username))]

    def user(self, user_id: int) -> UserView:
        with self.db.read() as session:
            user = session.get(User, user_id)
            if user is None:
                raise NotFound(f"no user with id {user_id}")
            return _view(user)

    def by_name(self, username: str) -> UserView:
        with self.db.read() as session:
            user = session.scalar(select(User).where(User.username == username.strip().lower()))
            if user is None:
                raise NotFound(f"no user named '{username}'")
            return _view(user)

    # -- logging in --------------------------------------------------------------------------

    def login(self, username: str, password: str) -> UserView:
        """The user for a correct name and password; :class:`LoginFailed` otherwise (same message)."""
        failure = LoginFailed("wrong user name or password, or the account is locked or disabled")
        now = self.clock.now()
        with self.db.write() as session:  # the failure count must be stored, so no exception inside
            user = session.scalar(select(User).where(User.username == (username or "").strip().lower()))
            if user is None or user.password_hash is None:
                self._verify(_dummy_hash(self.password_hashing), password)  # spend the same time as a real check
                accepted = None
            elif user.locked_until is not None and user.locked_until > now:
                accepted = None
            elif user.disabled or not self._verify(user.password_hash, password):
                user.failed_logins += 1
                if user.failed_logins >= MAX_FAILED_LOGINS:
                    user.locked_until, user.failed_logins = now + LOCKOUT, 0
                accepted = None
            else:
                user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
                accepted = _view(user)
        if accepted is None:
            raise failure
        return accepted

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password or "")
        except (VerificationError, InvalidHashError):
            return False
