"""libxlu's grammar (``libxlu_cfg_y.y``) and the LALR(1) tables bison makes of it.

The rules are libxlu's, in bison's numbering; :func:`tables` builds the
LALR(1) automaton (LR(1) item sets merged by core) and bison's action rows
(``tables.c``'s ``action_row``): shifts win, a state that shifts ``error``
has no default reduction, a state with one reduction and no token shifts
reduces without reading, otherwise the reduction with the most lookaheads is
the default and its entries vanish.  Which tokens are left explicit is what
bison lists as "expecting" in its messages.  Used by
:mod:`ioreqlab.toolstack.xlu_parse`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

__all__ = ["END", "ERROR", "RULES", "TOKENS", "Tables", "tables"]

# -- the grammar (libxlu_cfg_y.y), in bison's numbering ------------------------

#: Terminals in bison's token numbers ($end 0, error 1, $undefined 2, ...).
TOKENS = ("$end", "error", "$undefined", "IDENT", "STRING", "NUMBER", "NEWLINE",
          '"+="', "'='", "';'", "'['", "']'", "','")  # fmt: skip
_T = {name: i for i, name in enumerate(TOKENS)}
END, ERROR, IDENT, STRING, NUMBER, NEWLINE = 0, 1, 3, 4, 5, 6
OP_ADD, EQ, SEMI, LBRACK, RBRACK, COMMA = 7, 8, 9, 10, 11, 12

#: ``(lhs, rhs)``; rule 0 is bison's ``$accept: file $end``.
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("$accept", ("file", "$end")),
    ("file", ("stmts",)),
    ("file", ("stmts", "assignment")),
    ("stmts", ()),
    ("stmts", ("stmts", "stmt")),
    ("stmt", ("assignment", "endstmt")),
    ("stmt", ("endstmt",)),
    ("stmt", ("error", "NEWLINE")),
    ("assignment", ("IDENT", "'='", "value")),
    ("assignment", ("IDENT", '"+="', "value")),
    ("endstmt", ("NEWLINE",)),
    ("endstmt", ("';'",)),
    ("value", ("atom",)),
    ("value", ("'['", "nlok", "valuelist", "']'")),
    ("atom", ("STRING",)),
    ("atom", ("NUMBER",)),
    ("valuelist", ()),
    ("valuelist", ("values",)),
    ("valuelist", ("values", "','", "nlok")),
    ("values", ("value", "nlok")),
    ("values", ("values", "','", "nlok", "value", "nlok")),
    ("nlok", ()),
    ("nlok", ("nlok", "NEWLINE")),
)
_NONTERMS = tuple(dict.fromkeys(lhs for lhs, _ in RULES))


@dataclass(frozen=True)
class Tables:
    """The automaton: explicit actions per state, default reductions, gotos."""

    #: ``action[state][token]``: ``("s", state)`` or ``("r", rule)``; explicit only.
    action: tuple[dict[int, tuple[str, int]], ...]
    #: The default reduction of each state, or None (then anything else is an error).
    default: tuple[int | None, ...]
    #: True where bison reduces without reading a token (``yypact`` is the default).
    no_lookahead: tuple[bool, ...]
    goto: tuple[dict[str, int], ...]
    final: int


def _first_sets() -> dict[str, set[str]]:
    first: dict[str, set[str]] = {t: {t} for t in TOKENS}
    first.update({n: set() for n in _NONTERMS})
    nullable = {lhs for lhs, rhs in RULES if not rhs}
    changed = True
    while changed:
        changed = False
        for lhs, rhs in RULES:
            for sym in rhs:
                before = len(first[lhs])
                first[lhs] |= first[sym] - {""}
                changed |= len(first[lhs]) != before
                if sym not in nullable:
                    break
            else:
                if lhs not in nullable:
                    nullable.add(lhs)
                    changed = True
    for n in nullable:
        first[n].add("")
    return first


_Item = tuple[int, int, str]  # rule, dot, lookahead


def _closure(items: frozenset[_Item], first: dict[str, set[str]]) -> frozenset[_Item]:
    """LR(1) closure: for ``A -> a . B b, la``, every ``B -> . g`` with FIRST(b la)."""
    out = set(items)
    todo = list(items)
    while todo:
        r, dot, la = todo.pop()
        rhs = RULES[r][1]
        if dot >= len(rhs) or rhs[dot] not in _NONTERMS:
            continue
        follow: set[str] = set()
        for sym in (*rhs[dot + 1 :], la):
            follow |= first[sym] - {""}
            if "" not in first[sym]:
                break
        for b in follow:
            for k, (lhs, _) in enumerate(RULES):
                if lhs == rhs[dot] and (k, 0, b) not in out:
                    out.add((k, 0, b))
                    todo.append((k, 0, b))
    return frozenset(out)


def _lalr_states() -> tuple[list[set[_Item]], list[dict[str, int]]]:
    """LR(1) item sets merged by core as they are found (LALR(1)), and transitions."""
    first = _first_sets()

    def core(items: frozenset[_Item]) -> frozenset[tuple[int, int]]:
        return frozenset((r, d) for r, d, _ in items)

    start = _closure(frozenset({(0, 0, "$end")}), first)
    states: list[set[_Item]] = [set(start)]
    index = {core(start): 0}
    trans: list[dict[str, int]] = [{}]
    todo = [0]
    while todo:
        i = todo.pop()
        items = _closure(frozenset(states[i]), first)
        states[i] = set(items)
        for sym in sorted({RULES[r][1][d] for r, d, _ in items if d < len(RULES[r][1])}):
            moved = _closure(
                frozenset((r, d + 1, la) for r, d, la in items
                          if d < len(RULES[r][1]) and RULES[r][1][d] == sym),
                first,
            )  # fmt: skip
            key = core(moved)
            j = index.get(key)
            if j is None:
                j = index[key] = len(states)
                states.append(set(moved))
                trans.append({})
                todo.append(j)
            elif not moved <= states[j]:
                states[j] |= moved
                todo.append(j)  # new lookaheads flow on
            trans[i][sym] = j
    return states, trans


def _row(items: set[_Item], trans: dict[str, int]) -> tuple[dict[int, tuple[str, int]], int | None]:
    """One state's explicit actions and default reduction, as bison's ``action_row``."""
    row: dict[int, tuple[str, int]] = {_T[s]: ("s", j) for s, j in trans.items() if s in _T}
    reductions: dict[int, set[int]] = {}
    for r, d, la in items:
        if d == len(RULES[r][1]) and r != 0:
            reductions.setdefault(r, set()).add(_T[la])
    for r in sorted(reductions):
        for tok in sorted(reductions[r]):
            row.setdefault(tok, ("r", r))  # a shift wins a shift/reduce conflict
    dflt: int | None = None
    shifts_error = row.get(ERROR, ("r", 0))[0] == "s"
    if reductions and not shifts_error:  # a state that shifts error has no default
        if len(reductions) == 1 and all(a[0] == "r" for a in row.values()):
            dflt = next(iter(reductions))  # consistent: reduce without reading
        else:
            counts = {r: sum(1 for a in row.values() if a == ("r", r)) for r in reductions}
            best = max(counts.values())
            dflt = min(r for r, c in counts.items() if c == best) if best else None
    if dflt is not None:
        row = {tok: a for tok, a in row.items() if a != ("r", dflt)}
    return row, dflt


@cache
def tables() -> Tables:
    """Build libxlu's LALR(1) automaton and bison's action rows (once)."""
    states, trans = _lalr_states()
    rows = [_row(items, trans[i]) for i, items in enumerate(states)]
    final = next(j for tr in trans for s, j in tr.items() if s == "$end")
    return Tables(
        action=tuple(r for r, _ in rows),
        default=tuple(d for _, d in rows),
        no_lookahead=tuple(not r for r, _ in rows),
        goto=tuple({s: j for s, j in tr.items() if s in _NONTERMS} for tr in trans),
        final=final,
    )
