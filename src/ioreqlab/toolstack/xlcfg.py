"""xl.cfg files, read as libxlu reads them (xen-facts §6.1).

Rules
-----
Lexical (``libxlu_cfg_l.l``):

* identifiers ``[a-z][._0-9a-z]*`` — lower case only; numbers ``[0-9][0-9a-fx]*``;
  strings in single or double quotes on one line, with the escapes
  ``\\" \\' \\\\ \\a \\b \\f \\n \\r \\t \\v``; punctuation ``, [ ] = ;`` and ``+=``;
* spaces and tabs separate; a newline, or ``#`` up to and including the
  newline, ends a statement — so a comment on a last line without a newline
  is an error;
* anything else is a lexical error, reported near the whole run of
  non-blank characters it starts; ``+ - . ( ) :`` also mark the file as
  "likely Python", which adds libxlu's three-line hint.

Grammar (``libxlu_cfg_y.y``): a file is statements ``IDENT = value`` or
``IDENT += value`` ended by a newline or ``;`` (the last one may end at end of
file), or empty ones; a value is a string, a number, or a ``[`` list ``]``
that may nest, span lines and end in a comma.  A syntax error is reported in
bison's words, and parsing resumes after the next newline, so every error in
the file is reported; errors on a line that already had a lexical error are
not repeated.  Any error fails the whole parse (``EINVAL``).

Semantics (``libxlu_cfg.c``): strings and numbers are both stored as text;
the last assignment of a name wins; ``+=`` appends to the previous value of
the same kind (string to string, list to list).  Numbers are converted when
read, with ``strtol(s, &end, 0)``; problems there are *warnings* and the key
counts as absent, as xl does.

Theory of operation: a hand-written lexer produces tokens with their text
and line; a recursive-descent parser mirrors the grammar and reports bison's
"unexpected X, expecting Y" with the expected tokens of each grammar state.
Nothing here reads files or prints: :func:`parse_xl_cfg` takes text and
returns an :class:`XlConfig` or raises :class:`XlCfgError` with every message.
"""

from __future__ import annotations

import errno as _errno
import os
import re
from dataclasses import dataclass, field

from ioreqlab.toolstack.cnum import LONG_MAX, LONG_MIN, strtol, strtoul_prefix

__all__ = [
    "PYTHON_HINT",
    "Atom",
    "ListValue",
    "Setting",
    "Value",
    "XlCfgError",
    "XlConfig",
    "format_xl_cfg",
    "parse_xl_cfg",
]

PYTHON_HINT = (
    "warning: Config file looks like it contains Python code.",
    "warning:  Arbitrary Python is no longer supported.",
    "warning:  See https://wiki.xen.org/wiki/PythonInXlConfig",
)

_IDENT = re.compile(r"[a-z][._0-9a-z]*")
_NUMBER = re.compile(r"[0-9][0-9a-fx]*")
_STRING = {q: re.compile(q + r"(?:[^" + q + r"\\\n]|\\.)*" + q) for q in ("'", '"')}
_ESCAPES = {
    '"': '"',
    "'": "'",
    "\\": "\\",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}
_PYTHONISH = set("+,-.():") - {","}


@dataclass(frozen=True, slots=True)
class Atom:
    """A string or number, stored as its text (libxlu keeps both alike)."""

    text: str
    line: int = 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Atom) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


@dataclass(frozen=True, slots=True)
class ListValue:
    """A ``[ ... ]`` list of values (nested lists allowed)."""

    items: tuple[Value, ...]
    line: int = 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ListValue) and other.items == self.items

    def __hash__(self) -> int:
        return hash(self.items)


Value = Atom | ListValue


@dataclass(frozen=True, slots=True)
class Setting:
    """The winning assignment of one name: its value, operator and line."""

    name: str
    value: Value
    op: str
    line: int


class XlCfgError(ValueError):
    """The file did not parse; ``messages`` holds every located error (and the hint)."""

    errno = _errno.EINVAL

    def __init__(self, source: str, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.source = source
        self.messages = messages


@dataclass
class XlConfig:
    """A parsed file: settings by name (last wins) and getters that warn like xl."""

    source: str
    settings: dict[str, Setting] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, XlConfig):
            return NotImplemented
        mine = {k: (s.value, s.op) for k, s in self.settings.items()}
        theirs = {k: (s.value, s.op) for k, s in other.settings.items()}
        return mine == theirs

    __hash__ = None  # type: ignore[assignment]  # mutable (warnings accumulate): unhashable

    def __contains__(self, name: str) -> bool:
        return name in self.settings

    def _warn(self, setting: Setting, text: str) -> None:
        self.warnings.append(f"{self.source}:{setting.line}: warning: {text}")

    def _atom(self, name: str) -> tuple[Setting, str] | None:
        s = self.settings.get(name)
        if s is None:
            return None
        if not isinstance(s.value, Atom):
            self._warn(s, f"parameter `{name}' is a list but should be a single value")
            return None
        return s, s.value.text

    def get_string(self, name: str) -> str | None:
        """``xlu_cfg_get_string``: the text, or None (absent, or a list: warned)."""
        found = self._atom(name)
        return None if found is None else found[1]

    def get_long(self, name: str, lo: int = LONG_MIN, hi: int = LONG_MAX) -> int | None:
        """``xlu_cfg_get_bounded_long``: a number via ``strtol(.., 0)``, or None with a warning."""
        found = self._atom(name)
        if found is None:
            return None
        s, text = found
        if s.op == "+=":
            self._warn(s, f"can't use += with numbers for parameter `{name}'")
            return None
        r = strtol(text)
        if r.errno:
            self._warn(
                s, f"parameter `{name}' could not be parsed as a number: {os.strerror(r.errno)}"
            )
            return None
        if r.end == 0 or r.end != len(text):
            self._warn(s, f"parameter `{name}' is not a valid number")
            return None
        if r.value < lo:
            self._warn(s, f"value `{r.value}' is smaller than minimum bound '{lo}'")
            return None
        if r.value > hi:
            self._warn(s, f"value `{r.value}' is greater than maximum bound '{hi}'")
            return None
        return r.value

    def get_bool(self, name: str) -> bool | None:
        """``xlu_cfg_get_defbool``: a number, 0 false and anything else true."""
        v = self.get_long(name)
        return None if v is None else v != 0

    def get_list(self, name: str) -> tuple[Value, ...] | None:
        """``xlu_cfg_get_list``: the items, or None (absent, or a single value: warned)."""
        s = self.settings.get(name)
        if s is None:
            return None
        if not isinstance(s.value, ListValue):
            self._warn(s, f"parameter `{name}' is a single value but should be a list")
            return None
        return s.value.items

    def get_string_list(self, name: str) -> list[str] | None:
        """The list's string items (nested lists skipped, as ``xlu_cfg_get_listitem``)."""
        items = self.get_list(name)
        if items is None:
            return None
        return [v.text for v in items if isinstance(v, Atom)]

    def to_python(self) -> dict[str, object]:
        """Settings as plain data: atoms as strings, lists as lists."""
        return {k: _plain(s.value) for k, s in self.settings.items()}


def _plain(v: Value) -> object:
    return v.text if isinstance(v, Atom) else [_plain(x) for x in v.items]


# -- lexer --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # IDENT STRING NUMBER NEWLINE += = ; [ ] , $end
    text: str  # raw text, as the error messages show it
    line: int
    value: str = ""  # dequoted string / atom text


class _Lexer:
    def __init__(self, text: str, source: str, errors: list[str]) -> None:
        self.text = text
        self.source = source
        self.errors = errors
        self.pos = 0
        self.line = 1
        self.likely_python = False
        self.lexerr_line = -1
        self.failed = False

    def error(self, line: int, near: str, msg: str) -> None:
        """libxlu's report: suppressed on a line at or before the last lexical error."""
        if line <= self.lexerr_line:
            return
        self.errors.append(_located(self.source, line, near, msg))

    def lexical_error(self, line: int, near: str, msg: str = "lexical error") -> None:
        self.failed = True
        self.error(line, near, msg)
        self.lexerr_line = max(self.lexerr_line, line)

    def tokens(self) -> list[_Tok]:
        out: list[_Tok] = []
        text = self.text
        while self.pos < len(text):
            c = text[self.pos]
            line = self.line
            if c in " \t":
                self.pos += 1
                continue
            if c == "\n":
                out.append(_Tok("NEWLINE", "\n", line))
                self.pos += 1
                self.line += 1
                continue
            if c == "#":
                end = text.find("\n", self.pos)
                if end >= 0:  # a comment needs its newline
                    out.append(_Tok("NEWLINE", text[self.pos : end + 1], line))
                    self.pos = end + 1
                    self.line += 1
                    continue
            m = (_IDENT.match(text, self.pos) if c.islower() and c.isascii() else None) or (
                _NUMBER.match(text, self.pos) if c.isdigit() and c.isascii() else None
            )
            if m is not None:
                kind = "IDENT" if c.isalpha() else "NUMBER"
                out.append(_Tok(kind, m.group(), line, m.group()))
                self.pos = m.end()
                continue
            if c in "'\"" and (m := _STRING[c].match(text, self.pos)) is not None:
                raw = m.group()
                out.append(_Tok("STRING", raw, line, self._dequote(raw, line)))
                self.pos = m.end()
                continue
            if text.startswith("+=", self.pos):
                out.append(_Tok("+=", "+=", line))
                self.pos += 2
                continue
            if c in ",[]=;":
                out.append(_Tok(c, c, line))
                self.pos += 1
                continue
            self._bad_run(out)
        out.append(_Tok("$end", "", self.line))
        return out

    def _bad_run(self, out: list[_Tok]) -> None:
        """A character no rule takes: report the run of non-blanks it starts."""
        text = self.text
        if text[self.pos] in _PYTHONISH:
            self.likely_python = True
        start = self.pos
        self.pos += 1
        if self.pos < len(text) and text[self.pos] == "\n":
            self.lexical_error(self.line, text[start])
            out.append(_Tok("NEWLINE", "\n", self.line))
            self.pos += 1
            self.line += 1
            return
        if self.pos < len(text) and text[self.pos] in " \t":
            self.pos += 1
        else:
            while self.pos < len(text) and text[self.pos] not in " \t\n":
                self.pos += 1
        self.lexical_error(self.line, text[start : self.pos].rstrip(" \t"))

    def _dequote(self, raw: str, line: int) -> str:
        """``xlu__cfgl_dequote``, including its broken numeric escapes."""
        out: list[str] = []
        body = raw[1:-1] + raw[-1]  # the closing quote stays visible to strtoul
        i, n = 0, len(body) - 1
        while i < n:
            c = body[i]
            i += 1
            if c != "\\":
                out.append(c)
                continue
            nc = body[i]
            i += 1
            if nc in _ESCAPES:
                out.append(_ESCAPES[nc])
            elif nc == "x":
                i += 1  # the hex digits are looked at one character late: always fails
                if strtoul_prefix(body[i : i + 2], 16) <= 2:
                    self.lexical_error(
                        line,
                        raw,
                        "invalid digit after backslash hexnumerical "
                        "character escape in quoted string",
                    )
                    break
            elif "0" <= nc <= "7":
                used = strtoul_prefix(body[i : i + 3], 10)
                if used <= 1:
                    self.lexical_error(
                        line,
                        raw,
                        "invalid digit after backslash octalnumerical "
                        "character escape in quoted string",
                    )
                    break
                i += used  # consumed, and nothing is inserted
            else:
                self.lexical_error(line, raw, "invalid character after backlash in quoted string")
                break
        return "".join(out)


def _located(source: str, line: int, near: str, msg: str) -> str:
    """``<source>:<line>: config parsing error near `<tok>': <msg>``."""
    if near == "\n":
        where = "<newline>"
    else:
        text = near[:-1] if near.endswith("\n") else near
        text = text.rstrip(" \t")
        where = f"`{text}'" if text else ""
    return f"{source}:{line}: config parsing error near {where}: {msg}"


# -- parser ---------------------------------------------------------------------

_AT_STMT = ("$end", "IDENT", "NEWLINE", "';'")
_AFTER_IDENT = ("+=", "'='")
_AT_VALUE = ("STRING", "NUMBER", "'['")
_AFTER_ASSIGN = ("$end", "NEWLINE", "';'")
_IN_LIST = ("STRING", "NUMBER", "NEWLINE", "'['", "']'")
_AFTER_ITEM = ("NEWLINE", "']'", "','")
#: Deepest list nesting accepted (bison's stack, YYMAXDEPTH, runs out near here).
_MAX_NESTING = 300
_SHOWN = {"=": "'='", ";": "';'", "[": "'['", "]": "']'", ",": "','"}


class _Syntax(Exception):
    """Raised to unwind to statement level after a syntax error."""


class _Parser:
    def __init__(self, toks: list[_Tok], lexer: _Lexer, cfg: XlConfig) -> None:
        self.toks = toks
        self.i = 0
        self.lexer = lexer
        self.cfg = cfg
        self.quiet = 0  # bison's yyerrstatus: no new report until 3 tokens shifted
        self.failed = False
        #: ``+=`` parts not yet joined, by name: joined once, by :meth:`finish`, so a
        #: long run of ``+=`` costs linear time (joining at each one was quadratic).
        self._parts: dict[str, list[str] | list[Value]] = {}

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def shift(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        self.quiet = max(0, self.quiet - 1)
        return t

    def syntax_error(self, expected: tuple[str, ...]) -> _Syntax:
        t = self.tok
        self.failed = True
        if not self.quiet:
            name = _SHOWN.get(t.kind, t.kind)
            msg = f"syntax error, unexpected {name}"
            if len(expected) <= 4:
                msg += ", expecting " + " or ".join(expected)
            self.lexer.error(t.line, t.text, msg)
        self.quiet = 3
        return _Syntax()

    def parse(self) -> None:
        while self.tok.kind != "$end":
            try:
                self.statement()
            except _Syntax:
                while self.tok.kind not in ("NEWLINE", "$end"):
                    self.i += 1  # discard, as bison's error recovery does
                if self.tok.kind == "NEWLINE":
                    self.shift()

    def statement(self) -> None:
        t = self.tok
        if t.kind in ("NEWLINE", ";"):
            self.shift()
            return
        if t.kind != "IDENT":
            raise self.syntax_error(_AT_STMT)
        name = self.shift()
        op = self.tok.kind
        if op not in ("=", "+="):
            raise self.syntax_error(_AFTER_IDENT)
        self.shift()
        value = self.value()
        if self.tok.kind not in ("NEWLINE", ";", "$end"):
            raise self.syntax_error(_AFTER_ASSIGN)
        self.store(name.text, op, value, name.line)
        if self.tok.kind != "$end":
            self.shift()

    def value(self, depth: int = 0) -> Value:
        t = self.tok
        if t.kind in ("STRING", "NUMBER"):
            self.shift()
            return Atom(t.value, t.line)
        if t.kind != "[":
            raise self.syntax_error(_AT_VALUE)
        if depth >= _MAX_NESTING:  # bison's stack would overflow first: its message
            self.failed = True
            self.lexer.error(t.line, t.text, "memory exhausted")
            self.quiet = 3
            raise _Syntax()
        self.shift()
        items: list[Value] = []
        self.skip_newlines()
        while True:
            if self.tok.kind == "]":
                self.shift()
                return ListValue(tuple(items), t.line)
            if self.tok.kind not in ("STRING", "NUMBER", "["):
                raise self.syntax_error(_IN_LIST)
            items.append(self.value(depth + 1))
            self.skip_newlines()
            if self.tok.kind == ",":
                self.shift()
                self.skip_newlines()
            elif self.tok.kind != "]":
                raise self.syntax_error(_AFTER_ITEM)

    def skip_newlines(self) -> None:
        while self.tok.kind == "NEWLINE":
            self.shift()

    def store(self, name: str, op: str, value: Value, line: int) -> None:
        """``xlu__cfg_set_store``: the last one wins; ``+=`` concatenates."""
        prev = self.cfg.settings.get(name)
        if op == "+=" and prev is not None:
            atoms = isinstance(prev.value, Atom) and isinstance(value, Atom)
            lists = isinstance(prev.value, ListValue) and isinstance(value, ListValue)
            if not (atoms or lists):
                self.failed = True
                self.lexer.lexical_error(line, name, 'can\'t add [list] to "string" or vice versa')
                return
            if name not in self._parts:
                self._parts[name] = self._start(prev.value)
            parts = self._parts[name]
            if isinstance(value, Atom):
                parts.append(value.text)  # type: ignore[arg-type]  # an Atom's parts are str
            else:
                parts.extend(value.items)  # type: ignore[arg-type]  # a list's are Values
            # A placeholder of the same kind, with the latest line; finish() joins the parts.
            value = Atom("", value.line) if atoms else ListValue((), value.line)
        else:
            self._parts.pop(name, None)
        self.cfg.settings.pop(name, None)  # keep order of the winning assignment
        self.cfg.settings[name] = Setting(name, value, op, line)

    @staticmethod
    def _start(value: Value) -> list[str] | list[Value]:
        return [value.text] if isinstance(value, Atom) else list(value.items)

    def finish(self) -> None:
        """Join every run of ``+=`` into its setting's value."""
        for name, parts in self._parts.items():
            s = self.cfg.settings[name]
            if isinstance(s.value, Atom):
                joined: Value = Atom("".join(parts), s.value.line)  # type: ignore[arg-type]
            else:
                joined = ListValue(tuple(parts), s.value.line)  # type: ignore[arg-type]
            self.cfg.settings[name] = Setting(name, joined, s.op, s.line)
        self._parts.clear()


def parse_xl_cfg(text: str, source: str = "config") -> XlConfig:
    """Parse xl.cfg ``text``; ``source`` names it in messages.

    Raises :class:`XlCfgError` (a ``ValueError`` with ``errno`` EINVAL) carrying
    every located message; never anything else, whatever the text.

    >>> cfg = parse_xl_cfg('name = "vm1"\\nmemory = 0x400\\nvif = [ "bridge=br0", ]\\n')
    >>> cfg.get_string("name"), cfg.get_long("memory"), cfg.get_string_list("vif")
    ('vm1', 1024, ['bridge=br0'])
    >>> parse_xl_cfg("memory = -1\\n", "vm.cfg")
    Traceback (most recent call last):
      ...
    ioreqlab.toolstack.xlcfg.XlCfgError: vm.cfg:1: config parsing error near `-1': lexical error
    warning: Config file looks like it contains Python code.
    warning:  Arbitrary Python is no longer supported.
    warning:  See https://wiki.xen.org/wiki/PythonInXlConfig
    """
    if not isinstance(text, str):
        raise XlCfgError(source, [f"{source}: configuration must be text"])
    errors: list[str] = []
    lexer = _Lexer(text, source, errors)
    cfg = XlConfig(source)
    toks = lexer.tokens()
    parser = _Parser(toks, lexer, cfg)
    parser.parse()
    parser.finish()
    if errors or parser.failed or lexer.failed:
        if not errors:  # pragma: no cover - every failure path reports
            errors.append(f"{source}: config parsing failed")
        if lexer.likely_python:
            errors.extend(PYTHON_HINT)
        raise XlCfgError(source, errors)
    return cfg


# -- formatter ------------------------------------------------------------------


def _format_value(v: Value) -> str:
    if isinstance(v, ListValue):
        return "[" + ", ".join(_format_value(x) for x in v.items) + "]"
    if _NUMBER.fullmatch(v.text):
        return v.text
    escaped = v.text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def format_xl_cfg(cfg: XlConfig) -> str:
    """xl.cfg text that parses back to an equal config.

    >>> cfg = parse_xl_cfg("a = 'x\\"y'\\nb += [1, [2]]\\n")
    >>> print(format_xl_cfg(cfg), end="")
    a = "x\\"y"
    b += [1, [2]]
    >>> parse_xl_cfg(format_xl_cfg(cfg)) == cfg
    True
    """
    return "".join(f"{s.name} {s.op} {_format_value(s.value)}\n" for s in cfg.settings.values())
