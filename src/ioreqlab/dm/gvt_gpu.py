"""The physical GPU that GVT-g shares among vGPUs, and what the mediator's work costs.

What belongs to the physical GPU, not to one vGPU (gtt.c keeps it in
``struct intel_gvt_gtt``, the 2016 ``vgt`` code in ``struct pgt_device``):

* the **out-of-sync page pool**: a leaf table written twice while protected
  is unprotected and given one of these pages, a snapshot to compare it with
  at the vGPU's next submission.  When the pool is empty the oldest page in
  use is synced (re-protected) and taken, whichever vGPU it belongs to
  (``ppgtt_allocate_oos_page``);
* the **shadow-page budget** and the LRU list of shadowed address spaces:
  when a shadow page cannot be allocated, the least recently used address
  space that is not running is unshadowed and the allocation retried
  (gtt.c ``ppgtt_alloc_spt`` → ``reclaim_one_ppgtt_mm``);
* the **vGPU slots**: at most 7 vGPUs (gvt.h ``GVT_MAX_VGPU`` 8, id 0 the
  idle vGPU; the 2016 ``vgt.h`` ``VGT_MAX_VMS`` 8 with dom0, 4 on Haswell)
  and the graphics memory they split (vgpu.c ``intel_gvt_init_vgpu_types``).

Defaults by release of the mediator (each cited where it is set):

=====================  =======================  ==========================
                       2016 XenGT (``vgt``)     upstream ``gvt`` (4.10+)
=====================  =======================  ==========================
out-of-sync            on (``spt_out_of_sync``)  off (``enable_out_of_sync``)
oos pages              4096 BDW/SKL, 2048 HSW    8192
=====================  =======================  ==========================

The cost model puts a CPU time on each event the mediator handles; the
defaults are estimates for a 2016 Broadwell Xeon host (marked so), and a
scenario's ``[costs]`` table overrides them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, fields

__all__ = [
    "COST_SOURCES",
    "GENERATIONS",
    "VGPU_TYPES",
    "CostModel",
    "Generation",
    "PhysicalGpu",
    "VgpuType",
    "vgpu_slots",
]


@dataclass(frozen=True, slots=True)
class Generation:
    """What GVT-g sets per GPU generation."""

    name: str
    #: vGPUs one physical GPU serves (dom0's share left out).
    max_vgpus: int
    #: 2016 XenGT's ``preallocated_oos_pages`` default (vgt/gtt.c ``vgt_gtt_init``).
    oos_pages_2016: int
    #: The mappable aperture (low graphics memory) and the whole GGTT, bytes.
    aperture_bytes: int
    ggtt_bytes: int
    #: PPGTT levels the guest driver uses on this generation (Haswell: 2-level).
    levels: int


_MIB = 1 << 20
#: vgt/gtt.c ``vgt_gtt_init`` (2016): pre-BDW 2048 oos pages, BDW/SKL 4096;
#: vgt.h: ``VGT_MAX_VMS_HSW`` 4 and ``VGT_MAX_VMS`` 8, dom0 among them on
#: Haswell (3 guests); upstream gvt.h ``GVT_MAX_VGPU`` 8 with the idle vGPU as 0.
#: Apertures: the usual BIOS setting of 256 MiB; the GGTT spans 4 GiB on gen8+.
GENERATIONS: dict[str, Generation] = {
    "hsw": Generation("Haswell", 3, 2048, 256 * _MIB, 2048 * _MIB, 2),
    "bdw": Generation("Broadwell", 7, 4096, 256 * _MIB, 4096 * _MIB, 4),
    "skl": Generation("Skylake", 7, 4096, 256 * _MIB, 4096 * _MIB, 4),
}
#: Upstream gtt.c: ``preallocated_oos_pages = 8192`` (with out-of-sync off).
UPSTREAM_OOS_PAGES = 8192
#: gvt.h ``HOST_LOW_GM_SIZE`` / ``HOST_HIGH_GM_SIZE``: what the host keeps.
HOST_LOW_GM = 128 * _MIB
HOST_HIGH_GM = 384 * _MIB


@dataclass(frozen=True, slots=True)
class VgpuType:
    """One vGPU type of vgpu.c's table: its low and high graphics memory."""

    name: str
    low_gm: int
    high_gm: int


#: vgpu.c ``intel_vgpu_configs`` (the suffix is how many fit a whole GPU).
VGPU_TYPES: dict[str, VgpuType] = {
    t.name: t
    for t in (
        VgpuType("8", 64 * _MIB, 384 * _MIB),
        VgpuType("4", 128 * _MIB, 512 * _MIB),
        VgpuType("2", 256 * _MIB, 1024 * _MIB),
        VgpuType("1", 512 * _MIB, 2048 * _MIB),
    )
}


def vgpu_slots(gpu: str, vgpu_type: str, aperture_bytes: int | None = None) -> int:
    """How many vGPUs of ``vgpu_type`` one GPU can host (vgpu.c's ``avail_instance``,
    capped by the generation's vGPU count).

    >>> vgpu_slots("bdw", "8"), vgpu_slots("bdw", "8", 512 << 20)
    (2, 6)
    """
    gen = GENERATIONS[gpu]
    aperture = gen.aperture_bytes if aperture_bytes is None else aperture_bytes
    t = VGPU_TYPES[vgpu_type]
    low = max(aperture - HOST_LOW_GM, 0) // t.low_gm
    high = max(gen.ggtt_bytes - aperture - HOST_HIGH_GM, 0) // t.high_gm
    return min(low, high, gen.max_vgpus)


@dataclass(frozen=True, slots=True)
class CostModel:
    """CPU time (ns) of each event the mediator handles; see :data:`COST_SOURCES`."""

    trap_ns: int = 6_000
    protect_call_ns: int = 1_500
    protect_page_ns: int = 150
    shadow_page_ns: int = 800
    shadow_entry_ns: int = 60
    oos_sync_page_ns: int = 1_200
    reread_page_ns: int = 2_000
    submission_ns: int = 15_000

    def names(self) -> tuple[str, ...]:
        """The field names (a scenario's ``[costs]`` keys)."""
        return tuple(f.name for f in fields(self))


#: Where each default comes from.  All are estimates: no published measurement
#: of XenGT on Xen 4.7 gives them one by one.
COST_SOURCES: dict[str, str] = {
    "trap_ns": "estimate: a write to a protected page, VM exit to ioreq to the dom0 "
    "mediator thread and back (an ioreq round trip is several µs on 2016 Xeons)",
    "protect_call_ns": "estimate: one DMOP/HVMOP hypercall from dom0",
    "protect_page_ns": "estimate: the p2m update and TLB flush share per page",
    "shadow_page_ns": "estimate: allocating, mapping and clearing one shadow page",
    "shadow_entry_ns": "estimate: translating one present guest entry (gfn to dma address)",
    "oos_sync_page_ns": "estimate: comparing 512 entries with the snapshot",
    "reread_page_ns": "estimate: mapping and copying one guest table page (proposal-2016)",
    "submission_ns": "estimate: workload scan and shadow context, per submission",
}


class PhysicalGpu:
    """What the vGPUs of one physical GPU share: the oos pool and the shadow budget.

    ``oos_pages`` 0 switches out-of-sync off; ``shadow_pages`` 0 is "as much
    as dom0 has" (never reclaimed).
    """

    def __init__(self, gpu: str = "bdw", *, oos_pages: int, shadow_pages: int = 0) -> None:
        if gpu not in GENERATIONS:
            raise ValueError(f"unknown GPU generation {gpu!r}")
        if oos_pages < 0 or shadow_pages < 0:
            raise ValueError("oos_pages and shadow_pages are counts (0 or more)")
        self.oos_pages = oos_pages
        self.shadow_pages = shadow_pages
        #: oos pool pages in use, oldest first: (mediator id, gfn) → steal callback.
        self.oos_in_use: OrderedDict[tuple[int, int], Callable[[], bool]] = OrderedDict()
        self.shadow_in_use = 0
        self.shadow_peak = 0
        #: shadowed address spaces, least recently used first: (mediator id, root) → reclaim.
        self.lru: OrderedDict[tuple[int, int], Callable[[], None]] = OrderedDict()
        self.pinned: set[tuple[int, int]] = set()
        self.reclaims = 0
        self.oos_steals = 0
        self.oos_peak = 0

    @property
    def oos_enabled(self) -> bool:
        """Out-of-sync is on (the pool has pages)."""
        return self.oos_pages > 0

    # -- shadow pages ---------------------------------------------------------

    def alloc_shadow(self, busy: Callable[[tuple[int, int]], bool] | None = None) -> bool:
        """One shadow page; reclaims LRU address spaces (not pinned, not ``busy``)
        while the budget is spent.  False when nothing is left to reclaim."""
        while self.shadow_pages and self.shadow_in_use >= self.shadow_pages:
            victim = next(
                (k for k in self.lru if k not in self.pinned and not (busy and busy(k))), None
            )
            if victim is None:
                return False
            reclaim = self.lru.pop(victim)
            self.reclaims += 1
            reclaim()
        self.shadow_in_use += 1
        self.shadow_peak = max(self.shadow_peak, self.shadow_in_use)
        return True

    def free_shadow(self, n: int = 1) -> None:
        """Give back ``n`` shadow pages."""
        self.shadow_in_use -= n

    def touch(self, key: tuple[int, int], reclaim: Callable[[], None]) -> None:
        """An address space was shadowed or used: to the LRU list's tail."""
        self.lru.pop(key, None)
        self.lru[key] = reclaim

    def forget(self, key: tuple[int, int]) -> None:
        """An address space is gone (or unshadowed)."""
        self.lru.pop(key, None)

    # -- out-of-sync pool -------------------------------------------------------

    def take_oos(self, key: tuple[int, int], sync_back: Callable[[], bool]) -> bool:
        """An oos page for ``key``; when none is free, the oldest in use is synced
        through its ``sync_back`` (which re-protects it) and taken.  False if that
        sync fails (as ``ppgtt_allocate_oos_page`` returns its error)."""
        if len(self.oos_in_use) >= self.oos_pages:
            old_sync = next(iter(self.oos_in_use.values()))
            if not old_sync():
                return False
            self.oos_in_use.popitem(last=False)  # the page just synced: the oldest
            self.oos_steals += 1
        self.oos_in_use[key] = sync_back
        self.oos_peak = max(self.oos_peak, len(self.oos_in_use))
        return True

    def give_oos(self, key: tuple[int, int]) -> None:
        """A page's oos snapshot is released (its table was unshadowed)."""
        self.oos_in_use.pop(key, None)

    def statistics(self) -> dict[str, int]:
        """The shared figures."""
        return {
            "oos_pages": self.oos_pages,
            "oos_pages_in_use": len(self.oos_in_use),
            "oos_pages_peak": self.oos_peak,
            "oos_steals": self.oos_steals,
            "shadow_pages_in_use": self.shadow_in_use,
            "shadow_pages_peak": self.shadow_peak,
            "lru_reclaims": self.reclaims,
        }
