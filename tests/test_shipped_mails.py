"""The shipped processes' customer mails: each translation parses and reads only what the English text reads.

A translation that names a variable the English does not, or that does not parse, would fail the mail
task only when it first runs for a customer of that language; this finds it in the file.
"""

from __future__ import annotations

import ast

import pytest
from jinja2 import Environment, meta
from lxml import etree

from engine.config import PROJECT_ROOT

SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"


def _mail_tasks() -> list[tuple[str, str, dict[str, str]]]:
    """(file, task id, parameters as their Python source) of every notify_customer task with translations."""
    found = []
    for path in sorted((PROJECT_ROOT / "processes").glob("*.bpmn")):
        for operator in etree.parse(str(path)).iter(f"{{{SPIFF}}}serviceTaskOperator"):
            parameters = {p.get("id"): p.get("value") for p in operator.iter(f"{{{SPIFF}}}parameter")}
            if operator.get("id") == "notify_customer" and "translations" in parameters:
                task = operator.getparent().getparent()
                found.append((path.name, task.get("id"), parameters))
    return found


def _variables(template: str) -> set[str]:
    return meta.find_undeclared_variables(Environment().parse(template))


MAIL_TASKS = _mail_tasks()


def test_the_shipped_mails_with_translations_are_found():
    assert {(name, task) for name, task, _ in MAIL_TASKS} >= {
        ("escalation.bpmn", "tell_customer"),
        ("inquiry_intake.bpmn", "send_answer"),
    }


@pytest.mark.parametrize("name,task,parameters", MAIL_TASKS, ids=[f"{n}:{t}" for n, t, _ in MAIL_TASKS])
def test_each_translation_reads_what_the_english_reads(name, task, parameters):
    english = {part: _text(parameters[part]) for part in ("subject", "body")}
    translations = ast.literal_eval(parameters["translations"])
    assert set(translations) == {"de", "cs"}, f"{name}:{task}"
    for language, texts in translations.items():
        for part in ("subject", "body"):
            used = _variables(texts[part])  # parses, or raises with the line
            assert used <= _variables(english[part]) | {"customer"}, f"{name}:{task} {language} {part}: {used}"


def _text(source: str) -> str:
    """A template parameter's text: a literal, or the shipped files' ``'...' + chr(10) + '...'`` (our own file)."""
    text = eval(compile(ast.parse(source, mode="eval"), "<parameter>", "eval"), {"__builtins__": {}, "chr": chr})
    assert isinstance(text, str), source
    return text
