"""Re-test a stage's surviving mutants against today's tests, without a new mutmut run.

A stage run takes up to an hour on one core; after tests are added, this
checks just its survivors.  It copies today's checkout to
``build/mutate/<stage>.retest/``, puts in the stage's mutated modules (mutmut's
trampolined copies from the stage run: the mutants are the ones the record
names, even where the source has moved on since), runs the stage's tests
once with no mutant switched on (if that fails, today's tests and the old
modules disagree, and nothing is recorded), then once per survivor with
``MUTANT_UNDER_TEST`` set.  The first failing test of each killed mutant goes
to ``docs/mutation/<stage>.retest.json``; ``python -m tests.mutation --doc``
lists those as killed by today's tests.

    python -m tests.mutation_retest hv-ioreq
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.mutation import BUILD, RECORDS, ROOT, STAGES, counter_only, message_only, record_digest

__all__ = ["retest_stage"]


def _pytest(work: Path, tests: list[str], mutant: str) -> tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=f"{work / 'src'}:{work}", MUTANT_UNDER_TEST=mutant)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-rf", "-p", "no:cacheprovider",
         "-o", "addopts=", *tests],
        cwd=work, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    failed = [
        line.split()[1].split("[")[0]
        for line in done.stdout.splitlines()
        if line.startswith(("FAILED ", "ERROR "))
    ]
    return done.returncode, failed[0] if failed else "(pytest failed before a test ran)"


def retest_stage(name: str) -> dict[str, str]:
    """Survivor -> the first test that kills it today (survivors still alive left out)."""
    record = json.loads((RECORDS / f"{name}.json").read_text())
    stage_dir = BUILD / name
    work = BUILD / f"{name}.retest"
    if work.exists():
        shutil.rmtree(work)
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.split(b"\0")  # fmt: skip
    for raw in filter(None, files):
        rel = Path(raw.decode())
        if (ROOT / rel).is_file():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, work / rel)
    for module in (stage_dir / "mutants" / "src").rglob("*.py"):
        rel = module.relative_to(stage_dir / "mutants")
        if "mutmut" in module.read_text():  # a trampolined module of this stage
            shutil.copy2(module, work / rel)
    tests = [f"tests/{t}.py" for t in STAGES[name][1]]
    code, first = _pytest(work, tests, "")
    if code:
        raise SystemExit(f"{name}: today's tests fail on the stage's modules ({first})")
    diffs = record["diffs"]
    todo = [
        m
        for m in record["survivors"]
        if not message_only(diffs.get(m, [])) and not counter_only(diffs.get(m, []))
    ]
    killed: dict[str, str] = {}
    for mutant in todo:
        code, first = _pytest(work, tests, mutant)
        if code:
            killed[mutant] = first
    out = {"record": record_digest(name), "killed": killed}
    (RECORDS / f"{name}.retest.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    shutil.rmtree(work)
    print(f"{name}: {len(killed)} of {len(todo)} survivors killed by today's tests")
    return killed


if __name__ == "__main__":
    for stage in sys.argv[1:]:
        retest_stage(stage)
