"""Scenario files: what designers write to test a process without clicking through pages or waiting.

A scenario file (``processes/tests/*.yaml``) names the process files it needs, the customers,
systems, licenses and catalog items it starts from, and a list of scenarios, each a list of steps: start an
instance, complete a task, move the clock, expect where things stand.  This module reads and
checks such files against a JSON Schema, reporting every problem with its line; running them
is :mod:`engine.scenario_runner`'s job.  The format is documented in docs/scenarios.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from engine.contacts import CHANNELS
from engine.timer_specs import parse_datetime

DEFAULT_NOW = "2030-01-07T09:00:00+00:00"  # a Monday morning: office hours, far from the real clock

_TEXT = {"type": "string", "minLength": 1}
_OBJECT = {"type": "object"}
_INSTANCE_REF = {"type": "string", "minLength": 1, "description": "an instance named by `as`"}
_COUNT = {"type": "integer", "minimum": 0}

STEP_SCHEMAS: dict[str, dict] = {
    "start": {
        "type": "object",
        "properties": {
            "process": _TEXT,
            "data": _OBJECT,
            "business_key": _TEXT,
            "customer_id": _TEXT,
            "as": _TEXT,
        },
        "additionalProperties": False,
    },
    "use": {
        "type": "object",
        "properties": {
            "process": _TEXT,
            "business_key": _TEXT,
            "customer_id": _TEXT,
            "variables": _OBJECT,
            "as": _TEXT,
        },
        "minProperties": 1,
        "additionalProperties": False,
    },
    "complete": {
        "type": "object",
        "required": ["task"],
        "properties": {
            "task": _TEXT,
            "data": _OBJECT,
            "user": _TEXT,
            "instance": _INSTANCE_REF,
            "rejected": {"type": "string", "description": "the task must refuse the data with this in the error"},
        },
        "additionalProperties": False,
    },
    "advance": _TEXT,
    "message": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": _TEXT,
            "business_key": _TEXT,
            "correlation_keys": _OBJECT,
            "payload": _OBJECT,
            "message_id": _TEXT,
            "ttl": _TEXT,
            "to": {"type": "string", "description": "an instance named by `as`: the message goes to it only"},
        },
        "additionalProperties": False,
    },
    "signal": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": _TEXT, "payload": _OBJECT},
        "additionalProperties": False,
    },
    "inquiry": {
        "type": "object",
        "required": ["customer", "subject", "body"],
        "properties": {
            "channel": {"enum": list(CHANNELS)},
            "customer": _OBJECT,
            "subject": _TEXT,
            "body": _TEXT,
            "reference": {"type": "string", "description": "a tracking code, or `as` name of an instance"},
            "as": _TEXT,
        },
        "additionalProperties": False,
    },
    "cancel": {
        "type": "object",
        "properties": {"instance": _INSTANCE_REF},
        "additionalProperties": False,
    },
    "expect": {
        "type": "object",
        "minProperties": 1,
        "properties": {
            "instance": _INSTANCE_REF,
            "status": {"enum": ["active", "completed", "failed", "cancelled"]},
            "tasks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": _TEXT, "group": _TEXT, "form": _TEXT, "assignee": _TEXT},
                    "additionalProperties": False,
                },
            },
            "variables": _OBJECT,
            "stage": {"type": ["string", "null"], "description": "the customer-visible stage"},
            "customer_status": {"enum": ["received", "in_progress", "waiting_for_you", "completed", "cancelled"]},
            "incidents": {
                "oneOf": [
                    _COUNT,
                    {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"element": _TEXT, "contains": _TEXT},
                            "additionalProperties": False,
                        },
                    },
                ]
            },
            "mails": {
                "oneOf": [
                    _COUNT,
                    {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"to": _TEXT, "subject": _TEXT, "contains": _TEXT},
                            "additionalProperties": False,
                        },
                    },
                ]
            },
            "dispatches": {
                "oneOf": [
                    _COUNT,
                    {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"system": _TEXT, "version": _TEXT, "status": _TEXT},
                            "additionalProperties": False,
                        },
                    },
                ]
            },
            "instances": {"type": "object", "additionalProperties": _COUNT},
        },
        "additionalProperties": False,
    },
}

_STORE_ROWS = {"type": "array", "items": {"type": "object"}}

FILE_SCHEMA: dict = {
    "type": "object",
    "required": ["scenarios"],
    "properties": {
        "description": {"type": "string"},
        "process": _TEXT,
        "deploy": {"type": "array", "items": _TEXT, "minItems": 1},
        "now": _TEXT,
        "store": {
            "type": "object",
            "properties": {
                "customers": _STORE_ROWS,
                "systems": _STORE_ROWS,
                "licenses": _STORE_ROWS,
                "catalog": _STORE_ROWS,
            },
            "additionalProperties": False,
        },
        "scenarios": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "steps"],
                "properties": {
                    "name": _TEXT,
                    "description": {"type": "string"},
                    "steps": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "minProperties": 1,
                            "maxProperties": 1,
                            "propertyNames": {"enum": sorted(STEP_SCHEMAS)},
                            "properties": STEP_SCHEMAS,
                        },
                    },
                },
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}


class _Loader(yaml.SafeLoader):
    """Safe YAML that keeps dates and times as text, as process data and the JSON API have them."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class ScenarioFileInvalid(ValueError):
    """A scenario file that cannot be read or does not follow the format; ``problems`` name their lines."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__(f"{path}: " + "; ".join(problems))
        self.path = path
        self.problems = problems


@dataclass(frozen=True)
class Step:
    kind: str
    arguments: Any
    line: int


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: list[Step]
    line: int


@dataclass(frozen=True)
class ScenarioFile:
    path: Path
    process: str | None
    deploy: list[Path]
    now: datetime
    store: dict[str, list[dict]] = field(default_factory=dict)
    scenarios: list[Scenario] = field(default_factory=list)


def load(path: Path) -> ScenarioFile:
    """Read and check one scenario file.

    ``deploy`` names are looked up beside the file, then in the folder above it (so that
    ``processes/tests/x.yaml`` names ``processes/*.bpmn`` plainly); without ``deploy``, every
    process file of the first of those folders that has any is deployed.
    """
    text = path.read_text(encoding="utf-8")
    try:
        document = yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as error:
        raise ScenarioFileInvalid(path, [f"not valid YAML: {error}"]) from error
    validator = jsonschema.Draft202012Validator(FILE_SCHEMA)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise ScenarioFileInvalid(path, [_describe(error, root) for error in errors])
    try:
        now = parse_datetime(str(document.get("now", DEFAULT_NOW)))
    except ValueError as error:
        raise ScenarioFileInvalid(path, [f"line {_line(root, ['now'])}: now: {error}"]) from error
    folders = [path.parent, path.parent.parent]
    names = document.get("deploy", [])
    deploy = [next((f / name for f in folders if (f / name).is_file()), path.parent / name) for name in names]
    if not names:
        deploy = next((found for f in folders if (found := _process_files(f))), [])
    missing = [p.name for p in deploy if not p.is_file()]
    if missing or not deploy:
        where = " or ".join(str(f) for f in folders)
        problems = [f"deploy: no file {name} in {where}" for name in missing] or [f"no process files in {where}"]
        raise ScenarioFileInvalid(path, problems)
    scenarios = [
        Scenario(
            raw["name"],
            [
                Step(kind, arguments, _line(root, ["scenarios", i, "steps", j]))
                for j, step in enumerate(raw["steps"])
                for kind, arguments in step.items()
            ],
            _line(root, ["scenarios", i]),
        )
        for i, raw in enumerate(document["scenarios"])
    ]
    return ScenarioFile(path, document.get("process"), deploy, now, document.get("store", {}), scenarios)


def discover(paths: list[Path]) -> list[Path]:
    """The scenario files named, and the ``*.yaml``/``*.yml`` files in folders named and their sub-folders.

    ``carecenter test processes`` thus finds ``processes/tests/*.yaml``; hidden folders are skipped.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.suffix in (".yaml", ".yml")
                    and p.is_file()
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            )
        else:
            found.append(path)
    return found


def _process_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".bpmn", ".dmn")) if folder.is_dir() else []


def _describe(error: jsonschema.ValidationError, root: yaml.Node) -> str:
    where = ".".join(str(part) for part in error.absolute_path) or "the file"
    return f"line {_line(root, list(error.absolute_path))}: {where}: {error.message}"


def _line(root: yaml.Node | None, path: list) -> int:
    """The 1-based line of the YAML node at ``path`` (keys and list indexes), or of its nearest parent."""
    node = root
    for part in path:
        if isinstance(node, yaml.MappingNode):
            node = next((value for key, value in node.value if key.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            node = None
        if node is None:
            break
        root = node
    return (root.start_mark.line + 1) if root is not None else 1
