"""Page texts for customers in en/de/cs: gettext catalogs compiled from the committed .po files at import.

English is the source language (the msgids); ``api/translations/<lang>/LC_MESSAGES/messages.po``
hold the German and Czech texts.  Compiling in memory means a fresh clone needs no build step.
"""

from __future__ import annotations

import gettext
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGUAGES = ("en", "de", "cs")
CATALOGS = Path(__file__).parent / "translations"


def _load(language: str) -> gettext.NullTranslations:
    path = CATALOGS / language / "LC_MESSAGES" / "messages.po"
    if not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


_TRANSLATIONS = {language: _load(language) for language in LANGUAGES}


def translations(language: str) -> gettext.NullTranslations:
    return _TRANSLATIONS.get(language, _TRANSLATIONS["en"])


def pick(requested: str | None, accept_languages) -> str:
    """``?lang=`` if supported, else the best match of ``Accept-Language``, else English."""
    if requested in LANGUAGES:
        return requested
    return accept_languages.best_match(LANGUAGES) or "en"
