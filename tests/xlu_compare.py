"""The model's xl.cfg parser and Debian's libxlutil, answer for answer (issue 13).

:func:`model_answer` gives the model's answer in the shape of
:mod:`tests.libxlu_oracle`'s; :func:`compare` says where two answers differ.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from ioreqlab.toolstack.xlcfg import Atom, XlCfgError, parse_xl_cfg

ROOT = Path(__file__).resolve().parents[1]
_KEY = re.compile(r"^[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\+?=", re.M)


def keys_of(text: str) -> list[str]:
    """Every name assigned in ``text`` (a superset is harmless), and one absent."""
    return [*sorted(set(_KEY.findall(text))), "no_such_key"]


def model_answer(text: str, keys: list[str]) -> dict[str, Any]:
    try:
        cfg = parse_xl_cfg(text, "test.cfg")
    except XlCfgError as err:
        return {"rc": 22, "report": "".join(m + "\n" for m in err.messages), "keys": {}}
    out: dict[str, Any] = {"rc": 0, "report": "", "keys": {}}
    for key in keys:
        before = len(cfg.warnings)
        s = cfg.get_string(key)
        n = cfg.get_long(key)
        items = cfg.get_list(key)
        absent = key not in cfg
        out["keys"][key] = {
            "string": [3 if absent else (0 if s is not None else None), _latin1(s)],
            "long": [3 if absent else (0 if n is not None else None), n],
            "list": [
                3 if absent else (0 if items is not None else None),
                None
                if items is None
                else [_latin1(v.text) if isinstance(v, Atom) else None for v in items],
            ],
            "warnings": _latin1("".join(w + "\n" for w in cfg.warnings[before:])),
        }
    return out


def _latin1(s: str | None) -> str | None:
    """A model string as the oracle spells bytes (each byte one latin-1 character)."""
    return None if s is None else s.encode("utf-8", "surrogateescape").decode("latin-1")


def oracle_answers(texts: list[str]) -> list[dict[str, Any]]:
    """libxlutil's answers, from a child process (tests.libxlu_oracle)."""
    requests = "".join(
        json.dumps({"text": t.encode("utf-8", "surrogateescape").decode("latin-1"),
                    "keys": keys_of(t)}) + "\n"
        for t in texts
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "tests.libxlu_oracle"],
        input=requests, capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    return [json.loads(line) for line in done.stdout.splitlines()]


def compare(text: str, real: dict[str, Any]) -> list[str]:
    """The ways the model's answer for ``text`` differs from libxlu's ``real`` one."""
    mine = model_answer(text, keys_of(text))
    if "abort" in real:
        return [] if mine["rc"] != 0 else ["libxlu aborts where the model accepts"]
    diffs = []
    if (real["rc"] == 0) != (mine["rc"] == 0):
        diffs.append(f"accept: libxlu rc {real['rc']}, model rc {mine['rc']}")
        return diffs
    mine_report = mine["report"].encode("utf-8", "surrogateescape").decode("latin-1")
    if real["report"] != mine_report:
        diffs.append(f"report: libxlu {real['report']!r}, model {mine_report!r}")
    for key, want in real["keys"].items():
        got = mine["keys"][key]
        for what in ("string", "long", "list"):
            w_rc, w_val = want[what]
            g_rc, g_val = got[what]
            if w_val != g_val or (w_rc in (0, 3)) != (g_rc in (0, 3)) or (w_rc == 3) != (g_rc == 3):
                diffs.append(f"{key}.{what}: libxlu {want[what]}, model {got[what]}")
        if want["warnings"] != got["warnings"]:
            diffs.append(f"{key}.warnings: libxlu {want['warnings']!r}, model {got['warnings']!r}")
    return diffs
