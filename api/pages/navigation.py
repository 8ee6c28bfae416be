"""The header's navigation by role: staff see their work, designers the processes, admins everything.

An entry shows only when its page exists and the policy lets the viewer open it, so the menu and
the access matrix can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from api import policy
from engine.tokens import Principal


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str
    covers: tuple[str, ...]  # the endpoints (or "blueprint." prefixes) on which this entry is the current one

    def is_current(self, endpoint: str | None) -> bool:
        return endpoint is not None and any(
            endpoint == c or (c.endswith(".") and endpoint.startswith(c)) for c in self.covers
        )


ITEMS = (
    NavItem("staff_tasks.task_list", "Tasks", ("staff_tasks.",)),
    NavItem("staff_customers.index", "Customers", ("staff_customers.",)),
    NavItem("staff_calls.index", "Calls", ("staff_calls.",)),
    NavItem("staff_chats.index", "Chats", ("staff_chats.",)),
    NavItem("staff_instances.index", "Instances", ("staff_instances.",)),
    NavItem("analytics_pages.dashboard", "Analytics", ("analytics_pages.", "insight_pages.")),
    NavItem("designer.processes", "Processes", ("designer.", "modeler.")),
    NavItem("admin_pages.incidents", "Incidents", ("admin_pages.incidents", "admin_pages.retry")),
    NavItem("admin_pages.mail", "Mail", ("admin_pages.mail", "admin_pages.retry_mail", "admin_pages.mail_raw")),
    NavItem("admin_webhooks.index", "Webhooks", ("admin_webhooks.",)),
    NavItem("calls_admin.index", "Telephony", ("calls_admin.",)),
    NavItem("dev_mailbox.index", "Dev mailbox", ("dev_mailbox.",)),  # only while no SMTP server is configured
    NavItem(
        "admin_pages.users",
        "Users",
        tuple(
            f"admin_pages.{name}"
            for name in (
                "users",
                "new_user",
                "create_user",
                "user",
                "update_user",
                "set_password",
                "disable_user",
                "enable_user",
                "sign_out_user",
                "groups",
                "create_group",
                "tokens",
                "create_token",
                "revoke_token",
            )
        ),
    ),
)


def has_page(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


def navigation(principal: Principal) -> list[NavItem]:
    return [item for item in ITEMS if has_page(item.endpoint) and policy.authorize(principal, item.endpoint)]


def configure(app: Flask) -> None:
    app.jinja_env.globals.update(navigation=navigation, has_page=has_page)
