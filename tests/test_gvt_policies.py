"""The two GVT-g policies, out-of-sync pages and the i915 write order, on hand-checked trees.

Each tree is built by the i915-like driver (tests count its tables by hand):
a 4-level address space has a PML4 and a scratch PDP, PD and PT; each leaf
adds a PDP, PD and PT on first use of the slot (one of each for the first leaf).
Behaviours cited: gtt.c (upstream) and vgt/gtt.c (2016 XenGT), see
``ioreqlab.dm.gvt_shipped``.
"""

from __future__ import annotations

import random

import pytest

from ioreqlab import devicemodel
from ioreqlab.dm.gvt_gpu import PhysicalGpu, vgpu_slots
from ioreqlab.dm.gvt_shipped import ShippedMediator
from ioreqlab.dm.gvtg import GvtgMediator, MediatorBase
from ioreqlab.host import Host
from ioreqlab.hv.domain import LOWMEM_END_PFN
from ioreqlab.workload.gpu import GpuDriver, GpuProcess
from ioreqlab.workload.guest import Guest, GuestAllocator, gpa


def _vgpu(
    host: Host,
    gpu: PhysicalGpu,
    cls: type[MediatorBase] = ShippedMediator,
    *,
    limit: int = 0,
    ptes: int = 4,
    name: str = "g",
    shape: str = "full-4level",
) -> tuple[MediatorBase, GpuDriver]:
    domid = host.create_domain(memory_mib=1024, name=name)
    dm = devicemodel.open(host, 0)
    if limit:
        dm.set_param(domid, host.xen.params.max_wp_ram_ranges, limit)
    med = cls(dm, domid, gpu=gpu)
    med.start()
    rng = random.Random(name)
    last = min(host.domains[domid].nr_pages, LOWMEM_END_PFN) - 1
    alloc = GuestAllocator(rng, 0x100, last, "scattered")
    drv = GpuDriver(
        Guest(host, domid, name), rng, alloc, ptes_per_table=ptes, buffer_pages=(1, 1), shape=shape
    )
    return med, drv


def test_a_tree_that_fits_is_shadowed_whole_and_protected() -> None:
    host = Host(design="rangeset")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0), limit=64)
    proc = drv.create_process(leaves=1)  # PML4 + scratch PDP/PD/PT + PDP + PD + PT = 7 tables
    assert isinstance(med, ShippedMediator)
    assert len(med.spts) == 7
    assert len(med.protected) == 7
    # i915 order: the PT is linked (a trap) before its 4 PTEs are written (4 traps);
    # the PDP and PD links trap too: 6 in all (the PML4 is protected from CREATE).
    assert med.stats["trapped_writes"] == 1 + 1 + 1 + 4
    drv.submit(proc)
    s = med.statistics()
    assert s["submissions_run"] == 1
    assert s["shadow_mismatches"] == 0
    assert s["failsafe"] == 0
    assert s["peak_protected_pages"] == 7
    assert host.statistics().domains[-1].tracking_entries == med.protected.runs


def test_a_tree_that_does_not_fit_sends_the_vgpu_into_failsafe() -> None:
    host = Host(design="rangeset")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0), limit=5)
    proc = drv.create_process(leaves=1)  # 7 scattered tables need 7 ranges: the 6th is refused
    assert isinstance(med, ShippedMediator)
    assert med.stats["limit_hits"] >= 1
    assert med.stats["stale_entries"] >= 1  # the failed link keeps its old shadow entry
    assert not med.failsafe  # not yet: at the next submission
    drv.submit(proc)
    drv.submit(proc)
    s = med.statistics()
    assert s["failsafe"] == 1
    assert s["submissions_run"] == 0
    assert s["lost_submissions"] == 2
    assert s["shadow_mismatches"] == 0  # nothing ran on a wrong shadow
    assert drv.guest.read(drv.bar + 0x108, 8) == 1


def test_in_failsafe_a_trapped_write_removes_the_protection() -> None:
    host = Host(design="p2m")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0))
    proc = drv.create_process(leaves=1)
    assert isinstance(med, ShippedMediator)
    med._enter_failsafe("test")
    pt = proc.leaves[0]
    assert pt in med.protected
    drv.guest.write(gpa(pt, 9), 8, 0x5003)
    assert pt not in med.protected  # page_track.c: failsafe removes the track
    assert drv.read_entry(pt, 9) == 0x5003  # and the write still reached guest RAM


def test_the_proposal_submits_a_tree_larger_than_the_limit_correctly() -> None:
    host = Host(design="rangeset")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0), GvtgMediator, limit=5)
    proc = drv.create_process(leaves=1)
    drv.submit(proc)
    s = med.statistics()
    assert s["failsafe"] == 0
    assert s["submissions_run"] == 1
    assert s["shadow_mismatches"] == 0
    assert s["pages_reread"] >= 2  # the two tables that did not fit, read again


def test_a_hot_leaf_goes_out_of_sync_and_back() -> None:
    host = Host(design="p2m")
    gpu = PhysicalGpu(oos_pages=4)
    med, drv = _vgpu(host, gpu, ptes=1)
    proc = drv.create_process(leaves=1)
    assert isinstance(med, ShippedMediator)
    pt = proc.leaves[0]
    spt = med.spts[pt]
    assert spt.write_cnt == 1
    assert not spt.out_of_sync
    traps = med.stats["trapped_writes"]
    drv.guest.write(gpa(pt, 100), 8, 0x7003)  # the second write: out of sync
    assert spt.out_of_sync
    assert pt not in med.protected
    assert med.oos_list == {pt: None}
    assert med.stats["trapped_writes"] == traps + 1
    drv.guest.write(gpa(pt, 101), 8, 0x8003)  # plain RAM now: no trap
    drv.guest.write(gpa(pt, 102), 8, 0x9003)
    assert med.stats["trapped_writes"] == traps + 1
    drv.submit(proc)  # intel_vgpu_sync_oos_pages: protect again, re-shadow what changed
    assert pt in med.protected
    assert not spt.out_of_sync
    assert spt.write_cnt == 0
    assert med.stats["oos_syncs"] == 1
    assert med.stats["oos_entries_synced"] == 2
    assert med.stats["shadow_mismatches"] == 0
    assert gpu.statistics()["oos_pages_in_use"] == 1  # the page keeps its snapshot


def test_without_oos_every_pte_write_after_the_link_traps() -> None:
    host = Host(design="p2m")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0), ptes=32)
    drv.create_process(leaves=1)
    assert med.stats["trapped_writes"] == 3 + 32
    host2 = Host(design="p2m")
    med2, drv2 = _vgpu(host2, PhysicalGpu(oos_pages=16), ptes=32)
    drv2.create_process(leaves=1)
    assert med2.stats["trapped_writes"] == 3 + 2  # the leaf went out of sync at its 2nd PTE


def test_the_oos_pool_is_shared_and_its_oldest_page_is_synced_back() -> None:
    host = Host(design="p2m")
    gpu = PhysicalGpu(oos_pages=1)
    a, da = _vgpu(host, gpu, ptes=2, name="a")
    pa = da.create_process(leaves=1)
    assert isinstance(a, ShippedMediator)
    assert a.spts[pa.leaves[0]].out_of_sync
    b, db = _vgpu(host, gpu, ptes=2, name="b")
    pb = db.create_process(leaves=1)
    assert isinstance(b, ShippedMediator)
    # b's leaf took the only pool page: a's was synced (protected again) and let go.
    assert b.spts[pb.leaves[0]].out_of_sync
    assert not a.spts[pa.leaves[0]].out_of_sync
    assert pa.leaves[0] in a.protected
    assert gpu.oos_steals == 1
    assert a.spts[pa.leaves[0]].snapshot is None
    da.submit(pa)
    db.submit(pb)
    assert a.stats["shadow_mismatches"] == b.stats["shadow_mismatches"] == 0


def test_the_shadow_budget_reclaims_the_lru_address_space() -> None:
    host = Host(design="p2m")
    gpu = PhysicalGpu(oos_pages=0, shadow_pages=12)
    med, drv = _vgpu(host, gpu)
    first = drv.create_process(leaves=1)  # 7 shadow pages
    drv.submit(first)
    second = drv.create_process(leaves=1)  # 7 more: over 12, the first is reclaimed
    assert isinstance(med, ShippedMediator)
    assert gpu.reclaims == 1
    assert med.stats["evictions"] == 1
    assert first.root not in med.protected
    assert second.root in med.protected
    drv.submit(first)  # shadowed again at its next pin (the second is reclaimed for it)
    assert med.stats["reshadows"] == 1
    assert med.stats["shadow_mismatches"] == 0
    assert first.root in med.protected
    assert gpu.shadow_in_use <= 12


def test_the_aliasing_ppgtt_is_shadowed_at_creation() -> None:
    host = Host(design="p2m")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0), shape="aliasing-3level")
    ctx = drv.create_process(leaves=0)
    # 4 PDs and their 2048 PTs, plus the scratch PT the unused... none: all are linked.
    assert isinstance(med, ShippedMediator)
    assert len(med.spts) == 4 + 4 * 512
    assert ctx.root not in med.protected  # the context's PDP registers are not a table
    drv.submit(ctx)
    other = drv.create_process(leaves=2)  # a second context shares the same PPGTT
    drv.submit(other)
    assert other.handle == ctx.handle
    assert med.stats["shadow_mismatches"] == 0


def test_vgpu_slots_follow_vgpu_c() -> None:
    # low GM: (aperture - 128 MiB) / type; high GM: (4 GiB - aperture - 384 MiB) / type.
    assert vgpu_slots("bdw", "8") == 2
    assert vgpu_slots("bdw", "8", 512 << 20) == 6
    assert vgpu_slots("bdw", "1", 1024 << 20) == 1
    assert vgpu_slots("hsw", "8", 512 << 20) == 3  # Haswell: 3 guests besides dom0


@pytest.mark.parametrize("policy", ["shipped", "proposal-2016"])
def test_a_partial_entry_write_is_shadowed_before_the_next_submission(policy: str) -> None:
    host = Host(design="p2m")
    cls = ShippedMediator if policy == "shipped" else GvtgMediator
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0), cls)
    proc = drv.create_process(leaves=1)
    pt = proc.leaves[0]
    drv.guest.write(gpa(pt, 7), 4, 0x4003)  # the low half of an entry
    drv.guest.write(gpa(pt, 7) + 4, 4, 0)
    drv.submit(proc)
    assert med.stats["shadow_mismatches"] == 0
    if isinstance(med, ShippedMediator):
        assert med.stats["post_shadow_flushes"] == 1


@pytest.mark.parametrize("policy", ["shipped", "proposal-2016"])
def test_a_2m_page_has_no_table_below_it(policy: str) -> None:
    host = Host(design="p2m")
    cls = ShippedMediator if policy == "shipped" else GvtgMediator
    domid = host.create_domain(memory_mib=1024, name="h")
    dm = devicemodel.open(host, 0)
    med = cls(dm, domid, gpu=PhysicalGpu(oos_pages=0))
    med.start()
    rng = random.Random(2)
    alloc = GuestAllocator(rng, 0x100, 0x3FFF, "scattered")
    drv = GpuDriver(Guest(host, domid, "h"), rng, alloc, huge_2m_percent=100, ptes_per_table=4)
    proc = drv.create_process(leaves=3)
    drv.submit(proc)
    # PML4 + scratch PDP/PD/PT + one PDP + one PD; the three leaves are 2 MiB PDEs.
    assert drv.huge_2m == 3
    assert proc.leaves == []
    assert len(med.protected) == 6
    assert med.stats["shadow_mismatches"] == 0


def test_huge_pages_need_a_full_ppgtt() -> None:
    host = Host(design="p2m")
    domid = host.create_domain(memory_mib=256, name="x")
    rng = random.Random(0)
    alloc = GuestAllocator(rng, 0x100, 0xFFF)
    with pytest.raises(ValueError, match="2 MiB pages need a full 4-level PPGTT"):
        GpuDriver(Guest(host, domid, "x"), rng, alloc, shape="aliasing-3level", huge_2m_percent=10)


@pytest.mark.parametrize(
    ("design", "limit", "oos", "budget"),
    [("p2m", 0, 3, 0), ("rangeset", 4096, 2, 40), ("rangeset", 30, 4, 0), ("p2m", 0, 0, 25)],
)
@pytest.mark.parametrize("seed", [1, 2])
def test_random_work_keeps_the_shadow_consistent(
    design: str, limit: int, oos: int, budget: int, seed: int
) -> None:
    # Two vGPUs on one GPU (shared pool and budget), random driver steps; after each,
    # every mediator's invariants hold, the GPU's counts add up, and the host tracks
    # exactly the pages the mediators protect.
    host = Host(design=design)
    gpu = PhysicalGpu(oos_pages=oos, shadow_pages=budget)
    pair = [_vgpu(host, gpu, limit=limit, ptes=3, name=f"v{i}") for i in range(2)]
    rng = random.Random(seed)
    procs: list[list[GpuProcess]] = [[], []]
    for _ in range(60):
        k = rng.randrange(2)
        _med, drv = pair[k]
        mine = procs[k]
        op = rng.choice(("create", "grow", "churn", "submit", "submit", "destroy", "partial"))
        if op == "create" or not mine:
            mine.append(drv.create_process(leaves=rng.randrange(1, 4)))
            continue
        proc = rng.choice(mine)
        if op == "grow":
            drv.grow(proc, rng.randrange(1, 3))
        elif op == "churn":
            drv.churn(proc, rng.randrange(1, 6))
        elif op == "submit":
            drv.submit(proc)
        elif op == "partial" and proc.leaves:
            pt = rng.choice(proc.leaves)
            drv.guest.write(gpa(pt, rng.randrange(512)), 4, rng.randrange(1 << 32) | 1)
        elif op == "destroy":
            drv.destroy_process(proc)
            mine.remove(proc)
        for m, _d in pair:
            assert isinstance(m, ShippedMediator)
            m.check_invariants()
        assert gpu.shadow_in_use == sum(
            len(m.spts) for m, _ in pair if isinstance(m, ShippedMediator)
        )
        assert len(gpu.oos_in_use) <= max(oos, 0)
        if not budget:
            assert gpu.shadow_in_use <= gpu.shadow_peak
        stats = {s.domid: s for s in host.statistics().domains}
        for m, _d in pair:
            tracked = stats[m.domid].tracked_pages
            assert tracked == len(m.protected)
            if design == "rangeset":
                assert stats[m.domid].tracking_entries == m.protected.runs
    for m, _d in pair:
        assert m.stats["shadow_mismatches"] == 0
