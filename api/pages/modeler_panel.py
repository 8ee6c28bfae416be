"""What the modeler's properties panel asks the server while a designer types: one value checked.

``POST /processes/check-value`` (form fields ``kind`` and ``value``, and the CSRF token) answers an
HTML fragment, ``<span data-valid="yes|no">…</span>``, saying whether a timer, due date, condition,
script or customer message works, by the rules the deploy and the engine apply
(:func:`engine.value_checks.check`). The panel shows it under the field (api/modeler/checks.js).
Registered on the modeler's blueprint (:mod:`api.pages.modeler`), endpoint ``modeler.check_value``.
"""

from __future__ import annotations

from flask import render_template, request

from api.pages.locale import gettext
from engine import value_checks
from engine.errors import InvalidRequest

FRAGMENT = {"Content-Type": "text/html; charset=utf-8"}


def check_value():
    kind = request.form.get("kind", "")
    if kind not in value_checks.KINDS:
        raise InvalidRequest(f"'kind' must be one of: {', '.join(value_checks.KINDS)}")
    problem = value_checks.check(kind, request.form.get("value", ""))
    text = gettext("Works.") if problem is None else problem
    return render_template("designer/modeler_value.html", valid=problem is None, text=text), 200, FRAGMENT
