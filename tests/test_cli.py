"""The ``ioreqlab`` command through its real entry points."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ioreqlab.cli import main
from ioreqlab.demo import run_demo


def test_run_prints_table_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run.json"
    assert main(["run", "--seed", "3", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "limit hits" in text
    data = json.loads(out.read_text())
    assert data["seed"] == 3
    assert len(data["rows"]) == 8
    scattered_256 = [r for r in data["rows"] if r["placement"] == "scattered" and r["limit"] == 256]
    assert all(r["limit_hits"] > 0 and r["stored_ranges"] == 256 for r in scattered_256)


def test_demo_is_deterministic_and_chunks_fit() -> None:
    assert run_demo(7) == run_demo(7)
    for row in run_demo(7):
        if row.placement == "chunked":
            assert row.limit_hits == 0
            assert row.stored_ranges <= 8
        assert row.heap_bytes == row.stored_ranges * (48 if row.layout == "list" else 64)


def test_bad_usage_is_one_line_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ioreqlab", "run", "--seed", "x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("ioreqlab: error:")
    assert "Traceback" not in proc.stderr


def test_unwritable_json_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--json", str(tmp_path / "missing" / "x.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "cannot write" in err


def test_python_dash_m_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ioreqlab", "run"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert "scattered" in proc.stdout
