"""What the modeler pages' posts carry, read and checked: the diagram, the process key, a version number.

Shared by the page modules beside it (api/pages/modeler.py, modeler_tests.py), so each reads a
posted diagram exactly as an upload is read (:func:`api.routes.deployments.uploaded_sources`).
"""

from __future__ import annotations

from api.routes.deployments import uploaded_sources
from engine.bpmn import SourceFile
from engine.errors import InvalidRequest
from engine.process_drafts import MAX_KEY, NEW_PROCESS


def process_key(key: str | None) -> str:
    """The key of the process edited (``NEW_PROCESS`` on /processes/new)."""
    if key is not None and (not key or len(key) > MAX_KEY):
        raise InvalidRequest("no such process key")
    return NEW_PROCESS if key is None else key


def version_number(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    if not value.isdigit() or not 0 < int(value) < 2**31:
        raise InvalidRequest("'version' must be a version number")
    return int(value)


def posted_diagram() -> SourceFile:
    """The one BPMN file the page posted, read as an upload is (:func:`uploaded_sources`)."""
    sources = uploaded_sources()
    if len(sources) != 1 or sources[0].kind != "bpmn":
        raise InvalidRequest("send the diagram as one .bpmn file")
    return sources[0]
