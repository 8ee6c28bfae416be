"""Jinja2 templates over process data (notifications, customer stage messages, form defaults), sandboxed.

Templates come with the model, so whoever deploys a process writes them; they run in
Jinja2's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` (no ``_`` attributes, no
changing the data they are given) with the size and time limits of the script sandbox.

Public surface::

    render_text(template, variables) -> str     # plain text: e-mail bodies, SMS
    render_html(template, variables) -> str     # HTML: every value is escaped unless marked |safe
    template_problems(template) -> list[str]    # for deploy-time checks; empty when it would render
    TemplateError                               # every failure; str(error) is for the designer

For example ``render_text("Hello {{ name }}, your visit is on {{ day }}.", task.data)``.
A variable the data does not have is an error (``{{ x | default("") }}`` when it may be
missing), so a typo is not sent to a customer as an empty gap.

Limits: templates up to :data:`MAX_TEMPLATE_LENGTH` characters, output up to
:data:`MAX_OUTPUT` characters, :data:`TIME_LIMIT` seconds per render, ``range`` up to
100,000 items; ``*``, ``**``, ``+`` and ``%`` refuse results beyond the script sandbox's caps,
and the filters whose output size is a parameter (``center``, ``indent``, ``batch``,
``slice``, ``join``, ``replace``, ``format``, ``tojson``) are bounded.
"""

from __future__ import annotations

import functools
import sys

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, nodes, pass_eval_context
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.filters import FILTERS
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.sandbox import GUARDS, LimitedRun, SandboxViolation, size_guarded_method

MAX_TEMPLATE_LENGTH = 50_000
MAX_OUTPUT = 200_000
MAX_LAYOUT = 1_000  # widths, counts and indents of the layout filters
TIME_LIMIT = 1.0
TEMPLATE_FILENAME = "<template>"  # what Jinja names code compiled from a string


class TemplateError(Exception):
    """A template that cannot be rendered, or that the sandbox refused; ``line`` is its line when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"{message} (line {line})" if line else message)
        self.line = line


def _bounded(what: str, value) -> None:
    size = value if isinstance(value, int) else len(str(value))
    if size > MAX_LAYOUT:
        raise SecurityError(f"{what} is limited to {MAX_LAYOUT}")


def _center(value, width=80):
    _bounded("center() width", width)
    return FILTERS["center"](value, width)


def _indent(value, width=4, *args, **kwargs):
    _bounded("indent() width", width)
    return FILTERS["indent"](value, width, *args, **kwargs)


def _batch(value, linecount, fill_with=None):
    _bounded("batch() size", linecount)
    return FILTERS["batch"](value, linecount, fill_with)


def _slice(value, slices, fill_with=None):
    _bounded("slice() count", slices)
    return FILTERS["slice"](value, slices, fill_with)


@pass_eval_context
def _join(eval_ctx, value, d="", attribute=None):
    items = list(value)
    if len(items) * len(str(d)) > MAX_OUTPUT:
        raise SecurityError(f"join() would exceed {MAX_OUTPUT} characters")
    return FILTERS["join"](eval_ctx, items, d, attribute)


@pass_eval_context
def _replace(eval_ctx, s, old, new, count=None):
    text, old, new = str(s), str(old), str(new)
    if len(new) > len(old) and len(text) + text.count(old) * (len(new) - len(old)) > MAX_OUTPUT:
        raise SecurityError(f"replace() would exceed {MAX_OUTPUT} characters")
    return FILTERS["replace"](eval_ctx, s, old, new, count)


def _format(value, *args, **kwargs):
    return GUARDS["_mod_"](value, kwargs or args)


@pass_eval_context
def _tojson(eval_ctx, value, indent=None):
    if indent is not None and (indent if isinstance(indent, int) else len(str(indent))) > 16:
        raise SecurityError("tojson() indent is limited to 16")
    return FILTERS["tojson"](eval_ctx, value, indent)


_OPERATORS = {"*": GUARDS["_mul_"], "**": GUARDS["_pow_"], "+": GUARDS["_add_"], "%": GUARDS["_mod_"]}


class CareTemplates(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, with the script sandbox's operator and method size guards."""

    intercepted_binops = frozenset(_OPERATORS)

    def __init__(self, autoescape: bool) -> None:
        super().__init__(autoescape=autoescape, undefined=StrictUndefined, auto_reload=False, cache_size=0)
        del self.globals["lipsum"]  # lorem ipsum of any length; of no use in messages
        self.filters.update(
            center=_center,
            indent=_indent,
            batch=_batch,
            slice=_slice,
            join=_join,
            replace=_replace,
            format=_format,
            tojson=_tojson,
        )

    def call_binop(self, context, operator, left, right):
        return _OPERATORS[operator](left, right)

    def getattr(self, obj, attribute):
        return self._size_guarded(obj, attribute, super().getattr(obj, attribute))

    def getitem(self, obj, argument):
        return self._size_guarded(obj, argument, super().getitem(obj, argument))

    @staticmethod
    def _size_guarded(obj, name, value):
        """Methods such as ``str.center`` come back wrapped by the script sandbox's size checks."""
        if not isinstance(name, str) or not callable(value) or isinstance(value, Undefined) or isinstance(obj, type):
            return value
        if isinstance(obj, str) and name in ("format", "format_map"):
            return _refused(f"str.{name}() is not allowed in templates; use the format filter")
        return size_guarded_method(obj, name, value)


def _refused(message: str):
    def refused(*args, **kwargs):
        raise SecurityError(message)

    return refused


_ENVIRONMENTS = {False: CareTemplates(autoescape=False), True: CareTemplates(autoescape=True)}


def _template_line(traceback) -> int | None:
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == TEMPLATE_FILENAME:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


@functools.lru_cache(maxsize=256)
def _compile(template: str, html: bool):
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise TemplateError(f"the template is longer than {MAX_TEMPLATE_LENGTH} characters")
    try:
        # compiling folds constant expressions, so it runs under the same limits as rendering
        return _limited(functools.partial(_ENVIRONMENTS[html].from_string, template))
    except TemplateSyntaxError as error:
        raise TemplateError(f"template syntax error: {error.message}", error.lineno) from None


def _limited(function):
    try:
        return LimitedRun(TIME_LIMIT, TEMPLATE_FILENAME, "template").run(function)
    except SandboxViolation as violation:
        raise TemplateError(str(violation)) from None


def _render(template: str, variables: dict, html: bool) -> str:
    compiled = _compile(template, html)

    def generate() -> str:
        parts, length = [], 0
        for part in compiled.generate(variables):
            length += len(part)
            if length > MAX_OUTPUT:
                raise SecurityError(f"the output is longer than {MAX_OUTPUT} characters")
            parts.append(part)
        return "".join(parts)

    try:
        text = _limited(generate)
    except TemplateError:
        raise
    except SecurityError as error:
        raise TemplateError(f"refused by the template sandbox: {error}", _template_line(sys.exc_info()[2])) from None
    except UndefinedError as error:
        raise TemplateError(f"template error: {error}", _template_line(sys.exc_info()[2])) from None
    except Exception as error:  # noqa: BLE001 - any failure of model content becomes a designer-readable error
        line = _template_line(sys.exc_info()[2])
        raise TemplateError(f"template error: {type(error).__name__}: {error}", line) from None
    return text


def render_text(template: str, variables: dict) -> str:
    """Render ``template`` over ``variables`` as plain text (nothing is escaped)."""
    return _render(template, variables, html=False)


def render_html(template: str, variables: dict) -> str:
    """Render ``template`` over ``variables`` as HTML: every value is escaped unless the template marks it ``|safe``."""
    return _render(template, variables, html=True)


def template_problems(template: str) -> list[str]:
    """What is wrong with ``template`` before it runs: its length, its syntax, attributes that start with ``_``."""
    try:
        _compile(template, False)
        tree = _ENVIRONMENTS[False].parse(template)
    except TemplateError as error:
        return [str(error)]
    problems = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(name, str) and name.startswith("_"):
            problems.append(f'refused by the template sandbox: attribute "{name}" is not allowed (line {node.lineno})')
    return problems
