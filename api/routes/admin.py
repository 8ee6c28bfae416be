"""Users, groups and API tokens, for admins (the policy keeps everyone else out)."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint

from api.requests import json_object
from api.routes.common import care
from engine.errors import InvalidRequest
from engine.models import ApiToken
from engine.views import iso

blueprint = Blueprint("admin", __name__)


def _fields(body: dict, allowed: set[str], required: set[str] = frozenset()) -> dict:
    unknown = set(body) - allowed
    if unknown:
        raise InvalidRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
    missing = required - set(body)
    if missing:
        raise InvalidRequest(f"missing field(s): {', '.join(sorted(missing))}")
    return body


def _typed(body: dict, name: str, kind: type, what: str):
    value = body.get(name)
    if value is not None and not isinstance(value, kind):
        raise InvalidRequest(f"'{name}' must be {what}")
    return value


def _string_list(body: dict, name: str) -> list[str] | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
        raise InvalidRequest(f"'{name}' must be a list of strings")
    return value


def token_view(row: ApiToken) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "user_id": row.user_id,
        "created_at": iso(row.created_at),
        "expires_at": iso(row.expires_at),
        "revoked_at": iso(row.revoked_at),
        "last_used_at": iso(row.last_used_at),
    }


@blueprint.get("/api/users")
def list_users():
    return {"items": [u.as_dict() for u in care().identity.users()], "next": None}


@blueprint.post("/api/users")
def create_user():
    body = _fields(json_object(), {"username", "role", "groups", "password", "display_name"}, {"username", "role"})
    user = care().identity.add_user(
        _typed(body, "username", str, "a string"),
        _typed(body, "role", str, "a string"),
        _string_list(body, "groups"),
        _typed(body, "password", str, "a string"),
        _typed(body, "display_name", str, "a string"),
    )
    return user.as_dict(), 201


@blueprint.get("/api/users/<id:user_id>")
def get_user(user_id: int):
    return care().identity.user(user_id).as_dict()


@blueprint.patch("/api/users/<id:user_id>")
def update_user(user_id: int):
    body = _fields(json_object(), {"role", "groups", "disabled", "password", "display_name"})
    user = care().identity.update_user(
        user_id,
        role=_typed(body, "role", str, "a string"),
        groups=_string_list(body, "groups"),
        disabled=_typed(body, "disabled", bool, "true or false"),
        password=_typed(body, "password", str, "a string"),
        display_name=_typed(body, "display_name", str, "a string"),
    )
    return user.as_dict()


@blueprint.get("/api/groups")
def list_groups():
    return {"items": care().identity.groups(), "next": None}


@blueprint.post("/api/groups")
def create_group():
    body = _fields(json_object(), {"name", "description"}, {"name"})
    group = care().identity.add_group(
        _typed(body, "name", str, "a string"), _typed(body, "description", str, "a string") or ""
    )
    return group, 201


@blueprint.get("/api/tokens")
def list_tokens():
    return {"items": [token_view(t) for t in care().tokens.list()], "next": None}


@blueprint.post("/api/tokens")
def create_token():
    body = _fields(json_object(), {"name", "username", "expires_at"}, {"name"})
    expires_at = _typed(body, "expires_at", str, "an ISO 8601 date-time with offset")
    when = None
    if expires_at is not None:
        try:
            when = datetime.fromisoformat(expires_at)
        except ValueError:
            raise InvalidRequest("'expires_at' must be an ISO 8601 date-time with offset") from None
        if when.tzinfo is None:
            raise InvalidRequest("'expires_at' needs a UTC offset, e.g. 2027-01-01T00:00:00+00:00")
    row, value = care().tokens.create(
        _typed(body, "name", str, "a string"), expires_at=when, username=_typed(body, "username", str, "a string")
    )
    return {**token_view(row), "token": value}, 201


@blueprint.post("/api/tokens/<id:token_id>/revoke")
def revoke_token(token_id: int):
    return token_view(care().tokens.revoke(token_id))
