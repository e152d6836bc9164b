"""Golden-file tests of ``ioreqlab xl -N create``, in the style of Xen's check-xl-*-parse.

Each ``tests/data/xl/NAME.cfg`` has a ``NAME.expected`` next to it: the exit
code, the JSON printed on stdout (or null) and the stderr lines, for ``-N``
(the config as xl built it: ``tests/test_xl_real.py`` checks these bytes
against the real xl) and for ``-N --resolved`` (after the model's libxl).  After a
deliberate change of behaviour, review and regenerate them with
``IOREQLAB_REGEN=1 .venv/bin/python -m pytest tests/test_xl_golden.py``.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from ioreqlab.cli import main

DATA = Path(__file__).parent / "data" / "xl"
CASES = sorted(p.stem for p in DATA.glob("*.cfg"))


def run_xl(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, object]:
    """``xl -N create`` (as xl built it) and ``--resolved`` (after the model's libxl)."""
    monkeypatch.chdir(DATA)
    fixed = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")
    monkeypatch.setattr(uuid, "uuid4", lambda: fixed)  # xl's uuid is random
    got: dict[str, object] = {}
    for key, extra in (("", []), ("resolved_", ["--resolved"])):
        code = main(["xl", "-N", "create", *extra, f"{name}.cfg"])
        out = capsys.readouterr()
        got |= {
            f"{key}exit": code,
            f"{key}stdout": json.loads(out.out) if out.out.strip() else None,
            f"{key}stderr": out.err.splitlines(),
        }
    return got


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
