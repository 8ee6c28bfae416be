"""Teams by the names staff read: the display name an admin gave a group, for its technical name.

Models, scopes, filters and URLs use a team's name (``team_lead``); pages show what the care center
calls it ("Team leads"). The names are read once per request: a care center has a few dozen teams.
A name no group has (a model may name a team not created yet) is shown as it is.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, g

from api.pages.locale import gettext
from api.routes.common import care


def team_name(name: str) -> str:
    """The display name of the team named ``name``; the name itself if no group has it."""
    names = g.get("carecenter_team_names")
    if names is None:
        names = g.carecenter_team_names = care().identity.team_names()
    return names.get(name) or name


def team_names(names: Iterable[str]) -> list[str]:
    """The display names of several teams, in the order given."""
    return [team_name(name) for name in names]


def team_labels(names: Iterable[str]) -> list[str]:
    """Teams named where people could be too (whom a task waits for): by their display names, and a team
    nobody named yet as "Team support", so that a bare technical name is not taken for a person."""
    shown = []
    for name in names:
        display_name = team_name(name)
        shown.append(gettext("Team %(name)s", name=name) if display_name == name else display_name)
    return shown


def configure(app: Flask) -> None:
    app.jinja_env.globals["team_name"] = team_name
    app.jinja_env.globals["team_names"] = team_names
    app.jinja_env.globals["team_labels"] = team_labels
