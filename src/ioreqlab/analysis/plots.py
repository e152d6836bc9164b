"""Plots of a run, as PNG bytes (the CLI decides where they go).

* ``heap_and_ranges.png`` — Xen heap bytes for tracking (KiB), and stored
  ranges/entries, round by round, one line per design;
* ``reshadow_vs_limit.png`` — the planner's sweep of the rangeset design:
  vGPUs in failsafe, pages re-read, trees re-shadowed and protections refused against
  ``max_wp_ram_ranges``, one panel per unit, with the guests' limit and the
  planner's recommendation marked (only when a sweep is given);
* ``routing_vs_tracked.png`` — the model's own routing time (this machine's,
  not Xen's) against tracked pages, per design.

Every plot carries the scenario's name in its title, and lines that can
coincide (p2m and p2t store the same entries) differ in marker and dash.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # no display, ever: files only
import matplotlib.pyplot as plt

from ioreqlab.analysis.planner import SweepPoint
from ioreqlab.scenario.runner import DesignResult

__all__ = ["STYLES", "render_plots", "sweep_plot"]

#: Marker and dash per design, so that coinciding lines stay distinguishable.
STYLES = {"rangeset": ("o", "-"), "p2m": ("s", "--"), "p2t": ("^", ":")}


def _png(fig: object) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)  # type: ignore[attr-defined]  # a matplotlib Figure
    plt.close(fig)  # type: ignore[arg-type]
    return buf.getvalue()


def _style(name: str) -> dict[str, object]:
    marker, dash = STYLES.get(name, ("x", "-."))
    return {"marker": marker, "linestyle": dash, "markersize": 4, "label": name}


def _titled(title: str, what: str) -> str:
    return f"{title}: {what}" if title else what


def render_plots(
    results: Mapping[str, DesignResult],
    sweep: Sequence[SweepPoint] | None = None,
    title: str = "",
    *,
    limit: int | None = None,
    recommended: int | None = None,
) -> dict[str, bytes]:
    """Every plot this run supports, by file name.

    ``limit`` is the ``max_wp_ram_ranges`` the run's vGPU guests had and
    ``recommended`` the planner's answer; both are marked on the sweep.
    """
    out: dict[str, bytes] = {}
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    for name, r in results.items():
        rounds = [s.round for s in r.series]
        top.plot(rounds, [s.heap_bytes / 1024 for s in r.series], **_style(name))
        bottom.plot(rounds, [s.stored_ranges for s in r.series], **_style(name))
    top.set_ylabel("Xen heap for tracking (KiB)")
    bottom.set_ylabel("stored ranges / entries")
    bottom.set_xlabel("round")
    top.set_title(_titled(title, "tracking cost over time"))
    if results:
        top.legend()
        bottom.legend()
    out["heap_and_ranges.png"] = _png(fig)

    if sweep:
        out["reshadow_vs_limit.png"] = sweep_plot(sweep, title, limit, recommended)

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, r in results.items():
        pts = [(s.tracked_pages, s.routing_ns) for s in r.series if s.routing_ns > 0]
        if pts:
            style = {**_style(name), "linestyle": ""}
            ax.plot([p[0] for p in pts], [p[1] for p in pts], **style)  # type: ignore[arg-type]
    ax.set_xlabel("tracked pages")
    ax.set_ylabel("model's routing time (ns per write)")
    ax.set_title(_titled(title, "the model's own routing time (this machine, not Xen)"))
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    out["routing_vs_tracked.png"] = _png(fig)
    return out


def sweep_plot(
    sweep: Sequence[SweepPoint], title: str, limit: int | None, recommended: int | None
) -> bytes:
    """The planner's sweep: one panel per unit, the limit and the recommendation marked."""
    limits = [p.limit for p in sweep]
    panels = (
        ("vGPUs in failsafe", "vGPUs", [p.failsafe_vgpus for p in sweep], "x"),
        ("pages re-read", "pages", [p.pages_reread for p in sweep], "o"),
        ("trees re-shadowed", "trees", [p.reshadows for p in sweep], "s"),
        ("protections refused", "refusals", [p.limit_hits for p in sweep], "^"),
    )
    fig, axes = plt.subplots(4, 1, figsize=(8, 10), sharex=True)
    for ax, (what, unit, values, marker) in zip(axes, panels, strict=True):
        ax.plot(limits, values, marker=marker, label=what)
        ax.set_ylabel(f"{what}\n({unit} per run)")
        if limit is not None:
            ax.axvline(limit, color="grey", linestyle="--", label=f"guests' limit ({limit:,})")
        if recommended is not None:
            ax.axvline(
                recommended, color="green", linestyle=":", label=f"recommended ({recommended:,})"
            )
        ax.legend(fontsize="small")
    axes[-1].set_xscale("log", base=2)
    axes[-1].set_xlabel("max_wp_ram_ranges")
    axes[0].set_title(_titled(title, "rangeset design: failsafe and re-shadow work versus limit"))
    return _png(fig)
