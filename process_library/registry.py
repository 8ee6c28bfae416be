"""The registry of named operations that service tasks call.

A service task names an operation (``spiffworkflow:serviceTaskOperator id="..."`` or Camunda's
``camunda:type="external" camunda:topic="..."``) and passes parameters.  Operations are plain
Python functions registered with :func:`operation`; their keyword-only parameters (after the
:class:`OperationContext`) are the parameters a service task may pass, required unless they
have a default, typed by their annotations.  Deploying checks every service task against this
registry, and ``GET /api/operations`` lists it for designers.

Operations run in the worker, outside any database transaction of the engine, and may be
called more than once for one service task (a retry, a worker that died mid-call): they must
pass :attr:`OperationContext.idempotency_key` on to whatever they change, so that a repeated
call changes nothing twice.  They report failures by raising:

- :class:`TransientError` (or ``OSError``, e.g. a refused connection): retried with backoff;
- :class:`BpmnError`: thrown into the process as a BPMN error with that code, for an error
  boundary event to handle;
- anything else: a permanent failure, an incident at the element at once.
"""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.clock import Clock
    from engine.config import Settings
    from engine.db import Database

TYPE_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object", list: "array"}


class TransientError(Exception):
    """A failure worth retrying (a remote system is down or busy)."""


class BpmnError(Exception):
    """A business error the process models: thrown as BPMN error ``code`` at the service task."""

    def __init__(self, code: str, message: str = "", payload: dict | None = None) -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message or code
        self.payload = payload or {}


@dataclass(frozen=True)
class OperationContext:
    """What an operation knows about the call: who asks, the stable key of the call, and the engine's parts."""

    idempotency_key: str
    instance_id: int
    process_key: str
    element_id: str
    tracking_code: str
    reference: str  # the case reference people read out and type (engine.case_reference)
    db: Database
    clock: Clock
    settings: Settings


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    required: bool
    description: str = ""

    def as_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "required": self.required, "description": self.description}


@dataclass(frozen=True)
class Operation:
    name: str
    description: str
    parameters: tuple[Parameter, ...]
    function: Callable[..., dict | None] = field(repr=False)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "parameters": [p.as_dict() for p in self.parameters],
        }

    def problems(self, given: set[str]) -> list[str]:
        """What is wrong with a service task that passes the parameters ``given``."""
        known = {p.name for p in self.parameters}
        missing = sorted(p.name for p in self.parameters if p.required and p.name not in given)
        unknown = sorted(given - known)
        messages = []
        if missing:
            messages.append(f"operation '{self.name}' needs parameter(s) {', '.join(missing)}")
        if unknown:
            messages.append(
                f"operation '{self.name}' has no parameter(s) {', '.join(unknown)}"
                f" (it takes: {', '.join(sorted(known)) or 'none'})"
            )
        return messages

    def call(self, context: OperationContext, arguments: dict) -> dict | None:
        return self.function(context, **arguments)


class Registry:
    """Operations by name."""

    def __init__(self) -> None:
        self._operations: dict[str, Operation] = {}

    def register(self, function: Callable, name: str | None = None, parameters: dict[str, str] | None = None) -> None:
        operation_name = name or function.__name__
        if operation_name in self._operations:
            raise ValueError(f"operation '{operation_name}' is registered twice")
        self._operations[operation_name] = Operation(
            operation_name, _description(function), _parameters(function, parameters or {}), function
        )

    def get(self, name: str) -> Operation | None:
        return self._operations.get(name)

    def all(self) -> list[Operation]:
        return sorted(self._operations.values(), key=lambda op: op.name)


REGISTRY = Registry()


class OperationModuleError(ImportError):
    """A module named in ``CARECENTER_OPERATION_MODULES`` could not be imported."""


def import_operation_modules(names: typing.Iterable[str]) -> None:
    """Import site-specific operation modules, whose ``@operation`` functions join :data:`REGISTRY`.

    A care center adds its own operations (a CRM lookup, a ticket system) in a module of its
    own and names it in ``CARECENTER_OPERATION_MODULES``; ``serve``, ``worker`` and ``deploy``
    import it at start, so that deploy checks and workers know the same operations.
    """
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as error:
            raise OperationModuleError(f"operation module '{name}' cannot be imported: {error}") from error


def operation(name: str | None = None, **parameter_descriptions: str) -> Callable[[Callable], Callable]:
    """Register the decorated function in :data:`REGISTRY` (keyword arguments describe its parameters)."""

    def register(function: Callable) -> Callable:
        REGISTRY.register(function, name, parameter_descriptions)
        return function

    return register


def _description(function: Callable) -> str:
    doc = inspect.getdoc(function) or ""
    return doc.split("\n\n", 1)[0].replace("\n", " ").strip()


def _parameters(function: Callable, descriptions: dict[str, str]) -> tuple[Parameter, ...]:
    signature = inspect.signature(function)
    hints = typing.get_type_hints(function)
    result = []
    for parameter in list(signature.parameters.values())[1:]:  # the first is the context
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
            raise TypeError(f"operation {function.__name__}: parameter '{parameter.name}' must be keyword-only")
        result.append(
            Parameter(
                parameter.name,
                _type_name(hints.get(parameter.name, Any)),
                parameter.default is inspect.Parameter.empty,
                descriptions.get(parameter.name, ""),
            )
        )
    unknown = set(descriptions) - {p.name for p in result}
    if unknown:
        raise TypeError(f"operation {function.__name__}: descriptions of unknown parameters {sorted(unknown)}")
    return tuple(result)


def _type_name(hint: object) -> str:
    origin = typing.get_origin(hint) or hint
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        names = [_type_name(arg) for arg in typing.get_args(hint) if arg is not type(None)]
        return " or ".join(names) if names else "any"
    return TYPE_NAMES.get(origin, "any")
