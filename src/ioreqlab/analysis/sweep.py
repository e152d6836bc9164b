"""A capacity study: scenarios × ``max_wp_ram_ranges`` limits × seeds, one JSON line each.

Rules
-----
1. A job is one rangeset-design run of one scenario at one limit and seed;
   its line holds the scenario's name and the SHA-256 of its text, the limit,
   the seed and the run's counts (no timing: every line is the same bytes
   wherever and whenever it ran).
2. Resumable: a job whose key (scenario hash, limit, seed) is already in the
   results file is not run again.  :func:`merge` puts old and new lines in
   job order (lines of other studies after them, as they were), so the file
   a finished study leaves is the same bytes whichever executor ran it and
   however often it was resumed.
3. Pure: the CLI reads the files and writes the lines.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ioreqlab.scenario.runner import run_design
from ioreqlab.scenario.spec import Scenario

__all__ = ["SweepJob", "jobs_for", "key_of", "merge", "run_job"]

#: The counts each line carries, from the run's :class:`DesignResult`.
COUNTS = (
    "tracked_pages", "peak_tracked_pages", "stored_ranges", "heap_bytes", "heap_bytes_total",
    "limit_hits", "reshadows", "pages_reread", "shadow_mismatches", "unprotections",
    "evictions", "submissions", "accesses",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SweepJob:
    """One run of the study."""

    scenario: Scenario
    digest: str  # SHA-256 of the scenario file's text
    limit: int
    seed: int

    @property
    def key(self) -> tuple[str, int, int]:
        """What identifies its line in the results file."""
        return self.digest, self.limit, self.seed


def digest(text: str) -> str:
    """The SHA-256 of a scenario's text, as a line names it."""
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def jobs_for(
    scenarios: Sequence[tuple[Scenario, str]], limits: Sequence[int], seeds: Sequence[int]
) -> list[SweepJob]:
    """Every (scenario, limit, seed), in that nesting order; ``scenarios`` pairs a
    loaded scenario with its text.  Seeds count from the scenario's own seed, as
    ``plan``'s do."""
    return [
        SweepJob(sc, digest(text), lim, sc.seed + seed)
        for sc, text in scenarios
        for lim in limits
        for seed in seeds
    ]


def run_job(job: SweepJob) -> str:
    """The job's JSON line (without its newline)."""
    r = run_design(replace(job.scenario, seed=job.seed), "rangeset", wp_limit=job.limit)
    line = {
        "scenario": job.scenario.name, "sha256": job.digest, "limit": job.limit,
        "seed": job.seed, "rounds": job.scenario.rounds,
        **{k: getattr(r, k) for k in COUNTS},
    }  # fmt: skip
    return json.dumps(line, sort_keys=False, separators=(", ", ": "))


def key_of(line: str) -> tuple[str, int, int] | None:
    """The key of a results line, or None if it is not one of ours."""
    try:
        d = json.loads(line)
        return str(d["sha256"]), int(d["limit"]), int(d["seed"])
    except (ValueError, KeyError, TypeError):
        return None


def merge(jobs: Sequence[SweepJob], lines: Iterable[str]) -> list[str]:
    """The study's lines in job order, then every other line as it was."""
    by_key: dict[tuple[str, int, int], str] = {}
    others = []
    for line in lines:
        k = key_of(line)
        if k is None or k in by_key:
            if k is None:
                others.append(line)
            continue
        by_key[k] = line
    wanted = {j.key for j in jobs}
    ordered = [by_key[j.key] for j in jobs if j.key in by_key]
    return ordered + [line for k, line in by_key.items() if k not in wanted] + others
