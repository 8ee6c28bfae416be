"""The OpenAPI document kept beside the code (``api/openapi.json``), loaded once.

Two readers: the route that serves it, and :mod:`api.requests`, which checks every request's
query parameters and JSON body against the operation the route implements, so that the document
and the code cannot disagree on what a well-formed request is.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

DOCUMENT = Path(__file__).resolve().parent / "openapi.json"


@cache
def load_document() -> dict:
    return json.loads(DOCUMENT.read_text())


@cache
def operations() -> dict[str, tuple[dict, dict]]:
    """``operationId`` (the Flask endpoint) -> (its path item, the operation)."""
    found = {}
    for item in load_document()["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "operationId" in operation:
                found[operation["operationId"]] = (item, operation)
    return found


def resolve(node: dict) -> dict:
    """``node`` itself, or what its local ``$ref`` points at."""
    ref = node.get("$ref")
    if ref is None:
        return node
    target = load_document()
    for part in ref.removeprefix("#/").split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return target
