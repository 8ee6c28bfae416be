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


ITEMS = (
    NavItem("staff_tasks.task_list", "Tasks"),
    NavItem("staff_customers.index", "Customers"),
    NavItem("staff_instances.index", "Instances"),
    NavItem("designer.processes", "Processes"),
    NavItem("admin_pages.incidents", "Incidents"),
    NavItem("admin_pages.users", "Users"),
)


def has_page(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


def navigation(principal: Principal) -> list[NavItem]:
    return [item for item in ITEMS if has_page(item.endpoint) and policy.authorize(principal, item.endpoint)]


def configure(app: Flask) -> None:
    app.jinja_env.globals.update(navigation=navigation, has_page=has_page)
