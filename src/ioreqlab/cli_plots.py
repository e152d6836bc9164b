"""``run --plots`` and ``--report``'s plots: drawn, the extra sweep announced, written.

Layer 6 with :mod:`ioreqlab.cli`: it writes to stderr and into the plots folder.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ioreqlab.cli_files import UsageError, progress_bar, write
from ioreqlab.scenario import Scenario
from ioreqlab.scenario.executor import default_workers
from ioreqlab.toolstack import build_config

__all__ = ["PLOT_LIMITS", "run_plots"]


#: The limits ``run --plots`` sweeps the rangeset design over (one seed).
PLOT_LIMITS = (256, 1024, 4096, 8192, 16384)


def run_plots(where: str | None, scenario: Scenario, results: dict[str, Any]) -> dict[str, bytes]:
    """``run --plots``/``--report``: the run's plots, and the rangeset design's limit sweep
    (an extra ``len(PLOT_LIMITS)`` runs, said so on stderr, with a progress bar); written
    into ``where`` if given."""
    from dataclasses import replace

    from ioreqlab.analysis.planner import plan
    from ioreqlab.analysis.plots import render_plots

    sweep, recommended = None, None
    if "rangeset" in scenario.host.designs:
        n = len(PLOT_LIMITS)
        extra = ""
        if scenario.host.gvt_policy == "shipped":
            # plan() also measures the need (one p2m run) and runs it and the host's cap.
            extra = ", plus one run to measure the need and the need and the cap themselves"
            n += 2
        sys.stderr.write(
            f"ioreqlab: plots: an extra sweep of the rangeset design, {len(PLOT_LIMITS)} "
            f"limits x 1 seed{extra} (about {n} runs of {scenario.rounds} rounds)\n"
        )
        bar = progress_bar(n, "sweep", unit="run")
        planned = plan(
            scenario, limits=PLOT_LIMITS, seeds=(0,), workers=default_workers(),
            progress=lambda done, total: bar.update(1),
        )  # fmt: skip
        bar.close()
        sweep, recommended = planned.sweep, planned.recommended
    else:
        sys.stderr.write(
            "ioreqlab: plots: no rangeset design in this scenario: "
            "reshadow_vs_limit.png is left out\n"
        )
    limits = set()  # what the vGPU guests' max_wp_ram_ranges came to (marked if one value)
    for d in scenario.domains:
        config = build_config(replace(d.xl, warnings=[]), gpu=scenario.host.gpu)
        if config.vgt:
            limits.add(config.max_wp_ram_ranges)
    pngs = render_plots(
        results, sweep=sweep, title=scenario.name,
        limit=limits.pop() if len(limits) == 1 else None, recommended=recommended,
    )  # fmt: skip
    if where is not None:
        out = Path(where)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UsageError(f"cannot create {where}: {err.strerror}") from None
        for name, png in pngs.items():
            write(str(out / name), png)
    return pngs
