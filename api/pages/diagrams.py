"""The server-drawn BPMN diagrams of the pages (a case's, the heat map, the designer's process) in the reader's words.

:func:`engine.diagram.render_svg` stays without Flask: what it draws as a name goes through a function
the page gives it.  This module makes that function once for the three pages that draw diagrams:

- a name the model's catalogs translate (:mod:`api.pages.model_words`, of the version drawn) is shown
  translated;
- else a name that is a team's (lanes name the candidate groups of their tasks: ``team_lead``) is
  shown by the team's display name ("Team leads", :mod:`api.pages.team_names`);
- else the name as the model has it.

The words the diagram adds itself (``User task``, ``completed``, ``BPMN diagram of …``:
:data:`engine.diagram.WORDS`) come from the page catalogs (``diagram_words.po``), in the same language.
"""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup

from api.pages.locale import page_language, translated
from api.pages.model_words import translations
from api.pages.team_names import team_name
from engine.diagram import render_svg


def diagram_names(process_key: str, version: int | None) -> Callable[[str], str]:
    """How a diagram of the process version (None: the latest) names its elements in the page's language."""
    texts, language = translations(process_key, version), page_language()
    return lambda text: texts.get(language, text) or team_name(text)


def diagram_words() -> Callable[[str], str]:
    """The diagram's own words (:data:`engine.diagram.WORDS`) in the page's language, placeholders left to fill."""
    language = page_language()
    return lambda text: translated(text, language)


def diagram(xml: bytes, process_key: str, version: int | None, **drawn) -> Markup:
    """The diagram of a process version as inline SVG; ``drawn`` are :func:`render_svg`'s states, counts or heat."""
    names = diagram_names(process_key, version)
    return Markup(render_svg(xml, process_id=process_key, translate=names, words=diagram_words(), **drawn))
