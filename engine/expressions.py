"""Camunda's expression languages, translated once (at deploy) into the sandboxed Python the engine runs.

Camunda Modeler writes expressions in JUEL, Camunda 7's language (``${amount > 100}``,
``#{...}``, and composite text such as ``PT${hours}H``), or in FEEL, Camunda 8's
(``=amount > 100``).  carecenter runs Python; handed to Python such text either fails (``$`` is
not Python) or, worse, would run with Python's meaning where the languages differ (``empty``,
``null``, ``'5' + 1``, ``a.b`` on a map, FEEL's ``=``).  So wherever an expression may stand, text
written in either language is parsed here with the lark grammars below and compiled into one
Python expression over the helper ``camunda_el`` (:mod:`engine.expression_runtime`), whose
methods carry the languages' semantics.  That Python is compiled and run by the same
RestrictedPython sandbox as every script (:mod:`engine.sandbox`).  Specs are parsed once per
definition version, so nothing here runs per evaluation.

A model is never misread in silence: text is either translated faithfully or refused with an
:class:`ExpressionError` that names the unsupported construct and where it is.  Text that is
neither language (plain Python, literal names, ISO 8601 timers) is left alone: :func:`translate`
returns None for it.  docs/camunda.md lists what is supported.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedEOF, UnexpectedInput, UnexpectedToken

from engine.expression_runtime import LONG_MAX, RUNTIME_NAME

_R = RUNTIME_NAME

# Where an expression stands decides what its result must be.
CONDITION = "condition"  # sequence flows, completion and loop conditions: true or false
EVENT_CONDITION = "event condition"  # conditional events: as CONDITION, but false while a JUEL variable is missing
INTEGER = "integer"  # loop cardinality
VALUE = "value"  # any value: message payloads, service-task parameters
TEXT = "text"  # text that may embed expressions: timers, assignees, candidates, input parameters

JUEL_GRAMMAR = r"""
?start: expr
?expr: or_expr
     | or_expr "?" expr ":" expr          -> ternary
?or_expr: and_expr
        | or_expr ("||" | "or") and_expr   -> or_
?and_expr: eq_expr
         | and_expr ("&&" | "and") eq_expr -> and_
?eq_expr: rel_expr
        | eq_expr ("==" | "eq") rel_expr  -> eq
        | eq_expr ("!=" | "ne") rel_expr  -> ne
?rel_expr: cat_expr
         | rel_expr ("<" | "lt") cat_expr  -> lt
         | rel_expr (">" | "gt") cat_expr  -> gt
         | rel_expr ("<=" | "le") cat_expr -> le
         | rel_expr (">=" | "ge") cat_expr -> ge
?cat_expr: add_expr
         | cat_expr "+=" add_expr          -> concat
?add_expr: mul_expr
         | add_expr "+" mul_expr           -> add
         | add_expr "-" mul_expr           -> sub
?mul_expr: unary
         | mul_expr "*" unary              -> mul
         | mul_expr ("/" | "div") unary    -> div
         | mul_expr ("%" | "mod") unary    -> mod
?unary: value
      | "-" unary                          -> neg
      | ("!" | "not") unary                -> not_
      | "empty" unary                      -> empty
?value: primary
      | value "." NAME                     -> dot
      | value "[" expr "]"                 -> index
      | value "(" [args] ")"               -> call
args: expr ("," expr)*
?primary: INT                              -> integer
        | FLOAT                            -> floating
        | STRING                           -> string
        | "true"                           -> true
        | "false"                          -> false
        | "null"                           -> null
        | NAME                             -> name
        | "(" expr ")"
NAME: /(?!\d)[\w$]+/
INT: /\d+/
FLOAT.2: /\d+\.\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|\d+[eE][+-]?\d+/
STRING: /'(\\.|[^'\\])*'|"(\\.|[^"\\])*"/
%ignore /\s+/
"""

FEEL_GRAMMAR = r"""
?start: expr
?expr: disjunction
     | "if" expr "then" expr "else" expr  -> if_
?disjunction: conjunction
            | disjunction "or" conjunction -> or_
?conjunction: comparison
            | conjunction "and" comparison -> and_
?comparison: sum
           | sum "=" sum                   -> eq
           | sum "!=" sum                  -> ne
           | sum "<" sum                   -> lt
           | sum ">" sum                   -> gt
           | sum "<=" sum                  -> le
           | sum ">=" sum                  -> ge
?sum: product
    | sum "+" product                      -> add
    | sum "-" product                      -> sub
?product: power
        | product "*" power                -> mul
        | product "/" power                -> div
?power: unary
      | power "**" unary                   -> power
?unary: postfix
      | "-" unary                          -> neg
?postfix: primary
        | postfix "." NAME                 -> path
        | postfix "[" expr "]"             -> filter
        | postfix "(" [args] ")"           -> call
args: expr ("," expr)*
?primary: NUMBER                           -> number
        | STRING                           -> string
        | "true"                           -> true
        | "false"                          -> false
        | "null"                           -> null
        | NAME                             -> name
        | "(" expr ")"
        | "[" [args] "]"                   -> list
NAME: /(?!\d)\w+/
NUMBER: /\d+(\.\d+)?|\.\d+/
STRING: /"(\\.|[^"\\])*"/
%ignore /\s+/
"""


@functools.cache
def _parser(grammar: str) -> Lark:
    """A parser for one of the grammars, built on first use (most processes never meet JUEL or FEEL)."""
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


# What a designer most likely meant by a token the grammars do not take.
_JUEL_HINTS = {
    "=": "assignment (=) is not supported; compare with == or eq",
    "->": "lambda expressions are not supported",
    ";": "several expressions separated by ; are not supported",
    "{": "set and map literals are not supported",
    "[": "list literals are not supported",
    ":": "functions with a prefix (prefix:name()) are not supported",
    "instanceof": "instanceof is not supported",
}
_FEEL_HINTS = {
    "==": "FEEL compares with a single =",
    "&&": "FEEL writes and",
    "||": "FEEL writes or",
    "!": "FEEL writes not(x), and != for inequality",
    "'": 'FEEL strings take double quotes: "text"',
    "{": "FEEL contexts {...} are not supported",
    "@": 'FEEL temporal literals @"..." are not supported',
    "..": "FEEL ranges are not supported",
    "in": "the FEEL in operator (unary tests) is not supported",
    "between": "the FEEL between operator is not supported",
    "instance": "FEEL instance of is not supported",
    "some": "FEEL quantified expressions (some/every) are not supported",
    "every": "FEEL quantified expressions (some/every) are not supported",
    "for": "FEEL for loops are not supported",
    "function": "FEEL function definitions are not supported",
}


# Camunda sets these inside multi-instance activities; SpiffWorkflow has no such variables.
MULTI_INSTANCE_VARIABLES = frozenset({"nrOfInstances", "nrOfActiveInstances", "nrOfCompletedInstances", "loopCounter"})


class ExpressionError(ValueError):
    """Text in JUEL or FEEL that cannot be translated; ``offset`` is where, in the text as given."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True)
class Expression:
    """An expression as written, and the Python it was translated to."""

    source: str
    python: str


def translate(text: str | None, use: str) -> str | None:
    """The sandbox Python for ``text`` if it is JUEL or FEEL standing where ``use`` says, else None.

    ``=...`` is FEEL, text starting with ``${`` or ``#{`` is JUEL; where ``use`` is :data:`TEXT`,
    text with a ``${`` or ``#{`` anywhere in it is composite JUEL (``PT${hours}H``, or escaped literal text).  Raises
    :class:`ExpressionError` for text in either language that cannot be translated faithfully.
    """
    if text is None:
        return None
    return _translate(text, use)


def expression(text: str | None, use: str) -> Expression | str | None:
    """``text`` as an :class:`Expression` if it is JUEL or FEEL, else unchanged (a literal or Python)."""
    python = translate(text, use)
    return text if python is None else Expression(text.strip(), python)


def variable_name(text: str | None) -> str | None:
    """The variable a JUEL or FEEL reference names (``${items}``, ``=items``), None for other text.

    For places that take a variable rather than a value, such as ``camunda:collection``; raises
    :class:`ExpressionError` when the text is an expression but not a plain reference.
    """
    if translate(text, VALUE) is None:  # also raises for text that does not translate at all
        return None
    body = text.strip()
    if body.startswith("="):
        tree = _parser(FEEL_GRAMMAR).parse(body[1:])
        if tree.data == "name":
            return str(tree.children[0])
    elif body.endswith("}") and _closing_brace(body, 2, 0) == len(body) - 1:
        tree = _parser(JUEL_GRAMMAR).parse(body[2:-1])
        if tree.data == "name":
            return str(tree.children[0])
        callee, args = tree.children if tree.data == "call" else (None, None)
        if _is_get_variable(callee) and args is not None and len(args.children) == 1:
            argument = args.children[0]
            if argument.data == "string":
                return _Juel(body[2:-1], 2).string_value(argument.children[0])
    raise ExpressionError("only a variable may stand here, such as ${items} or =items", len(text) - len(text.lstrip()))


def language(text: str | None, use: str) -> str | None:
    """The language :func:`translate` reads ``text`` in: "JUEL", "FEEL", or None for neither."""
    body = (text or "").strip()
    if body.startswith("="):
        return "FEEL"
    if body.startswith(("${", "#{")) or (use == TEXT and _JUEL_START.search(body)):
        return "JUEL"
    return None


def split_list(text: str | None) -> list[str]:
    """The items of a comma-separated list that may hold expressions (``${team}, sales``), stripped.

    Commas inside ``${...}`` do not split; FEEL text (``=["a", "b"]``) is one item.
    """
    body = (text or "").strip()
    if body.startswith("="):
        return [body]
    items, start, i = [], 0, 0
    while i < len(body):
        if body[i] in "$#" and body[i + 1 : i + 2] == "{" and body[i - 1 : i] != "\\":
            try:
                i = _closing_brace(body, i + 2, i)
            except ExpressionError:
                break  # the item keeps the rest of the text; translating it reports the missing brace
        elif body[i] == ",":
            items.append(body[start:i])
            start = i + 1
        i += 1
    items.append(body[start:])
    return [item.strip() for item in items if item.strip()]


def as_written(message: str) -> str:
    """``message`` with every translated expression in it replaced by the text it was translated from."""
    for python, source in sorted(_WRITTEN.items(), key=lambda item: -len(item[0])):
        if python in message:
            message = message.replace(python, source)
    return message


_WRITTEN: dict[str, str] = {}  # translated Python -> the text it came from, for messages (see as_written)
_MAX_WRITTEN = 4096


@functools.lru_cache(maxsize=4096)
def _translate(text: str, use: str) -> str | None:
    body = text.strip()
    lead = len(text) - len(text.lstrip())
    found = language(text, use)
    try:
        if found == "FEEL":
            python = _wrap_feel(_Feel(body[1:], 1).compile(), use)
        elif found == "JUEL":
            python = _wrap_juel(_composite(body), use)
        else:
            return None
    except ExpressionError as error:
        raise ExpressionError(str(error), lead + error.offset) from None
    if len(_WRITTEN) >= _MAX_WRITTEN:
        _WRITTEN.clear()
    _WRITTEN[python] = body
    return python


# -- JUEL -------------------------------------------------------------------------------------------

_JUEL_START = re.compile(r"[$#]\{")  # in text, escaped (\${) or not: either way the text is JUEL


@dataclass(frozen=True)
class _Part:
    python: str
    literal: bool  # text around the expressions of a composite


def _composite(body: str) -> list[_Part]:
    """The parts of a JUEL text: literal text as Python strings, each ``${...}`` compiled."""
    parts: list[_Part] = []
    literal: list[str] = []
    kinds = set()
    i = 0
    while i < len(body):
        if body[i] == "\\" and body[i + 1 : i + 3] in ("${", "#{"):
            literal.append(body[i + 1 : i + 3])
            i += 3
        elif body[i] in "$#" and body[i + 1 : i + 2] == "{":
            end = _closing_brace(body, i + 2, i)
            kinds.add(body[i])
            if literal:
                parts.append(_Part(repr("".join(literal)), True))
                literal = []
            parts.append(_Part(_Juel(body[i + 2 : end], i + 2).compile(), False))
            i = end + 1
        else:
            literal.append(body[i])
            i += 1
    if literal:
        parts.append(_Part(repr("".join(literal)), True))
    if len(kinds) > 1:
        raise ExpressionError("JUEL: a text may not mix ${...} and #{...}")
    return parts


def _closing_brace(body: str, start: int, opening: int) -> int:
    """The index of the ``}`` that ends the expression starting at ``start`` (braces in strings do not count)."""
    depth, quote, i = 0, None, start
    while i < len(body):
        char = body[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    raise ExpressionError(f"JUEL: the expression at character {opening + 1} has no closing }}", opening)


def _wrap_juel(parts: list[_Part], use: str) -> str:
    single = len(parts) == 1 and not parts[0].literal
    if use in (CONDITION, EVENT_CONDITION) and not single:
        raise ExpressionError("JUEL: a condition must be one ${...} expression, without text around it")
    python = parts[0].python if single else f"{_R}.compose({', '.join(part.python for part in parts)})"
    if use == CONDITION:
        return f"{_R}.condition({python})"
    if use == EVENT_CONDITION:
        return f"{_R}.event_condition(lambda: {python})"
    if use == INTEGER:
        return f"{_R}.integer({python})"
    return python


def _is_get_variable(callee) -> bool:
    return (
        isinstance(callee, Tree)
        and callee.data == "dot"
        and _is_execution(callee.children[0])
        and callee.children[1] == "getVariable"
    )


def _is_execution(node) -> bool:
    return isinstance(node, Tree) and node.data == "name" and node.children[0] == "execution"


class _Compiler:
    """Turns one parse tree into Python: a method per tree node, binary operators from a table."""

    language = ""
    grammar = ""
    hints: dict[str, str] = {}
    binary: dict[str, str] = {}  # tree node -> the runtime's function
    escapes: dict[str, str] = {}

    def __init__(self, source: str, offset: int) -> None:
        self.source = source
        self.offset = offset  # where ``source`` starts in the text as written (stripped)

    def compile(self) -> str:
        if not self.source.strip():
            raise ExpressionError(f"{self.language}: empty expression at character {self.offset + 1}", self.offset)
        try:
            tree = _parser(self.grammar).parse(self.source)
        except UnexpectedInput as error:
            raise self._syntax_error(error) from None
        return self.py(tree)

    def py(self, node) -> str:
        if node.data in self.binary:
            left, right = node.children
            return f"{_R}.{self.binary[node.data]}({self.py(left)}, {self.py(right)})"
        return getattr(self, f"_{node.data}")(node, *node.children)

    def refuse(self, node, message: str) -> ExpressionError:
        position = node.start_pos if isinstance(node, Token) else node.meta.start_pos
        where = self.offset + position
        return ExpressionError(f"{self.language}: {message} (at character {where + 1})", where)

    def text_of(self, node) -> str:
        if isinstance(node, Token):
            return str(node)
        return self.source[node.meta.start_pos : node.meta.end_pos]

    def _syntax_error(self, error: UnexpectedInput) -> ExpressionError:
        if isinstance(error, UnexpectedEOF) or (isinstance(error, UnexpectedToken) and error.token.type == "$END"):
            position, found = len(self.source.rstrip()), "end of the expression"
        elif isinstance(error, UnexpectedToken):
            position, found = error.token.start_pos, repr(str(error.token))
        else:
            position = error.pos_in_stream
            found = repr(self.source[position])
        hint = self._hint(position)
        where = self.offset + position
        message = f"{self.language}: unexpected {found} at character {where + 1}" + (f": {hint}" if hint else "")
        return ExpressionError(message, where)

    def _hint(self, position: int) -> str | None:
        """What the designer probably wrote at ``position``: a word there or just before, or a symbol."""
        at = re.match(r"\w+", self.source[position:])
        before = re.search(r"\w+(?=\s*$)", self.source[:position])
        for found in (at, before):
            if found and found.group() in self.hints:
                return self.hints[found.group()]
        symbols = sorted((key for key in self.hints if not key.isalnum()), key=len, reverse=True)
        for key in symbols:
            if self.source.startswith(key, position) or (len(key) > 1 and self.source.startswith(key, position - 1)):
                return self.hints[key]
        return None

    def variable(self, token: Token) -> str:
        if token in MULTI_INSTANCE_VARIABLES:
            raise self.refuse(
                token, f"{token} is a variable of Camunda's multi-instance activities that carecenter lacks"
            )
        return str(token)

    @staticmethod
    def _args(args) -> list:
        return [] if args is None else list(args.children)

    def _true(self, node) -> str:
        return "True"

    def _false(self, node) -> str:
        return "False"

    def _null(self, node) -> str:
        return "None"

    def _string(self, node, token: Token) -> str:
        return repr(self.string_value(token))

    def string_value(self, token: Token) -> str:
        body, out, i = token[1:-1], [], 0
        while i < len(body):
            if body[i] != "\\":
                out.append(body[i])
                i += 1
                continue
            escape = body[i + 1]
            if escape in self.escapes:
                out.append(self.escapes[escape])
                i += 2
            elif escape == "u" and self.language == "FEEL" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2 : i + 6]):
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
            else:
                raise self.refuse(token, f"the escape \\{escape} in a string is not supported")
        return "".join(out)


class _Juel(_Compiler):
    language = "JUEL"
    grammar = JUEL_GRAMMAR
    hints = _JUEL_HINTS
    escapes = {"\\": "\\", "'": "'", '"': '"'}
    binary = {name: name for name in ("add", "sub", "mul", "div", "mod", "concat", "eq", "ne", "lt", "gt", "le", "ge")}

    def _integer(self, node, token: Token) -> str:
        if int(token) > LONG_MAX:
            raise self.refuse(token, f"the number {token} is too large for a Java long")
        return str(int(token))

    def _floating(self, node, token: Token) -> str:
        value = float(token)
        if value == float("inf"):
            raise self.refuse(token, f"the number {token} is too large for a Java double")
        return repr(value)

    def _name(self, node, token: Token) -> str:
        if token == "execution":
            raise self.refuse(token, "execution may only be used as execution.getVariable('name')")
        return f"{_R}.var({self.variable(token)!r})"

    def _dot(self, node, base, name: Token) -> str:
        return f"{_R}.prop({self.py(base)}, {str(name)!r})"

    def _index(self, node, base, key) -> str:
        return f"{_R}.prop({self.py(base)}, {self.py(key)})"

    def _call(self, node, callee, args) -> str:
        args = self._args(args)
        if _is_get_variable(callee) and len(args) == 1:
            return f"{_R}.variable({self.py(args[0])})"
        if isinstance(callee, Tree) and callee.data == "dot" and _is_execution(callee.children[0]):
            raise self.refuse(
                node,
                f"execution.{callee.children[1]}() is not supported; only execution.getVariable('name') may be called",
            )
        if isinstance(callee, Tree) and callee.data == "dot":
            raise self.refuse(
                node,
                f"the method call {self.text_of(callee)}() is not supported "
                "(no beans or methods; only execution.getVariable('name') may be called)",
            )
        if isinstance(callee, Tree) and callee.data == "name":
            raise self.refuse(node, f"the function {callee.children[0]}() is not supported")
        raise self.refuse(node, f"calling {self.text_of(callee)} is not supported")

    def _neg(self, node, operand) -> str:
        return f"{_R}.neg({self.py(operand)})"

    def _not_(self, node, operand) -> str:
        return f"(not {_R}.truth({self.py(operand)}))"

    def _empty(self, node, operand) -> str:
        return f"{_R}.empty({self.py(operand)})"

    def _and_(self, node, left, right) -> str:
        return f"({_R}.truth({self.py(left)}) and {_R}.truth({self.py(right)}))"

    def _or_(self, node, left, right) -> str:
        return f"({_R}.truth({self.py(left)}) or {_R}.truth({self.py(right)}))"

    def _ternary(self, node, test, then, otherwise) -> str:
        return f"({self.py(then)} if {_R}.truth({self.py(test)}) else {self.py(otherwise)})"


# -- FEEL -------------------------------------------------------------------------------------------


def _wrap_feel(python: str, use: str) -> str:
    if use in (CONDITION, EVENT_CONDITION):
        return f"{_R}.feel_condition({python})"
    if use == INTEGER:
        return f"{_R}.integer({_R}.feel_value({python}))"
    return f"{_R}.feel_value({python})"


class _Feel(_Compiler):
    language = "FEEL"
    grammar = FEEL_GRAMMAR
    hints = _FEEL_HINTS
    escapes = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "r": "\r", "t": "\t"}
    binary = {
        name.rstrip("_"): f"feel_{name.rstrip('_')}"
        for name in ("add", "sub", "mul", "div", "eq", "ne", "lt", "gt", "le", "ge")
    } | {"and_": "feel_and", "or_": "feel_or"}

    def _number(self, node, token: Token) -> str:
        return str(int(token)) if token.isdigit() else f"{_R}.feel_number({str(token)!r})"

    def _name(self, node, token: Token) -> str:
        return f"{_R}.feel_var({self.variable(token)!r})"

    def _path(self, node, base, name: Token) -> str:
        return f"{_R}.feel_path({self.py(base)}, {str(name)!r})"

    def _filter(self, node, base, test) -> str:
        raise self.refuse(node, f"filters and indexes such as {self.text_of(node)} are not supported")

    def _power(self, node, base, exponent) -> str:
        raise self.refuse(node, "exponentiation (**) is not supported")

    def _call(self, node, callee, args) -> str:
        args = self._args(args)
        if isinstance(callee, Tree) and callee.data == "name":
            if callee.children[0] == "not" and len(args) == 1:
                return f"{_R}.feel_not({self.py(args[0])})"
            raise self.refuse(node, f"the function {callee.children[0]}() is not supported (only not(x) is)")
        raise self.refuse(node, f"calling {self.text_of(callee)} is not supported")

    def _list(self, node, args) -> str:
        return "[" + ", ".join(self.py(item) for item in self._args(args)) + "]"

    def _neg(self, node, operand) -> str:
        return f"{_R}.feel_neg({self.py(operand)})"

    def _if_(self, node, test, then, otherwise) -> str:
        return f"({self.py(then)} if {_R}.feel_true({self.py(test)}) else {self.py(otherwise)})"
