"""libxlu's xl.cfg reader, step for step: a flex scanner and a bison LALR(1) parser.

Xen 4.17's ``tools/libs/util/libxlu_cfg_l.l`` (flex) and ``libxlu_cfg_y.y``
(bison 3.3) define what ``xl`` accepts and what it says about what it does
not.  Matching the messages byte for byte needs more than the grammar: which
token bison has read when it finds an error, which tokens it lists as
expected (those with an explicit action in that state, after default
reductions), how it recovers (``stmt: error NEWLINE``, three tokens shifted
before the next report), that the scanner runs only as the parser asks
(lexical errors interleave with syntax errors), and how ``xlu__cfg_yyerror``
prints a location (a token ending in a newline counts from the line before).

Theory of operation
-------------------
* The grammar below is libxlu's, rule for rule, in bison's rule order.  At
  import an LALR(1) automaton is built from it (LR(1) item sets merged by
  core) and turned into action rows as bison's ``tables.c`` does: shifts win,
  a state that shifts ``error`` has no default reduction, a state with one
  reduction and no token shifts reduces without reading, otherwise the
  reduction with the most lookaheads is the default and its entries vanish.
* :class:`_Scanner` is the flex scanner: longest match, first rule on a tie,
  bytes (``%option 8bit``), ``yylineno`` counted per match, ``yymore`` in the
  ``lexerr`` start condition, and the text of the last match kept for
  error messages.
* :func:`read` is bison's ``yyparse`` loop (``yacc.c``) with libxlu's semantic
  actions, including that after the first error every string is NULL and no
  setting is stored.

Nothing here is libxlu's code: the behaviour was read from it and is checked
against Debian's ``libxlutil.so`` by ``tests/test_xlu_real.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ioreqlab.toolstack.cnum import strtoul_prefix
from ioreqlab.toolstack.xlu_grammar import (
    COMMA,
    END,
    EQ,
    ERROR,
    IDENT,
    LBRACK,
    NEWLINE,
    NUMBER,
    OP_ADD,
    RBRACK,
    RULES,
    SEMI,
    STRING,
    TOKENS,
    Tables,
    tables,
)

__all__ = ["ReadResult", "XluList", "XluSetting", "XluString", "read"]

# -- values and the result ----------------------------------------------------------


@dataclass
class XluString:
    """``XLU_STRING``: its text (bytes, as libxlu keeps it) and line.

    Kept as chunks that ``+=`` appends to and :attr:`text` joins once, so a
    long run of ``+=`` costs linear time (libxlu's asprintf per ``+=`` is
    quadratic; the result is the same).
    """

    chunks: list[bytes]
    line: int

    @property
    def text(self) -> bytes:
        if len(self.chunks) != 1:
            self.chunks[:] = [b"".join(self.chunks)]
        return self.chunks[0]


@dataclass
class XluList:
    """``XLU_LIST``: its items and line."""

    items: list[XluString | XluList]
    line: int


@dataclass
class XluSetting:
    name: str
    value: XluString | XluList
    op: str  # "=" or "+="
    line: int


@dataclass
class ReadResult:
    """What ``xlu_cfg_readdata`` leaves: ``err`` (0 or an errno), the report lines
    it printed, and the settings: the newest of each name (what ``find`` returns),
    in the order of those assignments."""

    err: int = 0
    report: list[str] = field(default_factory=list)
    settings: dict[str, XluSetting] = field(default_factory=dict)
    likely_python: bool = False


PYTHON_HINT = (
    "warning: Config file looks like it contains Python code.",
    "warning:  Arbitrary Python is no longer supported.",
    "warning:  See https://wiki.xen.org/wiki/PythonInXlConfig",
)
_EINVAL, _ERANGE = 22, 34

# -- the scanner (libxlu_cfg_l.l) ----------------------------------------------------

_IDENT_REST = frozenset(b"._0123456789abcdefghijklmnopqrstuvwxyz")
_NUMBER_REST = frozenset(b"0123456789abcdefx")
_PYTHONISH = frozenset(b"+,-.():")  # flex's [+-.():]: '+' to '.' is + , - .
#: yytext at end of input: flex's end-of-buffer byte, one NUL (printed as nothing).
_AT_EOF = b"\0"
_PUNCT = {ord(","): COMMA, ord("["): LBRACK, ord("]"): RBRACK, ord("="): EQ, ord(";"): SEMI}


@dataclass
class _Tok:
    kind: int
    line: int  # yylloc.first_line
    value: bytes | None = None  # IDENT/NUMBER text, or a dequoted STRING (None after an error)


class _Scanner:
    """flex's scanner for libxlu: one token per call, as the parser asks."""

    def __init__(self, data: bytes, ctx: _Ctx) -> None:
        self.data = data
        self.pos = 0
        self.lineno = 1  # yylineno
        self.text = b""  # yytext of the last match
        self.ctx = ctx

    def _match(self, length: int, *, more: bytes = b"") -> bytes:
        start = self.pos
        self.pos += length
        self.text = more + self.data[start : self.pos]
        self.lineno += self.data.count(b"\n", start, self.pos)
        return self.text

    def lex(self) -> _Tok:
        """``yylex``: the next token, reporting lexical errors on the way."""
        while True:
            tok = self._initial()
            if tok is not None:
                return tok

    def _initial(self) -> _Tok | None:
        """One match in the INITIAL condition: a token, or None (skipped or erroneous)."""
        data, n, p = self.data, len(self.data), self.pos
        if p >= n:
            self.text = _AT_EOF
            return _Tok(END, -1)
        c = data[p]
        if 0x61 <= c <= 0x7A or 0x30 <= c <= 0x39:  # IDENT or NUMBER
            rest = _IDENT_REST if c >= 0x61 else _NUMBER_REST
            q = p + 1
            while q < n and data[q] in rest:
                q += 1
            return self._got(IDENT if c >= 0x61 else NUMBER, self._match(q - p))
        if c in b" \t":
            self._match(1)
            return None
        if c in _PUNCT:
            self._match(1)
            return self._got(_PUNCT[c])
        if c == 0x2B and p + 1 < n and data[p + 1] == 0x3D:  # \+\=
            self._match(2)
            return self._got(OP_ADD)
        end = p if c == 0x0A else data.find(b"\n", p) if c == 0x23 else -1  # \n|\#.*\n
        if end >= 0:
            self._match(end + 1 - p)
            return _Tok(NEWLINE, self.lineno - 1)
        if c in b"'\"":
            q = self._string_end(p)
            if q > 0:
                return self._got(STRING, self._match(q - p))
        return self._lexerr()

    def _string_end(self, p: int) -> int:
        """Where ``'([^'\\\n]|\\.)*'`` (or with ``"``) starting at ``p`` ends, or -1."""
        data, n, quote = self.data, len(self.data), self.data[p]
        q = p + 1
        while q < n and data[q] != quote and data[q] != 0x0A:
            if data[q] == 0x5C:  # \\. : a backslash takes the next byte, not a newline
                if q + 1 >= n or data[q + 1] == 0x0A:
                    return -1
                q += 1
            q += 1
        return q + 1 if q < n and data[q] == quote else -1

    def _lexerr(self) -> _Tok | None:
        """``[+-.():]`` or ``.``, then the ``lexerr`` condition (``yymore``)."""
        data, n = self.data, len(self.data)
        if data[self.pos] in _PYTHONISH:
            self.ctx.likely_python = True
        bad = self._match(1)
        if self.pos >= n:
            # At end of input the lexerr condition matches nothing: flex ends
            # the scan, and the lone bad byte goes unreported (it stays in yytext).
            self.text = bad + _AT_EOF
            return _Tok(END, -1)
        c = data[self.pos]
        if c == 0x0A:  # <lexerr>\n
            self._match(1, more=bad)
            self.ctx.lexical_error(self, "lexical error")
            return _Tok(NEWLINE, self.lineno)
        q = self.pos + 1
        if c not in b" \t":
            while q < n and data[q] not in b" \t\n":
                q += 1
        self._match(q - self.pos, more=bad)
        self.ctx.lexical_error(self, "lexical error")
        return None

    def _got(self, kind: int, raw: bytes = b"") -> _Tok:
        value: bytes | None = None
        if kind in (IDENT, NUMBER):
            value = None if self.ctx.err else raw
        elif kind == STRING:
            value = self.ctx.dequote(self, raw)
        return _Tok(kind, self.lineno, value)


# -- libxlu_cfg.c's context: reports, dequoting, storing ------------------------------


@dataclass
class _Ctx:
    source: str
    result: ReadResult
    lexerrlineno: int = -1
    scanner: _Scanner | None = None

    @property
    def err(self) -> int:
        return self.result.err

    @property
    def likely_python(self) -> bool:
        return self.result.likely_python

    @likely_python.setter
    def likely_python(self, v: bool) -> None:
        self.result.likely_python = v

    def yyerror(self, sc: _Scanner, line: int, msg: str) -> None:
        """``xlu__cfg_yyerror``: located at ``line``, near the scanner's last text."""
        if line <= self.lexerrlineno:
            return
        text = sc.text
        newline = ""
        if text.endswith(b"\n"):
            text = text[:-1]
            line -= 1
            if not text:
                newline = "<newline>"
        text = text.rstrip(b" \t")
        # printf's %.*s stops at a NUL; the quotes are there whenever the length is not 0.
        shown = text.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        near = f"`{shown}'" if text else ""
        self.result.report.append(
            f"{self.source}:{line}: config parsing error near {near}{newline}: {msg}"
        )
        if not self.result.err:
            self.result.err = _EINVAL

    def lexical_error(self, sc: _Scanner, msg: str) -> None:
        """``xlu__cfgl_lexicalerror``: at the scanner's own line."""
        line = sc.lineno
        self.yyerror(sc, line, msg)
        self.lexerrlineno = line

    def dequote(self, sc: _Scanner, raw: bytes) -> bytes | None:
        """``xlu__cfgl_dequote`` (None once an error was seen)."""
        if self.err:
            return None
        if 0 in raw:
            # strlen() stops at the NUL and libxlu's assert aborts the process; the
            # model cannot abort, so the file is refused (docs/deviations.md).
            self.lexical_error(sc, "NUL byte in quoted string (libxlu aborts here)")
            return None
        out = bytearray()
        body, i, end = raw, 1, len(raw) - 1
        escapes = {0x22: 0x22, 0x27: 0x27, 0x5C: 0x5C, 0x61: 7, 0x62: 8, 0x66: 12,
                   0x6E: 10, 0x72: 13, 0x74: 9, 0x76: 11}  # fmt: skip
        while i < end:
            c = body[i]
            i += 1
            if c != 0x5C:
                out.append(c)
                continue
            nc = body[i]
            i += 1
            if nc in escapes:
                out.append(escapes[nc])
            elif nc == 0x78:  # \x: libxlu skips one more character, then reads 2 hex digits
                i += 1
                used = _strtoul_used(body[i : i + 2], 16)
                if used <= 2:  # "ep <= numbuf + minlen": always, for 2 digits at most
                    self.lexical_error(sc, "invalid digit after backslash hexnumerical "
                                       "character escape in quoted string")  # fmt: skip
                    self.result.err = _EINVAL
                    break
                i += used  # pragma: no cover - unreachable, as in libxlu
            elif 0x30 <= nc <= 0x37:
                used = _strtoul_used(body[i : i + 3], 10)
                if used <= 1:
                    self.lexical_error(sc, "invalid digit after backslash octalnumerical "
                                       "character escape in quoted string")  # fmt: skip
                    self.result.err = _EINVAL
                    break
                i += used  # the digits are consumed; nothing is inserted
            else:
                self.lexical_error(sc, "invalid character after backlash in quoted string")
                self.result.err = _EINVAL
                break
        return bytes(out)


def _strtoul_used(digits: bytes, base: int) -> int:
    """How many bytes ``strtoul`` consumes from ``digits`` (0 if none convert)."""
    return strtoul_prefix(digits.decode("latin-1"), base)


# -- the parser (yacc.c's yyparse with libxlu's actions) --------------------------------

#: bison's stack: 200 entries, doubled up to YYMAXDEPTH.
_YYINITDEPTH, _YYMAXDEPTH = 200, 10000


def _name(tok: int) -> str:
    """``yytnamerr``: a double-quoted name loses its quotes."""
    n = TOKENS[tok]
    return n[1:-1] if n.startswith('"') else n


def _syntax_error(t: Tables, state: int, tok: int) -> str:
    expected = [x for x in sorted(t.action[state]) if x != ERROR]
    msg = f"syntax error, unexpected {_name(tok)}"
    if len(expected) <= 4 and expected:
        msg += ", expecting " + " or ".join(_name(x) for x in expected)
    return msg


def read(data: bytes, source: str) -> ReadResult:
    """``xlu_cfg_readdata`` of ``data``, named ``source`` in reports."""
    result = ReadResult()
    ctx = _Ctx(source, result)
    ctx.scanner = _Scanner(data, ctx)
    _Parser(tables(), ctx, ctx.scanner).run()
    if result.err and result.likely_python:
        result.report.extend(PYTHON_HINT)
    return result


class _Parser:
    """``yyparse`` (bison 3.3's ``yacc.c``): states, values and first lines on one stack."""

    def __init__(self, t: Tables, ctx: _Ctx, sc: _Scanner) -> None:
        self.t, self.ctx, self.sc = t, ctx, sc
        self.states: list[int] = [0]
        self.values: list[object] = [None]
        self.lines: list[int] = [1]
        self.stacksize = _YYINITDEPTH
        self.look: _Tok | None = None
        self.last_line = 1  # yylloc.first_line: set per token by the lexer, not by $end
        self.errstatus = 0

    def run(self) -> None:
        while True:
            if len(self.states) >= self.stacksize:  # yysetstate: grow, or give up
                if self.stacksize >= _YYMAXDEPTH:
                    self.ctx.yyerror(self.sc, self.last_line, "memory exhausted")
                    return
                self.stacksize = min(self.stacksize * 2, _YYMAXDEPTH)
            state = self.states[-1]
            if state == self.t.final:
                return  # YYACCEPT
            act = None if self.t.no_lookahead[state] else self.t.action[state].get(self._token())
            if act is None:
                rule = self.t.default[state]
                if rule is None:
                    if not self._recover():
                        return  # YYABORT
                    continue
                act = ("r", rule)
            if act[0] == "s":
                self._shift(act[1])
            else:
                self._reduce(act[1])

    def _token(self) -> int:
        if self.look is None:
            self.look = self.sc.lex()
            if self.look.kind != END:
                self.last_line = self.look.line
        return self.look.kind

    def _push(self, state: int, value: object, line: int) -> None:
        self.states.append(state)
        self.values.append(value)
        self.lines.append(line)

    def _shift(self, state: int) -> None:
        assert self.look is not None
        if self.errstatus:
            self.errstatus -= 1
        self._push(state, self.look.value, self.last_line)
        self.look = None

    def _reduce(self, rule: int) -> None:
        lhs, rhs = RULES[rule]
        k = len(rhs)
        args = self.values[len(self.values) - k :] if k else []
        lines = self.lines[len(self.lines) - k :] if k else []
        out = _action(self.ctx, rule, args, lines, self.last_line)
        if k:
            del self.states[-k:], self.values[-k:], self.lines[-k:]
        # YYLLOC_DEFAULT: an empty rule's line is the symbol below's last_line, which
        # nothing in libxlu ever sets from its initial 1.
        self._push(self.t.goto[self.states[-1]][lhs], out, lines[0] if k else 1)

    def _recover(self) -> bool:
        """yyerrlab and yyerrlab1; False to abort."""
        assert self.look is not None
        if not self.errstatus:
            msg = _syntax_error(self.t, self.states[-1], self.look.kind)
            self.ctx.yyerror(self.sc, self.last_line, msg)
        if self.errstatus == 3:
            if self.look.kind == END:
                return False
            self.look = None  # discard the token
        self.errstatus = 3
        while True:  # pop to a state that shifts error
            target = self.t.action[self.states[-1]].get(ERROR)
            if target is not None and target[0] == "s":
                break
            if len(self.states) == 1:
                return False
            del self.states[-1], self.values[-1], self.lines[-1]
        self._push(target[1], None, self.last_line)
        return True


def _action(ctx: _Ctx, rule: int, a: list[object], lines: list[int], lookahead_line: int) -> object:
    """libxlu's semantic actions; after an error they build nothing."""
    if rule in (8, 9):  # assignment: IDENT ('=' | "+=") value
        _store(ctx, a[0], "=" if rule == 8 else "+=", a[2], lines[2])
        return None
    if rule == 12:  # value: atom
        if ctx.err or a[0] is None:
            return None
        assert isinstance(a[0], bytes)
        return XluString([a[0]], lines[0])
    if rule == 13:  # value: '[' nlok valuelist ']'
        return a[2]
    if rule in (14, 15):  # atom: STRING | NUMBER
        return a[0]
    if rule == 16:  # valuelist: empty
        return None if ctx.err else XluList([], lookahead_line)
    if rule in (17, 18):  # valuelist: values [',' nlok]
        return a[0]
    if rule == 19:  # values: value nlok
        if ctx.err or a[0] is None:
            return None
        assert isinstance(a[0], (XluString, XluList))
        return XluList([a[0]], lines[0])
    if rule == 20:  # values: values ',' nlok value nlok
        if not ctx.err and isinstance(a[0], XluList) and a[3] is not None:
            assert isinstance(a[3], (XluString, XluList))
            a[0].items.append(a[3])
        return a[0]
    return None


def _store(ctx: _Ctx, name: object, op: str, value: object, line: int) -> None:
    """``xlu__cfg_set_store``: the newest wins; ``+=`` joins onto the previous of that name."""
    if ctx.err:
        return
    assert isinstance(name, bytes)
    assert isinstance(value, (XluString, XluList))
    key = name.decode("ascii")
    settings = ctx.result.settings
    prev = settings.get(key)
    if op == "+=" and prev is not None:
        if type(prev.value) is not type(value):
            assert ctx.scanner is not None
            ctx.lexical_error(ctx.scanner, 'can\'t add [list] to "string" or vice versa')
            ctx.result.err = _EINVAL
            return
        # libxlu builds prev + value into the new value; the previous setting is no
        # longer reachable by find(), so its storage moves over (linear, not quadratic).
        if isinstance(value, XluString):
            assert isinstance(prev.value, XluString)
            prev.value.chunks.extend(value.chunks)
            value.chunks = prev.value.chunks
        else:
            assert isinstance(prev.value, XluList)
            prev.value.items.extend(value.items)
            value.items = prev.value.items
    settings.pop(key, None)
    settings[key] = XluSetting(key, value, op, line)
