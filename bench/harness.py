"""Timing and reporting shared by the benchmark suites.

Every figure is measured as per-operation nanoseconds over several repetitions
of a batch (min / median / max reported, as sortedcontainers' harness does),
and every suite reports ratios against a baseline measured in the same run, so
the conclusions hold on any machine even though the absolute numbers do not.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Timing", "machine_note", "markdown_table", "time_batch"]


@dataclass(frozen=True, slots=True)
class Timing:
    """Per-operation nanoseconds over the repetitions of one measurement."""

    min_ns: float
    median_ns: float
    max_ns: float

    def __str__(self) -> str:
        return fmt_ns(self.median_ns)

    def net_of(self, overhead: Timing) -> Timing:
        """This timing less a baseline loop's median (never below 1 ns)."""
        d = overhead.median_ns
        return Timing(
            max(self.min_ns - d, 1.0), max(self.median_ns - d, 1.0), max(self.max_ns - d, 1.0)
        )


def fmt_ns(ns: float) -> str:
    """A compact human figure: ``812 ns``, ``3.4 µs``, ``1.2 ms``."""
    if ns < 1_000:
        return f"{ns:.0f} ns"
    if ns < 1_000_000:
        return f"{ns / 1_000:.1f} µs"
    return f"{ns / 1_000_000:.2f} ms"


def time_batch(
    batch: Callable[[], object],
    ops_per_batch: int,
    *,
    repeat: int = 5,
    setup: Callable[[], object] | None = None,
) -> Timing:
    """Time ``batch`` ``repeat`` times (after one warm-up); ns per operation.

    ``setup`` runs untimed before each repetition (to restore state a batch
    changed).
    """
    samples = []
    for i in range(repeat + 1):
        if setup is not None:
            setup()
        t0 = time.perf_counter_ns()
        batch()
        elapsed = time.perf_counter_ns() - t0
        if i:  # the first run warms caches and is discarded
            samples.append(elapsed / ops_per_batch)
    return Timing(min(samples), statistics.median(samples), max(samples))


def interleaved(
    batches: dict[str, Callable[[], object]], ops_per_batch: int, *, rounds: int = 7
) -> dict[str, float]:
    """Each batch once per round, in turn (after one warm-up round); the fastest
    round of each, ns per operation.

    For a ratio of two batches on a shared machine: a slow spell hits every
    batch of its round, not all the samples of one side, and the fastest round
    is the one least disturbed (as ``timeit`` advises).
    """
    best = dict.fromkeys(batches, float("inf"))
    for i in range(rounds + 1):
        for name, batch in batches.items():
            t0 = time.perf_counter_ns()
            batch()
            elapsed = time.perf_counter_ns() - t0
            if i:
                best[name] = min(best[name], elapsed / ops_per_batch)
    return best


def machine_note() -> str:
    """One line naming the machine the figures come from."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


def markdown_table(head: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table, right-aligned after the first column."""
    lines = ["| " + " | ".join(head) + " |"]
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)
