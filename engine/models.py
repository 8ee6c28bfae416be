"""SQLAlchemy tables: the instance row (store of record) and the read models written beside it.

Lists and status pages query the read-model tables (human tasks, history, incidents) and
never deserialize a workflow; every one of them is written in the same transaction as
the instance row it mirrors.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes in UTC on every backend (SQLite returns naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")

# Integer primary keys are INTEGER columns: 32-bit on PostgreSQL. Larger numbers name no row (and
# PostgreSQL refuses them), so the API turns them away before they reach a query.
MAX_ID = 2**31 - 1


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType, list[Any]: JSONType}


class Deployment(Base):
    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))

    resources: Mapped[list[DeploymentResource]] = relationship(
        back_populates="deployment", order_by="DeploymentResource.id"
    )


class DeploymentResource(Base):
    """One uploaded file (.bpmn or .dmn), kept byte for byte."""

    __tablename__ = "deployment_resources"

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(10))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    checksum: Mapped[str] = mapped_column(String(64))

    deployment: Mapped[Deployment] = relationship(back_populates="resources")


class ProcessDefinition(Base):
    """One version of one BPMN process; ``key`` is the process id in the XML."""

    __tablename__ = "process_definitions"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_process_definitions_key_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    executable: Mapped[bool] = mapped_column(Boolean)
    checksum: Mapped[str] = mapped_column(String(64))
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), index=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("deployment_resources.id"))
    # Called processes and decisions found outside the deployment, pinned at deploy time:
    # {"processes": {process_id: definition_id}, "resources": [resource_id, ...]}
    dependencies: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]

    resource: Mapped[DeploymentResource] = relationship()


class ProcessInstance(Base):
    """The store of record of one running or finished process: serializer output plus a version."""

    __tablename__ = "process_instances"
    __table_args__ = (
        Index("ix_process_instances_status_id", "status", "id"),
        Index("ix_process_instances_key_id", "process_key", "id"),
        # the instance list (engine/instance_list.py): sorted by start or last change, filtered by version
        Index("ix_process_instances_started", "started_at", "id"),
        Index("ix_process_instances_updated", "updated_at", "id"),
        Index("ix_process_instances_key_version", "process_key", "definition_version", "id"),
        # the data lifecycle (engine/lifecycle.py): ended instances past the retention, oldest first
        Index("ix_process_instances_ended", "ended_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(200))
    definition_version: Mapped[int] = mapped_column(Integer)
    business_key: Mapped[str | None] = mapped_column(String(200), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(200), index=True)
    channel: Mapped[str | None] = mapped_column(String(20))  # where the customer wrote from (channel intake)
    # The address the customer wrote from (channel intake): with the reference, it opens the status page.
    contact_email: Mapped[str | None] = mapped_column(String(300))
    tracking_code: Mapped[str] = mapped_column(String(64), unique=True)  # the secret of the status page
    reference: Mapped[str] = mapped_column(String(16), unique=True, index=True)  # see engine.case_reference
    status: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    started_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    # What the read models held after the last step (engine/read_models.py): lets the next step skip reads.
    read_model_digest: Mapped[dict[str, Any] | None]

    __mapper_args__ = {"version_id_col": version}


class HumanTask(Base):
    """A ready user or manual task, mirrored so task lists never load a workflow."""

    __tablename__ = "human_tasks"
    __table_args__ = (
        Index("ix_human_tasks_status_id", "status", "id"),
        Index("ix_human_tasks_instance_status", "instance_id", "status"),
        Index("ix_human_tasks_assignee_status", "assignee", "status"),
        Index("ix_human_tasks_process_status", "process_key", "status"),
        # The staff search finds open tasks by name: PostgreSQL's text index (SQLite: an FTS5 table, migration 0013).
        Index(
            "ix_human_tasks_open_name",
            text("to_tsvector('simple', name)"),
            postgresql_using="gin",
            postgresql_where=text("status = 'open'"),
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"))
    task_guid: Mapped[str] = mapped_column(String(36), unique=True)
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    process_key: Mapped[str] = mapped_column(String(200))
    lane: Mapped[str | None] = mapped_column(String(200))
    assignee: Mapped[str | None] = mapped_column(String(200))
    form_key: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(200))
    draft: Mapped[dict[str, Any] | None]

    candidates: Mapped[list[HumanTaskCandidate]] = relationship(
        cascade="all, delete-orphan", order_by="HumanTaskCandidate.name", lazy="selectin"
    )

    def candidate_names(self, kind: str) -> list[str]:
        return sorted(candidate.name for candidate in self.candidates if candidate.kind == kind)


class HumanTaskCandidate(Base):
    """A candidate group or user of a human task, one row each so lists filter by index.

    ``task_open`` repeats whether the task is open, so that a team's open-task list walks the
    index entries of open tasks only, not those of every task the team ever had.
    """

    __tablename__ = "human_task_candidates"
    __table_args__ = (Index("ix_human_task_candidates_open", "kind", "name", "task_open", "task_id"),)

    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    task_open: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class HistoryEvent(Base):
    """An append-only record of one change, with the principal who caused it."""

    __tablename__ = "history_events"
    __table_args__ = (Index("ix_history_events_instance_id", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"))
    event_type: Mapped[str] = mapped_column(String(50))
    element_id: Mapped[str | None] = mapped_column(String(200))
    human_task_id: Mapped[int | None] = mapped_column(Integer)
    principal: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
    details: Mapped[dict[str, Any]]


class Incident(Base):
    """A failure at one element that stopped an instance, or a customer mail of it not delivered, until retried."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    element_id: Mapped[str | None] = mapped_column(String(200))
    element_name: Mapped[str | None] = mapped_column(String(300))
    error_type: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    # Set when the failure is a service-task job that ran out of tries: retrying runs the job again.
    job_id: Mapped[int | None] = mapped_column(Integer)
    # Set when a mail to the customer could not be delivered (refused, bounced): retrying sends it again.
    outbox_id: Mapped[int | None] = mapped_column(Integer)


class ApiToken(Base):
    """A bearer token; only its SHA-256 digest is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", name="fk_api_tokens_user_id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class IdempotencyRecord(Base):
    """The first response to a request sent with an ``Idempotency-Key`` header."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_records_scope_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(300))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Timer(Base):
    """One occurrence of a timer: the worker claims due rows and fires each once.

    Instance timers (intermediate, boundary, event-subprocess start) mirror a WAITING timer task
    and are written in the same transaction as the instance row; start timers of a process
    definition (``instance_id`` empty) start a new instance when they fire.  A repeating timer
    has one row per occurrence (``occurrence`` counts from 1).  ``claimed_by``/``claimed_until``
    are the lease of the worker firing the row; an expired lease may be taken over.
    """

    __tablename__ = "timers"
    __table_args__ = (
        Index("ix_timers_status_due", "status", "due_at"),
        Index("ix_timers_instance_status", "instance_id", "status"),
        Index("ix_timers_key_status", "process_key", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(200))
    element_id: Mapped[str] = mapped_column(String(200))
    element_name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))  # intermediate, boundary, start
    task_guid: Mapped[str | None] = mapped_column(String(36))
    due_at: Mapped[datetime]
    occurrence: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20))  # pending, fired, cancelled, suspended
    # Start timers only: {"cycles": repetitions left after this one (-1: forever), "interval": seconds}
    schedule: Mapped[dict[str, Any] | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]
    started_instance_id: Mapped[int | None] = mapped_column(Integer)


class TimerWorker(Base):
    """A worker process, as it last reported itself: the operators' view of who fires timers."""

    __tablename__ = "timer_workers"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    last_run_at: Mapped[datetime | None]
    fired: Mapped[int] = mapped_column(Integer, default=0)
    stopped_at: Mapped[datetime | None]


class User(Base):
    """A person (staff, designer, admin) or an integration account (a channel system, the portal)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    # Sessions carry the generation they were signed in under; bumping it ends all of them (logout, password...).
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The pages' language (en, de, cs) and time zone (an IANA name); null: the browser's language, the server's zone.
    language: Mapped[str | None] = mapped_column(String(10))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]

    groups: Mapped[list[Group]] = relationship(secondary="user_groups", lazy="selectin", order_by="Group.name")


class Group(Base):
    """A team; a task's candidate groups name teams."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # What staff read for the team (its name, unless an admin named it otherwise); models and scopes use ``name``.
    display_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    description: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime]


class UserGroup(Base):
    __tablename__ = "user_groups"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), primary_key=True, index=True)


class ServiceJob(Base):
    """One call of an operation by a service task, run by a worker outside the request.

    Written with the instance when it reaches the service task (status ``pending``); a worker
    claims it (``claimed_by``/``claimed_until``, a lease), calls the operation, then completes
    the task in one transaction with the instance (``completed``).  A transient failure puts it
    back to ``pending`` with a later ``due_at``; the last one makes it ``failed`` with an
    incident.  ``idempotency_key`` is stable across every try of one call.

    Rows of ``kind`` ``external`` are external tasks (:mod:`engine.external_tasks`): ``operation``
    is their topic, and an outside worker holds the lease (``claimed_by`` is its worker id,
    ``claimed_until`` the lock's expiration); ``retries`` and ``error_details`` are what its last
    failure report said.
    """

    __tablename__ = "service_jobs"
    __table_args__ = (
        Index("ix_service_jobs_status_due", "status", "due_at"),
        Index("ix_service_jobs_instance_status", "instance_id", "status"),
        Index("ix_service_jobs_kind_topic", "kind", "operation", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"))
    process_key: Mapped[str] = mapped_column(String(200))
    element_id: Mapped[str] = mapped_column(String(200))
    element_name: Mapped[str] = mapped_column(String(300))
    task_guid: Mapped[str] = mapped_column(String(36))
    operation: Mapped[str] = mapped_column(String(200))
    arguments: Mapped[dict[str, Any]]
    result_variable: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="operation", server_default="operation")  # or external
    status: Mapped[str] = mapped_column(String(20))  # pending, completed, failed, cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    backoff_seconds: Mapped[float] = mapped_column(Float)
    due_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    retries: Mapped[int | None] = mapped_column(Integer)  # external tasks: left by the last failure report
    error_details: Mapped[str | None] = mapped_column(Text)  # external tasks: details of the last failure
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # external tasks: taskPriority


class MessageSubscription(Base):
    """A waiting message or signal catch of an instance, mirrored so correlation reads rows, not workflows.

    Written in the same transaction as the instance row after every step: receive tasks,
    intermediate catch events, boundary events and the branches of event-based gateways.
    ``correlation`` holds the values the catch correlates on (Spiff correlation properties, or
    the variable a ``correlation_key`` property names), evaluated over the task data.
    """

    __tablename__ = "message_subscriptions"
    __table_args__ = (Index("ix_message_subscriptions_kind_name", "kind", "name", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    task_guid: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))  # message, signal
    name: Mapped[str] = mapped_column(String(200))
    correlation: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Message(Base):
    """A published or thrown message: delivered at once, or kept until a catch matches or its ttl ends.

    ``message_id`` (unique) makes publishing idempotent: a second publish returns ``result``.
    Status: ``pending`` (buffered), ``delivered``, ``expired``.
    """

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_status_name", "status", "name", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(200))
    correlation: Mapped[dict[str, Any]]
    target_instance_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20))
    result: Mapped[dict[str, Any] | None]
    published_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class CustomerStatus(Base):
    """What the customer sees of one instance, written with the instance row (see :mod:`engine.status`)."""

    __tablename__ = "customer_status"
    __table_args__ = (Index("ix_customer_status_stage", "stage", "instance_id"),)  # the instance list's stage filter

    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(64), unique=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True, index=True)
    customer_id: Mapped[str | None] = mapped_column(String(200), index=True)
    process_key: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    stage: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # received, in_progress, waiting_for_you, completed, cancelled
    message: Mapped[str | None] = mapped_column(Text)
    # The whitelisted customer_fields with their values ({name: value}, scalars only), for the status page.
    fields: Mapped[dict[str, Any] | None]
    expected_by: Mapped[datetime | None]
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CustomerStageEvent(Base):
    """One stage an instance entered (and left), for the customer's history."""

    __tablename__ = "customer_stage_events"
    __table_args__ = (Index("ix_customer_stage_events_instance", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"))
    stage: Mapped[str] = mapped_column(String(200))
    entered_at: Mapped[datetime]
    left_at: Mapped[datetime | None]


class Contact(Base):
    """One contact with a customer on any channel, in or out: the customer page's history of who said what, when.

    Written by channel intake (inbound inquiries and replies), by staff logging a call, visit or
    letter, and by outgoing customer mail; never changed afterwards. ``instance_id`` names the case
    the contact belongs to, when there is one (no foreign key: the record outlives a purged instance).
    """

    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_customer", "customer_id", "id"),
        Index("ix_contacts_instance", "instance_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(200))
    instance_id: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(20))  # email, phone, web, chat, visit, letter
    direction: Mapped[str] = mapped_column(String(10))  # in (from the customer), out (to the customer)
    subject: Mapped[str | None] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))  # the staff member, channel system or process
    created_at: Mapped[datetime]


class Note(Base):
    """An internal note by staff on a case or a customer: never shown to the customer."""

    __tablename__ = "notes"
    __table_args__ = (
        Index("ix_notes_customer", "customer_id", "id"),
        Index("ix_notes_instance", "instance_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(200))
    instance_id: Mapped[int | None] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class InboundMail(Base):
    """One mail as it arrived (raw bytes, attachments included), and what processing made of it.

    The receiver (SMTP/LMTP) or the IMAP reader commits the row before it acknowledges the mail, so
    nothing is lost; the row is also the job queue of its processing (status ``received``, leased by
    ``claimed_by``/``claimed_until``, like service jobs). ``dedup_key`` (SHA-256 of the Message-ID,
    or of the content without trace headers when there is none) makes a second delivery store
    nothing. A failed mail keeps its error and waits for an admin's retry. See :mod:`engine.mail_store`.
    """

    __tablename__ = "inbound_mails"
    __table_args__ = (
        Index("ix_inbound_mails_status_due", "status", "due_at", "id"),
        Index("ix_inbound_mails_message_id", "message_id"),
        Index("ix_inbound_mails_sender", "sender", "received_at"),
        Index("ix_inbound_mails_instance", "instance_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(10))  # smtp, lmtp, imap
    dedup_key: Mapped[str] = mapped_column(String(64), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(500))  # without angle brackets
    reference_ids: Mapped[str | None] = mapped_column(Text)  # its References (space-separated), after parsing
    content_hash: Mapped[str] = mapped_column(String(64))
    envelope_from: Mapped[str | None] = mapped_column(String(300))  # MAIL FROM; "" is the null sender of bounces
    recipients: Mapped[list[Any]]
    size: Mapped[int] = mapped_column(Integer)
    raw: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    status: Mapped[str] = mapped_column(String(20))  # received, processed, failed, ignored
    kind: Mapped[str | None] = mapped_column(String(20))  # inquiry, reply, bounce, auto_reply, own_mail
    sender: Mapped[str | None] = mapped_column(String(300))  # the From address, lower case (after parsing)
    subject: Mapped[str | None] = mapped_column(String(300))
    auto_reply_allowed: Mapped[bool | None] = mapped_column(Boolean)  # may an automatic answer go back?
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]
    instance_id: Mapped[int | None] = mapped_column(Integer)  # the case it started or replied to (no foreign key)


class MailBounce(Base):
    """An address our mail bounced from (a delivery-status report matched to an outbox mail)."""

    __tablename__ = "mail_bounces"

    address: Mapped[str] = mapped_column(String(300), primary_key=True)  # lower case
    bounces: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    diagnostic: Mapped[str | None] = mapped_column(Text)  # what the reporting server said, last time
    outbox_id: Mapped[int | None] = mapped_column(Integer)  # the mail that bounced last
    inbound_mail_id: Mapped[int | None] = mapped_column(Integer)  # the report


class CaseSearch(Base):
    """The words a case is found by in the staff search, written with the instance row (see :mod:`engine.search`).

    ``customer_name`` and ``subject`` are what the results show beside the case reference. The
    database's text index on ``words`` is no model (migration 0013): on PostgreSQL a generated
    ``words_tsv`` column with a GIN index, on SQLite an FTS5 table ``search_cases_fts`` kept by
    triggers; the same for :class:`CustomerSearch`.
    """

    __tablename__ = "search_cases"
    __table_args__ = (Index("ix_search_cases_customer", "customer_id"),)

    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(200))
    customer_name: Mapped[str | None] = mapped_column(String(300))
    subject: Mapped[str | None] = mapped_column(String(300))
    words: Mapped[str] = mapped_column(Text)


class CustomerSearch(Base):
    """The words a customer of the store is found by in the staff search (see :mod:`engine.search`).

    ``id`` is an integer so that SQLite's FTS5 table can name the row (customer ids are text).
    """

    __tablename__ = "search_customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))  # the customer's: what the results are sorted by
    words: Mapped[str] = mapped_column(Text)


class PortalLink(Base):
    """A mailed portal sign-in link: the hash of its nonce, whose it is, until when, and whether it was used.

    The link works once (``used_at``), until ``expires_at``; see :mod:`engine.portal_access`.
    """

    __tablename__ = "portal_links"
    __table_args__ = (
        Index("ix_portal_links_customer", "customer_id", "created_at"),
        Index("ix_portal_links_expires", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 hex of the nonce in the link
    customer_id: Mapped[str] = mapped_column(String(50))
    next_path: Mapped[str | None] = mapped_column(String(500))  # the portal page the customer was on
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class PortalSession(Base):
    """A customer signed in to the portal: the hash of the token their cookie holds, until it expires or ends."""

    __tablename__ = "portal_sessions"
    __table_args__ = (Index("ix_portal_sessions_expires", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 hex of the cookie's token
    customer_id: Mapped[str] = mapped_column(String(50), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]  # signed out


class ProcessDraft(Base):
    """A designer's unfinished edit of one process in the modeler (see :mod:`engine.process_drafts`).

    One per process and designer; ``process_key`` is "" for the process being drawn at /processes/new.
    A draft is only stored text: nothing runs from it, and deploying it is a deployment like any other.
    """

    __tablename__ = "process_drafts"
    __table_args__ = (UniqueConstraint("process_key", "designer", name="uq_process_drafts_key_designer"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200))
    designer: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(300))
    base_version: Mapped[int | None] = mapped_column(Integer)  # the deployed version the edit started from
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime]


class EventRecord(Base):
    """One entry of the event log: what happened, for the care center's other systems (see :mod:`engine.events`).

    Written in the same transaction as the change it reports, never changed afterwards except
    ``dispatched``, which the worker sets once it has made the entry's webhook deliveries.
    ``event_id`` is the CloudEvents id; ``id`` is the log's order. ``ordering_key`` names what
    deliveries keep in order (``case:<instance id>`` or ``customer:<customer id>``).
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_time", "time", "id"),
        Index(
            "ix_events_undispatched",
            "id",
            postgresql_where=text("NOT dispatched"),
            sqlite_where=text("dispatched = 0"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str | None] = mapped_column(String(200))
    ordering_key: Mapped[str] = mapped_column(String(250))
    instance_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: the log outlives a purged instance
    time: Mapped[datetime]
    data: Mapped[dict[str, Any]]
    dispatched: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class WebhookEndpoint(Base):
    """A URL of another system that receives the events (all, or the ``types`` listed), signed with ``secret``.

    ``after_event`` is the last event-log id when it was registered: it receives what happens from then on.
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(300), default="")
    types: Mapped[list[Any] | None]  # null: every type
    secret: Mapped[str] = mapped_column(String(100))  # whsec_<base64>; needed in clear to sign
    status: Mapped[str] = mapped_column(String(20))  # active, disabled
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    after_event: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    disabled_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """One event for one endpoint: sent by the worker until a 2xx answer, or given up (``failed``).

    Per endpoint and ``ordering_key`` only the oldest pending row is sent, so a case's events
    arrive in order; ``claimed_by``/``claimed_until`` lease it to one worker. ``response_status``
    and ``response_excerpt`` are what the last try got back, ``error`` why it failed.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_status_id", "status", "id"),
        Index("ix_webhook_deliveries_order", "endpoint_id", "ordering_key", "status", "id"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event: Mapped[int] = mapped_column(Integer)  # events.id
    ordering_key: Mapped[str] = mapped_column(String(250))
    status: Mapped[str] = mapped_column(String(20))  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]


class CtiIntegration(Base):
    """A phone system that sends call events (:mod:`engine.calls`): known by the SHA-256 of the token in its URL."""

    __tablename__ = "cti_integrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_event_at: Mapped[datetime | None]


class BlockedNumber(Base):
    """A caller the phone system is told to reject (``{"action": "reject", "reason": "busy"}``), in E.164."""

    __tablename__ = "blocked_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    note: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class Call(Base):
    """One phone call as the phone system reported it, from ``newCall`` to ``hangup`` (the caller log).

    ``number`` is the other party's number in E.164 (the caller's for calls in, the called one's for
    calls out); ``instance_id``, ``subject`` and ``note`` are what the agent chose and typed during
    the call, and ``contact_id`` the contact the hangup logged on the customer.
    """

    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("integration_id", "call_id", name="uq_calls_integration_call"),
        Index("ix_calls_number", "number", "id"),
        Index("ix_calls_customer", "customer_id", "id"),
        Index("ix_calls_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("cti_integrations.id"))
    call_id: Mapped[str] = mapped_column(String(250))  # the phone system's callId
    direction: Mapped[str] = mapped_column(String(3))  # in, out
    from_number: Mapped[str] = mapped_column(String(100))  # as the phone system sent them
    to_number: Mapped[str] = mapped_column(String(100))
    number: Mapped[str | None] = mapped_column(String(16))  # None: anonymous, or no phone number
    customer_id: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(10))  # ringing, answered, missed
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    cause: Mapped[str | None] = mapped_column(String(30))
    queue: Mapped[str | None] = mapped_column(String(200))
    users: Mapped[list[Any]]  # the staff the phone system named (user[]): who it rings for, or who calls out
    agent: Mapped[str | None] = mapped_column(String(100))  # the user who answered, when the phone system named one
    answered_by: Mapped[str | None] = mapped_column(String(200))  # answeringNumber or user, as sent
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    instance_id: Mapped[int | None] = mapped_column(Integer)
    subject: Mapped[str | None] = mapped_column(String(300))
    note: Mapped[str | None] = mapped_column(Text)
    chosen_by: Mapped[str | None] = mapped_column(String(100))
    contact_id: Mapped[int | None] = mapped_column(Integer)


class CallEvent(Base):
    """What arrived about a call, raw (a CTI event's fields), or what an agent chose for it: the calls' change feed.

    Screen pops follow this table by id (:mod:`api.pages.staff.calls`): every change of a call is one row.
    """

    __tablename__ = "call_events"
    __table_args__ = (Index("ix_call_events_call", "call", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    kind: Mapped[str] = mapped_column(String(20))  # newCall, answer, hangup, choice
    fields: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]


class Chat(Base):
    """One chat of a customer with the care center, from the queue to its transcript (:mod:`engine.chat`).

    The customer's only credential is the chat's token, kept as its SHA-256 digest (``token_hash``).
    ``team`` is the group its topic goes to: that team's staff see it waiting. ``instance_id`` is the
    case of the tracking page it was started from; ``filed_instance_id`` and ``filed_reference`` the
    case its transcript continued or started once closed (``filed_at``).
    """

    __tablename__ = "chats"
    __table_args__ = (
        Index("ix_chats_queue", "status", "team", "id"),
        Index("ix_chats_agent", "agent", "status"),
        Index("ix_chats_unfiled", "status", "filed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    topic: Mapped[str] = mapped_column(String(100))
    team: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10))  # waiting, active, missed, closed
    language: Mapped[str] = mapped_column(String(10))
    customer_id: Mapped[str] = mapped_column(String(200))  # the store's id, or web:<e-mail> (an unverified contact)
    signed_in: Mapped[bool] = mapped_column(Boolean, default=False)  # started in a portal session
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(300))
    instance_id: Mapped[int | None] = mapped_column(Integer)
    agent: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    last_activity_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(String(20))
    filed_at: Mapped[datetime | None]
    filed_instance_id: Mapped[int | None] = mapped_column(Integer)
    filed_reference: Mapped[str | None] = mapped_column(String(20))


class ChatMessage(Base):
    """One line of a chat: what the customer or the agent wrote, or what happened (``author`` system).

    Every change of a chat is one row, so the pages follow a chat (and the queue follows all of
    them) by id, and a browser that reconnects asks for the rows after the last id it has.
    """

    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_messages_chat", "chat_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"))
    author: Mapped[str] = mapped_column(String(10))  # customer, agent, system
    kind: Mapped[str] = mapped_column(String(20))  # text; for system rows: started, accepted, missed, closed, filed
    sender: Mapped[str | None] = mapped_column(String(100))  # the agent's username, on agent and accept rows
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class DataRemoval(Base):
    """One removal of data (:mod:`engine.lifecycle`, :mod:`engine.customer_data`): who, when and what, never the data.

    ``kind`` ``purge``: ended instances past the retention (``cutoff``) went, with what was theirs;
    ``erasure``: a customer's personal data was erased on request (``customer_id``, their key, stays so
    that the erasure can be shown; ``note`` is the operator's reference, e.g. a ticket number).
    ``counts`` says how many records of each kind went or were blanked.
    """

    __tablename__ = "data_removals"
    __table_args__ = (Index("ix_data_removals_customer", "customer_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # purge, erasure
    customer_id: Mapped[str | None] = mapped_column(String(200))
    principal: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
    cutoff: Mapped[datetime | None]  # purge: instances that ended before this went
    counts: Mapped[dict[str, Any]]
    note: Mapped[str | None] = mapped_column(String(300))


class AnalyticsInstance(Base):
    """One instance as the reports count it (see :mod:`engine.analytics_facts`): a narrow copy the worker keeps.

    Written by the worker's analytics run from the instance row, its history and contacts, never by a
    request; ``started_day``/``ended_day`` are UTC dates (``YYYY-MM-DD``) so that day series group on
    an index on every database. No foreign key: reports keep what was counted if an instance is purged.
    """

    __tablename__ = "analytics_instances"
    __table_args__ = (
        # the reports read these indexes alone on PostgreSQL (the columns they need are included)
        Index(
            "ix_analytics_instances_key_started",
            "process_key",
            "started_at",
            postgresql_include=["version", "status", "lead_seconds"],
        ),
        Index(
            "ix_analytics_instances_started",
            "started_at",
            postgresql_include=[
                "started_day",
                "channel",
                "process_key",
                "status",
                "first_answer_seconds",
                "escalated",
                "reopened",
            ],
        ),
        Index("ix_analytics_instances_ended", "ended_at", postgresql_include=["ended_day"]),
        Index("ix_analytics_instances_customer", "customer_id"),
    )

    instance_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    process_key: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str | None] = mapped_column(String(20))
    customer_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime]
    started_day: Mapped[str] = mapped_column(String(10))
    ended_at: Mapped[datetime | None]
    ended_day: Mapped[str | None] = mapped_column(String(10))
    lead_seconds: Mapped[float | None] = mapped_column(Float)  # completed instances only
    first_answer_seconds: Mapped[float | None] = mapped_column(Float)  # until the first contact out to the customer
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    reopened: Mapped[bool] = mapped_column(Boolean, default=False)


class AnalyticsVisit(Base):
    """One visit of one element by one instance: when it was entered, claimed (user tasks) and completed."""

    __tablename__ = "analytics_visits"
    __table_args__ = (
        Index(
            "ix_analytics_visits_key_started",
            "process_key",
            "started_at",
            postgresql_include=[
                "version",
                "element_id",
                "kind",
                "completed_at",
                "spent_seconds",
                "wait_seconds",
                "work_seconds",
            ],
        ),
        Index("ix_analytics_visits_instance", "instance_id"),
        # tasks by team, and the SLA: user tasks by when they were entered, tasks with a due time by completion
        Index(
            "ix_analytics_visits_user_entered",
            "entered_at",
            postgresql_include=["day", "team"],
            postgresql_where=text("kind = 'user'"),
            sqlite_where=text("kind = 'user'"),
        ),
        Index(
            "ix_analytics_visits_due_completed",
            "completed_at",
            postgresql_include=["team", "due_at", "kind"],
            postgresql_where=text("due_at IS NOT NULL"),
            sqlite_where=text("due_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(Integer)
    process_key: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]  # the instance's start: reports select visits by the instances of their window
    element_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # user, service, timer, message, call, other
    team: Mapped[str | None] = mapped_column(String(200))  # user tasks: the first candidate group, or the lane
    day: Mapped[str] = mapped_column(String(10))  # the UTC day it was entered
    entered_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    spent_seconds: Mapped[float | None] = mapped_column(Float)  # entered until completed; None for pass-through
    wait_seconds: Mapped[float | None] = mapped_column(Float)  # user tasks: entered until claimed
    work_seconds: Mapped[float | None] = mapped_column(Float)  # user tasks: claimed until completed


class AnalyticsFlow(Base):
    """How often one instance took one sequence flow."""

    __tablename__ = "analytics_flows"
    __table_args__ = (
        Index(
            "ix_analytics_flows_key_started",
            "process_key",
            "started_at",
            postgresql_include=["version", "flow_id", "taken"],
        ),
    )

    instance_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    flow_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    taken: Mapped[int] = mapped_column(Integer)


class AnalyticsMark(Base):
    """Where the worker's analytics run got to: the newest instance change it counted, and when it ran."""

    __tablename__ = "analytics_marks"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    at: Mapped[datetime]
