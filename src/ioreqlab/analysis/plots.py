"""Plots of a run, as PNG bytes (the CLI decides where they go).

* ``heap_and_ranges.png`` — Xen heap bytes for tracking, and stored
  ranges/entries, round by round, one line per design;
* ``reshadow_vs_limit.png`` — the planner's sweep: re-shadow work against
  ``max_wp_ram_ranges`` (when a sweep is given);
* ``routing_vs_tracked.png`` — measured routing decision cost against tracked
  pages, per design.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # no display, ever: files only
import matplotlib.pyplot as plt

from ioreqlab.analysis.planner import SweepPoint
from ioreqlab.scenario.runner import DesignResult

__all__ = ["render_plots"]


def _png(fig: object) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)  # type: ignore[attr-defined]  # a matplotlib Figure
    plt.close(fig)  # type: ignore[arg-type]
    return buf.getvalue()


def render_plots(
    results: Mapping[str, DesignResult],
    sweep: Sequence[SweepPoint] | None = None,
    title: str = "",
) -> dict[str, bytes]:
    """Every plot this run supports, by file name."""
    out: dict[str, bytes] = {}
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    for name, r in results.items():
        rounds = [s.round for s in r.series]
        top.plot(rounds, [s.heap_bytes / 1024 for s in r.series], label=name, marker=".")
        bottom.plot(rounds, [s.stored_ranges for s in r.series], label=name, marker=".")
    top.set_ylabel("Xen heap for tracking (KiB)")
    bottom.set_ylabel("stored ranges / entries")
    bottom.set_xlabel("round")
    top.set_title(f"{title}: tracking cost over time" if title else "tracking cost over time")
    top.legend()
    out["heap_and_ranges.png"] = _png(fig)

    if sweep:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        limits = [p.limit for p in sweep]
        ax.plot(limits, [p.pages_reread for p in sweep], marker="o", label="pages re-read")
        ax.plot(limits, [p.reshadows for p in sweep], marker="s", label="re-shadows")
        ax.plot(limits, [p.limit_hits for p in sweep], marker="^", label="limit hits")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("max_wp_ram_ranges")
        ax.set_ylabel("work per run")
        ax.set_title("rangeset design: re-shadow work versus limit")
        ax.legend()
        out["reshadow_vs_limit.png"] = _png(fig)

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, r in results.items():
        pts = [(s.tracked_pages, s.routing_ns) for s in r.series if s.routing_ns > 0]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", linestyle="", label=name)
    ax.set_xlabel("tracked pages")
    ax.set_ylabel("routing decision (ns per write)")
    ax.set_title("routing cost versus tracked pages")
    ax.legend()
    out["routing_vs_tracked.png"] = _png(fig)
    return out
