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
from ioreqlab.host import Host
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
    drv.guest.write(gpa(pt, 5), 8, 0x5003)  # trapped: the leaf's 2nd write, out of sync
    drv.guest.write(gpa(pt, 6), 8, 0x6003)  # not trapped
    drv.submit(proc)  # sync: entry 6 changed since the snapshot
    pd_gfn = next(g for g, s in med.spts.items() if s.level == 2 and g != pt and s.refs == 1)
    low = drv.read_entry(pd_gfn, 300) & 0xFFFFFFFF
    drv.guest.write(gpa(pd_gfn, 300), 4, low)  # a partial write: re-read at submission
    drv.submit(proc)  # flushes one post-shadow entry
    drv.guest.write(gpa(pt, 7), 8, 0x7003)  # trapped (in sync again): 1st write
    drv.guest.write(gpa(pt, 8), 8, 0x8003)  # trapped: 2nd, out of sync, snapshot kept current
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
