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
that may nest (until bison's stack of 10,000 runs out), span lines and end
in a comma.  Errors are reported in bison's words, as libxlu prints them;
recovery skips to the next newline, but an error where only the end of the
file may come ends the parse.  Any error fails the whole parse (``EINVAL``).

Semantics (``libxlu_cfg.c``): strings and numbers are both stored as text;
the last assignment of a name wins; ``+=`` appends to the previous value of
the same kind (string to string, list to list).  Numbers are converted when
read, with ``strtol(s, &end, 0)``; problems there are *warnings* and the key
counts as absent, as xl does.

Theory of operation: :mod:`ioreqlab.toolstack.xlu_parse` is libxlu's
scanner and bison parser step for step (it lexes as it parses, so the
messages and their order are libxlu's, byte for byte, checked against
Debian's libxlutil); this module turns what it read into settings and
getters that warn as libxlu's do.  Nothing here reads files or prints:
:func:`parse_xl_cfg` takes text and returns an :class:`XlConfig` or raises
:class:`XlCfgError` with every message.
"""

from __future__ import annotations

import errno as _errno
import os
import re
from dataclasses import dataclass, field

from ioreqlab.toolstack.cnum import LONG_MAX, LONG_MIN, strtol
from ioreqlab.toolstack.xlu_parse import PYTHON_HINT, XluList, XluString, read

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

_NUMBER = re.compile(r"[0-9][0-9a-fx]*")


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

    def _warn(self, setting: Setting, text: str, quiet: bool) -> None:
        if not quiet:  # libxlu's dont_warn
            self.warnings.append(f"{self.source}:{setting.line}: warning: {text}")

    def _atom(self, name: str, quiet: bool) -> tuple[Setting, str] | None:
        s = self.settings.get(name)
        if s is None:
            return None
        if not isinstance(s.value, Atom):
            self._warn(s, f"parameter `{name}' is a list but should be a single value", quiet)
            return None
        return s, s.value.text

    def get_string(self, name: str) -> str | None:
        """``xlu_cfg_get_string``: the text, or None (absent, or a list: warned)."""
        found = self._atom(name, False)  # xl reads every string with dont_warn 0
        return None if found is None else found[1]

    def get_long(
        self, name: str, lo: int = LONG_MIN, hi: int = LONG_MAX, *, quiet: bool = False
    ) -> int | None:
        """``xlu_cfg_get_bounded_long``: a number via ``strtol(.., 0)``, or None with a
        warning (none with ``quiet``, libxlu's ``dont_warn``)."""
        found = self._atom(name, quiet)
        if found is None:
            return None
        s, text = found
        if s.op == "+=":
            self._warn(s, f"can't use += with numbers for parameter `{name}'", quiet)
            return None
        r = strtol(text)
        if r.errno:
            why = os.strerror(r.errno)
            self._warn(s, f"parameter `{name}' could not be parsed as a number: {why}", quiet)
            return None
        if r.end == 0 or r.end != len(text):
            self._warn(s, f"parameter `{name}' is not a valid number", quiet)
            return None
        if r.value < lo:
            self._warn(s, f"value `{r.value}' is smaller than minimum bound '{lo}'", quiet)
            return None
        if r.value > hi:
            self._warn(s, f"value `{r.value}' is greater than maximum bound '{hi}'", quiet)
            return None
        return r.value

    def get_bool(self, name: str, *, quiet: bool = False) -> bool | None:
        """``xlu_cfg_get_defbool``: a number, 0 false and anything else true."""
        v = self.get_long(name, quiet=quiet)
        return None if v is None else v != 0

    def get_list(self, name: str, *, quiet: bool = False) -> tuple[Value, ...] | None:
        """``xlu_cfg_get_list``: the items, or None (absent, or a single value: warned)."""
        s = self.settings.get(name)
        if s is None:
            return None
        if not isinstance(s.value, ListValue):
            self._warn(s, f"parameter `{name}' is a single value but should be a list", quiet)
            return None
        return s.value.items

    def get_string_list(self, name: str) -> list[str] | None:
        """The list's string items, as xl reads them: ``xlu_cfg_get_listitem`` is
        NULL for a nested list, and xl's loops stop at the first NULL — items
        after a nested list are never seen (so xl configures fewer NICs)."""
        items = self.get_list(name)
        if items is None:
            return None
        out = []
        for v in items:
            if not isinstance(v, Atom):
                break
            out.append(v.text)
        return out

    def to_python(self) -> dict[str, object]:
        """Settings as plain data: atoms as strings, lists as lists."""
        return {k: _plain(s.value) for k, s in self.settings.items()}


def _plain(v: Value) -> object:
    return v.text if isinstance(v, Atom) else [_plain(x) for x in v.items]


# -- lexer --------------------------------------------------------------------


def parse_xl_cfg(text: str | bytes, source: str = "config") -> XlConfig:
    """Parse xl.cfg ``text``; ``source`` names it in messages.

    Raises :class:`XlCfgError` (a ``ValueError`` with ``errno`` EINVAL) carrying
    libxlu's report line for line; never anything else, whatever the text.
    Text is read as its UTF-8 bytes (bytes as they are), as libxlu reads a file.

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
    if isinstance(text, str):
        data = text.encode("utf-8", "surrogateescape")
    elif isinstance(text, (bytes, bytearray)):
        data = bytes(text)
    else:
        raise XlCfgError(source, [f"{source}: configuration must be text"])
    done = read(data, source)
    if done.err:
        if not done.report:  # pragma: no cover - libxlu reports every failure it has
            done.report.append(f"{source}: config parsing failed")
        raise XlCfgError(source, done.report)
    cfg = XlConfig(source)
    for s in done.settings.values():  # the winning assignment of each name, in order
        cfg.settings[s.name] = Setting(s.name, _value(s.value), s.op, s.line)
    return cfg


def _value(v: XluString | XluList) -> Value:
    """The read value as Atom/ListValue, without recursion (lists nest ~5,000 deep)."""
    if isinstance(v, XluString):
        return Atom(v.text.decode("utf-8", "surrogateescape"), v.line)
    # Post-order over the nesting with an explicit stack: children before parents.
    done: dict[int, Value] = {}
    stack: list[tuple[XluList, bool]] = [(v, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            items = tuple(
                Atom(x.text.decode("utf-8", "surrogateescape"), x.line)
                if isinstance(x, XluString)
                else done.pop(id(x))
                for x in node.items
            )
            done[id(node)] = ListValue(items, node.line)
            continue
        stack.append((node, True))
        stack.extend((x, False) for x in node.items if isinstance(x, XluList))
    return done[id(v)]


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
