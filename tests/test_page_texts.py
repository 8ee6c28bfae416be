"""Every text a person reads on the pages is translated: German and Czech catalogs cover every template and message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from api import i18n
from api.pages import errors, locale, navigation, signin
from engine import diagram
from engine.identity import ROLES

TEMPLATES = Path(i18n.__file__).parent / "templates"
TEMPLATE_TEXT = re.compile(r"""\b_\((["'])(.+?)\1[,)]""")
CODE_TEXT = re.compile(r"""\b(?:gettext|act)\((["'])(.+?)\1""")


def template_texts() -> set[str]:
    return {m[2] for f in TEMPLATES.rglob("*.html") for m in TEMPLATE_TEXT.finditer(f.read_text())}


def code_texts() -> set[str]:
    pages = Path(signin.__file__).parent
    found = {m[2] for f in pages.rglob("*.py") for m in CODE_TEXT.finditer(f.read_text())}
    return (
        found
        | set(errors.TITLES.values())
        | set(errors.MESSAGES.values())
        | {item.label for item in navigation.ITEMS}
        | {signin.LOGIN_FAILED, signin.FORM_EXPIRED, signin.FORM_HAS_NUL}
        | set(ROLES)
        | set(locale.CHANNEL_NAMES.values())
        | set(diagram.WORDS)  # the server-drawn diagrams' own words (api/pages/diagrams.py)
    )


def catalog(language: str) -> dict[str, str]:
    texts: dict[str, str] = {}
    for path in i18n.catalog_files(language):
        with path.open("rb") as po:
            texts |= {m.id: m.string for m in read_po(po, locale=language) if m.id}
    return texts


def test_the_collectors_find_texts_of_every_kind():
    assert {"Sign in", "Settings", "Case reference"} <= template_texts()
    assert {"Page not found", "Tasks", "Settings saved."} <= code_texts()


@pytest.mark.parametrize("language", ["de", "cs"])
def test_every_page_text_has_a_translation(language):
    known = catalog(language)
    missing = sorted(text for text in template_texts() | code_texts() if not known.get(text))
    assert missing == []


@pytest.mark.parametrize("language", ["de", "cs"])
def test_translations_keep_their_placeholders(language):
    for text, translated in catalog(language).items():
        assert set(re.findall(r"%\(\w+\)s", text)) == set(re.findall(r"%\(\w+\)s", translated)), text
