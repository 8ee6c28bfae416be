"""The chat's settings: its topics and the teams they go to, its timeouts and limits (``CARECENTER_CHAT_*``).

A customer picks a topic when they start a chat; the topic names the team (a group) whose staff
see the chat waiting. Topics are configured as ``team:Label`` pairs separated by ``;``, e.g.
``CARECENTER_CHAT_TOPICS="support:General questions;billing:Invoices and payments"``. The labels
of the default topics are translated on the customer's pages; labels of one's own are shown as
written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.config import env_values

DEFAULT_TOPICS = "support:General questions;technical:Technical problems;billing:Invoices and payments"
TEAM_NAME = re.compile(r"^[a-z0-9][a-z0-9_.@-]{0,99}$")  # a group's name (engine.identity.NAME_PATTERN)


@dataclass(frozen=True)
class Topic:
    """What a chat is about, as the customer chooses it; ``team`` is the group whose staff answer it."""

    team: str
    label: str


def parse_topics(raw: str) -> tuple[Topic, ...]:
    """The topics in ``team:Label;team:Label``; ValueError saying what is wrong otherwise."""
    topics: list[Topic] = []
    for part in raw.split(";"):
        if not part.strip():
            continue
        team, colon, label = part.partition(":")
        team, label = team.strip(), label.strip()
        if not colon or not TEAM_NAME.fullmatch(team) or not label or len(label) > 100:
            raise ValueError(f"{part.strip()!r} is not team:Label (a group name, a label of at most 100 characters)")
        if any(topic.team == team for topic in topics):
            raise ValueError(f"the team {team!r} is named twice")
        topics.append(Topic(team, label))
    if not topics:
        raise ValueError("name at least one topic")
    return tuple(topics)


@dataclass(frozen=True)
class ChatConfig:
    """How chats behave; every field has a ``CARECENTER_CHAT_*`` variable (docs/channels.md).

    - ``wait_seconds``: how long a chat waits in the queue before the customer is told that no
      agent is free (and may leave a message instead);
    - ``idle_seconds``: a chat in which nobody wrote for this long ends by itself (an accepted one,
      or one that waited in vain);
    - ``max_message_chars``, ``messages_per_minute``, ``max_messages``: what one customer may send;
    - ``streams``: live streams (server-sent events) one web process serves at once; beyond them
      the pages poll.
    """

    topics: tuple[Topic, ...] = parse_topics(DEFAULT_TOPICS)
    wait_seconds: float = 300.0
    idle_seconds: float = 900.0
    max_message_chars: int = 2000
    messages_per_minute: int = 20
    max_messages: int = 500
    streams: int = 4

    def __post_init__(self) -> None:
        for name in ("wait_seconds", "idle_seconds", "max_message_chars", "messages_per_minute", "max_messages"):
            if getattr(self, name) <= 0:
                raise ValueError(f"the chat's {name} must be more than 0")
        if self.streams < 0:
            raise ValueError("the chat's streams must be 0 or more")

    def topic(self, team: str) -> Topic | None:
        return next((topic for topic in self.topics if topic.team == team), None)

    @classmethod
    def from_env(cls, **overrides: object) -> ChatConfig:
        variables = {
            "topics": ("CHAT_TOPICS", parse_topics),
            "wait_seconds": ("CHAT_WAIT_SECONDS", float),
            "idle_seconds": ("CHAT_IDLE_SECONDS", float),
            "max_message_chars": ("CHAT_MAX_MESSAGE", int),
            "messages_per_minute": ("CHAT_MESSAGES_PER_MINUTE", int),
            "max_messages": ("CHAT_MAX_MESSAGES", int),
            "streams": ("CHAT_STREAMS", int),
        }
        return cls(**env_values(variables, overrides))
