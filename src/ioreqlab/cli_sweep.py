"""``ioreqlab sweep``: a capacity study, resumable, on any executor.

Layer 6 with :mod:`ioreqlab.cli`.  The results file is JSON lines; each line
is appended (and flushed) as its job finishes, so an interrupted study keeps
what it did, and on the next start only the missing jobs run.  When the study
is complete the file is rewritten (atomically) in job order: the same bytes
whichever executor ran it, however often it was resumed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from ioreqlab.analysis.sweep import jobs_for, key_of, merge, run_job
from ioreqlab.cli_files import UsageError, check_output, progress_bar, read_scenario, write
from ioreqlab.scenario.executor import map_jobs

__all__ = ["sweep"]


def _existing(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: cannot read the results file: {err}") from None
    return [line for line in text.splitlines() if line.strip()]


def sweep(args: argparse.Namespace) -> int:
    """Run every (scenario, limit, seed) not yet in ``--out``; then put the file in order."""
    out = Path(args.out)
    check_output(args.out)
    loaded = [read_scenario(None if s == "builtin" else s) for s in args.scenarios]
    jobs = jobs_for(loaded, args.limits, range(args.seeds))
    lines = _existing(out)
    have = {key_of(line) for line in lines}
    todo = [j for j in jobs if j.key not in have]
    sys.stderr.write(
        f"ioreqlab sweep: {len(jobs):,} jobs ({len(loaded)} scenario(s) x {len(args.limits)} "
        f"limit(s) x {args.seeds} seed(s)); {len(jobs) - len(todo):,} already in {out}, "
        f"{len(todo):,} to run on "
        + (f"Dask ({args.scheduler})" if args.scheduler else f"{args.workers} worker(s)")
        + "\n"
    )
    bar = progress_bar(len(todo), "sweep", unit="run")
    files: list[TextIO] = []  # opened at the first result: a failed start leaves no file

    def finished(i: int, line: str) -> None:
        if not files:
            files.append(out.open("a", encoding="utf-8"))
        files[0].write(line + "\n")
        files[0].flush()  # an interrupted study keeps every finished job
        lines.append(line)
        bar.update(1)

    try:
        map_jobs(run_job, todo, workers=args.workers, scheduler=args.scheduler,
                 on_result=finished)  # fmt: skip
    except OSError as err:
        raise UsageError(f"{out}: cannot write the results file: {err.strerror}") from None
    finally:
        bar.close()
        for f in files:
            f.close()
    write(str(out), "".join(line + "\n" for line in merge(jobs, lines)))
    print(f"ioreqlab sweep: {len(jobs):,} results in {out}")
    return 0
