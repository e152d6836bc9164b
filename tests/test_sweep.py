"""``ioreqlab sweep`` and the executors behind run, plan and sweep (issue 18).

The same jobs give the same bytes on one process, a process pool and a Dask
``LocalCluster``; a study resumes where it stopped and ends with the file a
single uninterrupted run writes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ioreqlab.analysis.planner import plan
from ioreqlab.scenario import load_scenario, run_scenario
from ioreqlab.scenario.executor import map_jobs

TINY = """
name = "tiny"
seed = 3
rounds = 3

[[domain]]
count = 2
xl_cfg = '''
name = "vm"
type = "hvm"
memory = 512
vgt = 1
'''
[domain.workload]
kind = "gpu"
processes = 2
leaves = 12
"""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ioreqlab", *args], capture_output=True, text=True, check=False
    )


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def _square(x: int) -> int:
    return x * x


def test_map_jobs_keeps_job_order_on_every_executor() -> None:
    seen: list[int] = []
    jobs = list(range(12))
    for workers in (1, 2):
        assert map_jobs(_square, jobs, workers=workers, on_result=lambda i, r: seen.append(i)) == [
            x * x for x in jobs
        ]
    assert sorted(seen) == sorted(jobs * 2)


def test_a_study_is_the_same_bytes_resumed_or_not_and_on_dask(tiny: Path, tmp_path: Path) -> None:
    whole, resumed, dask = (
        tmp_path / "whole.jsonl",
        tmp_path / "resumed.jsonl",
        tmp_path / "d.jsonl",
    )
    base = ["sweep", str(tiny), "--seeds", "2"]
    first = cli(*base, "--limits", "16", "64", "--out", str(whole), "--workers", "1")
    assert first.returncode == 0, first.stderr
    lines = whole.read_text().splitlines()
    assert len(lines) == 4
    row = json.loads(lines[0])
    assert (row["scenario"], row["limit"], row["seed"], row["rounds"]) == ("tiny", 16, 3, 3)
    assert "ns_per_access" not in row  # no timing: the same bytes anywhere
    # Resume: half the study first, then the whole; only the missing jobs run.
    half = cli(*base, "--limits", "64", "--out", str(resumed), "--workers", "2")
    assert half.returncode == 0, half.stderr
    again = cli(*base, "--limits", "16", "64", "--out", str(resumed), "--workers", "2")
    assert again.returncode == 0, again.stderr
    assert "2 already in" in again.stderr
    assert "2 to run" in again.stderr
    assert resumed.read_bytes() == whole.read_bytes()
    # The same study on a Dask LocalCluster.
    on_dask = cli(*base, "--limits", "16", "64", "--out", str(dask), "--workers", "2",
                  "--scheduler", "local")  # fmt: skip
    assert on_dask.returncode == 0, on_dask.stderr
    assert "Dask (local)" in on_dask.stderr
    assert dask.read_bytes() == whole.read_bytes()
    # Complete already: nothing runs, nothing changes.
    done = cli(*base, "--limits", "16", "64", "--out", str(whole))
    assert "0 to run" in done.stderr
    assert whole.read_text().splitlines() == lines


def test_run_and_plan_answer_the_same_on_one_worker_or_many(tiny: Path) -> None:
    sc = load_scenario(TINY, "tiny")
    one = run_scenario(sc, workers=1)
    two = run_scenario(sc, workers=2)
    strip = {"ns_per_access", "series"}

    def counts(r: object) -> dict[str, object]:
        return {k: v for k, v in r.to_json().items() if k not in strip}  # type: ignore[attr-defined]

    assert {d: counts(r) for d, r in one.items()} == {d: counts(r) for d, r in two.items()}
    assert plan(sc, limits=(16, 64), seeds=(0, 1), workers=1) == plan(
        sc, limits=(16, 64), seeds=(0, 1), workers=2
    )


def test_bad_executor_settings_are_one_line(tiny: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "x.jsonl")
    bad = cli("sweep", str(tiny), "--limits", "16", "--out", out, "--scheduler", "udp://x")
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1
    assert "use 'local' or tcp://HOST:PORT" in bad.stderr
    assert not Path(out).exists()  # refused before any work: no file
    zero = cli("run", str(tiny), "--workers", "0")
    assert zero.returncode == 2
    assert "must be at least 1" in zero.stderr
