"""The capacity planner: which ``max_wp_ram_ranges``, and what it costs.

Ian Jackson asked (2016-02-04): "In the configurations where a larger number
is needed, what larger limit is appropriate?  How should it be calculated?"
The planner answers for a given scenario by measurement: it runs the
scenario's vGPU guests on the ``rangeset`` design at each limit of a sweep,
over several seeds, and takes the re-shadow work — guest page-table pages
the mediator had to read again because it could not keep them protected —
per submission, at the chosen percentile across seeds.  The recommendation
is the smallest limit whose work stays within the budget.

Its cost follows from the limit: each guest may hold ``limit`` nodes in the
Xen heap (48 B each for Xen's list node, 64 B for the series' red-black
node), so N guests may hold N times that; the planner reports the headroom
left in the host's heap and whether preallocating that worst case for every
guest (the shadow-pool approach) would fit.  Runs are independent, so the
sweep uses every core.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ioreqlab.alloc import tlsf_cost
from ioreqlab.hv.ioreq import RANGESET_STRUCT_BYTES
from ioreqlab.rangeset import NodeLayout
from ioreqlab.scenario.executor import map_jobs
from ioreqlab.scenario.runner import run_design
from ioreqlab.scenario.spec import Scenario, ScenarioError

__all__ = ["DEFAULT_LIMITS", "PlanResult", "SweepPoint", "percentile", "plan"]

DEFAULT_LIMITS = (256, 512, 1024, 2048, 4096, 8192, 16384)


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """One limit: work at the percentile across seeds."""

    limit: int
    limit_hits: int
    reshadows: int
    pages_reread: int
    reread_per_submission: float

    def to_json(self) -> dict[str, object]:
        """As JSON."""
        return {
            "limit": self.limit,
            "limit_hits": self.limit_hits,
            "reshadows": self.reshadows,
            "pages_reread": self.pages_reread,
            "reread_per_submission": self.reread_per_submission,
        }


@dataclass(frozen=True)
class PlanResult:
    """The recommendation and what it costs."""

    recommended: int
    meets_budget: bool
    percentile: float
    budget: float
    seeds: tuple[int, ...]
    sweep: tuple[SweepPoint, ...]
    guests: int
    heap_bytes_per_guest: int
    heap_bytes_per_host: int
    heap_capacity: int
    preallocation_fits: bool

    def to_json(self) -> dict[str, object]:
        """As JSON (SPEC.md's required keys first)."""
        return {
            "recommended_max_wp_ram_ranges": self.recommended,
            "heap_bytes_per_guest": self.heap_bytes_per_guest,
            "sweep": [p.to_json() for p in self.sweep],
            "meets_budget": self.meets_budget,
            "percentile": self.percentile,
            "budget_pages_reread_per_submission": self.budget,
            "seeds": list(self.seeds),
            "vgpu_guests": self.guests,
            "heap_bytes_per_host": self.heap_bytes_per_host,
            "heap_capacity": self.heap_capacity,
            "heap_headroom": self.heap_capacity - self.heap_bytes_per_host,
            "preallocation_fits": self.preallocation_fits,
        }


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100) of a non-empty sequence.

    >>> percentile([1, 2, 3, 4], 50), percentile([1, 2, 3, 4], 99)
    (2, 4)
    """
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def _one(args: tuple[Scenario, int, int]) -> tuple[int, int, int, int, int, int]:
    scenario, seed, limit = args
    r = run_design(replace(scenario, seed=seed), "rangeset", wp_limit=limit)
    return limit, seed, r.limit_hits, r.reshadows, r.pages_reread, r.submissions


def plan(
    scenario: Scenario,
    *,
    limits: Sequence[int] = DEFAULT_LIMITS,
    seeds: Sequence[int] = (0, 1, 2),
    pct: float = 99.0,
    budget: float = 0.0,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    scheduler: str | None = None,
) -> PlanResult:
    """Sweep ``limits`` × ``seeds`` on the rangeset design and recommend a limit.

    The runs go to :func:`ioreqlab.scenario.executor.map_jobs` (``workers``
    processes, or Dask's ``scheduler``): the answer is the same on any.
    """
    if not limits or not seeds:
        raise ScenarioError("the sweep needs at least one limit and one seed")
    if not 0 < pct <= 100:
        raise ScenarioError(f"percentile {pct} is not in (0, 100]")
    jobs = [(scenario, scenario.seed + s, lim) for lim in limits for s in seeds]
    rows = map_jobs(_one, jobs, workers=workers, scheduler=scheduler, progress=progress)
    sweep = []
    for lim in sorted(set(limits)):
        mine = [r for r in rows if r[0] == lim]
        per_sub = [r[4] / r[5] if r[5] else 0.0 for r in mine]
        sweep.append(
            SweepPoint(
                limit=lim,
                limit_hits=int(percentile([r[2] for r in mine], pct)),
                reshadows=int(percentile([r[3] for r in mine], pct)),
                pages_reread=int(percentile([r[4] for r in mine], pct)),
                reread_per_submission=round(percentile(per_sub, pct), 3),
            )
        )
    good = [p for p in sweep if p.reread_per_submission <= budget]
    chosen = good[0].limit if good else sweep[-1].limit
    layout = NodeLayout[scenario.host.node_layout.upper()]
    per_guest = chosen * layout.heap_cost + tlsf_cost(RANGESET_STRUCT_BYTES)
    guests = sum(d.count for d in scenario.domains if d.workload.kind in ("gpu", "hostile"))
    capacity = scenario.host.xen_heap_mib << 20
    return PlanResult(
        recommended=chosen,
        meets_budget=bool(good),
        percentile=pct,
        budget=budget,
        seeds=tuple(scenario.seed + s for s in seeds),
        sweep=tuple(sweep),
        guests=guests,
        heap_bytes_per_guest=per_guest,
        heap_bytes_per_host=per_guest * guests,
        heap_capacity=capacity,
        preallocation_fits=per_guest * guests <= capacity,
    )
