"""Page texts in en/de/cs: gettext catalogs compiled from the committed .po files at import.

English is the source language (the msgids); every ``api/translations/<lang>/LC_MESSAGES/*.po``
holds German and Czech texts, one file per area of the pages (``messages.po`` for the customer's
pages, ``staff.po``, ...), merged into one catalog per language.  Compiling in memory means a fresh
clone needs no build step; each language is compiled when a page first asks for it, not at import,
so that a restarted server answers sooner.
"""

from __future__ import annotations

import gettext
import io
import threading
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from engine import identity

LANGUAGES = identity.LANGUAGES
CATALOGS = Path(__file__).parent / "translations"


def catalog_files(language: str) -> list[Path]:
    return sorted((CATALOGS / language / "LC_MESSAGES").glob("*.po"))


def _load(language: str) -> gettext.NullTranslations:
    merged = Translations()
    for path in catalog_files(language):
        with path.open("rb") as po:
            catalog = read_po(po, locale=language)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        merged.merge(Translations(compiled))
    return merged


_TRANSLATIONS: dict[str, gettext.NullTranslations] = {}
_LOADING = threading.Lock()


def translations(language: str) -> gettext.NullTranslations:
    language = language if language in LANGUAGES else "en"
    found = _TRANSLATIONS.get(language)
    if found is None:
        with _LOADING:
            found = _TRANSLATIONS.get(language) or _TRANSLATIONS.setdefault(language, _load(language))
    return found


def pick(requested: str | None, accept_languages) -> str:
    """``?lang=`` if supported, else the best match of ``Accept-Language``, else English."""
    if requested in LANGUAGES:
        return requested
    return accept_languages.best_match(LANGUAGES) or "en"
