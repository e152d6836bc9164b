"""The shipped mediator's books: its cost model and counters, counted independently.

The capacity answers read the mediator's CPU time and counters, so each is
checked against a count the test makes itself: every cost is set to its own
power of 1,000, so the CPU time splits back into how many times each event
happened, and each of those is compared with what the test made the guest do.
"""

from __future__ import annotations

import random

import pytest

from ioreqlab.dm.gvt_gpu import CostModel, PhysicalGpu
from ioreqlab.dm.gvt_shipped import ShippedMediator, _present_count
from ioreqlab.dm.gvtg import LEGACY_ROOT, REG_CREATE, REG_DESTROY
from ioreqlab.host import Host
from ioreqlab.workload.gpu import GpuDriver, GpuProcess
from ioreqlab.workload.guest import gpa
from tests.test_gvt_policies import _vgpu

#: One power of 1,000 per event; protection calls cost nothing here.
_UNITS = CostModel(
    trap_ns=1,
    submission_ns=10**3,
    shadow_page_ns=10**6,
    oos_sync_page_ns=10**9,
    shadow_entry_ns=10**12,
    protect_call_ns=0,
    protect_page_ns=0,
    reread_page_ns=0,
)


def _split(cpu_ns: int) -> dict[str, int]:
    assert isinstance(cpu_ns, int)
    return {
        "traps": cpu_ns % 1000,
        "submissions": cpu_ns // 10**3 % 1000,
        "pages": cpu_ns // 10**6 % 1000,
        "syncs": cpu_ns // 10**9 % 1000,
        "entries": cpu_ns // 10**12,
    }


def test_present_count_is_the_entries_with_bit_0_set() -> None:
    rng = random.Random(3)
    for _ in range(200):
        table = bytes(rng.choice((0, 1, 2, 3, 0xFE, 0xFF)) for _ in range(rng.randrange(0, 65) * 8))
        naive = sum(table[i] & 1 for i in range(0, len(table), 8))
        assert _present_count(table) == naive
    assert _present_count(bytes([1, 0, 0, 0, 0, 0, 0, 0]) * 512) == 512
    assert _present_count(bytes([0, 1, 1, 1, 1, 1, 1, 1]) * 3) == 0  # only the low byte counts


def test_cpu_time_and_counters_add_up_to_what_the_guest_did() -> None:
    host = Host(design="p2m")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=4), ptes=1)
    assert isinstance(med, ShippedMediator)
    med.costs = _UNITS
    proc = drv.create_process(leaves=1)  # links a PDP, a PD, a PT, then 1 PTE: 4 traps
    pt, pd = proc.leaves[0], med.spts[proc.leaves[0]]
    drv.submit(proc)
    drv.guest.write(gpa(pt, 5), 8, 1 << 63 | 0x5003)  # trapped: the 2nd write, out of sync
    drv.guest.write(gpa(pt, 6), 8, 0x6003)  # not trapped
    drv.submit(proc)  # sync: entry 6 changed since the snapshot
    pd_gfn = next(g for g, s in med.spts.items() if s.level == 2 and g != pt and s.refs == 1)
    low = drv.read_entry(pd_gfn, 300) & 0xFFFFFFFF
    drv.guest.write(gpa(pd_gfn, 300), 4, low)  # a partial write: re-read at submission
    drv.submit(proc)  # flushes one post-shadow entry
    # Bit 63 set (here and in entry 5): the sync compares entries as the u64s they are.
    # Entries 3 and 4, below the ones written before: the snapshot must be
    # updated in place (a shifted snapshot would move entries 5 and 6).
    drv.guest.write(gpa(pt, 3), 8, 1 << 63 | 0x7003)  # trapped (in sync again): 1st write
    drv.guest.write(gpa(pt, 4), 8, 1 << 63 | 0x8003)  # trapped: 2nd, out of sync
    assert med.statistics()["oos_pages"] == 1
    drv.submit(proc)  # a sync with nothing changed
    s = med.statistics()
    assert pd is med.spts[pt]
    assert (s["submissions"], s["submissions_run"], s["lost_submissions"]) == (4, 4, 0)
    assert s["trapped_writes"] == 4 + 1 + 1 + 2
    assert (s["oos_syncs"], s["oos_entries_synced"], s["post_shadow_flushes"]) == (2, 1, 1)
    assert s["shadow_mismatches"] == 0
    split = _split(med.cpu_ns)
    assert split["traps"] == s["trapped_writes"]
    assert split["submissions"] == 4
    assert split["pages"] == s["pages_shadowed"] == 7
    assert split["syncs"] == 2
    # Each shadowed table is built from its 512 present entries (live or scratch);
    # each full trapped write to an in-sync table re-shadows one entry, as does the
    # flushed partial write and each entry a sync found changed.
    full_writes = 4 + 1 + 2
    assert split["entries"] == 512 * 7 + full_writes + 1 + 1
    assert s["mediator_cpu_ns"] == med.cpu_ns
    assert s["oos_pages_peak"] == 1
    assert (s["trees"], s["shadowed_pages"], s["oos_pages"]) == (1, 7, 0)
    med.check_invariants()


def test_a_vgpu_in_failsafe_counts_its_lost_submissions_and_spends_nothing_on_them() -> None:
    host = Host(design="rangeset")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0), limit=5)
    assert isinstance(med, ShippedMediator)
    med.costs = _UNITS
    proc = drv.create_process(leaves=1)  # the 6th protection is refused
    before = _split(med.cpu_ns)
    for _ in range(3):
        drv.submit(proc)
    s = med.statistics()
    assert (s["submissions"], s["submissions_run"], s["lost_submissions"]) == (3, 0, 3)
    assert _split(med.cpu_ns) == before
    assert med.failsafe_reason == med.broken
    assert "refused" in med.failsafe_reason


def test_verify_counts_each_table_that_differs_from_the_guests() -> None:
    host = Host(design="p2m")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0), ptes=2)
    assert isinstance(med, ShippedMediator)
    proc = drv.create_process(leaves=1)
    mm = med.mms[proc.root]
    assert med.verify(mm) == 0
    leaf = med.spts[proc.leaves[0]]
    leaf.shadow[0] ^= 0x10  # one table's shadow drifts
    assert med.verify(mm) == 1
    assert med.stats["shadow_mismatches"] == 1
    scratch = next(s for g, s in med.spts.items() if s.level == 1 and g != leaf.gfn)
    scratch.shadow[8 * 511] ^= 0x10  # and the scratch table, linked many times: counted once
    assert med.verify(mm) == 2
    assert med.stats["shadow_mismatches"] == 3
    mm.tables = []  # the roots the shadow was built from are not the guest's
    assert med.verify(mm) == 3
    mm.tables = [(proc.root, 4)]
    del med.spts[leaf.gfn]  # a table of the guest's tree with no shadow at all
    assert med.verify(mm) == 2


@pytest.mark.parametrize("oos", [0, 4])
def test_check_invariants_catches_a_wrong_reference_count(oos: int) -> None:
    host = Host(design="p2m")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=oos), ptes=2)
    assert isinstance(med, ShippedMediator)
    proc = drv.create_process(leaves=1)
    med.check_invariants()
    med.spts[proc.leaves[0]].refs += 1
    with pytest.raises(AssertionError, match="references"):
        med.check_invariants()


def test_reclaim_spares_the_address_space_whose_table_is_being_written() -> None:
    # Two address spaces fill the budget (7 shadow pages each).  Growing the
    # older one (the LRU head) needs a page inside its own trapped write: that
    # space is busy, so the other is reclaimed.
    host = Host(design="p2m")
    gpu = PhysicalGpu(oos_pages=0, shadow_pages=14)
    med, drv = _vgpu(host, gpu)
    assert isinstance(med, ShippedMediator)
    older, newer = drv.create_process(leaves=1), drv.create_process(leaves=1)
    assert gpu.shadow_in_use == 14
    drv.grow(older, 1)
    assert med.stats["evictions"] == 1
    assert med.stats["stale_entries"] == 0
    assert med.mms[older.root].shadowed
    assert not med.mms[newer.root].shadowed
    assert all(leaf in med.spts for leaf in older.leaves)
    med.check_invariants()


def test_another_vgpus_address_space_is_never_busy_even_at_the_same_root() -> None:
    # Two guests built alike (the same name seeds the same layout): the second
    # vGPU's space has the same root frame as the first's, but only the first's
    # own spaces are spared during its trapped write.
    host = Host(design="p2m")
    gpu = PhysicalGpu(oos_pages=0, shadow_pages=14)
    first, d1 = _vgpu(host, gpu, name="same")
    second, d2 = _vgpu(host, gpu, name="same")
    assert isinstance(first, ShippedMediator)
    assert isinstance(second, ShippedMediator)
    p1, p2 = d1.create_process(leaves=1), d2.create_process(leaves=1)
    assert p1.root == p2.root
    d1.grow(p1, 1)
    assert (first.stats["stale_entries"], second.stats["evictions"]) == (0, 1)
    assert first.mms[p1.root].shadowed
    assert not second.mms[p2.root].shadowed


def _link(proc: GpuProcess, child: int) -> tuple[int, int]:
    """The (table, index) of the driver's link to ``child``."""
    return next(key for key, c in proc.links.items() if c == child)


def _unused(proc: GpuProcess, table: int) -> list[int]:
    """The entries of ``table`` the driver has not linked (scratch links)."""
    return [i for i in range(512) if (table, i) not in proc.links]


def _entry(gfn: int) -> int:
    return (gfn << 12) | 0x3  # present, writable


def test_each_refused_link_leaves_one_stale_entry() -> None:
    host = Host(design="rangeset")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0), limit=6)
    proc = drv.create_process(leaves=1)
    assert med.stats["stale_entries"] == med.stats["limit_hits"] == 1
    drv.grow(proc, 3)
    assert med.stats["stale_entries"] == med.stats["limit_hits"] == 4


def test_create_and_destroy_follow_the_guests_announcements() -> None:
    host = Host(design="p2m")
    gpu = PhysicalGpu(oos_pages=0)
    med, drv = _vgpu(host, gpu)
    assert isinstance(med, ShippedMediator)
    assert (med.failsafe_reason, med.broken) == ("", None)
    proc = drv.create_process(leaves=1)
    refs = {g: s.refs for g, s in med.spts.items()}
    drv.guest.write(drv.bar + REG_CREATE, 8, proc.handle)  # CREATE again: already shadowed
    assert {g: s.refs for g, s in med.spts.items()} == refs
    drv.guest.write(drv.bar + REG_DESTROY, 8, 0xDEAD000)  # DESTROY of a space never announced
    assert {g: s.refs for g, s in med.spts.items()} == refs
    drv.destroy_process(proc)  # DESTROY: the whole tree is unshadowed
    assert (med.spts, len(med.protected), gpu.shadow_in_use) == ({}, 0, 0)
    assert med.stats["evictions"] == 0  # not a reclaim
    assert gpu.lru == {}
    assert proc.root not in med.mms
    med.check_invariants()


def test_in_failsafe_a_create_shadows_nothing_and_a_straddling_write_frees_both_pages() -> None:
    host = Host(design="p2m")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0))
    assert isinstance(med, ShippedMediator)
    assert med._try_protect([0x3000, 0x3001])  # two plain RAM pages, not tables
    drv.guest.write(gpa(0x3000, 0) + 4092, 8, 2**64 - 1)  # no shadow behind them: emulated
    assert {0x3000, 0x3001} <= set(med.protected)
    med._enter_failsafe("test")
    drv.guest.write(gpa(0x3000, 0) + 4092, 8, 0)  # straddles the two
    assert not {0x3000, 0x3001} & set(med.protected)
    drv.create_process(leaves=1)
    assert med.spts == {}
    # A REP STOS over two protected frames reaches the emulator as one request
    # (hvmemul_rep_stos sends the whole contiguous run): both lose their track.
    assert med._try_protect([0x3100, 0x3101])
    host.guest_access(med.domid, 0, "mmio", 0x3100 << 12, 8, write=True, data=0, count=1024)
    assert not {0x3100, 0x3101} & set(med.protected)


def test_a_table_linked_twice_stays_shadowed_when_one_link_goes() -> None:
    host = Host(design="p2m")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0), ptes=2)
    assert isinstance(med, ShippedMediator)
    proc = drv.create_process(leaves=1)
    pt = proc.leaves[0]
    pd, idx = _link(proc, pt)
    spare = (idx + 1) % 512
    scratch_link = drv.read_entry(pd, spare)
    drv.guest.write(gpa(pd, spare), 8, _entry(pt))  # the leaf linked a second time
    assert med.spts[pt].refs == 2
    drv.guest.write(gpa(pd, spare), 8, scratch_link)  # and that link dropped again
    assert med.spts[pt].refs == 1
    assert pt in med.protected
    med.check_invariants()


def test_unlinking_a_table_drops_every_reference_it_held() -> None:
    # The live PD links the scratch PT from every entry but one: freeing it
    # takes all of those references off the scratch PT at once.
    host = Host(design="p2m")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0), ptes=2)
    assert isinstance(med, ShippedMediator)
    proc = drv.create_process(leaves=1)
    pt = proc.leaves[0]
    pd, _ = _link(proc, pt)
    pdp, i3 = _link(proc, pd)
    scratch_pd_link = drv.read_entry(pdp, (i3 + 1) % 512)
    drv.guest.write(gpa(pdp, i3), 8, scratch_pd_link)
    assert pd not in med.spts
    assert pt not in med.spts
    med.check_invariants()
    drv.submit(proc)
    assert med.stats["shadow_mismatches"] == 0


def _link_by_halves(med: ShippedMediator, drv: GpuDriver, table: int, idx: int, child: int) -> None:
    """A partial (4-byte) write that links ``child``: it is shadowed at the next submission."""
    drv.guest.write(gpa(table, idx), 4, _entry(child) & 0xFFFFFFFF)
    assert table in med.post_list


def test_a_link_that_fails_when_flushed_at_submission_loses_the_submission() -> None:
    # The 7 tables of the tree fit the limit of 7 ranges exactly; a new leaf
    # table linked by a partial write is shadowed at submission, and its
    # protection is refused: the workload is not dispatched, failsafe follows.
    host = Host(design="rangeset")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0), limit=7)
    assert isinstance(med, ShippedMediator)
    med.costs = _UNITS
    proc = drv.create_process(leaves=1)
    pt = proc.leaves[0]
    pd, _ = _link(proc, pt)
    spare = _unused(proc, pd)[0]
    _link_by_halves(med, drv, pd, spare, 0x2000)  # a zeroed RAM page as the new PT
    before = _split(med.cpu_ns)
    drv.submit(proc)
    s = med.statistics()
    assert (s["submissions_run"], s["lost_submissions"], s["failsafe"]) == (0, 1, 1)
    assert (s["stale_entries"], s["post_shadow_flushes"]) == (1, 0)
    assert "refused" in med.failsafe_reason
    assert _split(med.cpu_ns)["submissions"] == before["submissions"] + 1  # the scan was paid
    drv.submit(proc)
    assert med.statistics()["lost_submissions"] == 2


def test_a_populate_that_fails_part_way_leaves_its_childrens_references() -> None:
    # ppgtt_populate_spt's error path frees the table it was building; the
    # children it had already shadowed keep the references it took.
    host = Host(design="rangeset")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0), limit=9)
    assert isinstance(med, ShippedMediator)
    proc = drv.create_process(leaves=1)  # 7 ranges
    pt = proc.leaves[0]
    pd, _ = _link(proc, pt)
    pdp, _ = _link(proc, pd)
    spare = _unused(proc, pdp)[0]
    new_pd, pt1, pt2 = 0x2000, 0x2100, 0x2200  # plain RAM, far apart: one range each
    drv.guest.write(gpa(new_pd, 0), 8, _entry(pt1))  # not protected: no trap
    drv.guest.write(gpa(new_pd, 1), 8, _entry(pt2))
    _link_by_halves(med, drv, pdp, spare, new_pd)
    drv.submit(proc)  # new PD (8th range) and pt1 (9th) shadowed, pt2 refused
    assert new_pd not in med.spts
    assert med.spts[pt1].refs == 1
    assert med.leaked == {pt1: 1}
    assert pt1 in med.protected
    assert new_pd not in med.protected
    assert med.stuck == set()
    med.check_invariants()


def test_a_submission_of_an_address_space_never_announced_shadows_it_then() -> None:
    host = Host(design="p2m")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0))
    assert isinstance(med, ShippedMediator)
    proc = drv.create_process(leaves=1)
    drv.destroy_process(proc)  # the mediator forgets it; the frames stay as they were
    assert med.spts == {}
    drv.guest.write(drv.bar + 0x0000, 8, proc.handle)  # REG_SUBMIT with no CREATE
    s = med.statistics()
    assert (s["submissions_run"], s["reshadows"], s["trees"]) == (1, 1, 1)
    assert len(med.spts) == 7
    assert med.statistics()["oos_pages_peak"] == 0


def test_a_create_that_cannot_be_shadowed_breaks_the_vgpu_with_its_reason() -> None:
    host = Host(design="rangeset")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0), limit=2)
    assert isinstance(med, ShippedMediator)
    proc = drv.create_process(leaves=0)  # PML4 and 3 scratch tables: the 3rd is refused
    assert med.broken is not None
    assert "refused" in med.broken
    assert (med.spts, len(med.protected)) == ({}, 0)  # the partial shadow is dropped
    drv.submit(proc)
    assert med.failsafe_reason == med.broken


def test_an_aliasing_ppgtt_that_cannot_be_shadowed_drops_the_directories_it_had() -> None:
    # shadow_ppgtt_mm fails part way through the four PDs: invalidate_ppgtt_mm
    # drops the ones already shadowed; the PD that failed leaves the PTs it
    # had shadowed (ppgtt_populate_spt's error path), and nothing else stays.
    host = Host(design="rangeset")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0), limit=600, shape="aliasing-3level")
    assert isinstance(med, ShippedMediator)
    drv.create_process(leaves=0)  # 4 PDs x (1 + 512 PTs): the second PD's tree does not fit
    assert med.broken is not None
    assert 0 < len(med.spts) < 512
    assert set(med.spts) == set(med.leaked) == set(med.protected)
    assert all(spt.level == 1 and spt.refs == 1 for spt in med.spts.values())
    med.check_invariants()


def test_reclaim_and_reshadow_count_every_time() -> None:
    host = Host(design="p2m")
    gpu = PhysicalGpu(oos_pages=0, shadow_pages=7)
    med, drv = _vgpu(host, gpu)
    a, b = drv.create_process(leaves=1), drv.create_process(leaves=1)  # b evicts a
    drv.submit(a)  # a evicts b
    drv.submit(b)  # b evicts a
    s = med.statistics()
    assert (s["evictions"], s["reshadows"], s["submissions_run"]) == (3, 2, 2)
    assert s["shadow_mismatches"] == 0


def test_a_submitting_space_is_pinned_and_never_reclaimed_for_its_own_flush() -> None:
    # The budget holds the tree exactly; a link flushed at submission needs one
    # more page, and the only space to reclaim is the one being submitted.
    host = Host(design="p2m")
    gpu = PhysicalGpu(oos_pages=0, shadow_pages=7)
    med, drv = _vgpu(host, gpu)
    assert isinstance(med, ShippedMediator)
    proc = drv.create_process(leaves=1)
    pt = proc.leaves[0]
    pd, _ = _link(proc, pt)
    spare = _unused(proc, pd)[0]
    _link_by_halves(med, drv, pd, spare, 0x2000)
    drv.submit(proc)
    s = med.statistics()
    assert (s["evictions"], s["lost_submissions"], s["failsafe"]) == (0, 1, 1)
    assert "no shadow page" in med.failsafe_reason


def test_an_oos_page_whose_protection_is_refused_at_submission_loses_it() -> None:
    # intel_vgpu_sync_oos_pages fails: the workload is not dispatched.
    host = Host(design="rangeset")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=4), limit=7, ptes=2)
    assert isinstance(med, ShippedMediator)
    proc = drv.create_process(leaves=1)  # 7 ranges; the leaf's 2nd PTE sends it out of sync
    pt = proc.leaves[0]
    assert med.spts[pt].out_of_sync
    pd, _ = _link(proc, pt)
    spare = _unused(proc, pd)[0]
    drv.guest.write(gpa(pd, spare), 8, _entry(0x2000))  # a new leaf takes the freed range
    assert 0x2000 in med.protected
    drv.submit(proc)
    s = med.statistics()
    assert (s["submissions_run"], s["lost_submissions"], s["failsafe"]) == (0, 1, 1)
    assert "re-protecting oos page" in med.failsafe_reason


def test_a_child_left_behind_by_two_failed_populates_keeps_both_references() -> None:
    host = Host(design="rangeset")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0), limit=9)
    assert isinstance(med, ShippedMediator)
    proc = drv.create_process(leaves=1)  # 7 ranges
    pt = proc.leaves[0]
    pd, _ = _link(proc, pt)
    pdp, _ = _link(proc, pd)
    free = _unused(proc, pdp)
    shared, (pd1, pt1), (pd2, pt2) = 0x2100, (0x2000, 0x2200), (0x2300, 0x2400)
    for new_pd, own in ((pd1, pt1), (pd2, pt2)):
        drv.guest.write(gpa(new_pd, 0), 8, _entry(shared))  # unprotected: no trap
        drv.guest.write(gpa(new_pd, 1), 8, _entry(own))
    drv.guest.write(gpa(pdp, free[0]), 8, _entry(pd1))  # pd1, shared; pt1 refused
    drv.guest.write(gpa(pdp, free[1]), 8, _entry(pd2))  # pd2; shared again; pt2 refused
    assert med.leaked == {shared: 2}
    assert med.spts[shared].refs == 2
    med.check_invariants()


def test_every_table_of_a_space_is_busy_while_written_and_nothing_else() -> None:
    host = Host(design="p2m")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0))
    other, _ = _vgpu(host, PhysicalGpu(oos_pages=0), name="other")
    assert isinstance(med, ShippedMediator)
    proc = drv.create_process(leaves=3)
    key = (id(med), proc.root)
    assert not med._busy(key)  # no trapped write under way
    for gfn in proc.frames():
        med._trap_gfn = gfn
        assert med._busy(key), hex(gfn)
        assert not med._busy((id(other), proc.root))
    med._trap_gfn = 0x1  # not a table of the space
    assert not med._busy(key)
    med._trap_gfn = None


def test_a_freed_tables_partial_writes_are_forgotten_with_it() -> None:
    host = Host(design="p2m")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0), ptes=2)
    assert isinstance(med, ShippedMediator)
    proc = drv.create_process(leaves=1)
    pt = proc.leaves[0]
    pd, idx = _link(proc, pt)
    link = drv.read_entry(pd, idx)
    drv.guest.write(gpa(pt, 40), 4, 0x4003)  # a partial write: pending on the leaf
    assert pt in med.post_list
    drv.guest.write(gpa(pd, idx), 8, drv.read_entry(pd, (idx + 1) % 512))  # unlinked: freed
    drv.guest.write(gpa(pd, idx), 8, link)  # linked again: shadowed afresh, as the page is now
    drv.submit(proc)
    assert med.statistics()["post_shadow_flushes"] == 0
    assert med.statistics()["shadow_mismatches"] == 0


def test_a_flush_that_reclaims_another_space_skips_its_freed_tables_and_goes_on() -> None:
    # Flushing the first space's link needs a shadow page: the second space is
    # reclaimed, its pending table with it; the flush goes on to the next one.
    host = Host(design="p2m")
    gpu = PhysicalGpu(oos_pages=0, shadow_pages=14)
    med, drv = _vgpu(host, gpu, ptes=2)
    assert isinstance(med, ShippedMediator)
    a, b = drv.create_process(leaves=1), drv.create_process(leaves=1)
    a_pt, b_pt = a.leaves[0], b.leaves[0]
    a_pd, _ = _link(a, a_pt)
    spare = _unused(a, a_pd)[0]
    _link_by_halves(med, drv, a_pd, spare, 0x2000)
    drv.guest.write(gpa(b_pt, 60), 4, 0x6003)
    drv.guest.write(gpa(a_pt, 61), 4, 0x7003)
    assert list(med.post_list) == [a_pd, b_pt, a_pt]
    drv.submit(a)
    s = med.statistics()
    assert (s["evictions"], s["post_shadow_flushes"], s["shadow_mismatches"]) == (1, 2, 0)
    assert med.post_list == {}
    assert not med.mms[b.root].shadowed
    med.check_invariants()


def test_a_table_whose_protection_cannot_be_removed_stays_stuck() -> None:
    # Three new leaf tables on adjacent frames share one range; unlinking the
    # middle one would split it past the limit, so its protection stays.
    host = Host(design="rangeset")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0), limit=8)
    assert isinstance(med, ShippedMediator)
    proc = drv.create_process(leaves=1)  # 7 ranges
    pt = proc.leaves[0]
    pd, _ = _link(proc, pt)
    free = _unused(proc, pd)[:3]
    scratch_link = drv.read_entry(pd, free[0])
    for i, gfn in zip(free, (0x3000, 0x3001, 0x3002), strict=True):
        drv.guest.write(gpa(pd, i), 8, _entry(gfn))  # the 8th range, then merged into it
    assert med.protected.runs == 8
    drv.guest.write(gpa(pd, free[1]), 8, scratch_link)  # unlink 0x3001: the split is refused
    assert 0x3001 not in med.spts
    assert med.stuck == {0x3001}
    assert 0x3001 in med.protected
    med.check_invariants()


def test_a_directory_listed_twice_in_a_legacy_context_holds_two_references() -> None:
    # ppgtt_populate_shadow_entry takes a reference per root entry (gtt.c): the
    # same page directory in two of the four PDPs is referenced twice, and
    # dropping the space drops both.
    host = Host(design="p2m")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0))
    assert isinstance(med, ShippedMediator)
    guest, ctx, pd, pt = drv.guest, 0x5000, 0x5001, 0x5002
    guest.write(gpa(ctx, 0), 8, pd << 12 | 3)
    guest.write(gpa(ctx, 2), 8, pd << 12 | 3)
    guest.write(gpa(pd, 0), 8, pt << 12 | 3)
    guest.write(drv.bar + REG_CREATE, 8, ctx | LEGACY_ROOT)
    assert (med.spts[pd].refs, med.spts[pt].refs) == (2, 1)
    med.check_invariants()
    guest.write(drv.bar + REG_DESTROY, 8, ctx | LEGACY_ROOT)
    assert pd not in med.spts
    assert pt not in med.spts
    med.check_invariants()


def test_stop_unshadows_every_space_and_destroys_the_server() -> None:
    host = Host(design="p2m")
    med, drv = _vgpu(host, PhysicalGpu(oos_pages=0))
    assert isinstance(med, ShippedMediator)
    drv.create_process(leaves=1)
    drv.create_process(leaves=2)
    assert med.spts
    med.stop()
    assert (med.spts, med.mms, len(med.protected)) == ({}, {}, 0)
    assert host.statistics().domains[-1].servers == 0


def test_a_policy_is_named_by_its_class_or_refused_with_the_choices() -> None:
    from ioreqlab.dm.gvt_shipped import mediator_class  # noqa: PLC0415
    from ioreqlab.dm.gvtg import GvtgMediator  # noqa: PLC0415

    assert mediator_class("shipped") is ShippedMediator
    assert mediator_class("proposal-2016") is GvtgMediator
    with pytest.raises(
        ValueError, match=r"unknown GVT-g policy 'x' \(known: shipped, proposal-2016\)"
    ):
        mediator_class("x")
