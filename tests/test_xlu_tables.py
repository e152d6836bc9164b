"""libxlu's parser tables against the ones bison made for Xen: ``libxlu_cfg_y.c``.

:mod:`ioreqlab.toolstack.xlu_grammar` builds the LALR(1) automaton of
``libxlu_cfg_y.y`` itself.  Xen ships what bison generated from the same
grammar (``tools/libs/util/libxlu_cfg_y.c``, Debian's 4.17 source, fetched
by ``scripts/xen-sources``); its packed tables (``yypact``, ``yydefact``,
``yytable``, ``yycheck``, ``yypgoto``, ``yydefgoto``, ``yyr1``, ``yyr2``) are
decoded here as ``yyparse`` reads them, and the two automata must be the same
up to the numbering of states: every state's explicit actions (shift and
target, or reduce and rule), its default reduction, whether it reduces
without reading a token, and its gotos.  Bison numbers rules from 1 (the
model from 0) and its states breadth first (the model depth first), so the
states are paired by walking both from the start along the same symbols.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ioreqlab.toolstack.xlu_grammar import RULES, TOKENS, tables

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "build" / "xen-src" / "tools" / "libs" / "util" / "libxlu_cfg_y.c"
_why = None if SOURCE.exists() else f"{SOURCE} is missing: run scripts/xen-sources"
if _why is not None and os.environ.get("CI") == "true":  # CI must run it (the set-up fetches it)
    raise RuntimeError(_why)
pytestmark = pytest.mark.skipif(_why is not None, reason=_why or "")

NONTERMS = tuple(dict.fromkeys(lhs for lhs, _ in RULES))


def _bison() -> tuple[dict[str, int], dict[str, list[int]]]:
    text = SOURCE.read_text()
    defines = {k: int(v) for k, v in re.findall(r"#define (YY[A-Z_]+)\s+(-?\d+)\s*$", text, re.M)}
    arrays = {
        name: [int(x) for x in body.replace("\n", " ").split(",") if x.strip()]
        for name, body in re.findall(r"static const \w+ (yy\w+)\[\] =\s*\{([^}]*)\}", text)
        if name != "yytname"
    }
    return defines, arrays


def _bison_automaton() -> tuple[list[dict[int, tuple[str, int]]], list[int], list[bool], int]:
    """Per state: explicit actions, default rule (0: error), reads-no-token; and YYFINAL.

    As ``yyparse`` decodes them: a ``yypact`` of ``YYPACT_NINF`` takes the default
    without a lookahead; otherwise token ``t``'s action is ``yytable[yypact + t]``
    where ``yycheck`` there is ``t`` (positive: shift; else reduce ``-value``).
    """
    d, a = _bison()
    pact, table, check = a["yypact"], a["yytable"], a["yycheck"]
    actions, no_read = [], []
    for s in range(d["YYNSTATES"]):
        row: dict[int, tuple[str, int]] = {}
        if pact[s] != d["YYPACT_NINF"]:
            for t in range(d["YYNTOKENS"]):
                n = pact[s] + t
                if 0 <= n <= d["YYLAST"] and check[n] == t:
                    v = table[n]
                    row[t] = ("s", v) if v > 0 else ("r", -v)
        actions.append(row)
        no_read.append(pact[s] == d["YYPACT_NINF"])
    return actions, a["yydefact"], no_read, d["YYFINAL"]


def _bison_goto(state: int, nonterm: int) -> int:
    d, a = _bison()
    k = a["yypgoto"][nonterm - d["YYNTOKENS"]] + state
    if 0 <= k <= d["YYLAST"] and a["yycheck"][k] == state:
        return a["yytable"][k]
    return a["yydefgoto"][nonterm - d["YYNTOKENS"]]


def test_the_grammar_is_bisons() -> None:
    d, a = _bison()
    assert d["YYNTOKENS"] == len(TOKENS)
    lhs = [NONTERMS.index(left) + len(TOKENS) for left, _ in RULES]
    assert a["yyr1"][1:] == lhs  # bison's rule 0 is a placeholder
    assert a["yyr2"][1:] == [len(rhs) for _, rhs in RULES]


def test_the_automaton_is_bisons_up_to_state_numbers() -> None:
    ours = tables()
    actions, defact, no_read, final = _bison_automaton()
    assert len(ours.action) == len(actions)
    pair = {0: 0}
    todo = [0]
    seen = {0}

    def paired(i: int, j: int, b_j: int, why: object) -> None:
        assert pair.setdefault(j, b_j) == b_j, why
        if j not in seen:
            seen.add(j)
            todo.append(j)

    while todo:
        i = todo.pop(0)
        b = pair[i]
        if i == ours.final:  # yyparse accepts on entering YYFINAL: its row is never read
            assert b == final
            continue
        mine, theirs = ours.action[i], actions[b]
        assert set(mine) == set(theirs), (i, b)
        for t, (kind, n) in mine.items():
            assert theirs[t][0] == kind, (i, b, t)
            if kind == "r":
                assert theirs[t][1] == n + 1, (i, b, t)  # bison's rules count from 1
            else:
                paired(i, n, theirs[t][1], (i, b, t))
        default = ours.default[i]
        assert defact[b] == (0 if default is None else default + 1), (i, b)
        assert no_read[b] == ours.no_lookahead[i], (i, b)
        for sym, j in ours.goto[i].items():
            paired(i, j, _bison_goto(b, NONTERMS.index(sym) + len(TOKENS)), (i, b, sym))
    assert sorted(pair.values()) == list(range(len(actions)))  # one to one, every state
    assert pair[ours.final] == final
