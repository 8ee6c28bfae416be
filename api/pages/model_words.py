"""The words of the models on the pages: process names, task names, stage labels and form texts translated.

The page texts come from ``api/translations``; the texts a designer wrote into a process come with
the process, in catalogs deployed beside its BPMN file (:mod:`engine.model_translations`).  These
helpers look those up in the page's language and fall back to the model's own text:

- in templates, ``{{ model_text(process_key, version, text) }}`` (``version`` None: the latest),
  in the template's ``lang`` (the customer pages' own, else the viewer's: :func:`locale.page_language`);
- in Python, :func:`model_text`, :func:`task_name` for a task dict and :func:`translate_fields`
  for the fields of :func:`api.pages.form_fields.fields_for`; the diagrams draw their names through
  :func:`translations` (:mod:`api.pages.diagrams`).

Catalogs are read once per definition version and kept; within one request, "the latest version
of a process" is looked up once.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from jinja2 import pass_context

from api.pages.form_fields import Field
from api.pages.locale import page_language
from engine.model_translations import Translations


def translations(process_key: str, version: int | None = None) -> Translations:
    """The translations of a process version (None: its latest), remembered for the rest of the request."""
    memo = g.setdefault("model_translations", {})
    if (process_key, version) not in memo:
        memo[process_key, version] = current_app.extensions["carecenter"].repository.texts.of_version(
            process_key, version
        )
    return memo[process_key, version]


def model_text(process_key: str, version: int | None, text: str | None, language: str | None = None) -> str:
    """``text`` of the process in ``language`` (default: the page's), else as the model has it."""
    if not text:
        return text or ""
    return translations(process_key, version).text(language or page_language(), text)


def task_name(task: dict, language: str | None = None) -> str:
    """A task dict's (``engine.views.task_view``) name; its version if the dict has one, else the latest."""
    return model_text(task["process_key"], task.get("version"), task["name"], language)


def translate_fields(
    fields: list[Field], process_key: str, version: int | None, language: str | None = None
) -> list[Field]:
    """Translate the labels, help, placeholders and choices of form fields in place; returns them."""
    texts, language = translations(process_key, version), language or page_language()
    for item in fields:
        item.label = texts.text(language, item.label)
        item.help = texts.text(language, item.help) if item.help else item.help
        item.placeholder = texts.text(language, item.placeholder) if item.placeholder else item.placeholder
        item.options = [(value, texts.text(language, label)) for value, label in item.options]
        translate_fields(item.children, process_key, version, language)
    return fields


@pass_context
def _model_text(context, process_key: str, version: int | None, text: str | None) -> str:
    return model_text(process_key, version, text, context.get("lang"))


def configure(app: Flask) -> None:
    app.jinja_env.globals["model_text"] = _model_text
