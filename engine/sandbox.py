"""A confined environment for BPMN scripts and expressions.

Whoever can deploy a process can run its scripts, so scripts, conditions and expressions are
compiled with RestrictedPython and run with:

- safe builtins only (no ``open``, ``exec``, ``eval``, ``compile``, ``globals``, ``vars``,
  ``type``, ``getattr`` on ``_`` names); ``print`` is accepted, since modelers use it to debug,
  and what a script prints (capped) goes to the debug log;
- guarded attribute access: no ``_``-prefixed (dunder) attributes, no frame/generator/traceback
  introspection, no ``str.format``/``format_map``;
- an import allow-list (datetime, math, decimal, json, re, and the clock-reading part of time:
  modelers stamp data with ``time.time()``), handed out as read-only views without the modules
  those modules import themselves (``json.codecs``, ``datetime.sys``);
- a time limit per evaluation (a trace function checks a deadline on every line and call),
  a recursion limit, and caps on the data a script creates: ``*``, ``**``, ``<<``, ``+`` and
  ``%`` on big operands, ``range`` length, padding/join/replace of strings, and the size of
  the values a script leaves in the task data.

A refusal raises :class:`SandboxViolation`, whose message says what was refused; the engine
turns it into an incident at the element.  Limits that cannot be enforced from Python: a
single C-level operation on allowed sizes (for example a regular expression with
catastrophic backtracking) is not interrupted by the deadline.
"""

from __future__ import annotations

import ast
import copy
import datetime
import decimal
import functools
import json
import logging
import math
import operator
import re
import resource
import sys
import time
import types
from collections.abc import Callable

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import full_write_guard, guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

logger = logging.getLogger(__name__)

DEFAULT_TIME_LIMIT = 1.0  # seconds per evaluation
MAX_SEQUENCE = 1_000_000  # items in a list/tuple/range, characters in a string
MAX_INT_BITS = 64_000  # about 19,000 decimal digits
MAX_MODPOW_BITS = 4096
MAX_DECIMAL_EXPONENT = 999_999  # the default context's Emax, which arithmetic keeps to
MAX_DEPTH = 100  # nested calls of script functions
MAX_PRINTED = 10_000  # characters of print output kept per evaluation
MAX_MEMORY_GROWTH = 256 * 2**20  # bytes the process's peak memory may grow during one evaluation
MEMORY_CHECK_INTERVAL = 0.005  # seconds between two looks at the process's memory
MAX_DATA_UNITS = 5_000_000  # rough size (characters + items) of values a script writes to task data
SCRIPT_FILENAME = "<string>"  # SpiffWorkflow finds the failing line by this file name
ALLOWED_MODULES = ("datetime", "math", "decimal", "json", "re", "time")
REFUSED_ATTRIBUTES = frozenset({"format", "format_map", "mro", "gi_frame", "gi_code", "cr_frame", "ag_frame"})
REFUSED_BUILTINS = (
    "open",
    "exec",
    "eval",
    "compile",
    "globals",
    "locals",
    "vars",
    "dir",
    "type",
    "input",
    "breakpoint",
    "help",
    "memoryview",
    "bytearray",
    "classmethod",
    "staticmethod",
    "property",
    "super",
    "object",
)


class SandboxViolation(Exception):
    """A script did something the sandbox refuses; the message says what."""


class _Abort(BaseException):
    """Raised inside a running script; a BaseException so ``except Exception`` in the script cannot swallow it."""


# ---------------------------------------------------------------- compilation


class SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus size guards on operators and a few more refused names."""

    _GUARDED_OPS = {ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_", ast.Add: "_add_", ast.Mod: "_mod_"}

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.node_contents_visit(node)
        guard = self._GUARDED_OPS.get(type(node.op))
        if guard is None:
            return node
        call = ast.Call(func=ast.Name(guard, ast.Load()), args=[node.left, node.right], keywords=[])
        ast.copy_location(call.func, node)
        return ast.copy_location(call, node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if node.attr in REFUSED_ATTRIBUTES:
            self.error(node, f'access to attribute "{node.attr}" is not allowed')
        return super().visit_Attribute(node)

    def visit_Try(self, node: ast.Try) -> ast.AST:
        # the sandbox aborts a script with an exception; a finally block would run after the abort
        if node.finalbody:
            self.error(node, "try ... finally is not allowed in scripts")
        return super().visit_Try(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        if node.type is None or (isinstance(node.type, ast.Name) and node.type.id == "BaseException"):
            self.error(node, "catch exceptions with except Exception (or narrower), not a bare except")
        return super().visit_ExceptHandler(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.error(node, "class definitions are not allowed in scripts")
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        spec = node.format_spec
        if spec is not None:
            parts = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
            for part in parts:
                if not isinstance(part, ast.Constant):
                    self.error(node, "computed format specifications in f-strings are not allowed")
                elif any(len(d) > 6 for d in re.findall(r"\d+", str(part.value))):
                    self.error(node, "format widths over 999999 are not allowed")
        return super().visit_FormattedValue(node)

    def check_import_names(self, node):
        for alias in node.names:
            root = (getattr(node, "module", None) or alias.name).split(".")[0]
            if getattr(node, "level", 0) or root not in ALLOWED_MODULES:
                self.error(node, f'import of "{root or "."}" is not allowed (allowed: {", ".join(ALLOWED_MODULES)})')
        return super().check_import_names(node)


@functools.lru_cache(maxsize=2048)
def _compile(source: str, mode: str):
    compiler = compile_restricted_exec if mode == "exec" else compile_restricted_eval
    result = compiler(source, filename=SCRIPT_FILENAME, policy=SandboxPolicy)
    return result.code, tuple(result.errors)


def restriction_problems(source: str, mode: str = "exec") -> list[str]:
    """What the sandbox refuses in ``source`` at compile time (empty when it compiles)."""
    return list(_compile(source, mode)[1])


def compile_sandboxed(source: str, mode: str):
    code, errors = _compile(source, mode)
    if errors or code is None:
        raise SandboxViolation("refused by the script sandbox: " + "; ".join(errors or ("does not compile",)))
    return code


# ---------------------------------------------------------------- guards


def _size(value) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple) else None


def _refuse(what: str):
    raise _Abort(what)


def _check_int(value, what: str):
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        _refuse(f"{what} would create an integer over {MAX_INT_BITS} bits")
    return value


def _mul(a, b):
    for seq, count in ((a, b), (b, a)):
        if _size(seq) is not None and isinstance(count, int) and len(seq) * max(count, 0) > MAX_SEQUENCE:
            _refuse(f"repeating a {type(seq).__name__} {count} times would exceed {MAX_SEQUENCE} items")
    if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > MAX_INT_BITS:
        _refuse(f"multiplication would create an integer over {MAX_INT_BITS} bits")
    return a * b


def _pow(a, b, mod=None):
    big = mod is None and isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1
    if big and b * a.bit_length() > MAX_INT_BITS + b:
        _refuse(f"power would create an integer over {MAX_INT_BITS} bits")
    if mod is None:
        return pow(a, b)
    # modular powers are one C call that the deadline cannot interrupt: keep them small
    if any(isinstance(x, int) and x.bit_length() > MAX_MODPOW_BITS for x in (b, mod)):
        _refuse(f"pow() with a modulus takes exponents and moduli up to {MAX_MODPOW_BITS} bits")
    return pow(a, b, mod)


def _lshift(a, b):
    if isinstance(a, int) and isinstance(b, int) and a and a.bit_length() + b > MAX_INT_BITS:
        _refuse(f"shift would create an integer over {MAX_INT_BITS} bits")
    return a << b


def _add(a, b):
    sa, sb = _size(a), _size(b)
    if sa is not None and sb is not None and sa + sb > MAX_SEQUENCE:
        _refuse(f"concatenation would exceed {MAX_SEQUENCE} items")
    return a + b


_WIDTH = re.compile(r"%[-#0 +]*(\*|\d+)(?:\.(\*|\d+))?")


def _mod(a, b):
    if isinstance(a, str | bytes):
        text = a if isinstance(a, str) else a.decode("latin-1")
        args = b if isinstance(b, tuple) else (b,)
        for width in _WIDTH.findall(text):
            for w in width:
                if w.isdigit() and int(w) > MAX_SEQUENCE:
                    _refuse(f"format width {w} exceeds {MAX_SEQUENCE}")
                if w == "*" and any(isinstance(x, int) and abs(x) > MAX_SEQUENCE for x in args):
                    _refuse(f"format width exceeds {MAX_SEQUENCE}")
    return a % b


_INPLACE = {
    "+=": _add,
    "-=": operator.sub,
    "*=": _mul,
    "/=": operator.truediv,
    "//=": operator.floordiv,
    "%=": _mod,
    "**=": _pow,
    "<<=": _lshift,
    ">>=": operator.rshift,
    "&=": operator.and_,
    "|=": operator.or_,
    "^=": operator.xor,
    "@=": operator.matmul,
}


def _inplacevar(op: str, x, y):
    if op not in _INPLACE:
        _refuse(f"operator {op} is not allowed")
    if op == "+=" and isinstance(x, list) and not isinstance(y, list | tuple | str | bytes):
        y = list(_iter_limited(y))
    return _INPLACE[op](x, y)


def _iter_limited(iterable):
    for count, item in enumerate(iterable):
        if count >= MAX_SEQUENCE:
            _refuse(f"more than {MAX_SEQUENCE} items")
        yield item


def _range(*args):
    result = range(*args)
    if len(result) > MAX_SEQUENCE:
        _refuse(f"range of {len(result)} items exceeds {MAX_SEQUENCE}")
    return result


def _bytes(*args, **kwargs):
    if args and isinstance(args[0], int) and args[0] > MAX_SEQUENCE:
        _refuse(f"bytes of {args[0]} items exceeds {MAX_SEQUENCE}")
    return bytes(*args, **kwargs)


_SIZED_METHODS = frozenset(
    {"ljust", "rjust", "center", "zfill", "expandtabs", "replace", "join", "extend", "translate", "to_bytes"}
)


def _longest(table) -> int:
    values = table.values() if isinstance(table, dict) else table if isinstance(table, list | tuple) else ()
    return max((len(v) for v in values if isinstance(v, str)), default=1)


def _limited_repl(repl):
    """A replacement function for ``re.sub`` that counts what it inserts (a template can repeat whole matches)."""
    inserted = 0

    def replace(match):
        nonlocal inserted
        if callable(repl):
            piece = repl(match)
        elif ("\\" if isinstance(repl, str) else b"\\") not in repl:
            piece = repl  # nothing to expand (and expanding parses the template again for every match)
        else:
            groups = [g for g in (match.group(0), *match.groups()) if g]
            if (
                len(repl) + repl.count("\\" if isinstance(repl, str) else b"\\") * max(map(len, groups), default=0)
                > MAX_SEQUENCE
            ):
                _refuse(f"the replacement would exceed {MAX_SEQUENCE} characters")
            piece = match.expand(repl)
        inserted += len(piece)
        if inserted > MAX_SEQUENCE:
            _refuse(f"replacing would exceed {MAX_SEQUENCE} characters")
        return piece

    return replace


def size_guarded_method(obj, name: str, method):
    """``method`` (the attribute ``name`` of ``obj``), wrapped if its result size is a parameter of the call.

    Also used by :mod:`engine.templating`, whose templates call the same methods.
    """
    if isinstance(obj, type) and name in _SIZED_METHODS:
        _refuse(f"{obj.__name__}.{name} is not allowed; call {name}() on a value")
    if isinstance(obj, re.Pattern) and name in ("sub", "subn"):
        return lambda repl, *args, **kwargs: method(_limited_repl(repl), *args, **kwargs)
    if isinstance(obj, re.Match) and name == "expand":
        return lambda template: _limited_repl(template)(obj)
    if isinstance(obj, int) and name == "to_bytes":

        def to_bytes(length=1, *rest, **kwargs):
            if isinstance(length, int) and length > MAX_SEQUENCE:
                _refuse(f"to_bytes() of {length} bytes exceeds {MAX_SEQUENCE}")
            return method(length, *rest, **kwargs)

        return to_bytes
    if isinstance(obj, str) and name == "translate":

        def translated(table):
            if len(obj) * _longest(table) > MAX_SEQUENCE:
                _refuse(f"translate() would exceed {MAX_SEQUENCE} characters")
            return method(table)

        return translated
    if isinstance(obj, str | bytes):
        if name in ("ljust", "rjust", "center", "zfill"):

            def padded(width, *rest):
                if isinstance(width, int) and width > MAX_SEQUENCE:
                    _refuse(f"{name}() width {width} exceeds {MAX_SEQUENCE}")
                return method(width, *rest)

            return padded
        if name == "expandtabs":

            def expanded(tabsize=8):
                if len(obj) * max(tabsize, 1) > MAX_SEQUENCE:
                    _refuse(f"expandtabs() would exceed {MAX_SEQUENCE} characters")
                return method(tabsize)

            return expanded
        if name == "replace":

            def replaced(old, new, count=-1):
                if len(new) > len(old) and len(obj) + obj.count(old) * (len(new) - len(old)) > MAX_SEQUENCE:
                    _refuse(f"replace() would exceed {MAX_SEQUENCE} characters")
                return method(old, new, count)

            return replaced
        if name == "join":

            def joined(items):
                items = list(_iter_limited(items))
                total = sum(len(i) for i in items if _size(i) is not None) + len(obj) * len(items)
                if total > MAX_SEQUENCE:
                    _refuse(f"join() would exceed {MAX_SEQUENCE} characters")
                return method(items)

            return joined
    if isinstance(obj, list) and name == "extend":

        def extended(items):
            items = list(_iter_limited(items))
            if len(obj) + len(items) > MAX_SEQUENCE:
                _refuse(f"extend() would exceed {MAX_SEQUENCE} items")
            return method(items)

        return extended
    return method


class _PrintCollector:
    """RestrictedPython turns ``print(...)`` into ``_print._call_print(...)``; this keeps the first characters.

    The output never goes to a file or stream the script names (``file=`` is ignored), and
    ``printed`` reads it back as in RestrictedPython.
    """

    def __init__(self, _getattr_=None) -> None:
        self.parts: list[str] = []
        self.length = 0

    def write(self, text: str) -> None:
        if self.length < MAX_PRINTED:
            self.parts.append(text[: MAX_PRINTED - self.length])
            self.length += len(self.parts[-1])

    def __call__(self) -> str:
        return "".join(self.parts)

    def _call_print(self, *objects, sep=" ", end="\n", **ignored) -> None:
        print(*objects, sep=sep, end=end, file=self)


_MISSING = object()


def guarded_getattr(obj, name, default=_MISSING):
    if not isinstance(name, str):
        _refuse("attribute names must be text")
    if name.startswith("_") or name in INSPECT_ATTRIBUTES or name in REFUSED_ATTRIBUTES:
        _refuse(f'access to attribute "{name}" is not allowed')
    if isinstance(obj, types.ModuleType):
        _refuse("access to modules is not allowed")
    try:
        value = getattr(obj, name)
    except AttributeError:
        if default is _MISSING:
            raise
        return default
    return size_guarded_method(obj, name, value)


def _hasattr(obj, name) -> bool:
    return guarded_getattr(obj, name, _MISSING_ATTR) is not _MISSING_ATTR


_MISSING_ATTR = object()


def _refused_builtin(name: str) -> Callable:
    def refused(*args, **kwargs):
        _refuse(f"{name}() is not allowed in scripts")

    refused.__name__ = name
    return refused


# ---------------------------------------------------------------- allowed modules


def _guarded_factorial(n):
    if isinstance(n, int) and n > 5000:
        _refuse("math.factorial() of more than 5000 is not allowed")
    return math.factorial(n)


def _guarded_comb(name: str, function: Callable) -> Callable:
    def guarded(n, *rest):
        if isinstance(n, int) and n > 5000:
            _refuse(f"math.{name}() of more than 5000 is not allowed")
        return function(n, *rest)

    return guarded


def _guarded_prod(iterable, *, start=1):
    result = start
    for item in _iter_limited(iterable):
        result = _mul(result, item)
    return result


def _guarded_sumprod(p, q):
    result = 0
    for a, b in zip(_iter_limited(p), _iter_limited(q), strict=True):
        result = _add(result, _mul(a, b))
    return result


def _guarded_lcm(*integers):
    result = 1
    for n in _iter_limited(integers):
        result = _check_int(math.lcm(result, n), "math.lcm()")
    return result


def _guarded_dumps(obj, *, indent=None, separators=None, **kwargs):
    """``json.dumps``; indentation and separators are repeated per line and item, so they stay short."""
    if isinstance(indent, int) and indent > 16 or isinstance(indent, str) and len(indent) > 16:
        _refuse("json.dumps() indent is limited to 16")
    if separators is not None and any(len(str(part)) > 16 for part in separators):
        _refuse("json.dumps() separators are limited to 16 characters")
    return json.dumps(obj, indent=indent, separators=separators, **kwargs)


class _DecimalType(type):
    def __instancecheck__(cls, value) -> bool:
        return isinstance(value, decimal.Decimal)


class _Decimal(decimal.Decimal, metaclass=_DecimalType):
    """``decimal.Decimal`` for scripts: a plain Decimal, refused when its exponent is beyond the context's.

    Arithmetic keeps to the context (exponents up to 999999); only the constructor does not, and
    ``int(Decimal("1e999999999"))`` or ``f"{d:f}"`` would then build a gigantic number in one C call.
    """

    def __new__(cls, value="0", context=None):
        result = decimal.Decimal(value, context)
        if result.is_finite() and result and abs(result.adjusted()) > MAX_DECIMAL_EXPONENT:
            _refuse(f"decimal exponents are limited to {MAX_DECIMAL_EXPONENT}")
        return result


_MODULE_OVERRIDES = {
    "math": {
        "factorial": _guarded_factorial,
        "comb": _guarded_comb("comb", math.comb),
        "perm": _guarded_comb("perm", math.perm),
        "prod": _guarded_prod,
        "sumprod": _guarded_sumprod,
        "lcm": _guarded_lcm,
    },
    "json": {"dumps": _guarded_dumps},
    "re": {
        "sub": lambda pattern, repl, string, count=0, flags=0: re.sub(
            pattern, _limited_repl(repl), string, count=count, flags=flags
        ),
        "subn": lambda pattern, repl, string, count=0, flags=0: re.subn(
            pattern, _limited_repl(repl), string, count=count, flags=flags
        ),
    },
    "decimal": {"Decimal": _Decimal},
}
_MODULE_ONLY = {
    # reading the clock; not sleep (it would hold the thread past the deadline), tzset or clock_settime
    "time": (
        "time",
        "time_ns",
        "monotonic",
        "perf_counter",
        "gmtime",
        "localtime",
        "mktime",
        "strftime",
        "strptime",
        "asctime",
        "ctime",
        "struct_time",
        "timezone",
        "altzone",
        "daylight",
        "tzname",
    ),
}
_MODULE_HIDDEN = {
    # a script must not change the decimal context of the server's thread
    "decimal": {
        "getcontext",
        "setcontext",
        "localcontext",
        "Context",
        "DefaultContext",
        "BasicContext",
        "ExtendedContext",
    },
    # no files in scripts; an encoder object would bypass the limits of dumps()
    "json": {"dump", "load", "JSONEncoder"},
}


def module_view(module: types.ModuleType) -> types.SimpleNamespace:
    """The public, non-module attributes of an allowed module, as a read-only-by-guard namespace."""
    name = module.__name__
    hidden = _MODULE_HIDDEN.get(name, set())
    public = (
        _MODULE_ONLY.get(name) or getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")]
    )
    attrs = {
        n: getattr(module, n)
        for n in public
        if hasattr(module, n) and n not in hidden and not isinstance(getattr(module, n), types.ModuleType)
    }
    attrs.update(_MODULE_OVERRIDES.get(name, {}))
    view = types.SimpleNamespace(**attrs)
    return view


MODULE_VIEWS = {m.__name__: module_view(m) for m in (datetime, math, decimal, json, re, time)}


def _import(name, globals=None, locals=None, fromlist=(), level=0):
    root = str(name).split(".")[0]
    if level or name not in MODULE_VIEWS:
        _refuse(f'import of "{root}" is not allowed (allowed: {", ".join(ALLOWED_MODULES)})')
    return MODULE_VIEWS[name]


def _make_builtins() -> dict:
    refused = {"BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit", "__build_class__"}
    result = {k: v for k, v in safe_builtins.items() if k not in refused and not k.startswith("_")}
    for name in ("len", "min", "max", "sum", "sorted", "enumerate", "zip", "abs", "round", "any", "all"):
        result[name] = getattr(__import__("builtins"), name)
    result.update(
        dict=dict,
        list=list,
        set=set,
        frozenset=frozenset,
        tuple=tuple,
        str=str,
        int=int,
        float=float,
        bool=bool,
        isinstance=isinstance,
        reversed=reversed,
        map=map,
        filter=filter,
        range=_range,
        bytes=_bytes,
        pow=_pow,
        getattr=guarded_getattr,
        hasattr=_hasattr,
        __import__=_import,
    )
    for name in REFUSED_BUILTINS:
        result[name] = _refused_builtin(name)
    return result


SAFE_BUILTINS = _make_builtins()
GUARDS = {
    "_getattr_": guarded_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_mul_": _mul,
    "_pow_": _pow,
    "_lshift_": _lshift,
    "_add_": _add,
    "_mod_": _mod,
    "_print_": _PrintCollector,
    "_apply_": lambda function, *args, **kwargs: function(*args, **kwargs),  # calls with *args or **kwargs
}
RESERVED = frozenset(GUARDS) | {"__builtins__", "__name__", "__metaclass__", "_print"}


def data_units(value, budget: int = MAX_DATA_UNITS) -> int:
    """A rough size of ``value`` (characters plus items, shared parts counted each time), up to ``budget``+1."""
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        total += 1
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        elif isinstance(item, int):
            total += item.bit_length() // 64
        if total > budget:
            return total
    return total


# ---------------------------------------------------------------- running


def _peak_memory() -> int:
    """The process's peak resident memory in bytes (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)


class LimitedRun:
    """The deadline, recursion depth and memory growth of one evaluation, checked by a trace function.

    Per-operation size guards stop one huge allocation; they cannot stop a loop that doubles a value
    with operations too cheap to guard (``s = f"{s}{s}"``).  So the trace function also looks, every
    few milliseconds, at how far the process's peak memory grew since the evaluation started:
    memory can only grow so fast between two looks.  The same limits serve scripts (code compiled
    as ``<string>``) and Jinja templates (``<template>``).
    """

    def __init__(self, time_limit: float, filename: str = SCRIPT_FILENAME, label: str = "script") -> None:
        self.time_limit = time_limit
        self.filename = filename
        self.label = label
        self.deadline = time.monotonic() + time_limit
        self.memory_start = _peak_memory()
        self.next_memory_check = 0.0
        self.depth = 0
        self.violation: str | None = None

    def _check(self) -> None:
        now = time.monotonic()
        if self.violation is None and now > self.deadline:
            self.violation = f"{self.label} ran longer than the time limit of {self.time_limit:g} s"
        if self.violation is None and now >= self.next_memory_check:
            self.next_memory_check = now + MEMORY_CHECK_INTERVAL
            if _peak_memory() - self.memory_start > MAX_MEMORY_GROWTH:
                self.violation = f"{self.label} used more than {MAX_MEMORY_GROWTH // 2**20} MiB of memory"
        if self.violation is not None:  # sticky: a handler in the script cannot carry on
            raise _Abort(self.violation)

    def trace(self, frame, event, arg):
        if event != "call":
            return None
        self._check()
        if frame.f_code.co_filename != self.filename:
            return None
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.violation = f"recursion deeper than {MAX_DEPTH} calls"
            raise _Abort(self.violation)
        return self.local_trace

    def local_trace(self, frame, event, arg):
        if event == "return":
            self.depth -= 1
        else:
            self._check()
        return self.local_trace

    def run(self, function: Callable, *args):
        previous = sys.gettrace()
        sys.settrace(self.trace)
        try:
            try:
                result = function(*args)
            finally:
                # before the handlers below: they free the script's frames, and a generator
                # closed then must not meet the (sticky) violation in the trace function
                sys.settrace(previous)
        except _Abort as abort:
            self.violation = self.violation or str(abort)
        except RecursionError:
            self.violation = "recursion too deep"
        except MemoryError:
            self.violation = "out of memory"
        except (SystemExit, KeyboardInterrupt, GeneratorExit) as error:
            self.violation = f"{type(error).__name__} is not allowed in a {self.label}"
        if self.violation is not None:
            raise SandboxViolation(f"refused by the {self.label} sandbox: {self.violation}")
        return result


class SandboxedEnvironment(BasePythonScriptEngineEnvironment):
    """Scripts read and write task data like SpiffWorkflow's ``TaskDataEnvironment``, but confined.

    ``expression_scope`` gives expressions (not scripts) names made afresh for each evaluation from
    its data, such as the helper that translated Camunda expressions call
    (:func:`engine.expression_runtime.expression_scope`); task data of the same name wins.
    """

    def __init__(
        self,
        environment_globals: dict | None = None,
        time_limit: float = DEFAULT_TIME_LIMIT,
        expression_scope: Callable[[dict, dict | None], dict] | None = None,
    ) -> None:
        super().__init__(environment_globals)
        self.time_limit = time_limit
        self.expression_scope = expression_scope

    def _globals(self, context: dict, external_context: dict | None) -> dict:
        scope = copy.copy(self.globals)
        scope.update(external_context or {})
        scope.update(context)
        scope.update(GUARDS)
        scope["__builtins__"] = SAFE_BUILTINS
        scope["__name__"] = "script"
        scope["_print"] = _PrintCollector()  # an expression has no module body that would create it
        return scope

    def evaluate(self, expression, context, external_context=None):
        code = compile_sandboxed(str(expression).strip(), "eval")
        scope = self._globals(context, external_context)
        if self.expression_scope is not None:
            for name, value in self.expression_scope(context, external_context).items():
                scope.setdefault(name, value)
        result = LimitedRun(self.time_limit).run(eval, code, scope)
        if data_units(result) > MAX_DATA_UNITS:
            raise SandboxViolation(f"refused by the script sandbox: the result is larger than {MAX_DATA_UNITS} units")
        return result

    def execute(self, script, context, external_context=None):
        external_context = external_context or {}
        self.check_for_overwrite(context, external_context)
        code = compile_sandboxed(script, "exec")
        scope = self._globals(context, external_context)
        try:
            LimitedRun(self.time_limit).run(exec, code, scope)
        finally:
            printed = scope["_print"]()
            if printed:
                logger.debug("script printed: %s", printed)
        self._write_back(scope, context, external_context)
        return True

    def _write_back(self, scope: dict, context: dict, external_context: dict) -> None:
        changes, budget = {}, MAX_DATA_UNITS
        for key, value in scope.items():
            if key in RESERVED or (key in self.globals and value is self.globals[key]):
                continue
            if key in external_context and value is external_context[key]:
                continue
            if key in self.globals and key in OVERWRITE_CHECKED:
                continue
            if callable(value) or isinstance(value, types.ModuleType | types.SimpleNamespace):
                changes[key] = _MISSING
                continue
            if key in context and context[key] is value:
                continue
            budget -= data_units(value, budget)
            if budget < 0:
                raise SandboxViolation(
                    f"refused by the script sandbox: the data the script created is larger than {MAX_DATA_UNITS} units"
                )
            changes[key] = value
        for key in [k for k in context if k not in scope and k not in RESERVED]:
            changes[key] = _MISSING  # deleted by the script
        for key, value in changes.items():
            if value is _MISSING:
                context.pop(key, None)
            else:
                context[key] = value

    def check_for_overwrite(self, context, external_context):
        clashes = (OVERWRITE_CHECKED & set(self.globals) & set(context)) | (set(external_context) & set(context))
        if clashes:
            raise ValueError(
                "You have task data that overwrites a predefined function(s). Please change the following "
                f"variable or field name(s) to something else: {clashes}"
            )


OVERWRITE_CHECKED = frozenset({"datetime", "json", "math"})
