"""The files a deployed version was deployed with, for deploying an edited version of it.

The modeler edits one BPMN file, but a version also shows the translations of its texts
(``<file>.de.po``, ``<file>.cs.po``, :mod:`engine.model_translations`) deployed beside it. An
edited version deployed from the modeler takes the same catalogs along, so German and Czech
customers keep their texts (the deploy warns about texts the catalogs do not cover).
"""

from __future__ import annotations

from sqlalchemy import select

from engine.bpmn import SourceFile
from engine.db import Database
from engine.model_translations import CatalogError, catalog_name, model_stem
from engine.models import ProcessDefinition


def catalogs_of(db: Database, key: str, version: int | None) -> list[SourceFile]:
    """The catalogs translating the file of version ``version`` of process ``key`` (none for an unknown version).

    Catalogs of other files the version calls stay out: a deployment takes catalogs only with their file.
    """
    if version is None:
        return []
    with db.read() as session:
        row = session.scalar(
            select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.version == version)
        )
        if row is None:
            return []
        names = list((row.dependencies or {}).get("catalogs", []))
        own = {r.filename: r for r in row.resource.deployment.resources if r.kind == "catalog"}
        stem = model_stem(row.resource.filename)
        return [SourceFile(name, own[name].content) for name in names if name in own and _stem(name) == stem]


def _stem(catalog: str) -> str | None:
    try:
        return catalog_name(catalog)[0]
    except (CatalogError, ValueError):
        return None
