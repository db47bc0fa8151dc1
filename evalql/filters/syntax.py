"""Tokenizer and recursive-descent parser for filter strings (spec §4.1, §4.2).

`parse(text)` returns a typed tree (`evalql.filters.ast`) or raises `FilterError`; it
never raises anything else, whatever the input (a hypothesis test holds it to that).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from evalql.filters.ast import (
    COMPARISONS,
    FUNCTIONS,
    And,
    Compare,
    Exists,
    Expr,
    Field,
    Has,
    In,
    Lit,
    LiteralValue,
    Not,
    Or,
    Search,
)
from evalql.filters.errors import MAX_DEPTH, MAX_LENGTH, MAX_PREDICATES, FilterError

_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SIMPLE_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t"}
_PUNCTUATION = "()[],."
KEYWORDS = {"true": True, "false": False, "null": None}
MAX_NUMBER = sys.float_info.max


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # ident | string | number | punct | end
    value: LiteralValue  # the name, text or number; None at the end
    offset: int
    text: str


def tokenize(text: str) -> list[Token]:
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
        elif ch in _PUNCTUATION:
            out.append(Token("punct", ch, i, ch))
            i += 1
        elif ch in "\"'":
            value, end = _string(text, i)
            out.append(Token("string", value, i, text[i:end]))
            i = end
        elif ch == "-" or ch.isdigit():
            match = _NUMBER.match(text, i)
            if match is None or (match.end() < n and (text[match.end()].isalnum() or text[match.end()] == "_")):
                raise FilterError(f"invalid number {_shown(text, i)}", i)
            raw = match.group()
            number: int | float = float(raw) if (match.group(1) or match.group(2)) else int(raw)
            # Past a float's range a number compares with nothing a database holds: an error,
            # as JSON decoders and GraphQL make it, not an overflow deeper down.
            if abs(number) > MAX_NUMBER:
                raise FilterError(f"number {_shown(text, i)} is out of range", i)
            out.append(Token("number", number, i, raw))
            i = match.end()
        else:
            match = _IDENT.match(text, i)
            if match is None:
                raise FilterError(f"unexpected character {ch!r}", i)
            out.append(Token("ident", match.group(), i, match.group()))
            i = match.end()
    out.append(Token("end", None, n, ""))
    return out


def _string(text: str, start: int) -> tuple[str, int]:
    quote, i, parts = text[start], start + 1, list[str]()
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(parts), i + 1
        if ch == "\\":
            nxt = text[i + 1:i + 2]
            if nxt in _SIMPLE_ESCAPES:
                parts.append(_SIMPLE_ESCAPES[nxt])
                i += 2
                continue
            if nxt == "u":
                code, i = _unicode_escape(text, i)
                parts.append(chr(code))
                continue
            if not nxt:
                raise FilterError("unterminated string", start)
            raise FilterError(f"invalid escape '\\{nxt}' in string", i)
        if ch == NUL or _is_surrogate(ord(ch)):
            raise FilterError(_BAD_CHARACTER[ch == NUL], i)
        parts.append(ch)
        i += 1
    raise FilterError("unterminated string", start)


# Neither can reach the database: PostgreSQL refuses NUL in text, and no database driver
# encodes a lone surrogate (it is not a character), so both are filter errors, not 500s.
NUL = "\x00"
_BAD_CHARACTER = {True: "strings must not contain the NUL character (\\u0000)",
                  False: "strings must not contain a lone surrogate (\\ud800-\\udfff)"}


def _is_surrogate(code: int) -> bool:
    return 0xD800 <= code <= 0xDFFF


def _hex4(text: str, at: int) -> int | None:
    digits = text[at:at + 4]
    if len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
        return int(digits, 16)
    return None


def _unicode_escape(text: str, i: int) -> tuple[int, int]:
    """The code point of the `\\uXXXX` escape at `i` and where the string goes on. As in JSON,
    a character beyond the BMP is a high and a low surrogate escape in a row."""
    code = _hex4(text, i + 2)
    if code is None:
        raise FilterError("invalid \\u escape in string", i)
    end = i + 6
    if 0xD800 <= code <= 0xDBFF and text.startswith("\\u", end):
        low = _hex4(text, end + 2)
        if low is not None and 0xDC00 <= low <= 0xDFFF:
            return 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00), end + 6
    if code == 0 or _is_surrogate(code):
        raise FilterError(_BAD_CHARACTER[code == 0], i)
    return code, end


def _shown(text: str, i: int) -> str:
    return repr(text[i:i + 12])


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.predicates = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def take(self) -> Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def expect(self, punct: str, what: str) -> Token:
        tok = self.tok
        if tok.kind != "punct" or tok.value != punct:
            raise FilterError(f"expected {what}, found {_describe(tok)}", tok.offset)
        return self.take()

    def parse(self) -> Expr:
        if self.tok.kind == "end":
            raise FilterError("empty filter", 0)
        expr = self.call(depth=1)
        if self.tok.kind != "end":
            raise FilterError(f"unexpected {_describe(self.tok)} after the end of the filter", self.tok.offset)
        return expr

    # -- calls ---------------------------------------------------------------------------

    def call(self, depth: int) -> Expr:
        tok = self.tok
        if tok.kind != "ident":
            raise FilterError(f"expected a function call, found {_describe(tok)}", tok.offset)
        if tok.value in KEYWORDS or self.tokens[self.pos + 1].value != "(" or self.tokens[self.pos + 1].kind != "punct":
            raise FilterError(f"expected a function call, found {_describe(tok)}", tok.offset)
        name = str(tok.value)
        if name not in FUNCTIONS:
            raise FilterError(f"unknown function '{name}'", tok.offset)
        if depth > MAX_DEPTH:
            raise FilterError(f"filter nests deeper than {MAX_DEPTH} levels", tok.offset)
        self.take()
        self.take()  # "("
        args: list[object] = []
        if not (self.tok.kind == "punct" and self.tok.value == ")"):
            while True:
                args.append(self.arg(depth))
                if self.tok.kind == "punct" and self.tok.value == ",":
                    self.take()
                    continue
                break
        self.expect(")", "',' or ')'")
        return self.build(name, args, tok.offset)

    def arg(self, depth: int) -> object:
        tok = self.tok
        if tok.kind == "end":
            raise FilterError("unexpected end of the filter", tok.offset)
        if tok.kind == "ident" and tok.value not in KEYWORDS:
            nxt = self.tokens[self.pos + 1]
            if nxt.kind == "punct" and nxt.value == "(":
                return self.call(depth + 1)
            return self.field()
        if tok.kind == "punct" and tok.value == "[":
            return self.list_literal()
        return self.literal()

    def field(self) -> Field:
        first = self.take()
        path = [str(first.value)]
        while self.tok.kind == "punct" and self.tok.value == ".":
            self.take()
            key = self.tok
            if key.kind == "ident" or key.kind == "string":
                path.append(str(key.value))
                self.take()
            else:
                raise FilterError(f"expected a key after '.', found {_describe(key)}", key.offset)
        return Field(tuple(path), first.offset)

    def literal(self) -> Lit:
        tok = self.tok
        if tok.kind in ("string", "number"):
            self.take()
            return Lit(tok.value, tok.offset)
        if tok.kind == "ident" and tok.value in KEYWORDS:
            self.take()
            return Lit(KEYWORDS[str(tok.value)], tok.offset)
        raise FilterError(f"expected a value, found {_describe(tok)}", tok.offset)

    def list_literal(self) -> list[Lit]:
        self.take()  # "["
        items: list[Lit] = []
        if not (self.tok.kind == "punct" and self.tok.value == "]"):
            while True:
                items.append(self.literal())
                if self.tok.kind == "punct" and self.tok.value == ",":
                    self.take()
                    continue
                break
        self.expect("]", "',' or ']'")
        return items

    # -- typed nodes ---------------------------------------------------------------------

    def build(self, name: str, args: list[object], offset: int) -> Expr:
        if name in ("and", "or"):
            if not args:
                raise FilterError(f"{name}() takes at least 1 argument, got 0", offset)
            items = tuple(self.expression(a, name, offset) for a in args)
            return And(items, offset) if name == "and" else Or(items, offset)
        if name == "not":
            self.arity(name, args, 1, offset)
            return Not(self.expression(args[0], name, offset), offset)
        self.predicates += 1
        if self.predicates > MAX_PREDICATES:
            raise FilterError(f"filter has more than {MAX_PREDICATES} predicates", offset)
        if name == "search":
            if len(args) == 1:
                return Search(None, self.value(args[0], name, offset), offset)
            self.arity(name, args, 2, offset)
            return Search(self.field_arg(args[0], name, offset), self.value(args[1], name, offset), offset)
        self.arity(name, args, 2, offset)
        field = self.field_arg(args[0], name, offset)
        if name == "in":
            if not isinstance(args[1], list):
                raise FilterError("in() takes a list [...] as its second argument", _offset_of(args[1], offset))
            return In(field, tuple(args[1]), offset)
        value = self.value(args[1], name, offset)
        if name in COMPARISONS:
            return Compare(name, field, value, offset)
        if name == "has":
            return Has(field, value, offset)
        return Exists(field, value, offset)

    @staticmethod
    def arity(name: str, args: list[object], n: int, offset: int) -> None:
        if len(args) != n:
            raise FilterError(f"{name}() takes {n} argument{'s' if n > 1 else ''}, got {len(args)}", offset)

    @staticmethod
    def expression(arg: object, name: str, offset: int) -> Expr:
        if isinstance(arg, (And, Or, Not, Compare, In, Has, Search, Exists)):
            return arg
        raise FilterError(f"{name}() takes function calls as arguments", _offset_of(arg, offset))

    @staticmethod
    def field_arg(arg: object, name: str, offset: int) -> Field:
        if isinstance(arg, Field):
            return arg
        raise FilterError(f"the first argument of {name}() must be a field", _offset_of(arg, offset))

    @staticmethod
    def value(arg: object, name: str, offset: int) -> Lit:
        if isinstance(arg, Lit):
            return arg
        if isinstance(arg, Field):
            raise FilterError(f"unknown value {'.'.join(arg.path)!r} in {name}(): quote strings", arg.offset)
        raise FilterError(f"{name}() takes a single value here", _offset_of(arg, offset))


def _offset_of(arg: object, default: int) -> int:
    if isinstance(arg, list):
        return arg[0].offset if arg else default
    return getattr(arg, "offset", default)


def _describe(tok: Token) -> str:
    if tok.kind == "end":
        return "the end of the filter"
    if tok.kind == "punct":
        return f"'{tok.value}'"
    if tok.kind == "string":
        return "a string"
    if tok.kind == "number":
        return f"number {tok.text}"
    return f"'{tok.value}'"


def parse(text: str) -> Expr:
    """The tree of `text`, or `FilterError` naming the problem and its offset."""
    if not isinstance(text, str):
        raise FilterError("a filter must be a string", 0)
    if len(text) > MAX_LENGTH:
        raise FilterError(f"filter is longer than {MAX_LENGTH} characters", MAX_LENGTH)
    return _Parser(text).parse()

