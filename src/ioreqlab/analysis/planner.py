"""The capacity planner: which ``max_wp_ram_ranges``, and what it costs.

Ian Jackson asked (2016-02-04): "In the configurations where a larger number
is needed, what larger limit is appropriate?  How should it be calculated?"
The planner answers for a given scenario by measurement, under the host's
GVT-g policy (``[host] gvt_policy``):

* ``shipped`` (what GVT-g does): every table page of every shadowed tree must
  stay protected, and a refused protection sends the vGPU into failsafe.  So
  the limit a guest needs is the peak of its stored ranges over the run (not
  the end state).  The planner measures each vGPU's peak on the ``p2m`` design
  (which protects the same pages and never refuses), per seed, and recommends
  the largest peak at the percentile across seeds.  The sweep shows how many
  vGPUs went failsafe at each limit; the recommendation is run too, and must
  show none;
* ``proposal-2016`` (the thread's fallback, never shipped): the re-shadow work
  — pages re-read because they could not be kept protected — per submission
  at the percentile; the recommendation is the smallest limit within budget.

When the need is above the host's cap (a boot option of the hypervisor), the
plan says so, names the option, and shows what the cap itself costs: which
guests fail, in how many seeds.  It also says how many such vGPU guests the
host fits: the GPU's slots for the vGPU type (vgpu.c's table) and the Xen heap,
with every guest's worst case preallocated and with the measured use.

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
from typing import Any

from ioreqlab.alloc import tlsf_cost
from ioreqlab.analysis.staged import Job, run_staged
from ioreqlab.dm.gvt_gpu import vgpu_slots
from ioreqlab.hv.ioreq import RANGESET_STRUCT_BYTES
from ioreqlab.rangeset import NodeLayout
from ioreqlab.scenario.runner import run_design
from ioreqlab.scenario.spec import Scenario, ScenarioError

__all__ = ["DEFAULT_LIMITS", "PlanResult", "PlanWork", "SweepPoint", "percentile", "plan"]

DEFAULT_LIMITS = (256, 512, 1024, 2048, 4096, 8192, 16384)
#: The hypervisor boot option that bounds every guest's ``max_wp_ram_ranges``.
CAP_OPTION = "wp_ram_ranges_cap"


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """One limit: work at the percentile across seeds."""

    limit: int
    limit_hits: int
    reshadows: int
    pages_reread: int
    reread_per_submission: float
    failsafe_vgpus: int = 0
    lost_submissions: int = 0

    def to_json(self) -> dict[str, object]:
        """As JSON."""
        return {
            "limit": self.limit,
            "limit_hits": self.limit_hits,
            "reshadows": self.reshadows,
            "pages_reread": self.pages_reread,
            "reread_per_submission": self.reread_per_submission,
            "failsafe_vgpus": self.failsafe_vgpus,
            "lost_submissions": self.lost_submissions,
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
    policy: str = "proposal-2016"
    cap: int = 0
    #: The measured need (shipped: the peak of stored ranges at the percentile).
    needed: int = 0
    #: At the cap, when the need is above it: guest → share of seeds it failed in.
    at_cap: dict[str, float] | None = None
    at_cap_lost_submissions: int = 0
    capacity: dict[str, object] | None = None

    @property
    def exceeds_cap(self) -> bool:
        """The recommendation is above what the host allows."""
        return self.recommended > self.cap

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
            "policy": self.policy,
            "needed_ranges": self.needed,
            "cap": self.cap,
            "exceeds_cap": self.exceeds_cap,
            "cap_option": CAP_OPTION,
            "at_cap": (
                None
                if self.at_cap is None
                else {
                    "limit": self.cap,
                    "failing_guests": dict(self.at_cap),
                    "lost_submissions": self.at_cap_lost_submissions,
                }
            ),
            "capacity": self.capacity,
        }


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100) of a non-empty sequence.

    >>> percentile([1, 2, 3, 4], 50), percentile([1, 2, 3, 4], 99)
    (2, 4)
    """
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class _Run:
    limit: int | None  # None: the p2m measurement of the need
    seed: int
    limit_hits: int
    reshadows: int
    pages_reread: int
    submissions: int
    lost: int
    failed: tuple[str, ...]
    peaks: tuple[tuple[str, int], ...]


def _one(args: tuple[Scenario, int, int | None]) -> _Run:
    """One run of the sweep: ``limit`` on the rangeset design, or with ``None``
    the p2m design, which protects the same pages and refuses none (the need).
    A limit of 0 is a limit like any other: the guest's ``max_wp_ram_ranges``
    is 0, which Xen applies as its default."""
    scenario, seed, limit = args
    design = "p2m" if limit is None else "rangeset"
    r = run_design(replace(scenario, seed=seed), design, wp_limit=limit)
    failed = tuple(sorted(g for g, v in r.guests.items() if v.get("failsafe")))
    peaks = tuple(sorted((g, int(v["peak_runs"])) for g, v in r.guests.items() if "peak_runs" in v))
    return _Run(
        limit, seed, r.limit_hits, r.reshadows, r.pages_reread, r.submissions,
        r.lost_submissions, failed, peaks,
    )  # fmt: skip


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
    ``progress(done, total)`` comes as each run ends.
    """
    work = PlanWork(scenario, tuple(limits), tuple(seeds), pct, budget)

    def step(done: int, total: int, _analysis: int) -> None:
        if progress:
            progress(done, total)

    answer: PlanResult = run_staged([work], workers=workers, scheduler=scheduler, progress=step)[0]
    return answer


@dataclass(frozen=True, slots=True)
class PlanWork:
    """:func:`plan` as rounds of runs (:mod:`ioreqlab.analysis.staged`).

    Under the shipped policy the first round runs the need (p2m, one run per
    seed) together with every limit known before it, the host's cap included;
    the second, the measured need itself, unless the first already ran it.
    Running the cap before the need is known costs a wasted run per seed only
    when the need is 0 (no vGPU stores a range); it is then left out of the
    answer, as it would have been never run.
    """

    scenario: Scenario
    limits: tuple[int, ...]
    seeds: tuple[int, ...]
    pct: float
    budget: float

    def __post_init__(self) -> None:
        if not self.limits or not self.seeds:
            raise ScenarioError("the sweep needs at least one limit and one seed")
        if not 0 < self.pct <= 100:
            raise ScenarioError(f"percentile {self.pct} is not in (0, 100]")

    @property
    def _shipped(self) -> bool:
        return self.scenario.host.gvt_policy == "shipped"

    @property
    def _seeds(self) -> list[int]:
        return [self.scenario.seed + s for s in self.seeds]

    def _jobs(self, limits: Sequence[int | None]) -> list[Job]:
        return [(_one, (self.scenario, s, lim)) for lim in limits for s in self._seeds]

    def first(self) -> list[Job]:
        # Longest first, so that no worker is left with a long run at the end: a
        # higher limit sends fewer vGPUs into failsafe early, so its run does more;
        # the need's p2m runs are shorter than a rangeset run of the same work.
        cap = [self.scenario.host.wp_ram_ranges_cap] if self._shipped else []
        need: list[int | None] = [None] if self._shipped else []
        return self._jobs([*sorted({*self.limits, *cap}, reverse=True), *need])

    def _needed(self, runs: Sequence[_Run]) -> int:
        """Each vGPU's peak, per seed, where nothing is refused; at the percentile."""
        if not self._shipped:
            return 0
        per_seed = [max((p for _g, p in r.peaks), default=0) for r in runs if r.limit is None]
        return int(percentile(per_seed, self.pct))

    def then(self, results: Sequence[Any]) -> list[Job]:
        needed = self._needed(results)
        if not needed or any(r.limit == needed for r in results):
            return []
        return self._jobs([needed])

    def finish(self, results: Sequence[Any]) -> PlanResult:
        needed = self._needed(results)
        cap = self.scenario.host.wp_ram_ranges_cap
        tried = sorted({*self.limits, *([needed, cap] if self._shipped and needed else [])})
        by_key = {(r.limit, r.seed): r for r in results}
        rows = [by_key[lim, s] for lim in tried for s in self._seeds]
        return _answer(self.scenario, rows, tried, self._seeds, self.pct, self.budget, needed)


def _answer(
    scenario: Scenario,
    rows: list[_Run],
    tried: list[int],
    seed_list: list[int],
    pct: float,
    budget: float,
    needed: int,
) -> PlanResult:
    shipped = scenario.host.gvt_policy == "shipped"
    cap = scenario.host.wp_ram_ranges_cap
    sweep = []
    for lim in tried:
        mine = [r for r in rows if r.limit == lim]
        per_sub = [r.pages_reread / r.submissions if r.submissions else 0.0 for r in mine]
        sweep.append(
            SweepPoint(
                limit=lim,
                limit_hits=int(percentile([r.limit_hits for r in mine], pct)),
                reshadows=int(percentile([r.reshadows for r in mine], pct)),
                pages_reread=int(percentile([r.pages_reread for r in mine], pct)),
                reread_per_submission=round(percentile(per_sub, pct), 3),
                failsafe_vgpus=int(percentile([len(r.failed) for r in mine], pct)),
                lost_submissions=int(percentile([r.lost for r in mine], pct)),
            )
        )
    if shipped:
        good = [p for p in sweep if p.failsafe_vgpus == 0 and p.limit >= needed]
        chosen = needed if needed else sweep[0].limit
        meets = any(p.limit == chosen for p in good)
    else:
        good = [p for p in sweep if p.reread_per_submission <= budget]
        chosen = good[0].limit if good else sweep[-1].limit
        meets = bool(good)
    at_cap: dict[str, float] | None = None
    lost_at_cap = 0
    if shipped and chosen > cap:
        mine = [r for r in rows if r.limit == cap]
        names = sorted({g for r in mine for g in r.failed})
        at_cap = {g: round(sum(g in r.failed for r in mine) / len(mine), 3) for g in names}
        lost_at_cap = int(percentile([r.lost for r in mine], pct))
    layout = NodeLayout[scenario.host.node_layout.upper()]
    per_guest = chosen * layout.heap_cost + tlsf_cost(RANGESET_STRUCT_BYTES)
    guests = sum(d.count for d in scenario.domains if d.workload.kind in ("gpu", "hostile"))
    capacity = scenario.host.xen_heap_mib << 20
    measured = [r for r in rows if r.limit == chosen] or rows
    peak_ranges = max((p for r in measured for _g, p in r.peaks), default=0) or needed
    used = (peak_ranges or chosen) * layout.heap_cost + tlsf_cost(RANGESET_STRUCT_BYTES)
    h = scenario.host
    slots = vgpu_slots(h.gpu, h.vgpu_type, h.aperture_mib << 20)
    fit = {
        "vgpu_type": h.vgpu_type,
        "gpu_slots": slots,
        "heap_bytes_per_guest_preallocated": per_guest,
        "heap_bytes_per_guest_measured": used,
        "by_heap_preallocated": capacity // per_guest,
        "by_heap_measured": capacity // used,
        "fit_preallocated": min(slots, capacity // per_guest),
        "fit_measured": min(slots, capacity // used),
    }
    return PlanResult(
        recommended=chosen,
        meets_budget=meets,
        percentile=pct,
        budget=budget,
        seeds=tuple(seed_list),
        sweep=tuple(sweep),
        guests=guests,
        heap_bytes_per_guest=per_guest,
        heap_bytes_per_host=per_guest * guests,
        heap_capacity=capacity,
        preallocation_fits=per_guest * guests <= capacity,
        policy=scenario.host.gvt_policy,
        cap=cap,
        needed=needed,
        at_cap=at_cap,
        at_cap_lost_submissions=lost_at_cap,
        capacity=fit,
    )
