"""The compare page, ``/processes/{key}/compare?from=1&to=2``: what changed between two versions of a process.

The elements added, removed and changed come from :func:`engine.process_compare.compare`; the page
lists them (the changed properties in a table, each with its value before and after) and its
script (api/static/modeler/compare.js) draws both versions read-only with bpmn-js and colours the
elements, the removed ones on the older diagram, the added and changed ones on the newer.
Registered on the modeler's blueprint (:mod:`api.pages.modeler`), endpoint ``modeler.compare``.
"""

from __future__ import annotations

from flask import render_template, request

from api.auth import current_principal
from api.pages.locale import gettext
from api.routes.common import care
from engine.bpmn import SourceFile
from engine.errors import InvalidRequest, NotFound
from engine.process_compare import compare


def _number(name: str) -> int | None:
    value = request.args.get(name, "")
    if value == "":
        return None
    if not value.isdigit() or not 0 < int(value) < 2**31:
        raise InvalidRequest(f"'{name}' must be a version number")
    return int(value)


def compare_page(key: str):
    """Two versions of ``key``: by default the latest and the one before it."""
    repository = care().repository
    versions = repository.versions(key)  # 404 for an unknown key
    numbers = [v.version for v in versions]
    to_version = _number("to") or numbers[0]
    from_version = _number("from") or next((n for n in numbers if n < to_version), to_version)
    for number in (from_version, to_version):
        if number not in numbers:
            raise NotFound(f"no process definition with key '{key}' and version {number}")
    before_name, before = repository.xml(key, from_version)
    after_name, after = repository.xml(key, to_version)
    result = compare(SourceFile(before_name, before), SourceFile(after_name, after))
    data = {
        "before": before.decode("utf-8"),
        "after": after.decode("utf-8"),
        "added": [e.id for e in result.added],
        "removed": [e.id for e in result.removed],
        "changed": [e.id for e in result.changed],
        "texts": {
            "added": gettext("added"),
            "removed": gettext("removed"),
            "changed": gettext("changed"),
            "import_failed": gettext("The diagram cannot be shown: %(reason)s", reason="{reason}"),
            "diagram": gettext("Version %(version)s", version="{version}"),
        },
        "versions": {"before": from_version, "after": to_version},
    }
    return render_template(
        "designer/modeler_compare.html",
        key=key,
        versions=numbers,
        from_version=from_version,
        to_version=to_version,
        result=result,
        data=data,
        principal=current_principal(),
    )
