"""The viewer's language and time zone on the staff, designer and admin pages, and the template helpers using them.

A signed-in user's own setting wins (``users.language``, ``users.time_zone``, set on the settings
page); otherwise the browser's ``Accept-Language`` picks the language and the server's zone
(``CARECENTER_TIME_ZONE``, else the machine's) is used. Every time a page shows carries its zone,
so a time read out on the phone is never ambiguous.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal
from flask import Flask, current_app, g, request
from jinja2 import pass_context
from tzlocal import get_localzone_name

from api import i18n
from engine import calls, contacts


@cache
def known_zones() -> tuple[str, ...]:
    """Every IANA zone name a user may choose, sorted."""
    return tuple(sorted(zone for zone in available_timezones() if "/" in zone or zone == "UTC"))


def server_zone_name() -> str:
    configured = current_app.extensions["carecenter"].settings.time_zone
    return configured or _machine_zone()


@cache
def _machine_zone() -> str:
    try:
        name = get_localzone_name()
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return "UTC"


def chosen_language() -> str | None:
    """The signed-in user's own language setting, if any."""
    return g.get("user_language")


def chosen_zone() -> str | None:
    """The signed-in user's own time zone setting, if any."""
    return g.get("user_time_zone")


def page_language() -> str:
    chosen = g.get("user_language")
    if chosen in i18n.LANGUAGES:
        return chosen
    return i18n.pick(None, request.accept_languages)


def page_zone() -> ZoneInfo:
    for name in (g.get("user_time_zone"), server_zone_name()):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def gettext(text: str, **values: object) -> str:
    return translated(text, page_language(), **values)


def translated(text: str, language: str, /, **values: object) -> str:
    """A text of the pages in ``language`` (a customer's page names its own), with ``values`` filled in (one may be
    called ``language`` too: the first two are positional)."""
    text = i18n.translations(language).gettext(text)
    return text % values if values else text


def local_time(value: datetime | str | None, style: str = "medium", language: str | None = None) -> str:
    """``value`` in the viewer's zone and language (``language`` if given), with the zone's name.

    ``short`` and ``medium`` are the staff pages' (``4 Dec 2026, 14:05 CET``); ``long`` spells the month for
    customers (``7. Dezember 2026, 08:20 MEZ``), ``time`` is the time alone (``08:20 MEZ``), ``date`` the day.
    """
    if value in (None, ""):
        return ""
    if style == "date" and isinstance(value, str) and len(value) == 10:  # a day (valid until): in no zone
        return format_date(date.fromisoformat(value), "long", locale=language or page_language())
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    zone, language = page_zone(), language or page_language()
    if style == "date":
        return format_date(moment.astimezone(zone), "long", locale=language)
    zone_name = format_datetime(moment, "zzz", tzinfo=zone, locale=language)
    if style in ("long", "time"):
        time = format_time(moment, "short", tzinfo=zone, locale=language)
        if style == "time":
            return f"{time} {zone_name}"
        day = format_date(moment.astimezone(zone), "long", locale=language)
        return f"{str(Locale.parse(language).datetime_formats['medium']).format(time, day)} {zone_name}"
    shown = format_datetime(moment, "short" if style == "short" else "medium", tzinfo=zone, locale=language)
    return f"{shown} {zone_name}"


def amount(value: object, language: str | None = None) -> str:
    """A price or amount as the reader's language writes it, two decimals: ``1,890.00`` / ``1.890,00``."""
    return format_decimal(Decimal(str(value)), format="#,##0.00", locale=language or page_language())


# The channels (engine.contacts.CHANNELS) by the names every page gives them, staff's and customers'
CHANNEL_NAMES = {
    "email": "E-mail",
    "phone": "Phone",
    "web": "Web form",
    "chat": "Chat",
    "visit": "Visit",
    "letter": "Letter",
}


@pass_context
def channel_name(context, channel: str | None) -> str:
    """A channel by its name in the page's language: the template's own ``_`` (staff's or the customer's)."""
    return context["_"](CHANNEL_NAMES[channel]) if channel in CHANNEL_NAMES else channel or ""


def contact_text(text: str | None) -> str:
    """A logged contact's text as staff read it: where a mail carried the case's secret link, the placeholder the
    log keeps instead of the tracking code (English in the record) in the reader's language."""
    return (text or "").replace(contacts.HIDDEN_SECRET, gettext("[tracking code]"))


@pass_context
def contact_subject(context, subject: str | None) -> str:
    """A logged contact's subject as its reader reads it: a call's default subject (stored in English) in the page's
    language, with the template's own ``_`` (staff's or the customer's); a subject someone wrote, as written."""
    if subject in calls.DEFAULT_SUBJECTS:
        return context["_"](subject)
    return subject or ""


def configure(app: Flask) -> None:
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["amount"] = amount
    app.jinja_env.filters["contact_text"] = contact_text
    app.jinja_env.filters["contact_subject"] = contact_subject
    app.jinja_env.globals["channel_name"] = channel_name

    @app.context_processor
    def _page_helpers() -> dict:
        return {"_": gettext, "lang": page_language()}
