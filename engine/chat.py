"""Chats between customers and the care center: the queue, the messages, the timeouts; every change one row.

A customer starts a chat on a topic (from a case's tracking page, or the portal); it waits in the
queue of the topic's team (:mod:`engine.chat_config`) until one of the team's staff accepts it,
then both write until one of them ends it or nobody writes for ``idle_seconds``. A chat nobody
accepts within ``wait_seconds`` is *missed*: the customer is told, and may leave a message instead.
A chat closed with anything written in it is filed (:mod:`engine.chat_filing`): its transcript
continues the case it was started from, or starts an inquiry with channel ``chat``.

The customer's credential is the chat's token: 32 random bytes, handed out once, kept as its
SHA-256 digest and compared in constant time, like the phone systems' tokens (:mod:`engine.cti`).

Every message, and every change of a chat (started, accepted, missed, closed, filed), is one
``chat_messages`` row written in the transaction of the change. So nothing is lost when a server
restarts, a page resumes by asking for the rows after the last id it has, and any web process can
follow any chat by id; within this process :meth:`Chats.wait` wakes the followers at once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from engine import chat_filing
from engine.change_signal import ChangeSignal
from engine.chat_config import ChatConfig
from engine.clock import Clock
from engine.config import Settings
from engine.db import Database
from engine.errors import CareError, Conflict, InvalidRequest, NotFound, Unprocessable
from engine.intake import Intake
from engine.models import Chat, ChatMessage, Group, ProcessInstance, User, UserGroup
from engine.pagination import Page, page_of
from engine.views import iso
from engine.visibility import Forbidden, TaskScope
from process_library.store import Customer

log = logging.getLogger(__name__)

TOKEN_BYTES = 32
STATUSES = ("waiting", "active", "missed", "closed")
OPEN_STATUSES = ("waiting", "active", "missed")
# why a chat ended: the customer or the agent ended it, nobody wrote for idle_seconds, the customer left a
# message instead of waiting, or it waited in vain and then nobody wrote
CLOSE_REASONS = ("customer", "agent", "idle", "message_left", "unanswered")
MAX_NAME = 200
MAX_EMAIL = 300
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
CONTACT_PREFIX = "web:"  # an unverified contact, as the portal files its web inquiries
LANGUAGES = ("en", "de", "cs")
STAFF_ROLES = ("staff", "admin")
RATE_WINDOW = timedelta(minutes=1)
FILING_BATCH = 50


class TooManyMessages(CareError):
    problem_type = "/problems/rate-limited"
    status = 429
    title = "Too many requests"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Started:
    """A new chat: its token (shown once: it is the customer's link) and its staff view."""

    token: str
    chat: dict


def chat_view(chat: Chat, now: datetime, reference: str | None = None) -> dict:
    """A chat as staff see it (``GET /api/chats/{id}``)."""
    until = chat.accepted_at or chat.closed_at or now
    return {
        "id": chat.id,
        "status": chat.status,
        "topic": chat.topic,
        "team": chat.team,
        "customer_id": chat.customer_id,
        "signed_in": chat.signed_in,
        "name": chat.name,
        "email": chat.email,
        "language": chat.language,
        "instance_id": chat.instance_id,
        "reference": reference,
        "agent": chat.agent,
        "created_at": chat.created_at.isoformat(),
        "accepted_at": iso(chat.accepted_at),
        "closed_at": iso(chat.closed_at),
        "close_reason": chat.close_reason,
        "waiting_seconds": max(0, int((until - chat.created_at).total_seconds())),
        "last_activity_at": chat.last_activity_at.isoformat(),
        "filed_at": iso(chat.filed_at),
        "filed_instance_id": chat.filed_instance_id,
        "filed_reference": chat.filed_reference,
    }


def message_view(row: ChatMessage) -> dict:
    return {
        "id": row.id,
        "author": row.author,
        "kind": row.kind,
        "sender": row.sender,
        "text": row.text,
        "created_at": row.created_at.isoformat(),
    }


def for_customer(message: dict) -> dict:
    """A message as the customer's page gets it: without the agent's name (the customer view names no staff)."""
    return {**message, "sender": None}


class Chats:
    """The chats: started and written by customers, accepted, written and ended by staff, timed out by the worker."""

    def __init__(self, db: Database, clock: Clock, config: ChatConfig, intake: Intake, settings: Settings) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.intake = intake
        self.settings = settings
        self.signal = ChangeSignal()  # bumped whenever this process changes a chat (the live streams wait on it)

    # -- the customer's side ---------------------------------------------------------------------

    def start(
        self,
        *,
        topic: str,
        name: str | None,
        email: str | None,
        language: str | None,
        customer_id: str | None = None,
        tracking_code: str | None = None,
    ) -> Started:
        """A new chat in the queue of the topic's team; the customer is signed in (``customer_id``) or names
        themselves. From a tracking page (``tracking_code``) it belongs to that case and its customer.

        A topic whose team has no staff member goes straight to *missed*: the customer may leave a message.
        """
        if not isinstance(topic, str) or self.config.topic(topic) is None:
            raise InvalidRequest(f"topic must be one of {', '.join(t.team for t in self.config.topics)}")
        now = self.clock.now()
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self.db.write() as session:
            instance = None
            if tracking_code is not None:
                instance = session.scalar(select(ProcessInstance).where(ProcessInstance.tracking_code == tracking_code))
                if instance is None:
                    raise NotFound("no case has this tracking code")
            if customer_id is not None:
                record = session.get(Customer, customer_id)
                if record is None:
                    raise NotFound(f"no customer has the id {customer_id}")
                name, email, filed_under = record.name, record.email, record.id
            else:
                name, email = _who(name, email)
                filed_under = (instance.customer_id if instance is not None else None) or CONTACT_PREFIX + email
            staffed = _staffed(session, topic)
            chat = Chat(
                token_hash=digest(token),
                topic=topic,
                team=topic,
                status="waiting" if staffed else "missed",
                language=language if language in LANGUAGES else "en",
                customer_id=filed_under,
                signed_in=customer_id is not None,
                name=name,
                email=email,
                instance_id=instance.id if instance is not None else None,
                created_at=now,
                last_activity_at=now,
            )
            session.add(chat)
            session.flush()
            _system(session, chat, "started", now)
            if not staffed:
                _system(session, chat, "missed", now)
            view = self._view(session, chat, now)
        self.signal.notify()
        return Started(token, view)

    def find(self, token: str) -> int | None:
        """The chat whose token this is; None for an unknown one."""
        if not isinstance(token, str) or not token or len(token) > 200:
            return None
        wanted = digest(token)
        with self.db.read() as session:
            row = session.execute(select(Chat.id, Chat.token_hash).where(Chat.token_hash == wanted)).first()
        if row is None or not hmac.compare_digest(row.token_hash, wanted):
            return None
        return row.id

    def customer_view(self, chat_id: int) -> dict:
        """What the customer's page shows of the chat: no staff names, the case's reference and status link."""
        now = self.clock.now()
        with self.db.read() as session:
            chat = self._get(session, chat_id)
            case = session.get(ProcessInstance, chat.filed_instance_id or chat.instance_id or 0)
            position = None
            if chat.status == "waiting":
                ahead = select(func.count(Chat.id)).where(
                    Chat.status == "waiting", Chat.team == chat.team, Chat.id < chat.id
                )
                position = (session.scalar(ahead) or 0) + 1
            return {
                "status": chat.status,
                "topic": chat.topic,
                "language": chat.language,
                "name": chat.name,
                "position": position,
                "created_at": chat.created_at.isoformat(),
                "waiting_seconds": chat_view(chat, now)["waiting_seconds"],
                "close_reason": chat.close_reason,
                "reference": case.reference if case is not None else None,
                "tracking_code": case.tracking_code if case is not None else None,
                "filed": chat.filed_at is not None,
                "can_send": chat.status in ("waiting", "active"),
                "can_leave_message": chat.status in ("waiting", "missed"),
            }

    def leave_message(self, chat_id: int, text: str) -> None:
        """The customer gives up waiting: their message ends the chat, which is filed as an inquiry."""
        text = self._text(text)
        with self.db.write() as session:
            chat = self._locked(session, chat_id)
            if chat.status not in ("waiting", "missed"):
                raise Conflict("an agent is with you already" if chat.status == "active" else "the chat has ended")
            now = self.clock.now()
            self._check_rate(session, chat, now)
            self._check_size(session, chat)
            session.add(ChatMessage(chat_id=chat.id, author="customer", kind="text", text=text, created_at=now))
            self._close(session, chat, "message_left", now)
        self.signal.notify()
        self.file(chat_id)

    # -- the staff's side ------------------------------------------------------------------------

    def accept(self, chat_id: int, agent: str, scope: TaskScope | None) -> dict:
        """The agent takes the chat: a waiting one, or a missed one whose customer may still be there."""
        with self.db.write() as session:
            chat = self._locked(session, chat_id)
            _require_team(chat, scope)
            if chat.status == "active":
                raise Conflict(
                    f"{chat.agent} has accepted the chat already" if chat.agent != agent else "yours already"
                )
            if chat.status == "closed":
                raise Conflict("the chat has ended")
            now = self.clock.now()
            chat.status, chat.agent, chat.accepted_at, chat.last_activity_at = "active", agent, now, now
            _system(session, chat, "accepted", now, sender=agent)
            view = self._view(session, chat, now)
        self.signal.notify()
        return view

    def get(self, chat_id: int, scope: TaskScope | None) -> dict:
        now = self.clock.now()
        with self.db.read() as session:
            chat = self._get(session, chat_id)
            _require_visible(chat, scope)
            return self._view(session, chat, now)

    def list(
        self,
        scope: TaskScope | None,
        limit: int,
        after: int | None = None,
        *,
        status: str | None = None,
        agent: str | None = None,
    ) -> Page[dict]:
        """The chats the principal may see: their teams' and their own (all for admins).

        Waiting chats come oldest first (the queue's order), every other list newest first;
        ``after`` is the id of the last chat of the previous page. ``agent`` keeps the chats this user accepted.
        """
        if status is not None and status not in STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}")
        oldest_first = status == "waiting"
        query = select(Chat).order_by(Chat.id if oldest_first else Chat.id.desc()).limit(limit + 1)
        if after is not None:
            query = query.where(Chat.id > after if oldest_first else Chat.id < after)
        if status is not None:
            query = query.where(Chat.status == status)
        if agent is not None:
            query = query.where(Chat.agent == agent)
        if scope is not None:
            query = query.where(or_(Chat.team.in_(sorted(scope.groups)), Chat.agent == scope.username))
        now = self.clock.now()
        with self.db.read() as session:
            rows = list(session.scalars(query))
            page = page_of(rows, limit, key=lambda chat: chat.id)
            references = _references(session, [chat.instance_id for chat in page.items])
            views = [chat_view(chat, now, references.get(chat.instance_id)) for chat in page.items]
        return Page(views, page.next_after)

    # -- both sides ------------------------------------------------------------------------------

    def post(self, chat_id: int, author: str, text: str, *, agent: str | None = None) -> dict:
        """A message of the customer, or of the agent who accepted the chat; the new row."""
        text = self._text(text)
        with self.db.write() as session:
            chat = self._locked(session, chat_id)
            if chat.status == "closed":
                raise Conflict("the chat has ended")
            now = self.clock.now()
            if author == "agent":
                if chat.status != "active" or chat.agent != agent:
                    raise Conflict("accept the chat before you write in it" if chat.agent is None else "not your chat")
            elif chat.status == "missed":
                raise Conflict("no agent is free: leave a message instead")
            else:
                self._check_rate(session, chat, now)
            self._check_size(session, chat)
            row = ChatMessage(
                chat_id=chat.id,
                author=author,
                kind="text",
                sender=agent if author == "agent" else None,
                text=text,
                created_at=now,
            )
            session.add(row)
            chat.last_activity_at = now
            session.flush()
            view = message_view(row)
        self.signal.notify()
        return view

    def close(self, chat_id: int, by: str, *, agent: str | None = None, scope: TaskScope | None = None) -> None:
        """End the chat (``by``: customer or agent) and file it; ending an ended chat changes nothing."""
        with self.db.write() as session:
            chat = self._locked(session, chat_id)
            if by == "agent":
                _require_visible(chat, scope)
                if scope is not None and chat.agent != agent:
                    raise Forbidden("only the agent who accepted the chat ends it")
            if chat.status == "closed":
                return
            self._close(session, chat, by, self.clock.now(), agent if by == "agent" else None)
        self.signal.notify()
        self.file(chat_id)

    def messages(self, chat_id: int, after: int = 0, limit: int = 500) -> list[dict]:
        """The chat's rows after the id ``after``, oldest first."""
        query = (
            select(ChatMessage)
            .where(ChatMessage.chat_id == chat_id, ChatMessage.id > after)
            .order_by(ChatMessage.id)
            .limit(limit)
        )
        with self.db.read() as session:
            return [message_view(row) for row in session.scalars(query)]

    def last_message(self, chat_id: int | None = None) -> int:
        """The newest row's id: of one chat, or of all (the queue changes whenever it moves)."""
        query = select(func.max(ChatMessage.id))
        if chat_id is not None:
            query = query.where(ChatMessage.chat_id == chat_id)
        with self.db.read() as session:
            return session.scalar(query) or 0

    # -- the worker's round ----------------------------------------------------------------------

    def expire(self) -> int:
        """Chats past their timeouts: waiting ones become missed, idle ones close. Then file what is closed.

        Returns how many chats changed.
        """
        now = self.clock.now()
        waited = now - timedelta(seconds=self.config.wait_seconds)
        idle = now - timedelta(seconds=self.config.idle_seconds)
        changed = 0
        with self.db.write() as session:
            due = or_(
                (Chat.status == "waiting") & (Chat.created_at <= waited),
                (Chat.status.in_(("active", "missed"))) & (Chat.last_activity_at <= idle),
            )
            query = select(Chat).where(due).order_by(Chat.id).limit(FILING_BATCH)
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            for chat in session.scalars(query):
                changed += 1
                if chat.status == "waiting":
                    chat.status, chat.last_activity_at = "missed", now
                    _system(session, chat, "missed", now)
                else:
                    self._close(session, chat, "idle" if chat.status == "active" else "unanswered", now)
        if changed:
            self.signal.notify()
        self.file_pending()
        return changed

    def file_pending(self) -> int:
        """File closed chats not filed yet (a crash or an error after closing left them); returns how many."""
        with self.db.read() as session:
            query = select(Chat.id).where(Chat.status == "closed", Chat.filed_at.is_(None)).order_by(Chat.id)
            pending = list(session.scalars(query.limit(FILING_BATCH)))
        done = 0
        for chat_id in pending:
            try:
                self.file(chat_id)
                done += 1
            except Exception:  # one chat's problem must not keep the others unfiled; the next round retries
                log.exception("filing chat %s failed", chat_id)
        return done

    def file(self, chat_id: int) -> None:
        """Hand the closed chat's transcript to the case or a new inquiry (:mod:`engine.chat_filing`)."""
        if chat_filing.file(self.db, self.intake, self.settings, self.config, self.clock, chat_id):
            self.signal.notify()

    # -- inside ----------------------------------------------------------------------------------

    def _get(self, session: Session, chat_id: int) -> Chat:
        chat = session.get(Chat, chat_id)
        if chat is None:
            raise NotFound(f"no chat has the id {chat_id}")
        return chat

    def _locked(self, session: Session, chat_id: int) -> Chat:
        chat = session.get(Chat, chat_id, with_for_update=not self.db.is_sqlite)
        if chat is None:
            raise NotFound(f"no chat has the id {chat_id}")
        return chat

    def _view(self, session: Session, chat: Chat, now: datetime) -> dict:
        return chat_view(chat, now, _references(session, [chat.instance_id]).get(chat.instance_id))

    def _text(self, text: object) -> str:
        if not isinstance(text, str):
            raise InvalidRequest("text must be a string")
        text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
        if not text:
            raise InvalidRequest("write something first")
        if "\x00" in text:
            raise InvalidRequest("text must not contain a NUL character")
        if len(text) > self.config.max_message_chars:
            raise InvalidRequest(f"a message has at most {self.config.max_message_chars} characters")
        return text

    def _check_rate(self, session: Session, chat: Chat, now: datetime) -> None:
        """At most ``messages_per_minute`` of the customer's messages a minute."""
        recent = select(func.count(ChatMessage.id)).where(
            ChatMessage.chat_id == chat.id, ChatMessage.author == "customer", ChatMessage.created_at > now - RATE_WINDOW
        )
        if (session.scalar(recent) or 0) >= self.config.messages_per_minute:
            raise TooManyMessages(f"at most {self.config.messages_per_minute} messages a minute")

    def _check_size(self, session: Session, chat: Chat) -> None:
        """At most ``max_messages`` rows in one chat."""
        total = session.scalar(select(func.count(ChatMessage.id)).where(ChatMessage.chat_id == chat.id)) or 0
        if total >= self.config.max_messages:
            raise Unprocessable(f"a chat holds at most {self.config.max_messages} messages; start a new one")

    def _close(self, session: Session, chat: Chat, reason: str, now: datetime, by: str | None = None) -> None:
        chat.status, chat.close_reason, chat.closed_at, chat.last_activity_at = "closed", reason, now, now
        _system(session, chat, "closed", now, sender=by, text=reason)


def _who(name: object, email: object) -> tuple[str, str]:
    """The name and e-mail address a customer who is not signed in gives; InvalidRequest naming what is wrong."""
    problems = []
    name = name.strip() if isinstance(name, str) else ""
    email = email.strip().lower() if isinstance(email, str) else ""
    if not name or len(name) > MAX_NAME or "\x00" in name:
        problems.append(f"name must be a non-empty string of at most {MAX_NAME} characters")
    if not EMAIL.fullmatch(email) or len(email) > MAX_EMAIL:
        problems.append("email must be an e-mail address")
    if problems:
        raise InvalidRequest("; ".join(problems))
    return name, email


def _staffed(session: Session, team: str) -> bool:
    """Whether the team has an enabled staff member (or admin) who could accept the chat."""
    query = (
        select(User.id)
        .join(UserGroup, UserGroup.user_id == User.id)
        .join(Group, Group.id == UserGroup.group_id)
        .where(Group.name == team, User.disabled.is_(False), User.role.in_(STAFF_ROLES))
        .limit(1)
    )
    return session.scalar(query) is not None


def _system(
    session: Session, chat: Chat, kind: str, now: datetime, *, sender: str | None = None, text: str = ""
) -> None:
    session.add(ChatMessage(chat_id=chat.id, author="system", kind=kind, sender=sender, text=text, created_at=now))


def _references(session: Session, instance_ids: list[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in instance_ids if i is not None})
    if not wanted:
        return {}
    rows = session.execute(select(ProcessInstance.id, ProcessInstance.reference).where(ProcessInstance.id.in_(wanted)))
    return {instance_id: reference for instance_id, reference in rows}


def _require_visible(chat: Chat, scope: TaskScope | None) -> None:
    if scope is not None and chat.team not in scope.groups and chat.agent != scope.username:
        raise Forbidden(f"chat {chat.id} is for the team {chat.team}")


def _require_team(chat: Chat, scope: TaskScope | None) -> None:
    if scope is not None and chat.team not in scope.groups:
        raise Forbidden(f"chat {chat.id} is for the team {chat.team}")
