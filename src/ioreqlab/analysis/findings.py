"""The thread's figures and questions, answered by measurement (docs/findings.md).

Each figure is a function that builds what it needs, measures it, and returns
a :class:`Figure`: the claim from the thread, the command that reproduces it,
the measured numbers (counts, not timings, so they hold on any machine) and a
sentence.  :func:`findings_markdown` runs them all and writes the document;
``ioreqlab findings --only NAME`` prints one.  Tests call the same functions.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ioreqlab import devicemodel
from ioreqlab.abi.constants import MAX_NR_IO_RANGES, HvmMem
from ioreqlab.analysis.figure import Figure
from ioreqlab.analysis.planner import PlanResult, PlanWork
from ioreqlab.analysis.staged import Single, Staged, run_staged
from ioreqlab.analysis.xen_remove import remove_to_the_top, xen417_remove
from ioreqlab.dm.gvt_gpu import GENERATIONS, PhysicalGpu
from ioreqlab.dm.gvt_shipped import ShippedMediator
from ioreqlab.dm.gvtg import GvtgMediator
from ioreqlab.errors import XenError
from ioreqlab.host import Host
from ioreqlab.hv.domain import LOWMEM_END_PFN
from ioreqlab.profiles import DEFAULT_XEN
from ioreqlab.rangeset import NodeLayout, RangeSet
from ioreqlab.rangeset_ref import LinkedListRangeSet
from ioreqlab.scenario import XENGT_BDW, DesignResult, Scenario, load_scenario
from ioreqlab.scenario.runner import Clock, run_design
from ioreqlab.toolstack.libxl import GPU_WP_RANGES
from ioreqlab.workload.gpu import GpuDriver, HostileGpuDriver
from ioreqlab.workload.guest import Guest, GuestAllocator
from ioreqlab.wpclient import WriteProtector

__all__ = ["FIGURES", "Figure", "findings_markdown", "xen417_remove"]


def _scattered(seed: int, n: int) -> list[int]:
    return random.Random(seed).sample(range(0x100, LOWMEM_END_PFN), n)


def default_limit() -> Figure:
    """256 ranges per server: what that means for 4096 GTT pages."""
    pages = _scattered(1, 4096)
    scattered = RangeSet(limit=MAX_NR_IO_RANGES)
    refused = 0
    for gfn in pages:
        try:
            scattered.add_singleton(gfn)
        except OSError:
            refused += 1
    chunked = RangeSet(limit=MAX_NR_IO_RANGES)
    for k in range(8):  # the same number of pages in eight 2 MiB chunks
        chunked.add_range(0x10000 + k * 0x1000, 0x10000 + k * 0x1000 + 511)
    return Figure(
        "default-limit",
        "The default limit is 256 ranges",
        "Default limit of ranges that one rangeset can allocate is set to a small value "
        "(Yu Zhang, 2016-01-29); MAX_NR_IO_RANGES is 256.",
        {
            "MAX_NR_IO_RANGES": MAX_NR_IO_RANGES,
            "scattered pages offered": 4096,
            "scattered pages protected": 4096 - refused,
            "scattered pages refused": refused,
            "chunked pages protected": 4096,
            "chunked ranges used": chunked.nr_ranges,
        },
        f"With 4,096 page-table pages scattered over a 4 GiB guest, a 256-range set takes "
        f"{4096 - refused:,} of them and refuses {refused:,} (-ENOMEM); the same pages in 2 MiB "
        f"chunks need {chunked.nr_ranges} ranges.",
    )


def rbtree_8192() -> Figure:
    """Jan Beulich: 8k of wp ranges implies an overhead beyond 448k."""
    r = RangeSet(structure="rbtree")
    for gfn in range(0, 2 * 8192, 2):
        r.add_singleton(gfn)
    return Figure(
        "rbtree-8192",
        "8192 red-black-tree ranges cost more than 448 KiB",
        '"8k of wp ranges implies an overhead beyond 448k (including the xmalloc() '
        'overhead)" (Jan Beulich, 2016-02-03).',
        {
            "ranges": r.nr_ranges,
            "bytes per node": NodeLayout.RBTREE.heap_cost,
            "heap bytes": r.bytes_in_use,
            "448 KiB": 448 * 1024,
        },
        f"8,192 disjoint ranges of 40-byte nodes take {r.bytes_in_use:,} bytes of Xen heap "
        f"with TLSF's 16-byte header and 16-byte rounding: "
        f"{r.bytes_in_use / 1024:.0f} KiB, above 448 KiB.",
    )


def node_sizes() -> Figure:
    """32-byte list nodes against the series' 40-byte red-black nodes."""
    lst, rb = NodeLayout.LIST.heap_cost, NodeLayout.RBTREE.heap_cost
    return Figure(
        "node-32-vs-40",
        "32- versus 40-byte nodes",
        '"each range is going to be tracked by a 40 byte structure (up from 32)" '
        "(Jan Beulich, 2016-02-03).",
        {
            "list node payload": 32,
            "list node heap": lst,
            "rb node payload": 40,
            "rb node heap": rb,
            "8192 list nodes": 8192 * lst,
            "8192 rb nodes": 8192 * rb,
        },
        f"After allocator overhead the 8 extra bytes cost {rb - lst} per node: "
        f"{(rb / lst - 1) * 100:.0f}% more heap for every range, the other rangesets included.",
    )


def seven_guests(xen: str = DEFAULT_XEN) -> Figure:
    """Up to 7 vGPUs per Broadwell GPU: the worst-case tracking heap of a full host."""
    vgpus = GENERATIONS["bdw"].max_vgpus
    limit = GPU_WP_RANGES["bdw"]
    host = Host(design="rangeset", xen=xen, xen_heap_bytes=64 << 20, node_layout="rbtree")
    for n in range(vgpus):
        g = host.create_domain(memory_mib=4096, name=f"vgpu{n}")
        dm = devicemodel.open(host, 0)
        dm.set_param(g, host.xen.params.max_wp_ram_ranges, limit)
        sid = dm.create_ioreq_server(g)
        for gfn in range(0x1000, 0x1000 + 2 * limit, 2):
            dm.map_wp_mem_range_to_ioreq_server(g, sid, gfn, gfn)
    tracking = sum(host.wp.tracking_bytes(d) for d in host.domains.values() if d.hvm)
    return Figure(
        "seven-vgpu-guests",
        "Up to 7 vGPU VMs on a Broadwell host",
        '"XenGT only supports 4 VMs (including dom0) on Haswell and 7 on Broadwell so even '
        "with the larger limit we're not talking about a huge amount of resource\" "
        "(Paul Durrant, 2016-02-03).",
        {
            "vGPU guests per Broadwell GPU (gvt.h GVT_MAX_VGPU 8, id 0 idle)": vgpus,
            "limit per guest": limit,
            "tracking heap, all guests full": tracking,
            "whole Xen heap in use": host.heap.in_use,
        },
        f"The code allows {vgpus} vGPU guests besides dom0 (upstream gvt.h; 2016 vgt.h "
        f"VGT_MAX_VMS 8 with dom0), one more than the thread's count. At their full 8,192 "
        f"red-black ranges they hold {tracking / 2**20:.1f} MiB of Xen heap for tracking "
        f"({host.heap.in_use / 2**20:.1f} MiB with the servers): small next to the host, as "
        f"Paul says — but it is Xen heap, shared by every domain.",
    )


def _tree_9000_run(xen: str, shipped: bool) -> tuple[int, dict[str, int]]:
    host = Host(design="rangeset", xen=xen, xen_heap_bytes=64 << 20)
    g = host.create_domain(memory_mib=4096)
    dm = devicemodel.open(host, 0)
    dm.set_param(g, host.xen.params.max_wp_ram_ranges, 8192)
    cls = ShippedMediator if shipped else GvtgMediator
    med = cls(dm, g, gpu=PhysicalGpu(oos_pages=GENERATIONS["bdw"].oos_pages_2016))
    med.start()
    rng = random.Random(9000)
    alloc = GuestAllocator(rng, 0x100, LOWMEM_END_PFN - 1)
    drv = GpuDriver(Guest(host, g, "vm"), rng, alloc, ptes_per_table=1, buffer_pages=(1, 1))
    proc = drv.create_process(0)
    drv.grow(proc, 8980)  # with its PDPs, PDs and scratch tables: just over 9,000 pages
    drv.submit(proc)
    drv.churn(proc, 200)
    drv.submit(proc)
    return len(proc.frames()), med.statistics()


def tree_9000(xen: str = DEFAULT_XEN) -> Figure:
    """George Dunlap: an active tree larger than the limit, under both policies."""
    pages, shipped = _tree_9000_run(xen, True)
    _, proposal = _tree_9000_run(xen, False)
    return Figure(
        "tree-9000",
        "A 9,000-page active tree under an 8,192 limit",
        '"What do you do if the guest driver switches to a GTT such that the entire tree '
        'takes up more than $LIMIT entries?" (George Dunlap, 2016-02-04).',
        {
            "table pages in the tree": pages,
            "limit": 8192,
            "shipped: pages protected": shipped["protected_pages"],
            "shipped: protections refused": shipped["limit_hits"],
            "shipped: vGPU in failsafe": shipped["failsafe"],
            "shipped: submissions run": shipped["submissions_run"],
            "shipped: submissions lost": shipped["lost_submissions"],
            "proposal-2016: pages protected": proposal["protected_pages"],
            "proposal-2016: pages re-read": proposal["pages_reread"],
            "proposal-2016: submissions run": proposal["submissions_run"],
            "shadow mismatches (both)": shipped["shadow_mismatches"]
            + proposal["shadow_mismatches"],
        },
        "GVT-g as shipped protects every table page of the tree; the first refused "
        "protection leaves a stale shadow entry and the vGPU enters failsafe at its next "
        f"submission: {shipped['submissions_run']} of {shipped['submissions']} submissions "
        "run, the guest's GPU is dead until reset. The thread's proposal (Zhiyuan Lv, "
        "2016-02-05: protect what fits, re-read the rest) would have run every submission "
        f"({proposal['pages_reread']:,} pages re-read) — but it was never built.",
    )


def george_walk() -> Figure:
    """Walking 8000 nodes per write: what each structure costs per lookup."""
    pages = sorted(_scattered(2, 8192))
    merged = RangeSet()
    for gfn in pages:
        merged.add_singleton(gfn)  # a few scattered pages happen to be neighbours
    ll = LinkedListRangeSet.from_ranges(merged.ranges())
    probes = random.Random(3).sample(pages, 1000)
    for gfn in probes:
        ll.contains_singleton(gfn)
    per_write = ll.nodes_walked / len(probes)
    comparisons = (8192).bit_length()
    return Figure(
        "george-walk",
        "Walking 8,000 nodes to route one write",
        '"Walking down an RB tree with 8000 individual nodes to find out which server to send '
        'the message to (rather than just reading the value from the p2m table)" '
        "(George Dunlap, 2016-02-03).",
        {
            "ranges": 8192,
            "Xen's list: nodes walked per write": round(per_write),
            "sorted/tree structure: comparisons per write": comparisons,
            "p2m type: lookups per write": 1,
        },
        f"Xen's rangeset is a sorted list: a write to a random tracked page walks "
        f"{per_write:,.0f} nodes on average. A balanced tree needs about {comparisons} "
        f"comparisons; the p2m type needs none beyond the p2m walk the fault already did "
        f"(bench/RESULTS.md has the measured times).",
    )


def _builtin_scenario(xen: str) -> Scenario:
    return _on(load_scenario(XENGT_BDW, "xengt-bdw"), xen)


def builtin_run(clock: Clock | None, xen: str = DEFAULT_XEN) -> Figure:
    """Jan Beulich's Xen heap question, and the run as a whole, on the built-in scenario."""
    return _computed(_xen_heap_work(clock, xen))


def _design_run(job: tuple[Scenario, str, Clock | None]) -> DesignResult:
    scenario, design, clock = job
    return run_design(scenario, design, clock=clock)


def _xen_heap_work(clock: Clock | None, xen: str) -> _FigureWork:
    """builtin_run's designs as three jobs."""
    scenario = _builtin_scenario(xen)
    designs = scenario.host.designs
    parts = tuple(Single(_design_run, (scenario, d, clock)) for d in designs)
    return _FigureWork(parts, lambda res: _xen_heap_figure(dict(zip(designs, res, strict=True))))


def _xen_heap_figure(res: dict[str, DesignResult]) -> Figure:
    values: dict[str, object] = {}
    for name, r in res.items():
        values[f"{name}: tracked pages"] = r.tracked_pages
        values[f"{name}: tracking heap bytes"] = r.heap_bytes
        values[f"{name}: limit hits"] = r.limit_hits
        values[f"{name}: vGPUs in failsafe"] = r.failsafe_vgpus
        values[f"{name}: peak stored ranges / entries"] = r.peak_ranges
        values[f"{name}: shadow mismatches"] = r.shadow_mismatches
    rs, pm, pt = res["rangeset"], res["p2m"], res["p2t"]
    return Figure(
        "xen-heap",
        "Xen heap across domains: the built-in Broadwell host",
        '"one domain exhausting Xen\'s memory can affect another domain" (Jan Beulich, '
        '2016-02-02); "is the fact that the memory comes from xenheap rather than domheap the '
        'real problem?" (Paul Durrant, 2016-02-03).',
        values,
        f"Same guests, same seed, the shipped GVT-g policy: the rangeset design holds "
        f"{rs.heap_bytes:,} bytes of Xen heap for tracking, its limit refuses "
        f"{rs.limit_hits:,} protections and {rs.failsafe_vgpus} vGPU ends in failsafe; "
        f"the p2m design holds {pm.heap_bytes:,}; a p2t radix table "
        f"holds {pt.heap_bytes:,} — the price of several claimable types is a second sparse "
        f"tree, as George Dunlap warned.",
    )


#: ian-limit's sweep: shorter than ``ioreqlab plan``'s default (the scenario's 24 rounds,
#: three seeds, seven limits) to keep ``findings`` quick; the text says so.
IAN_ROUNDS, IAN_SEEDS, IAN_LIMITS = 12, (0, 1), (2048, 4096, 8192, 16384)


def _ian_work(xen: str) -> _FigureWork:
    """The two plans, shipped and the 2016 proposal, on the scenario shortened."""
    scenario = _builtin_scenario(xen)
    short = replace(scenario, rounds=IAN_ROUNDS)
    proposal = replace(short, host=replace(short.host, gvt_policy="proposal-2016"))
    plans = (PlanWork(short, IAN_LIMITS, IAN_SEEDS, 99.0, 0.0),
             PlanWork(proposal, IAN_LIMITS, IAN_SEEDS, 99.0, 0.0))  # fmt: skip
    return _FigureWork(plans, lambda answers: _ian_figure(scenario.rounds, *answers))


def ian_limit(xen: str = DEFAULT_XEN) -> Figure:
    """Ian Jackson: which limit, and how to calculate it — the planner's answer,
    under the shipped policy, with the 2016 proposal's answer beside it."""
    return _computed(_ian_work(xen))


def _ian_figure(full_rounds: int, result: PlanResult, proposal: PlanResult) -> Figure:
    values: dict[str, object] = {
        f"shipped, limit {p.limit}: vGPUs in failsafe (p99)": p.failsafe_vgpus for p in result.sweep
    }
    values["shipped: peak stored ranges of the busiest vGPU (p99)"] = result.needed
    values["shipped: recommended max_wp_ram_ranges"] = result.recommended
    values["host cap"] = result.cap
    values["shipped: above the cap"] = "yes" if result.exceeds_cap else "no"
    values["shipped: heap bytes per guest at it"] = result.heap_bytes_per_guest
    for p in proposal.sweep:
        values[f"proposal-2016, limit {p.limit}: pages re-read (p99)"] = p.pages_reread
    values["proposal-2016: recommended"] = proposal.recommended
    failing = ", ".join(sorted(result.at_cap or {})) or "none"
    return Figure(
        "ian-limit",
        "Which limit, and how to calculate it",
        '"In the configurations where a larger number is needed, what larger limit is '
        'appropriate? How should it be calculated?" (Ian Jackson, 2016-02-04); "how bad is '
        'performance likely to be if we live with a lower limit" (Paul Durrant, 2016-02-04).',
        values,
        f"Calculated, not guessed: GVT-g as shipped protects every table page of every "
        f"shadowed tree, so a guest needs the peak of its stored ranges over the run — "
        f"{result.needed:,} for the built-in host's busiest vGPU at p99 over two seeds. "
        f"That is {'above' if result.exceeds_cap else 'within'} the host's cap of "
        f"{result.cap:,}; at the cap the guests that enter failsafe are: {failing}. "
        f"Below the need a vGPU does not slow down, it stops. The thread's proposal "
        f"(never shipped) would recommend {proposal.recommended:,}, the smallest limit "
        f"with no re-read work. The sweep: {IAN_ROUNDS} rounds of the built-in scenario "
        f"(it has {full_rounds}), seeds {' and '.join(map(str, IAN_SEEDS))}, limits "
        f"{', '.join(f'{x:,}' for x in IAN_LIMITS)}; `ioreqlab plan` runs all "
        f"{full_rounds} rounds over three seeds, so its need can be larger.",
    )


#: A small Xen heap: less than one guest at its 8192-range limit needs.
EXHAUSTION_HEAP = 352 << 10
EXHAUSTION_RESERVE = 160 << 10


def heap_exhaustion_trial(
    design: str, *, preallocate: bool, xen: str = DEFAULT_XEN
) -> dict[str, int]:
    """A hostile vGPU guest attacks the heap, then a victim's device model works.

    Returns the victim's refusals (-ENOMEM) while creating its server and
    write-protecting 1,000 scattered pages, and the heap the hostile guest held.
    """
    host = Host(design=design, xen=xen, xen_heap_bytes=EXHAUSTION_HEAP, wp_ram_ranges_cap=8192)
    victim = host.create_domain(
        memory_mib=2048, name="victim", preallocate_bytes=EXHAUSTION_RESERVE if preallocate else 0
    )
    dm = devicemodel.open(host, 0)
    hostile = host.create_domain(memory_mib=2048, name="hostile")
    if design == "rangeset":
        dm.set_param(victim, host.xen.params.max_wp_ram_ranges, 2048)
        dm.set_param(hostile, host.xen.params.max_wp_ram_ranges, 8192)
    med = GvtgMediator(dm, hostile)
    med.start()
    rng = random.Random(6)
    drv = HostileGpuDriver(
        Guest(host, hostile, "hostile"),
        rng,
        GuestAllocator(rng, 0x100, host.domains[hostile].nr_pages - 1),
    )
    for _ in range(4):
        drv.submit(drv.create_process(1500))
    held = host.heap.account(hostile).in_use
    refused = 0
    try:
        sid = dm.create_ioreq_server(victim)
    except XenError:
        return {"victim refusals": 1, "hostile heap bytes": held, "mismatches": 0}
    wp = WriteProtector(dm, victim, sid)
    wp.start()
    for gfn in range(0x200, 0x200 + 2 * 1000, 2):
        try:
            wp.protect([gfn])
        except XenError:
            refused += 1
    return {
        "victim refusals": refused,
        "hostile heap bytes": held,
        "mismatches": med.stats["shadow_mismatches"],
    }


#: heap-exhaustion's trials: each design, without and with the victim's preallocation.
_TRIALS = tuple((d, pre) for d in ("rangeset", "p2m", "p2t") for pre in (False, True))


def _trial_job(job: tuple[str, bool, str]) -> dict[str, int]:
    design, preallocate, xen = job
    return heap_exhaustion_trial(design, preallocate=preallocate, xen=xen)


def heap_exhaustion(xen: str = DEFAULT_XEN) -> Figure:
    """Jan Beulich's cross-domain concern, measured with and without preallocation."""
    return _computed(_heap_exhaustion_work(xen))


def _heap_exhaustion_work(xen: str) -> _FigureWork:
    """heap_exhaustion's six trials as six jobs."""
    parts = tuple(Single(_trial_job, (d, pre, xen)) for d, pre in _TRIALS)
    return _FigureWork(parts, _heap_exhaustion_figure)


def _heap_exhaustion_figure(trials: Sequence[dict[str, int]]) -> Figure:
    values: dict[str, object] = {}
    got = dict(zip(_TRIALS, trials, strict=True))
    for design in ("rangeset", "p2m", "p2t"):
        off, on = got[design, False], got[design, True]
        values[f"{design}: victim refusals, no preallocation"] = off["victim refusals"]
        values[f"{design}: victim refusals, preallocated"] = on["victim refusals"]
        values[f"{design}: heap held by the hostile guest"] = off["hostile heap bytes"]
    return Figure(
        "heap-exhaustion",
        "A hostile guest against the shared Xen heap",
        "\"one domain exhausting Xen's memory can affect another domain if Xen can't allocate "
        'memory it needs to support that other domain" (Jan Beulich, 2016-02-02); "In the '
        'shadow / hap memory case, the memory is pre-allocated up front" (George Dunlap, '
        "2016-02-04).",
        values,
        f"On a {EXHAUSTION_HEAP >> 10} KiB Xen heap a guest that builds huge fragmented GPU "
        f"page tables makes its own mediator (proposal-2016, which keeps protecting what fits "
        f"instead of giving the vGPU up) fill the heap with tracking state; a second "
        f"guest's device model then cannot protect its pages (rangeset, p2t) — unless "
        f"{EXHAUSTION_RESERVE >> 10} KiB were reserved for it at creation, in which case nothing "
        f"the hostile guest does reaches it. The p2m design spends no heap on tracking, so "
        f"there is nothing to exhaust.",
    )


def logdirty_after_disclaim(xen: str = DEFAULT_XEN) -> Figure:
    """A mediator lets go of its pages during a live migration: what log-dirty still sees."""
    host = Host(design="p2m", xen=xen, xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=256)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, 2)
    host.set_log_dirty(g, True)  # the migration starts
    d = host.domains[g]
    for gfn in range(0x100, 0x140):  # the guest builds GPU page tables...
        host.guest_access(g, 0, "mmio", gfn << 12, 8, write=True, data=gfn)
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x100, 16)  # ...the mediator protects 16
    logged_before = len(d.platform.dirty)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, 0)  # vGPU reset: disclaim
    later = range(0x1000, 0x1000 + 1000)
    for gfn in later:
        host.guest_access(g, 0, "mmio", gfn << 12, 8, write=True, data=gfn)
    off = d.global_logdirty
    cleaned = host.clean_dirty_bitmap(g)  # the toolstack's next round
    caught = sum(1 for gfn in later if gfn in cleaned)
    for gfn in later:  # the same pages written again after that round
        host.guest_access(g, 0, "mmio", gfn << 12, 8, write=True, data=gfn + 1)
    rearmed = host.clean_dirty_bitmap(g)
    again = sum(1 for gfn in later if gfn in rearmed)
    return Figure(
        "logdirty-after-disclaim",
        "Live migration and a disclaim with pages still protected",
        '"If you want to monitor writes then log-dirty already exists for that purpose" '
        "(Paul Durrant, 2016-02-17).",
        {
            "pages logged before the disclaim": logged_before,
            "global log-dirty still on after it": int(off),
            "pages the guest writes before the next round": len(later),
            "of them in that round's dirty bitmap": caught,
            "the same pages written after the round, logged": again,
        },
        "Xen refuses to start global log-dirty while p2m_ioreq_server pages exist, but not "
        "the other way round: pages the guest writes during a migration are ram_rw again and "
        "may be protected. A disclaim that leaves protected pages behind resets them with "
        "p2m_change_entry_type_global(ioreq_server, ram_rw), whose "
        '"global_logdirty = (nt == p2m_ram_logdirty)" (xen/arch/x86/mm/p2m.c, 4.9 to 4.17) '
        "switches global log-dirty off: every frame recalculates to ram_rw and the guest's "
        "writes reach no dirty bitmap until the toolstack's next clean "
        "(hap_clean_dirty_bitmap) re-arms it. A page written in that window and not again "
        "is migrated stale.",
    )


def _on(scenario: Scenario, xen: str) -> Scenario:
    """The scenario with its host set to Xen profile ``xen``."""
    return replace(scenario, host=replace(scenario.host, xen=xen))


#: The figures, by name; each takes the Xen profile its hosts are built with.
FIGURES: tuple[tuple[str, Callable[[str], Figure]], ...] = (
    ("default-limit", lambda _xen: default_limit()),  # rangeset arithmetic: no host
    ("rbtree-8192", lambda _xen: rbtree_8192()),
    ("node-32-vs-40", lambda _xen: node_sizes()),
    ("seven-vgpu-guests", seven_guests),
    ("tree-9000", tree_9000),
    ("george-walk", lambda _xen: george_walk()),
    ("heap-exhaustion", heap_exhaustion),
    ("logdirty-after-disclaim", logdirty_after_disclaim),
    ("remove-to-the-top", lambda _xen: remove_to_the_top()),  # Xen's C, restated: no host
)


@dataclass(frozen=True)
class _FigureWork:
    """A figure as analyses run together with every other figure's, and how
    their answers make it (issue 18: the heavy figures are several jobs)."""

    parts: tuple[Staged[Any], ...]
    make: Callable[[list[Any]], Figure]


def _computed(work: _FigureWork) -> Figure:
    """A split figure computed here, its jobs one after another."""
    return work.make(run_staged(work.parts))


def _figure_job(job: tuple[str, str]) -> Figure:
    """One figure of :data:`FIGURES` computed whole (a job: by name, so it pickles)."""
    name, xen = job
    return dict(FIGURES)[name](xen)


def _one_job(name: str, xen: str) -> _FigureWork:
    return _FigureWork((Single(_figure_job, (name, xen)),), lambda answers: answers[0])


#: The figures whose runs take longest, longest first (measured: xen-heap's designs
#: 8-12 s each, ian-limit's plan runs 4-6 s, heap-exhaustion's trials 4.5 s, tree-9000 2 s).
_LONGEST_FIRST = {"xen-heap": 0, "ian-limit": 1, "heap-exhaustion": 2, "tree-9000": 3}


def _works(clock: Clock | None, xen: str, names: Sequence[str]) -> list[_FigureWork]:
    split: dict[str, Callable[[], _FigureWork]] = {
        "heap-exhaustion": lambda: _heap_exhaustion_work(xen),
        "xen-heap": lambda: _xen_heap_work(clock, xen),
        "ian-limit": lambda: _ian_work(xen),
    }
    return [split[n]() if n in split else _one_job(n, xen) for n in names]


def findings_markdown(
    *,
    clock: Clock | None = None,
    full: bool = True,
    only: str | None = None,
    xen: str = DEFAULT_XEN,
    progress: Callable[[str, int, int], None] | None = None,
    workers: int = 1,
) -> str:
    """docs/findings.md, or with ``only`` one figure's section (computing just that one).

    ``xen`` is the profile every host is built with; the committed file is the
    debate's tree (4.7), and says so.  With ``workers`` > 1 the figures are
    computed in parallel processes; the text is the same.
    """
    every = [n for n, _ in FIGURES] + ["xen-heap", "ian-limit"]
    names = every if full else [n for n, _ in FIGURES]
    if only is not None:
        if only not in every:
            raise ValueError(f"no figure {only!r}; choose from {', '.join(every)}")
        names = [only]
    works = _works(clock, xen, names)
    # Longest first (issue 18), so that no worker is left with a long run at the end;
    # the document keeps its own order.
    order = sorted(range(len(works)), key=lambda k: _LONGEST_FIRST.get(names[k], len(names)))
    owner = [k for k in order for _part in works[k].parts]
    left = [len(w.parts) for w in works]
    finished: list[str] = []

    def part_done(i: int) -> None:
        left[owner[i]] -= 1
        if not left[owner[i]]:
            finished.append(names[owner[i]])
            if progress:
                progress(names[owner[i]], len(finished), len(names))

    if progress:
        progress(names[order[0]], 0, len(names))
    answers = run_staged(
        [part for k in order for part in works[k].parts], workers=workers, finished=part_done
    )
    figures = [
        w.make([a for a, o in zip(answers, owner, strict=True) if o == k])
        for k, w in enumerate(works)
    ]
    if only is not None:
        return figures[0].markdown()
    head = (
        "# Findings\n\nGenerated by `ioreqlab findings` (do not edit by hand): every number "
        "below is measured by ioreqlab on its model of Xen, from the figures and open "
        "questions of the 2016 xen-devel thread on `max_wp_ram_ranges`. Counts, not timings: "
        "they are the same on any machine. The GVT-g mediator runs the policy GVT-g shipped "
        "(every table page of every shadowed tree protected; a refused protection puts the "
        "vGPU into failsafe); numbers labelled proposal-2016 are the thread's fallback "
        "(protect what fits, re-read the rest), which was never built.\n"
    )
    if xen != DEFAULT_XEN:
        head += f"\nHosts here behave as Xen {xen} (`--xen {xen}`), not the debate's tree.\n"
    return head + "\n" + "\n".join(f.markdown() for f in figures)
