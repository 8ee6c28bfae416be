"""Wires the engine's services together: one :class:`CareEngine` per process."""

from __future__ import annotations

import process_library.operations  # noqa: F401  (registers the care operations and the store's tables)
from engine.analytics_facts import AnalyticsFacts
from engine.analytics_reports import Reports
from engine.calls import Calls
from engine.cases import Cases
from engine.chat import Chats
from engine.chat_config import ChatConfig
from engine.clock import Clock
from engine.config import Settings
from engine.cti import Integrations
from engine.customer_data import CustomerData
from engine.db import Database
from engine.execution import Executor
from engine.external_tasks import ExternalTasks
from engine.foreground import Foreground
from engine.history import History
from engine.identity import Identity
from engine.incidents import Incidents
from engine.intake import Intake
from engine.jobs import JobConfig, Jobs
from engine.lifecycle import Lifecycle
from engine.mail_answers import MailAnswers
from engine.mail_inbox import MailInbox
from engine.messages import Messages
from engine.next_best_action import NextBestAction
from engine.notes import Notes
from engine.repository import Repository
from engine.runtime import Runtime
from engine.scripting import create_script_engine
from engine.search_query import Search
from engine.tasks import Tasks
from engine.timer_specs import TimerSettings
from engine.timers import TimerConfig, Timers
from engine.tokens import Tokens
from engine.webhook_delivery import Deliveries
from engine.webhooks import WebhookConfig, Webhooks
from process_library.registry import REGISTRY, import_operation_modules


class CareEngine:
    """The services of the engine, sharing one database, one clock and one spec cache."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock | None = None,
        timer_config: TimerConfig | None = None,
        job_config: JobConfig | None = None,
    ) -> None:
        self.settings = settings
        import_operation_modules(settings.operation_modules)
        self.clock = clock or Clock()
        self.db = Database(settings.database_url)
        self.repository = Repository(self.db, self.clock, settings.forms_dir, REGISTRY)
        self.history = History(self.db, self.clock)
        self.analytics = AnalyticsFacts(self.db, self.repository, self.clock)  # the worker's analytics run
        self.foreground = Foreground()  # the web requests in flight, which the analytics run gives way to
        self.reports = Reports(self.db, self.analytics, self.clock)
        timer_config = timer_config or TimerConfig.from_env()
        script_engine = create_script_engine(
            TimerSettings(self.clock, timer_config.cycle_catch_up), environment=settings.environment
        )
        self.executor = Executor(self.db, self.repository, self.history, self.clock, script_engine)
        self.next_best_action = NextBestAction(self.db, script_engine)  # the designer's table (#23)
        self.runtime = Runtime(self.db, self.repository, self.executor, self.history, self.clock)
        self.tasks = Tasks(self.db, self.executor, self.history, self.clock, settings)
        self.answers = MailAnswers(self.db, self.history, self.clock, settings)
        self.cases = Cases(self.db, self.repository, self.executor)
        self.notes = Notes(self.db, self.history, self.clock)
        self.incidents = Incidents(self.db, self.repository, self.executor, self.history, self.clock)
        self.tokens = Tokens(self.db, self.clock)
        self.identity = Identity(self.db, self.clock, settings.password_hashing)
        self.timers = Timers(self.db, self.repository, self.executor, self.history, self.clock, timer_config)
        self.repository.deploy_listeners.append(self.timers.schedule_deployed)
        self.messages = Messages(
            self.db, self.executor, self.repository, self.history, self.clock, settings.message_ttl
        )
        self.executor.message_ttl = self.messages.lifetime(None)
        self.executor.message_listeners.append(self.messages.deliver_thrown)
        self.intake = Intake(self.db, self.messages)
        self.mail = MailInbox(self.db, self.clock, settings, self.intake)
        self.search = Search(self.db)
        self.calls = Calls(self.db, self.clock)
        self.cti = Integrations(self.db, self.clock)
        self.chats = Chats(self.db, self.clock, ChatConfig.from_env(), self.intake, settings)
        self.jobs = Jobs(
            self.db, self.executor, self.history, self.clock, REGISTRY, settings, job_config or JobConfig.from_env()
        )
        self.external_tasks = ExternalTasks(
            self.db,
            self.repository,
            self.executor,
            self.jobs,
            self.history,
            self.clock,
            settings.worker_interval_seconds,
        )
        self.executor.job_listeners.append(self.external_tasks.wake)
        webhook_config = WebhookConfig.from_env()
        self.webhooks = Webhooks(self.db, self.clock, webhook_config)
        self.deliveries = Deliveries(self.db, self.clock, settings.public.base, webhook_config)
        self.lifecycle = Lifecycle(self.db, self.clock)
        self.customer_data = CustomerData(self.db, self.clock, lambda case: self.runtime.get(case)["data"])

    def close(self) -> None:
        self.deliveries.close()
        self.db.dispose()
