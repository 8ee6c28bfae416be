"""Users, groups and API tokens, for admins (the policy keeps everyone else out)."""

from __future__ import annotations

from flask import Blueprint

from api.requests import date_time, json_body
from api.routes.common import care
from engine.models import ApiToken
from engine.views import iso

blueprint = Blueprint("admin", __name__)


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
    body = json_body()
    user = care().identity.add_user(
        body["username"], body["role"], body.get("groups"), body.get("password"), body.get("display_name")
    )
    return user.as_dict(), 201


@blueprint.get("/api/users/<id:user_id>")
def get_user(user_id: int):
    return care().identity.user(user_id).as_dict()


@blueprint.patch("/api/users/<id:user_id>")
def update_user(user_id: int):
    body = json_body()
    user = care().identity.update_user(
        user_id,
        role=body.get("role"),
        groups=body.get("groups"),
        disabled=body.get("disabled"),
        password=body.get("password"),
        display_name=body.get("display_name"),
    )
    return user.as_dict()


@blueprint.post("/api/users/<id:user_id>/sign-out")
def sign_out_user(user_id: int):
    """Sign a user out everywhere: every page session of theirs ends now (their API tokens stay)."""
    return care().identity.end_sessions(user_id).as_dict()


@blueprint.get("/api/groups")
def list_groups():
    return {"items": care().identity.groups(), "next": None}


@blueprint.post("/api/groups")
def create_group():
    body = json_body()
    group = care().identity.add_group(body["name"], body.get("description", ""), body.get("display_name"))
    return group, 201


@blueprint.patch("/api/groups/<name>")
def update_group(name: str):
    """Rename a team for the people who read it, or describe it anew; its name, which models use, stays."""
    body = json_body()
    return care().identity.update_group(
        name, display_name=body.get("display_name"), description=body.get("description")
    )


@blueprint.get("/api/tokens")
def list_tokens():
    return {"items": [token_view(t) for t in care().tokens.list()], "next": None}


@blueprint.post("/api/tokens")
def create_token():
    body = json_body()
    expires_at = date_time(body["expires_at"]) if "expires_at" in body else None
    row, value = care().tokens.create(body["name"], expires_at=expires_at, username=body.get("username"))
    return {**token_view(row), "token": value}, 201


@blueprint.post("/api/tokens/<id:token_id>/revoke")
def revoke_token(token_id: int):
    return token_view(care().tokens.revoke(token_id))
