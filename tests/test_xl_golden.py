"""Golden-file tests of ``ioreqlab xl -N create``, in the style of Xen's check-xl-*-parse.

Each ``tests/data/xl/NAME.cfg`` has a ``NAME.expected`` next to it: the exit
code, the JSON printed on stdout (or null) and the stderr lines.  After a
deliberate change of behaviour, review and regenerate them with
``IOREQLAB_REGEN=1 .venv/bin/python -m pytest tests/test_xl_golden.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ioreqlab.cli import main

DATA = Path(__file__).parent / "data" / "xl"
CASES = sorted(p.stem for p in DATA.glob("*.cfg"))


def run_xl(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, object]:
    monkeypatch.chdir(DATA)
    code = main(["xl", "-N", "create", f"{name}.cfg"])
    out = capsys.readouterr()
    return {
        "exit": code,
        "stdout": json.loads(out.out) if out.out.strip() else None,
        "stderr": out.err.splitlines(),
    }


@pytest.mark.parametrize("name", CASES)
def test_golden(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    got = run_xl(name, capsys, monkeypatch)
    expected_file = DATA / f"{name}.expected"
    if os.environ.get("IOREQLAB_REGEN"):
        expected_file.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert got == json.loads(expected_file.read_text())


def test_corpus_covers_success_and_failure() -> None:
    outcomes = {json.loads((DATA / f"{n}.expected").read_text())["exit"] for n in CASES}
    assert outcomes == {0, 1, 3}  # 3: xl's exit(-ERROR_FAIL)
    assert len(CASES) >= 20
