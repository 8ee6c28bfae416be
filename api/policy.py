"""Authorization in one place: which roles may call which endpoint, and how far staff can see.

Every request passes :func:`authorize` before its view runs (see :mod:`api.auth`); views never
check roles themselves.  Views that list or touch tasks and instances pass :func:`task_scope`
to the engine, which filters rows by it.

- designers: deploy, check, view definitions; not complete tasks;
- staff: tasks of their groups, assigned to them or naming them; instances they have a task in;
- team leads (group ``team_lead``): also hand tasks of their teams on to the teams' members, and on
  the task page see every task of their teams, whoever holds it (:func:`oversight_scope`);
- integration accounts: start instances, publish messages and signals, submit inquiries, and call
  the Camunda REST subset under ``/engine-rest`` (external-task workers and Camunda integrations);
- staff also submit inquiries (a phone call, a visit at the desk);
- staff read the caller log, get screen pops of calls and say which case a call is about; phone
  systems report calls to a URL whose token the view checks (``cti.event``); admins manage those
  URLs and the blocked numbers;
- staff see the chats waiting for their teams (the teams the chats' topics go to), accept them, write
  in them and end them; customers chat on pages whose address holds the chat's token, which the views
  check (``chat.*``; their POSTs must come from a page of the public site, :mod:`api.origin`);
- staff answer the customer of a case they see by e-mail (:mod:`engine.mail_answers`);
- every staff member reads every customer's record and timeline (the care center is one point of
  contact: whoever answers must see the whole customer), their contacts and notes, and adds notes,
  but no tracking codes: those secrets are for admins and integration accounts
  (:func:`may_read_tracking_codes`);
- admins: everything;
- customers: only the public status endpoints, and the portal's pages, which sign customers in
  themselves (a mailed link opens a portal session; :mod:`api.pages.portal_session`) and read
  only the signed-in customer's rows (account services and orders too, :mod:`api.pages.portal_services`);
- the development mailbox (no SMTP configured): admins only;
- webhook endpoints and their deliveries (``/api/webhooks``, ``/admin/webhooks``): admins only;
- ``/metrics`` (Prometheus): admins only (a scraper gets an admin token); ``/healthz`` and ``/readyz``: anyone.
- analytics (``/api/analytics/...``, the ``/analytics`` pages and their CSV exports): team leads and
  care managers (groups ``team_lead``, ``care_manager``) and admins.
"""

from __future__ import annotations

from engine.tokens import Principal
from engine.visibility import TaskScope

# Endpoints anyone may call; those marked rate-limited are limited per client address.
PUBLIC_ENDPOINTS = frozenset(
    {
        "health.healthz",
        "health.readyz",
        "openapi.document",
        "static",
        "signin.login",
        "signin.login_submit",
        "status.get",
        "track.index",
        "track.lookup",
        "track.show",
        "track.submit",
        "portal.ask",
        "portal.send_link",
        "portal.signin",
        "portal.signin_submit",
        "portal.signout",
        "portal.account",
        "portal.requests",
        "portal.inquiry",
        "portal.inquiry_submit",
        "portal.confirm",
        "portal.confirm_submit",
        "cti.event",  # the phone system's URL: its token is checked by the view (api/routes/cti.py)
        # the customer's chat (api/pages/chat.py): the chat's token in the address is checked by the view
        "chat.new",
        "chat.start",
        "chat.show",
        "chat.send",
        "chat.leave",
        "chat.close",
        "chat.stream",
        # account services and orders (api/pages/portal_services.py): the portal signs the customer in
        "portal_services.change_form",
        "portal_services.change_submit",
        "portal_services.change_answer",
        "portal_services.order_form",
        "portal_services.order_submit",
        "portal_services.order_answer",
    }
)
RATE_LIMITED_ENDPOINTS = frozenset(
    {
        "signin.login_submit",
        "status.get",
        "track.index",
        "track.lookup",
        "track.show",
        "track.submit",
        "portal.send_link",
        "portal.signin",
        "portal.signin_submit",
        "portal.signout",
        "portal.account",
        "portal.requests",
        "portal.inquiry_submit",
        "portal.confirm",
        "portal.confirm_submit",
        "portal_services.change_form",
        "portal_services.change_submit",
        "portal_services.change_answer",
        "portal_services.order_form",
        "portal_services.order_submit",
        "portal_services.order_answer",
        "chat.new",
        "chat.start",
        "chat.show",
        "chat.send",
        "chat.leave",
        "chat.close",
    }
)

# Page endpoints authenticate with the session cookie instead of a bearer token.
PAGE_BLUEPRINTS = frozenset(
    {
        "signin",
        "account",
        "staff_tasks",
        "staff_instances",
        "staff_customers",
        "staff_search",
        "staff_attachments",
        "staff_calls",
        "staff_chats",
        "calls_admin",
        "designer",
        "modeler",
        "admin_pages",
        "admin_webhooks",
        "dev_mailbox",
        "track",
        "portal",
        "portal_services",
        "analytics_pages",
        "insight_pages",
        "chat",
    }
)

DESIGNER, STAFF, INTEGRATION = "designer", "staff", "integration"

# endpoint -> roles allowed besides admin; endpoints not listed are for admins only.
ALLOWED_ROLES: dict[str, frozenset[str]] = {
    "deployments.create": frozenset({DESIGNER}),
    "deployments.check": frozenset({DESIGNER}),
    "deployments.list_deployments": frozenset({DESIGNER}),
    "jobs.list_operations": frozenset({DESIGNER}),
    "definitions.list_latest": frozenset({DESIGNER, STAFF}),
    "definitions.versions": frozenset({DESIGNER, STAFF}),
    "definitions.xml": frozenset({DESIGNER, STAFF}),
    "definitions.start": frozenset({INTEGRATION}),
    "instances.list_instances": frozenset({STAFF}),
    "instances.get": frozenset({STAFF}),
    "instances.history": frozenset({STAFF}),
    "instances.link_customer": frozenset({STAFF}),
    "tasks.list_tasks": frozenset({STAFF}),
    "tasks.get": frozenset({STAFF}),
    "tasks.claim": frozenset({STAFF}),
    "tasks.unclaim": frozenset({STAFF}),
    "tasks.complete": frozenset({STAFF}),
    "tasks.form": frozenset({STAFF}),
    "tasks.draft": frozenset({STAFF}),
    "customers.get": frozenset({STAFF}),
    "customers.timeline": frozenset({STAFF}),
    "customers.list_contacts": frozenset({STAFF}),
    "customers.insight": frozenset({STAFF}),
    "customers.list_notes": frozenset({STAFF}),
    "customers.add_note": frozenset({STAFF}),
    "messages.publish": frozenset({INTEGRATION}),
    "messages.broadcast": frozenset({INTEGRATION}),
    "messages.submit_inquiry": frozenset({INTEGRATION, STAFF}),
    "signin.home": frozenset({DESIGNER, STAFF}),
    "signin.logout": frozenset({DESIGNER, STAFF}),
    "account.settings": frozenset({DESIGNER, STAFF}),
    "account.save_settings": frozenset({DESIGNER, STAFF}),
    "staff_tasks.task_list": frozenset({STAFF}),
    "staff_tasks.task": frozenset({STAFF}),
    "staff_tasks.task_submit": frozenset({STAFF}),
    "staff_tasks.claim": frozenset({STAFF}),
    "staff_tasks.unclaim": frozenset({STAFF}),
    "staff_tasks.add_note": frozenset({STAFF}),
    "staff_tasks.reply": frozenset({STAFF}),
    "notes.list_notes": frozenset({STAFF}),
    "notes.add_note": frozenset({STAFF}),
    "answers.send": frozenset({STAFF}),
    "staff_instances.index": frozenset({STAFF}),
    "staff_instances.instance": frozenset({STAFF}),
    "staff_customers.index": frozenset({STAFF}),
    "staff_customers.show": frozenset({STAFF}),
    "staff_customers.log_contact": frozenset({STAFF}),
    "staff_customers.add_note": frozenset({STAFF}),
    "staff_customers.reply": frozenset({STAFF}),
    "staff_customers.accept_suggestion": frozenset({STAFF}),
    "staff_customers.new_caller": frozenset({STAFF}),
    "staff_customers.new_caller_submit": frozenset({STAFF}),
    "staff_search.index": frozenset({STAFF}),
    "staff_attachments.index": frozenset({STAFF}),
    "staff_attachments.download": frozenset({STAFF}),
    # the caller log and screen pops (#27); CTI integrations and blocked numbers are for admins
    "cti.list_calls": frozenset({STAFF}),
    "cti.get_call": frozenset({STAFF}),
    "staff_calls.index": frozenset({STAFF}),
    "staff_calls.incoming": frozenset({STAFF}),
    "staff_calls.stream": frozenset({STAFF}),
    "staff_calls.choose": frozenset({STAFF}),
    # chats (#27): staff of the chat's team accept and answer it; admins see every chat
    "chats.list_chats": frozenset({STAFF}),
    "chats.get_chat": frozenset({STAFF}),
    "chats.accept": frozenset({STAFF}),
    "chats.send": frozenset({STAFF}),
    "chats.close": frozenset({STAFF}),
    "staff_chats.index": frozenset({STAFF}),
    "staff_chats.queue_stream": frozenset({STAFF}),
    "staff_chats.show": frozenset({STAFF}),
    "staff_chats.accept": frozenset({STAFF}),
    "staff_chats.send": frozenset({STAFF}),
    "staff_chats.close": frozenset({STAFF}),
    "staff_chats.stream": frozenset({STAFF}),
    "designer.processes": frozenset({DESIGNER}),
    "designer.deploy": frozenset({DESIGNER}),
    # the modeler (#20): drawing, checking and deploying in the browser; drafts are the designer's own
    "modeler.new_process": frozenset({DESIGNER}),
    "modeler.open_file": frozenset({DESIGNER}),
    "modeler.edit": frozenset({DESIGNER}),
    "modeler.save_draft": frozenset({DESIGNER}),
    "modeler.check": frozenset({DESIGNER}),
    "modeler.deploy": frozenset({DESIGNER}),
    "modeler.discard": frozenset({DESIGNER}),
    "modeler.compare": frozenset({DESIGNER}),
    "modeler.scenarios": frozenset({DESIGNER}),
    "modeler.customer_view": frozenset({DESIGNER}),
    "modeler.check_value": frozenset({DESIGNER}),
    "modeler.forms": frozenset({DESIGNER}),
    "modeler.decisions": frozenset({DESIGNER}),
    "modeler.edit_decision": frozenset({DESIGNER}),
    "modeler.save_decision_draft": frozenset({DESIGNER}),
    "modeler.check_decision": frozenset({DESIGNER}),
    "modeler.deploy_decision": frozenset({DESIGNER}),
    "modeler.discard_decision": frozenset({DESIGNER}),
    "modeler.edit_form": frozenset({DESIGNER}),
    "modeler.form_post": frozenset({DESIGNER}),
    "modeler.form_preview": frozenset({DESIGNER}),
    "modeler.form_draft": frozenset({DESIGNER}),
    # Camunda's REST subset (/engine-rest): what Camunda 7 external-task workers and integrations call.
    "engine_rest.start": frozenset({INTEGRATION}),
    "engine_rest.correlate": frozenset({INTEGRATION}),
    "engine_rest.instances": frozenset({INTEGRATION}),
    "engine_rest.instance": frozenset({INTEGRATION}),
    "engine_rest.fetch_and_lock": frozenset({INTEGRATION}),
    "engine_rest.complete": frozenset({INTEGRATION}),
    "engine_rest.failure": frozenset({INTEGRATION}),
    "engine_rest.bpmn_error": frozenset({INTEGRATION}),
    "engine_rest.extend_lock": frozenset({INTEGRATION}),
    "engine_rest.unlock": frozenset({INTEGRATION}),
}

TEAM_LEAD_GROUP = "team_lead"
CARE_MANAGER_GROUP = "care_manager"
# analytics (#23): team leads and care managers read the reports, the dashboard and its exports
ANALYSTS = frozenset({TEAM_LEAD_GROUP, CARE_MANAGER_GROUP})

# endpoint -> groups whose members may call it, whatever their role.
ALLOWED_GROUPS: dict[str, frozenset[str]] = {
    "tasks.assign": frozenset({TEAM_LEAD_GROUP}),
    "staff_tasks.reassign": frozenset({TEAM_LEAD_GROUP}),
    "analytics.process_report": ANALYSTS,
    "analytics.dashboard": ANALYSTS,
    "analytics_pages.dashboard": ANALYSTS,
    "analytics_pages.process": ANALYSTS,
    "analytics_pages.export": ANALYSTS,
    "analytics_pages.process_export": ANALYSTS,
    "analytics_pages.chart": ANALYSTS,
    # customer insight (#23 item 4): the lists for sales and care managers, and their exports
    "analytics.expiring_licenses": ANALYSTS,
    "analytics.repeated_problems": ANALYSTS,
    "analytics.without_contact": ANALYSTS,
    "insight_pages.customer_list_page": ANALYSTS,
    "insight_pages.customer_list_export": ANALYSTS,
}


# Deploying changes what every new instance runs: audited like an admin action, though designers may do it.
DEPLOY_ENDPOINTS = frozenset({"deployments.create", "designer.deploy", "modeler.deploy", "modeler.deploy_decision"})
READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_admin_action(endpoint: str | None, method: str) -> bool:
    """Whether a request is written to the audit log (:mod:`api.request_log`): it would change something
    through an endpoint only admins may call, or it deploys."""
    if endpoint is None or method in READING_METHODS:
        return False
    if endpoint in DEPLOY_ENDPOINTS:
        return True
    return not (is_public(endpoint) or endpoint in ALLOWED_ROLES or endpoint in ALLOWED_GROUPS)


def is_public(endpoint: str | None) -> bool:
    return endpoint in PUBLIC_ENDPOINTS


def is_page(endpoint: str | None) -> bool:
    return endpoint is not None and endpoint.split(".", 1)[0] in PAGE_BLUEPRINTS


def authorize(principal: Principal, endpoint: str) -> bool:
    if principal.is_admin or ALLOWED_GROUPS.get(endpoint, frozenset()) & principal.groups:
        return True
    return principal.role in ALLOWED_ROLES.get(endpoint, frozenset())


def may_read_tracking_codes(principal: Principal) -> bool:
    """The tracking code is the secret that opens a customer's status page, so only admins and the
    integration accounts that hand it to the customer (portal, channel systems) read it; staff, who
    may read every customer's record and timeline, work with the case reference instead."""
    return principal.is_admin or principal.role == INTEGRATION


def without_secrets(principal: Principal, views: list[dict]) -> list[dict]:
    """The views (instances, timeline entries, intake results) with ``tracking_code`` blanked where not allowed."""
    if may_read_tracking_codes(principal):
        return views
    return [{**view, "tracking_code": None} if "tracking_code" in view else view for view in views]


def team_scope(principal: Principal) -> TaskScope:
    """What the principal sees as a team member, even an admin (the "Mine" and "My teams" tabs)."""
    return TaskScope(principal.name, principal.groups)


def oversight_scope(principal: Principal) -> TaskScope | None:
    """:func:`task_scope`, widened for team leads to every task of their teams, whoever holds it.

    For the task page and its hand-on form: a lead sees a colleague's claimed task to give it to
    someone else. Filling in and completing a task stays with :func:`task_scope`.
    """
    scope = task_scope(principal)
    if scope is None or TEAM_LEAD_GROUP not in principal.groups:
        return scope
    return TaskScope(principal.name, principal.groups, principal.groups - {TEAM_LEAD_GROUP})


def task_scope(principal: Principal) -> TaskScope | None:
    """None (everything) for admins; otherwise the tasks and instances this principal may see."""
    if principal.is_admin:
        return None
    return TaskScope(principal.name, principal.groups)
