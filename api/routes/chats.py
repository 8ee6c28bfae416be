"""The staff's chat API: the queue of their teams, accepting a chat, writing in it, ending it.

Staff see the chats of their teams (the groups the chats' topics go to) and their own; admins see
all. The customer's side is not here: customers chat on their pages (:mod:`api.pages.chat`), with
the chat's secret token in the address.
"""

from __future__ import annotations

from flask import Blueprint

from api.auth import current_principal, current_scope
from api.requests import json_body, paged, query_args
from api.routes.common import care

blueprint = Blueprint("chats", __name__)


@blueprint.get("/api/chats")
def list_chats():
    args = query_args()
    page = care().chats.list(current_scope(), args["limit"], args["after"], status=args["status"], agent=args["agent"])
    return paged(page, "chats.list_chats")


@blueprint.get("/api/chats/<id:chat_id>")
def get_chat(chat_id: int):
    args = query_args()
    view = care().chats.get(chat_id, current_scope())
    return {**view, "messages": care().chats.messages(chat_id, args["after"] or 0)}


@blueprint.post("/api/chats/<id:chat_id>/accept")
def accept(chat_id: int):
    return care().chats.accept(chat_id, current_principal().name, current_scope())


@blueprint.post("/api/chats/<id:chat_id>/messages")
def send(chat_id: int):
    body = json_body()
    care().chats.get(chat_id, current_scope())  # 403 for a chat of another team, before anything else
    return care().chats.post(chat_id, "agent", body["text"], agent=current_principal().name), 201


@blueprint.post("/api/chats/<id:chat_id>/close")
def close(chat_id: int):
    care().chats.close(chat_id, "agent", agent=current_principal().name, scope=current_scope())
    return care().chats.get(chat_id, current_scope())
