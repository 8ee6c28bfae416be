"""The admin pages' forms read and checked: users, passwords, groups and API tokens.

Each reader returns the cleaned values and the problems by field name, in the viewer's language,
so a page re-renders its form with 422, the messages next to the fields, and changes nothing. The
rules are the engine's (:mod:`engine.identity`: names, roles, password length; the same as the
``carecenter user``/``token`` commands), checked here first so that every message can stand next to
its field; the engine checks again when it writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from werkzeug.datastructures import MultiDict

from api.pages.locale import gettext
from engine import identity
from engine.tokens import MAX_NAME as MAX_TOKEN_NAME

MAX_DISPLAY_NAME = 200  # the users.display_name column
MAX_TOKEN_DAYS = 3650
ADMIN_TOKEN = ""  # the token form's owner value for an admin token that belongs to nobody


@dataclass
class Checked:
    """What a form said, trimmed, and what is wrong with it (field name -> message)."""

    values: dict = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _name_problem(name: str) -> str | None:
    if not name:
        return gettext("Please fill in this field.")
    if not identity.NAME_PATTERN.match(name):
        return gettext("Use 1 to 100 characters: small letters a-z, digits and _ . @ -")
    return None


def _too_long(value: str, limit: int) -> str | None:
    return gettext("At most %(count)s characters.", count=limit) if len(value) > limit else None


def password_problem(password: str, role: str) -> str | None:
    """Why ``password`` cannot be a password of a user with ``role``, if it cannot."""
    if role == "integration":
        return gettext("Integration accounts use API tokens, not passwords.")
    if len(password) < identity.MIN_PASSWORD_LENGTH:
        return gettext("A password needs at least %(count)s characters.", count=identity.MIN_PASSWORD_LENGTH)
    return None


def _account(form: MultiDict, known_groups: list[str], checked: Checked) -> None:
    """Display name, role and teams: the fields the new-user and the edit form share."""
    display_name = form.get("display_name", "").strip()
    role = form.get("role", "")
    teams = sorted(set(form.getlist("groups")))
    checked.values.update(display_name=display_name, role=role, groups=teams)
    if problem := _too_long(display_name, MAX_DISPLAY_NAME):
        checked.errors["display_name"] = problem
    if role not in identity.ROLES:
        checked.errors["role"] = gettext("Choose a role.")
    if not set(teams) <= set(known_groups):
        checked.errors["groups"] = gettext("Choose teams from the list.")


def new_user(form: MultiDict, known_groups: list[str], taken_names: set[str]) -> Checked:
    checked = Checked()
    username = form.get("username", "").strip().lower()
    password = form.get("password", "")
    checked.values["username"] = username
    _account(form, known_groups, checked)
    if problem := _name_problem(username):
        checked.errors["username"] = problem
    elif username in taken_names:
        checked.errors["username"] = gettext("A user with this name exists already.")
    if password and (problem := password_problem(password, checked.values["role"])):
        checked.errors["password"] = problem
    checked.values["password"] = password or None  # never rendered back into the form
    return checked


def edited_user(form: MultiDict, known_groups: list[str]) -> Checked:
    checked = Checked()
    _account(form, known_groups, checked)
    return checked


def new_group(form: MultiDict, taken_names: set[str]) -> Checked:
    checked = edited_group(form)
    name = form.get("name", "").strip().lower()
    checked.values["name"] = name
    if problem := _name_problem(name):
        checked.errors["name"] = problem
    elif name in taken_names:
        checked.errors["name"] = gettext("A group with this name exists already.")
    return checked


def edited_group(form: MultiDict) -> Checked:
    """The fields of a group people read: its display name and description (its name never changes)."""
    display_name = form.get("display_name", "").strip()
    description = form.get("description", "").strip()
    checked = Checked(values={"display_name": display_name, "description": description})
    if problem := _too_long(display_name, identity.MAX_GROUP_DISPLAY_NAME):
        checked.errors["display_name"] = problem
    if problem := _too_long(description, identity.MAX_GROUP_DESCRIPTION):
        checked.errors["description"] = problem
    return checked


def new_token(form: MultiDict, usernames: set[str]) -> Checked:
    name = form.get("name", "").strip()
    owner = form.get("owner", ADMIN_TOKEN)
    days = form.get("days", "").strip()
    checked = Checked(values={"name": name, "owner": owner, "days": days})
    if not name:
        checked.errors["name"] = gettext("Please fill in this field.")
    elif problem := _too_long(name, MAX_TOKEN_NAME):
        checked.errors["name"] = problem
    if owner != ADMIN_TOKEN and owner not in usernames:
        checked.errors["owner"] = gettext("Choose an owner from the list.")
    if days and not (days.isascii() and days.isdigit() and 1 <= int(days) <= MAX_TOKEN_DAYS):
        checked.errors["days"] = gettext("Enter a whole number of days from 1 to %(most)s.", most=MAX_TOKEN_DAYS)
    return checked
