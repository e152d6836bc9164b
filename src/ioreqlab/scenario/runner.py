"""Running a scenario on each design: the same guests, seeds and workload.

For one design the runner builds a host, creates every guest through the
toolstack (xl.cfg → libxl → hypercalls), starts a QEMU-like emulator for each
HVM guest and a GVT-g mediator for each vGPU guest, then lets the guests'
workloads take turns on a deterministic event engine for ``rounds`` rounds.
After each round it samples what the analysis plots; at the end it returns a
frozen :class:`DesignResult`.

Randomness: each guest's generator is seeded from the scenario seed and the
guest's name, so every design sees exactly the same guest behaviour.  Time:
the only clock is the one the caller passes in (the CLI passes a real one);
without it, measured fields are 0 and everything else is unchanged.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ioreqlab import devicemodel
from ioreqlab.dm.gvt_gpu import GENERATIONS, PhysicalGpu
from ioreqlab.dm.gvt_shipped import mediator_class
from ioreqlab.dm.gvtg import MediatorBase
from ioreqlab.dm.qemu import QemuEmulator
from ioreqlab.errors import XenError
from ioreqlab.host import DomainStats, Host
from ioreqlab.hv.domain import LOWMEM_END_PFN
from ioreqlab.scenario.engine import Engine
from ioreqlab.scenario.executor import map_jobs
from ioreqlab.scenario.spec import DomainSpec, Scenario, ScenarioError, WorkloadSpec
from ioreqlab.toolstack import LibxlError, XlError, build_config, domain_create, parse_xl_cfg
from ioreqlab.workload.devices import move_bar, pci_probe, uart_print
from ioreqlab.workload.gpu import GpuDriver, GpuProcess, HostileGpuDriver
from ioreqlab.workload.guest import Guest, GuestAllocator, TraceRecord

__all__ = ["Clock", "DesignResult", "GuestRun", "Sample", "run_design", "run_scenario"]

Clock = Callable[[], int]
Progress = Callable[[str, int, int], None]

MEDIATOR_COUNTERS = (
    "limit_hits",
    "reshadows",
    "pages_reread",
    "shadow_mismatches",
    "unprotections",
    "evictions",
    "submissions",
    "submissions_run",
    "lost_submissions",
    "trapped_writes",
    "protections",
    "stale_entries",
    "oos_syncs",
    "failsafe",
    "peak_protected_pages",
    "peak_runs",
    "mediator_cpu_ns",
    "oos_pages_peak",
)


@dataclass(frozen=True, slots=True)
class Sample:
    """The host after one round."""

    round: int
    tracked_pages: int
    stored_ranges: int
    heap_bytes: int
    reshadows: int
    routing_ns: float


@dataclass(frozen=True)
class DesignResult:
    """Everything one design did with the scenario."""

    design: str
    tracked_pages: int
    peak_tracked_pages: int
    stored_ranges: int
    heap_bytes: int
    heap_bytes_total: int
    limit_hits: int
    reshadows: int
    pages_reread: int
    shadow_mismatches: int
    unprotections: int
    evictions: int
    submissions: int
    accesses: int
    ns_per_access: float
    routes: dict[str, int]
    continuations: int
    series: tuple[Sample, ...]
    guests: dict[str, dict[str, int | float]] = field(default_factory=dict)
    #: The mediators' own time (the model's, on this machine) per trapped write and
    #: per submission; 0.0 when the run had no clock or no such event.
    ns_per_trapped_write: float = 0.0
    ns_per_submission: float = 0.0
    #: The GVT-g policy the mediators ran, and what the shipped one adds.
    policy: str = "shipped"
    failsafe_vgpus: int = 0
    lost_submissions: int = 0
    trapped_writes: int = 0
    stale_entries: int = 0
    #: Over the run, summed over vGPUs (each vGPU's own peak).
    peak_protected_pages: int = 0
    peak_ranges: int = 0
    oos_pages_peak: int = 0
    oos_syncs: int = 0
    #: The cost model's CPU time of all mediators (ms), and per second of the
    #: guests' GPU work (submissions run × the workload's GPU time each).
    mediator_cpu_ms: float = 0.0
    mediator_cpu_ms_per_gpu_s: float = 0.0
    gpu: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """The JSON form (SPEC.md's required fields and the rest)."""
        return {
            "tracked_pages": self.tracked_pages,
            "peak_tracked_pages": self.peak_tracked_pages,
            "stored_ranges": self.stored_ranges,
            "heap_bytes": self.heap_bytes,
            "heap_bytes_total": self.heap_bytes_total,
            "limit_hits": self.limit_hits,
            "reshadows": self.reshadows,
            "pages_reread": self.pages_reread,
            "shadow_mismatches": self.shadow_mismatches,
            "unprotections": self.unprotections,
            "evictions": self.evictions,
            "submissions": self.submissions,
            "accesses": self.accesses,
            "ns_per_access": self.ns_per_access,
            "ns_per_trapped_write": self.ns_per_trapped_write,
            "ns_per_submission": self.ns_per_submission,
            "continuations": self.continuations,
            "policy": self.policy,
            "failsafe_vgpus": self.failsafe_vgpus,
            "lost_submissions": self.lost_submissions,
            "trapped_writes": self.trapped_writes,
            "stale_entries": self.stale_entries,
            "peak_protected_pages": self.peak_protected_pages,
            "peak_ranges": self.peak_ranges,
            "oos_pages_peak": self.oos_pages_peak,
            "oos_syncs": self.oos_syncs,
            "mediator_cpu_ms": self.mediator_cpu_ms,
            "mediator_cpu_ms_per_gpu_s": self.mediator_cpu_ms_per_gpu_s,
            "gpu": dict(self.gpu),
            "routes": dict(self.routes),
            "guests": {k: dict(v) for k, v in self.guests.items()},
            "series": [
                {
                    "round": s.round,
                    "tracked_pages": s.tracked_pages,
                    "stored_ranges": s.stored_ranges,
                    "heap_bytes": s.heap_bytes,
                    "reshadows": s.reshadows,
                    "routing_ns": s.routing_ns,
                }
                for s in self.series
            ],
        }


@dataclass
class GuestRun:
    """One running guest: its domain, device models and workload state."""

    name: str
    domid: int
    spec: WorkloadSpec
    guest: Guest
    rng: random.Random
    qemu: QemuEmulator | None = None
    mediator: MediatorBase | None = None
    driver: GpuDriver | None = None
    procs: list[GpuProcess] = field(default_factory=list)

    def step(self, rnd: int) -> None:
        """This guest's turn in round ``rnd``."""
        w = self.spec
        if w.kind in ("gpu", "hostile"):
            self._gpu_step(rnd)
        elif w.kind == "devices":
            uart_print(self.guest, f"[{rnd:4d}] guest {self.name} alive\n")
            if rnd % 5 == 0:
                pci_probe(self.guest)
            if rnd % 10 == 9 and self.qemu is not None and len(self.qemu.functions) > 1:
                move_bar(self.guest, 2, 0, 0xF400_0000 if rnd % 20 == 9 else 0xF000_0000)

    def _gpu_step(self, rnd: int) -> None:
        drv, w = self.driver, self.spec
        assert drv is not None
        if rnd == 0:
            self.procs = [drv.create_process(w.leaves) for _ in range(w.processes)]
        if not self.procs:
            return
        proc = self.rng.choice(self.procs)
        drv.churn(proc, w.churn)
        if w.grow:
            drv.grow(proc, w.grow)
        if rnd % w.submit_every == 0:
            drv.submit(proc)
        if w.kind == "gpu" and w.destroy_every and rnd % w.destroy_every == w.destroy_every - 1:
            drv.destroy_process(proc)
            self.procs.remove(proc)
            self.procs.append(drv.create_process(w.leaves))


def _instances(scenario: Scenario) -> list[tuple[str, DomainSpec]]:
    out = []
    for d in scenario.domains:
        for k in range(1, d.count + 1):
            out.append((f"{d.name}-{k}" if d.count > 1 else d.name, d))
    return out


def physical_gpu(scenario: Scenario) -> PhysicalGpu:
    """The scenario host's GPU: its oos pool (2016 XenGT's size unless set) and
    shadow budget."""
    h = scenario.host
    oos = GENERATIONS[h.gpu].oos_pages_2016 if h.oos_pages is None else h.oos_pages
    return PhysicalGpu(h.gpu, oos_pages=oos, shadow_pages=h.shadow_pages)


def _build(
    host: Host,
    scenario: Scenario,
    trace: list[TraceRecord] | None,
    wp_limit: int | None = None,
    clock: Clock | None = None,
    gpu: PhysicalGpu | None = None,
) -> list[GuestRun]:
    runs = []
    gpu = gpu if gpu is not None else physical_gpu(scenario)
    mediator = mediator_class(scenario.host.gvt_policy)
    prealloc = scenario.host.preallocate_mib << 20
    for name, spec in _instances(scenario):
        try:
            config = build_config(spec.xl, gpu=scenario.host.gpu)
            vgt = bool(config.vgt)
            if wp_limit is not None and vgt:
                # As if the admin had written it in the file: libxl checks it like any other.
                extra = parse_xl_cfg(f"max_wp_ram_ranges = {wp_limit}\n", "the planner's limit")
                xl = replace(spec.xl, settings={**spec.xl.settings, **extra.settings}, warnings=[])
                config = build_config(xl, gpu=scenario.host.gpu)
        except (LibxlError, XlError) as err:
            raise ScenarioError(f"domain {name}: {err}") from None
        config = replace(config, name=name)
        if spec.workload.kind in ("gpu", "hostile") and not vgt:
            raise ScenarioError(f"domain {name}: a {spec.workload.kind} workload needs vgt = 1")
        try:
            domid = domain_create(host, config, preallocate_bytes=prealloc)
        except LibxlError as err:
            raise ScenarioError(f"domain {name}: {err}") from None
        rng = random.Random(f"{scenario.seed}:{name}")
        run = GuestRun(name, domid, spec.workload, Guest(host, domid, name, trace=trace), rng)
        if config.hvm:
            dm = devicemodel.open(host, 0)
            run.qemu = QemuEmulator(dm, domid, vga=config.vga != "none" and not vgt)
            run.qemu.start()
            if vgt:
                run.mediator = mediator(dm, domid, timer=clock, gpu=gpu, costs=scenario.costs)
                run.mediator.start()
                last = min(host.domains[domid].nr_pages, LOWMEM_END_PFN) - 1
                w = spec.workload
                alloc = GuestAllocator(rng, 0x100, last, w.policy)
                cls = HostileGpuDriver if w.kind == "hostile" else GpuDriver
                run.driver = cls(
                    run.guest,
                    rng,
                    alloc,
                    shape=w.shape,
                    ptes_per_table=w.ptes_per_table,
                    buffer_pages=(w.buffer_pages_min, w.buffer_pages_max),
                    huge_2m_percent=w.huge_2m_percent,
                )
        runs.append(run)
    return runs


def _routing_ns(host: Host, runs: list[GuestRun], clock: Clock | None) -> float:
    """Measured routing decision for writes to tracked pages of the busiest guest."""
    if clock is None:
        return 0.0
    best = max(runs, key=lambda r: host.domains[r.domid].p2m.entry_count)
    d = host.domains[best.domid]
    pages = list(d.p2m.tracked())[:256]
    if not pages:
        return 0.0
    route = host.wp.route_write
    t0 = clock()
    for _ in range(8):
        for gfn in pages:
            route(d, gfn)
    return (clock() - t0) / (8 * len(pages))


def _by_domid(host: Host) -> dict[int, DomainStats]:
    """The host's frozen snapshot, by domain id."""
    return {s.domid: s for s in host.statistics().domains}


def _sample(host: Host, runs: list[GuestRun], rnd: int, clock: Clock | None) -> Sample:
    stats = _by_domid(host)
    tracked = sum(stats[r.domid].tracked_pages for r in runs)
    ranges = sum(stats[r.domid].tracking_entries for r in runs)
    heap = sum(stats[r.domid].tracking_bytes for r in runs)
    reshadows = sum(r.mediator.statistics()["reshadows"] for r in runs if r.mediator)
    return Sample(rnd, tracked, ranges, heap, reshadows, _routing_ns(host, runs, clock))


def run_design(
    scenario: Scenario,
    design: str,
    *,
    clock: Clock | None = None,
    progress: Progress | None = None,
    trace: list[TraceRecord] | None = None,
    wp_limit: int | None = None,
) -> DesignResult:
    """Run ``scenario`` on one design; ``wp_limit`` sets every vGPU guest's
    ``max_wp_ram_ranges`` (the planner's sweep), through the toolstack."""
    h = scenario.host
    host = Host(
        design=design,
        xen=h.xen,
        xen_heap_bytes=h.xen_heap_mib << 20,
        wp_ram_ranges_cap=max(h.wp_ram_ranges_cap, wp_limit or 0),
        node_layout=h.node_layout,
        p2t_types=h.p2t_types,
    )
    gpu = physical_gpu(scenario)
    runs = _build(host, scenario, trace, wp_limit, clock, gpu)
    engine = Engine()
    series: list[Sample] = []
    t0 = clock() if clock else 0

    def round_(rnd: int) -> None:
        order = list(runs)
        random.Random(f"{scenario.seed}:round:{rnd}").shuffle(order)
        for r in order:
            r.step(rnd)
        series.append(_sample(host, runs, rnd, clock))
        if progress is not None:
            progress(design, rnd + 1, scenario.rounds)
        if rnd + 1 < scenario.rounds:
            engine.schedule(1, lambda: round_(rnd + 1))

    engine.schedule(0, lambda: round_(0))
    engine.run()
    elapsed = (clock() - t0) if clock else 0
    if clock is not None and series:
        last = series[-1]
        series[-1] = Sample(
            last.round,
            last.tracked_pages,
            last.stored_ranges,
            last.heap_bytes,
            last.reshadows,
            _routing_ns(host, runs, clock),
        )
    return _result(design, host, runs, series, elapsed, scenario, gpu)


def _result(
    design: str,
    host: Host,
    runs: list[GuestRun],
    series: list[Sample],
    elapsed: int,
    scenario: Scenario,
    gpu: PhysicalGpu,
) -> DesignResult:
    totals = dict.fromkeys(MEDIATOR_COUNTERS, 0)
    spent = {"trapped_writes": 0, "submissions": 0}
    guests: dict[str, dict[str, int | float]] = {}
    routes: dict[str, int] = {}
    accesses = continuations = 0
    gpu_us = 0
    stats = _by_domid(host)
    for r in runs:
        d = stats[r.domid]
        counters = dict(d.counters)
        g: dict[str, int | float] = {"tracked_pages": d.tracked_pages}
        if r.mediator is not None:
            med = r.mediator.statistics()
            for k in MEDIATOR_COUNTERS:
                totals[k] += med[k]
                g[k] = med[k]
            # A rangeset stores one range per run of frames; the p2m designs one entry a page.
            peak = med["peak_runs" if design == "rangeset" else "peak_protected_pages"]
            g["peak_ranges"] = peak
            totals["peak_ranges"] = totals.get("peak_ranges", 0) + peak
            g["mediator_cpu_ms"] = round(med["mediator_cpu_ns"] / 1e6, 3)
            for k in spent:
                spent[k] += r.mediator.elapsed_ns[k]
            gpu_us += med["submissions_run"] * r.spec.gpu_us_per_submission
        guests[r.name] = g
        for key, value in counters.items():
            if key.startswith("routed_") or key in (
                "null_accesses",
                "ram_accesses",
                "wp_writes",
                "wp_retries",
                "xen_emulated",
            ):
                routes[key] = routes.get(key, 0) + value
        continuations += counters.get("set_mem_type_continuations", 0)
        continuations += counters.get("sweep_continuations", 0)
        accesses += sum(
            counters.get(k, 0)
            for k in (
                "ram_accesses",
                "null_accesses",
                "routed_server",
                "routed_default",
                "xen_emulated",
            )
        )
        accesses += counters.get("wp_retries", 0)
    final = series[-1] if series else Sample(0, 0, 0, 0, 0, 0.0)
    return DesignResult(
        design=design,
        tracked_pages=final.tracked_pages,
        peak_tracked_pages=max((s.tracked_pages for s in series), default=0),
        stored_ranges=final.stored_ranges,
        heap_bytes=final.heap_bytes,
        heap_bytes_total=host.statistics().heap.in_use,
        limit_hits=totals["limit_hits"],
        reshadows=totals["reshadows"],
        pages_reread=totals["pages_reread"],
        shadow_mismatches=totals["shadow_mismatches"],
        unprotections=totals["unprotections"],
        evictions=totals["evictions"],
        submissions=totals["submissions"],
        accesses=accesses,
        ns_per_access=round(elapsed / accesses, 1) if accesses else 0.0,
        routes=routes,
        continuations=continuations,
        series=tuple(series),
        guests=guests,
        ns_per_trapped_write=_per(spent["trapped_writes"], totals.get("trapped_writes", 0)),
        ns_per_submission=_per(spent["submissions"], totals["submissions"]),
        policy=scenario.host.gvt_policy,
        failsafe_vgpus=totals["failsafe"],
        lost_submissions=totals["lost_submissions"],
        trapped_writes=totals["trapped_writes"],
        stale_entries=totals["stale_entries"],
        peak_protected_pages=totals["peak_protected_pages"],
        peak_ranges=totals.get("peak_ranges", 0),
        oos_pages_peak=gpu.oos_peak,
        oos_syncs=totals["oos_syncs"],
        mediator_cpu_ms=round(totals["mediator_cpu_ns"] / 1e6, 3),
        mediator_cpu_ms_per_gpu_s=(
            round(totals["mediator_cpu_ns"] / 1e3 / gpu_us, 3) if gpu_us else 0.0
        ),
        gpu=gpu.statistics(),
    )


def _per(ns: int, events: int) -> float:
    return round(ns / events, 1) if events else 0.0


def _design_job(job: tuple[Scenario, str, Clock | None]) -> DesignResult:
    scenario, design, clock = job
    try:
        return run_design(scenario, design, clock=clock)
    except XenError as err:  # pragma: no cover - a model bug, reported plainly
        raise ScenarioError(f"design {design}: unexpected hypervisor error: {err}") from err


def run_scenario(
    scenario: Scenario,
    *,
    clock: Clock | None = None,
    progress: Progress | None = None,
    workers: int = 1,
    scheduler: str | None = None,
) -> dict[str, DesignResult]:
    """Run every design the scenario names; with ``workers`` > 1 (or a Dask
    ``scheduler``) the designs run in parallel, each in its own process.

    The counts are the same either way (each design is its own deterministic
    run); ``progress(design, done, total)`` comes per round in one process,
    per finished design in parallel.
    """
    designs = scenario.host.designs
    if workers == 1 and scheduler is None:
        out = {}
        for design in designs:
            try:
                out[design] = run_design(scenario, design, clock=clock, progress=progress)
            except XenError as err:  # pragma: no cover - a model bug, reported plainly
                raise ScenarioError(f"design {design}: unexpected hypervisor error: {err}") from err
        return out

    def finished(i: int, r: DesignResult) -> None:
        if progress:
            progress(designs[i], scenario.rounds, scenario.rounds)

    jobs = [(scenario, d, clock) for d in designs]
    results = map_jobs(_design_job, jobs, workers=workers, scheduler=scheduler, on_result=finished)
    return dict(zip(designs, results, strict=True))
