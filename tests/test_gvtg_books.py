"""The proposal-2016 mediator's books, and what both policies share, pinned exactly.

The capacity answers read the mediator's counters and CPU time, so each test
builds its guest tables by hand (known frames, known links), makes the guest
do a known sequence, and checks every counter against the count the test
made itself.  Every cost is its own power of 1,000, so the CPU time splits
back into how many times each event happened.

The shared parts are pinned here too: the vGPU's PCI identity and register
BAR as the guest sees them through the host, the emulation of a trapped
request element by element (Xen hands the mediator rep and pointer requests:
``hvmemul_rep_movs``/``hvmemul_rep_stos`` send them to the server of a
``p2m_ioreq_server`` page, xen/arch/x86/hvm/emulate.c at RELEASE-4.17.0), and
the address bits an entry's frame is read from (gtt.c's ``ADDR_4K_MASK``).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from functools import partial

import pytest

from ioreqlab import devicemodel
from ioreqlab.abi.constants import IoReqDir, IoReqType
from ioreqlab.abi.ioreq import IoReq
from ioreqlab.devicemodel import DeviceModel
from ioreqlab.dm.gvt_gpu import CostModel
from ioreqlab.dm.gvt_shipped import ShippedMediator
from ioreqlab.dm.gvtg import (
    ADDR_4K_MASK,
    BAR_SIZE,
    GGTT_BASE,
    LEGACY_ROOT,
    REG_CREATE,
    REG_DESTROY,
    REG_FAILSAFE,
    REG_SUBMISSIONS,
    REG_SUBMIT,
    VGPU_BAR_BASE,
    GvtgMediator,
    MediatorBase,
    ProtectedSet,
    child_tables,
    entry_gfn,
    root_tables,
)
from ioreqlab.host import Host
from ioreqlab.workload.guest import Guest, gpa

#: One power of 1,000 per event the proposal's books count.
_UNITS = CostModel(
    trap_ns=1,
    submission_ns=10**3,
    shadow_page_ns=10**6,
    reread_page_ns=10**9,
    protect_call_ns=10**12,
    protect_page_ns=10**15,
    shadow_entry_ns=0,
    oos_sync_page_ns=0,
)
_EVENTS = ("traps", "submissions", "pages_shadowed", "pages_reread", "calls", "pages_changed")


def _split(cpu_ns: int) -> dict[str, int]:
    """The CPU time back as counts: each event's count is one base-1,000 digit."""
    assert isinstance(cpu_ns, int)
    return {name: cpu_ns // 1000**k % 1000 for k, name in enumerate(_EVENTS)}


def _guest(design: str = "p2m", *, heap: int = 64 << 20) -> tuple[Host, DeviceModel, Guest]:
    """A 64 MiB guest on a fresh host, and dom0's device-model handle."""
    host = Host(design=design, xen_heap_bytes=heap)
    domid = host.create_domain(memory_mib=64, name="g")
    return host, devicemodel.open(host, 0), Guest(host, domid, "g")


def _setup(
    design: str = "p2m",
    *,
    limit: int = 0,
    timer: Iterator[int] | None = None,
    heap: int = 64 << 20,
) -> tuple[Host, GvtgMediator, Guest]:
    host, dm, guest = _guest(design, heap=heap)
    if limit:
        dm.set_param(guest.domid, host.xen.params.max_wp_ram_ranges, limit)
    clock = partial(next, timer) if timer is not None else None
    med = GvtgMediator(dm, guest.domid, costs=_UNITS, timer=clock)
    med.start()
    return host, med, guest


def _shipped() -> tuple[ShippedMediator, Guest]:
    """The shipped policy, started with its defaults (its own GPU, no OOS pool)."""
    _host, dm, guest = _guest()
    med = ShippedMediator(dm, guest.domid)
    med.start()
    return med, guest


def _link(guest: Guest, table: int, idx: int, child: int, flags: int = 3) -> None:
    guest.write(gpa(table, idx), 8, child << 12 | flags)


def _tree(guest: Guest, pml4: int, pdp: int, pd: int, pts: list[int]) -> None:
    """A 4-level tree written into RAM before the vGPU hears of it (no traps)."""
    _link(guest, pml4, 0, pdp)
    _link(guest, pdp, 0, pd)
    for i, pt in enumerate(pts):
        _link(guest, pd, i, pt)
        _link(guest, pt, 0, 0x3000 + i)  # one mapped data page per PT


def _reg(guest: Guest, reg: int, value: int) -> None:
    guest.write(VGPU_BAR_BASE + reg, 8, value)


# -- the books ---------------------------------------------------------------------------


def test_every_counter_and_the_cpu_time_follow_what_the_guest_did() -> None:
    ticks = iter(range(0, 10**6, 10))  # each reading of the clock is 10 ns later
    host, med, guest = _setup(timer=ticks)
    # PML4 0x200 and PDP 0x201 are adjacent (one run); PD 0x300, PT 0x400 apart.
    _tree(guest, 0x200, 0x201, 0x300, [0x400])
    _reg(guest, REG_CREATE, 0x200)
    assert med.trees[0x200].tables == {0x200: 4, 0x201: 3, 0x300: 2, 0x400: 1}
    assert med.statistics()["protected_ranges"] == 3
    # A trapped write to the leaf: emulated, snapshot kept, no structure change.
    guest.write(gpa(0x400, 5), 8, 0x5003)
    assert not med.trees[0x200].stale_structure
    assert med.snapshots[0x400][40:48] == (0x5003).to_bytes(8, "little")
    # A new PT 0x401 (filled while unprotected), then linked: the PD write traps and
    # marks the tree for a re-walk.
    _link(guest, 0x401, 7, 0x3100)
    _link(guest, 0x300, 1, 0x401)
    assert med.trees[0x200].stale_structure
    _reg(guest, REG_SUBMIT, 0x200)  # the re-walk shadows and protects 0x401
    assert not med.trees[0x200].stale_structure
    assert med.trees[0x200].tables[0x401] == 1
    assert guest.read(VGPU_BAR_BASE + REG_SUBMISSIONS, 8) == 1
    # Unlink the first PT: at the next submission it loses its shadow and protection.
    guest.write(gpa(0x300, 0), 8, 0)
    _reg(guest, REG_SUBMIT, 0x200)
    assert 0x400 not in med.snapshots
    assert 0x400 not in med.protected
    _reg(guest, REG_DESTROY, 0x200)
    s = med.statistics()
    assert s == {
        "submissions": 2,
        "submissions_run": 2,
        "lost_submissions": 0,
        "trapped_writes": 3,
        "pages_shadowed": 5,
        "protections": 5,
        "unprotections": 5,  # 0x400 at the second submission, the other 4 at destroy
        "unprotect_failures": 0,
        "limit_hits": 0,
        "evictions": 0,  # a destroy is not an eviction
        "reshadows": 0,
        "pages_reread": 0,
        "shadow_mismatches": 0,
        "stale_entries": 0,
        "oos_syncs": 0,
        "failsafe": 0,
        "protected_pages": 0,
        "protected_ranges": 0,
        "peak_protected_pages": 5,
        "peak_runs": 3,  # 0x401 joined 0x400's run
        "mediator_cpu_ns": med.cpu_ns,
        "trees": 0,
        "shadowed_pages": 0,
        "oos_pages": 0,
        "oos_pages_peak": 0,
    }
    # One call per protect or unprotect the mediator makes, whatever its runs:
    # protects at CREATE (4 pages) and the first submission (1); unprotects at the
    # second submission (1) and DESTROY (4).
    assert _split(med.cpu_ns) == {
        "traps": 3,
        "submissions": 2,
        "pages_shadowed": 5,
        "pages_reread": 0,
        "calls": 2 + 2,
        "pages_changed": 5 + 5,
    }
    # The timer: each trapped write and each submission is one interval of 10 ns.
    assert med.elapsed_ns == {"trapped_writes": 3 * 10, "submissions": 2 * 10}
    assert host.statistics().domains[-1].tracking_entries == 0


def test_a_protection_refused_evicts_the_least_recently_used_inactive_tree() -> None:
    # 4 ranges allowed: each tree needs 3 (its PML4 and PDP are adjacent).
    _host, med, guest = _setup("rangeset", limit=4)
    _tree(guest, 0x200, 0x201, 0x300, [0x400])
    _tree(guest, 0x210, 0x211, 0x310, [0x410])
    _tree(guest, 0x220, 0x221, 0x320, [0x420])
    _reg(guest, REG_CREATE, 0x200)
    _reg(guest, REG_SUBMIT, 0x200)  # A last ran at 1
    _reg(guest, REG_CREATE, 0x210)  # B: no room; A is the only other tree: evicted
    assert set(med.trees) == {0x210}
    assert med.evicted == {0x200}
    _reg(guest, REG_SUBMIT, 0x210)  # B last ran at 2
    _reg(guest, REG_SUBMIT, 0x200)  # A again: read whole again, B evicted for it
    assert set(med.trees) == {0x200}
    assert med.evicted == {0x210}
    assert med.trees[0x200].last_used == 3
    _reg(guest, REG_CREATE, 0x220)  # C: A (the only other) goes
    _reg(guest, REG_SUBMIT, 0x210)  # B: C (last used 0) goes, not A (gone already)
    assert set(med.trees) == {0x210}
    assert med.evicted == {0x200, 0x220}
    _reg(guest, REG_DESTROY, 0x200)  # an evicted tree destroyed: forgotten
    assert med.evicted == {0x220}
    s = med.statistics()
    assert (s["limit_hits"], s["evictions"], s["reshadows"], s["pages_reread"]) == (4, 4, 2, 8)
    assert (s["pages_shadowed"], s["protections"], s["unprotections"]) == (20, 20, 16)
    assert (s["shadow_mismatches"], s["protected_pages"]) == (0, 4)
    assert _split(med.cpu_ns) == {
        "traps": 0,
        "submissions": 4,
        "pages_shadowed": 20,
        "pages_reread": 8,  # the two re-shadows of evicted trees, 4 pages each
        # 4 refused protects + 5 that fit; 4 evictions, one unprotect call each
        "calls": 4 + 5 + 4,
        # pages counted per call, refused or not: 4 x 4 refused, 20 protected, 16 freed
        "pages_changed": 16 + 20 + 16,
    }


def test_a_tree_larger_than_the_limit_protects_what_fits_and_rereads_the_rest() -> None:
    # 6 scattered tables, 4 ranges allowed: page by page, 4 fit and 2 are refused.
    _host, med, guest = _setup("rangeset", limit=4)
    _tree(guest, 0x200, 0x202, 0x204, [0x206, 0x208, 0x20A])
    _reg(guest, REG_CREATE, 0x200)
    assert med.statistics()["limit_hits"] == 1 + 2
    assert len(med.protected) == 4
    unprotected = [g for g in med.trees[0x200].tables if g not in med.protected]
    assert len(unprotected) == 2
    for gfn in unprotected:
        guest.write(gpa(gfn, 9), 8, 0x9003)  # plain RAM writes: no trap
    _reg(guest, REG_SUBMIT, 0x200)
    _reg(guest, REG_SUBMIT, 0x200)
    s = med.statistics()
    assert s["trapped_writes"] == 0
    assert (s["reshadows"], s["pages_reread"]) == (2, 4)  # both submissions re-read both
    assert s["shadow_mismatches"] == 0
    assert _split(med.cpu_ns)["pages_reread"] == 4


def test_verify_counts_the_structure_and_each_page_that_differs() -> None:
    _host, med, guest = _setup()
    _tree(guest, 0x200, 0x201, 0x300, [0x400, 0x401])
    _reg(guest, REG_CREATE, 0x200)
    tree = med.trees[0x200]
    assert med.verify(tree) == 0
    med.snapshots[0x400] = bytes(4096)  # two pages' snapshots wrong
    med.snapshots[0x401] = bytes(4096)
    assert med.verify(tree) == 2
    del tree.tables[0x401]  # and the tree's set of tables too
    assert med.verify(tree) == 1 + 1
    assert med.stats["shadow_mismatches"] == 2 + 2


def test_a_legacy_root_is_its_four_page_directories() -> None:
    _host, med, guest = _setup()
    ctx = 0x500
    _link(guest, ctx, 0, 0x300)
    _link(guest, ctx, 3, 0x301)
    guest.write(gpa(ctx, 4), 8, 0x302 << 12 | 3)  # a fifth PDP is not one
    _link(guest, 0x300, 0, 0x400)
    _reg(guest, REG_CREATE, ctx | LEGACY_ROOT)
    assert med.trees[ctx | LEGACY_ROOT].tables == {0x300: 2, 0x301: 2, 0x400: 1}
    assert ctx not in med.protected  # the context image is not a table


# -- entries -----------------------------------------------------------------------------


def test_an_entrys_frame_is_read_from_bits_12_to_45() -> None:
    assert ADDR_4K_MASK == 0x3FFF_FFFF_F000
    assert entry_gfn(1 << 63 | 1 << 52 | 1 << 46 | 0x1234_5000 | 0xFFF) == 0x12345
    high = 1 << 63 | 1 << 46  # flags above the address: ignored, as gtt.c does
    table = bytearray(4096)
    table[0:8] = (high | 0x77 << 12 | 1).to_bytes(8, "little")
    table[8:16] = (0x78 << 12).to_bytes(8, "little")  # not present
    table[16:24] = (0x79 << 12 | 0x80 | 1).to_bytes(8, "little")  # PS
    assert child_tables(table, 3) == [0x77, 0x79]
    assert child_tables(table, 2) == [0x77]  # at level 2, PS is a 2 MiB page
    assert child_tables(table, 1) == []
    page = memoryview(bytearray(table))
    assert root_tables(page, 0x500 | LEGACY_ROOT) == [(0x77, 2), (0x79, 2)]
    assert root_tables(None, 0x500 | LEGACY_ROOT) == []
    assert root_tables(None, 0x500) == [(0x500, 4)]


def test_a_high_flag_in_a_link_is_not_part_of_the_frame() -> None:
    _host, med, guest = _setup()
    _link(guest, 0x200, 0, 0x201, flags=3 | 1 << 46)
    _link(guest, 0x201, 0, 0x300)
    _reg(guest, REG_CREATE, 0x200)
    assert set(med.trees[0x200].tables) == {0x200, 0x201, 0x300}


def test_the_protected_set_counts_runs_as_the_rangeset_stores_them() -> None:
    rng = random.Random(17)
    p = ProtectedSet()
    model: set[int] = set()
    peak_runs = peak_pages = 0
    for _ in range(400):
        gfns = [rng.randrange(40) for _ in range(rng.randrange(1, 6))]
        if rng.random() < 0.55:
            p.add(gfns)
            model.update(gfns)
            runs = sum(1 for g in model if g - 1 not in model)
            peak_runs, peak_pages = max(peak_runs, runs), max(peak_pages, len(model))
        else:
            p.discard(gfns)
            model.difference_update(gfns)
        assert p.runs == sum(1 for g in model if g - 1 not in model)
        assert set(p) == model
        assert len(p) == len(model)
        assert (p.peak_runs, p.peak_pages) == (peak_runs, peak_pages)


# -- the vGPU as the guest sees it ----------------------------------------------------


def _cfg(guest: Guest, reg: int, value: int | None = None) -> int:
    guest.outb(0xCF8, 0x8000_0000 | 2 << 11 | reg, 4)  # bus 0, device 2, function 0
    if value is not None:
        guest.outb(0xCFC, value, 4)
        return 0
    return guest.inb(0xCFC, 4)


def test_the_vgpu_is_an_intel_gpu_at_00_02_0_with_a_2m_register_bar() -> None:
    _host, _med, guest = _setup()
    assert _cfg(guest, 0x00) == 0x1616_8086
    assert _cfg(guest, 0x08) >> 8 == 0x030000  # a VGA-compatible display controller
    assert _cfg(guest, 0x10) == VGPU_BAR_BASE
    _cfg(guest, 0x10, 0xFFFF_FFFF)  # BAR sizing
    assert _cfg(guest, 0x10) == (~(BAR_SIZE - 1)) & 0xFFFF_FFFF
    _cfg(guest, 0x10, VGPU_BAR_BASE)
    assert _cfg(guest, 0x14) == 0  # BAR 1: none
    _cfg(guest, 0x14, 0xFFFF_FFFF)
    assert _cfg(guest, 0x14) == 0xFFFF_FFFF  # a plain register, not a BAR
    guest.outb(0xCF8, 0x8000_0000 | 3 << 11, 4)  # device 3: not the vGPU's
    assert guest.inb(0xCFC, 4) != 0x1616_8086


def test_the_register_bar_decodes_its_2m_and_no_more() -> None:
    _host, med, guest = _setup()
    sid = med.server.server_id
    last = guest.access("mmio", VGPU_BAR_BASE + BAR_SIZE - 1, 1, write=False)
    assert (last.route, last.server_id) == ("server", sid)
    after = guest.access("mmio", VGPU_BAR_BASE + BAR_SIZE, 1, write=False)
    assert after.server_id != sid


def test_the_registers_and_the_global_gtt_read_back() -> None:
    _host, med, guest = _setup()
    bar = VGPU_BAR_BASE
    assert guest.read(bar + REG_FAILSAFE, 8) == 0
    assert guest.read(bar + 0x200, 8) == 0  # no such register
    guest.write(bar + 0x200, 8, 7)  # ignored
    assert guest.read(bar + 0x200, 8) == 0
    guest.write(bar + GGTT_BASE, 8, 0x1111)
    guest.write(bar + GGTT_BASE + 16, 8, 0x2222)
    assert med.ggtt == {0: 0x1111, 2: 0x2222}
    assert guest.read(bar + GGTT_BASE, 8) == 0x1111
    assert guest.read(bar + GGTT_BASE + 8, 8) == 0  # never written
    assert guest.read(bar + GGTT_BASE + 16, 8) == 0x2222
    med.failsafe = True
    assert guest.read(bar + REG_FAILSAFE, 8) == 1
    for _ in range(3):
        _reg(guest, REG_SUBMIT, 0x200)
    assert guest.read(bar + REG_SUBMISSIONS, 8) == 3


def test_without_a_gpu_a_mediator_has_its_own_with_no_oos_pool() -> None:
    med, guest = _shipped()
    _tree(guest, 0x200, 0x201, 0x300, [0x400])
    _reg(guest, REG_CREATE, 0x200)
    for i in range(1, 20):  # a hot leaf: with an OOS pool it would go out of sync
        guest.write(gpa(0x400, i), 8, (0x3000 + i) << 12 | 3)
    s = med.statistics()
    assert (s["oos_pages"], s["oos_pages_peak"], s["trapped_writes"]) == (0, 0, 19)


# -- emulating a trapped request -------------------------------------------------------


def _req(addr: int, size: int, data: int, *, count: int = 1, df: bool = False,
         ptr: bool = False) -> IoReq:  # fmt: skip
    return IoReq(addr, data, count, size, 0, 0, ptr, IoReqDir.WRITE, df, IoReqType.COPY)


@pytest.fixture
def emu() -> tuple[MediatorBase, Guest]:
    _host, med, guest = _setup()
    return med, guest


def _bytes(guest: Guest, gfn: int, off: int, n: int) -> bytes:
    return bytes(guest.read((gfn << 12) + off + i, 1) for i in range(n))


def test_a_value_is_cut_to_the_access_size(emu: tuple[MediatorBase, Guest]) -> None:
    med, guest = emu
    assert med._emulate(_req(0x600_101, 2, 0xAABB_CCDD)) == [(0x600, 0x101, 2)]
    assert _bytes(guest, 0x600, 0x100, 4) == bytes([0, 0xDD, 0xCC, 0])


def test_a_rep_goes_up_or_down_with_df(emu: tuple[MediatorBase, Guest]) -> None:
    med, guest = emu
    assert med._emulate(_req(0x600_010, 4, 0x01020304, count=3)) == [
        (0x600, 0x10, 4), (0x600, 0x14, 4), (0x600, 0x18, 4),
    ]  # fmt: skip
    assert med._emulate(_req(0x601_010, 4, 0x0A0B0C0D, count=3, df=True)) == [
        (0x601, 0x10, 4), (0x601, 0x0C, 4), (0x601, 0x08, 4),
    ]  # fmt: skip
    assert _bytes(guest, 0x601, 0x08, 12) == bytes([0x0D, 0x0C, 0x0B, 0x0A]) * 3
    assert _bytes(guest, 0x601, 0x14, 4) == bytes(4)


@pytest.mark.parametrize("df", [False, True])
def test_a_pointer_request_copies_each_element_from_guest_ram(
    emu: tuple[MediatorBase, Guest], df: bool
) -> None:
    med, guest = emu
    src = 0x700_123  # an odd offset, so every bit of the page offset counts
    for i in range(-3, 4):
        guest.write(src + 2 * i, 2, 0x1100 * (i + 4) + i + 4)
    step = -2 if df else 2
    got = med._emulate(_req(0x600_201, 2, src, count=3, df=df, ptr=True))
    assert got == [(0x600, 0x201 + k * step, 2) for k in range(3)]
    for k in range(3):
        want = guest.read(src + k * step, 2)
        assert guest.read(0x600_201 + k * step, 2) == want


def test_a_source_outside_ram_or_across_its_page_end_is_skipped(
    emu: tuple[MediatorBase, Guest],
) -> None:
    med, guest = emu
    ram_end = guest.host.domains[guest.domid].nr_pages  # the first frame that is not RAM
    guest.write(0x700_FF8, 8, 0x1122_3344_5566_7788)
    # Element 0 reads 0x700ff8..0x700fff (exactly to the page end): copied;
    # element 1 would read across into 0x701: skipped, and the rest goes on.
    got = med._emulate(_req(0x600_000, 8, 0x700_FF8, count=1, ptr=True))
    assert got == [(0x600, 0, 8)]
    got = med._emulate(_req(0x600_100, 8, 0x700_FFC, count=2, ptr=True))
    assert got == [(0x600, 0x108, 8)]  # 0x701_004..: within one page
    # A source frame that is not RAM: that element is skipped, the next one goes on.
    src = (ram_end << 12) - 8  # the last 8 bytes of RAM, then the frame beyond it
    guest.write(src, 8, 0x99)
    got = med._emulate(_req(0x600_200, 8, src + 8, count=2, df=True, ptr=True))
    assert got == [(0x600, 0x1F8, 8)]
    assert guest.read(0x600_1F8, 8) == 0x99
    assert guest.read(0x600_200, 8) == 0


def test_a_destination_outside_ram_is_skipped_and_the_rep_goes_on(
    emu: tuple[MediatorBase, Guest],
) -> None:
    med, guest = emu
    ram_end = guest.host.domains[guest.domid].nr_pages
    # Going down from the first frame beyond RAM into the last frame of RAM.
    got = med._emulate(_req(ram_end << 12, 8, 0x55, count=2, df=True))
    assert got == [(ram_end - 1, 0xFF8, 8)]
    assert guest.read((ram_end << 12) - 8, 8) == 0x55


def test_an_element_across_the_page_end_writes_this_pages_part(
    emu: tuple[MediatorBase, Guest],
) -> None:
    med, guest = emu
    assert med._emulate(_req(0x600_FFC, 8, 0x1122_3344_5566_7788)) == [(0x600, 0xFFC, 4)]
    assert guest.read(0x600_FFC, 4) == 0x5566_7788
    assert guest.read(0x601_000, 4) == 0


def test_a_table_linked_twice_is_walked_once_and_the_walk_goes_on() -> None:
    _host, med, guest = _setup()
    _link(guest, 0x200, 0, 0x201)
    _link(guest, 0x201, 0, 0x300)
    # The walk is a stack: 0x401 twice on top of 0x402; the second 0x401 is skipped
    # and 0x402 still found.
    _link(guest, 0x300, 0, 0x402)
    _link(guest, 0x300, 1, 0x401)
    _link(guest, 0x300, 2, 0x401)
    assert med.walk(0x200) == {0x200: 4, 0x201: 3, 0x300: 2, 0x401: 1, 0x402: 1}


def test_a_mediator_stopped_before_it_started_does_nothing() -> None:
    host, dm, guest = _guest()
    med = GvtgMediator(dm, guest.domid)
    med.stop()
    assert med.server.server_id == -1
    assert host.statistics().domains[-1].servers == 0


def test_an_unprotect_refused_at_the_limit_leaves_the_page_protected() -> None:
    # One range allowed: five adjacent tables are one run; dropping the middle
    # one would split it in two, which the rangeset refuses (-ENOMEM).
    _host, med, guest = _setup("rangeset", limit=1)
    _link(guest, 0x200, 0, 0x201)
    _link(guest, 0x201, 0, 0x202)
    _link(guest, 0x202, 0, 0x203)
    _link(guest, 0x202, 1, 0x204)
    _reg(guest, REG_CREATE, 0x200)
    assert med.statistics()["protected_ranges"] == 1
    guest.write(gpa(0x202, 0), 8, 0)  # unlink 0x203 (trapped: the PD is protected)
    _reg(guest, REG_SUBMIT, 0x200)
    s = med.statistics()
    assert (s["unprotect_failures"], s["unprotections"], s["protected_pages"]) == (1, 0, 5)
    assert 0x203 not in med.snapshots  # no longer a table of any tree
    assert s["shadow_mismatches"] == 0
    guest.write(gpa(0x203, 3), 8, 0x77)  # still trapped, and still reaches RAM
    assert med.statistics()["trapped_writes"] == 2
    assert guest.read(gpa(0x203, 3), 8) == 0x77
    assert _split(med.cpu_ns)["calls"] == 2  # the protect at CREATE, the refused unprotect
    assert _split(med.cpu_ns)["pages_changed"] == 5 + 1


def test_a_link_to_a_frame_that_is_not_ram_is_skipped_and_the_walk_goes_on() -> None:
    host, med, guest = _setup()
    beyond = host.domains[guest.domid].nr_pages + 5  # not RAM: a hostile entry
    _link(guest, 0x200, 0, 0x201)
    _link(guest, 0x201, 0, 0x300)
    _link(guest, 0x300, 0, 0x402)
    _link(guest, 0x300, 1, beyond)  # walked first (a stack), then 0x402
    assert med.walk(0x200) == {0x200: 4, 0x201: 3, 0x300: 2, 0x402: 1}


def test_stop_drops_every_tree_without_counting_evictions_and_destroys_the_server() -> None:
    host, med, guest = _setup()
    _tree(guest, 0x200, 0x201, 0x300, [0x400])
    _tree(guest, 0x210, 0x211, 0x310, [0x410])
    _reg(guest, REG_CREATE, 0x200)
    _reg(guest, REG_CREATE, 0x210)
    med.stop()
    s = med.statistics()
    assert (s["trees"], s["protected_pages"], s["shadowed_pages"]) == (0, 0, 0)
    assert (s["unprotections"], s["evictions"]) == (8, 0)
    assert med.evicted == set()
    assert host.statistics().domains[-1].servers == 0
    guest.write(gpa(0x400, 1), 8, 0x1234)  # plain RAM again: nobody traps it
    assert s["trapped_writes"] == med.statistics()["trapped_writes"] == 0


def test_each_refused_unprotect_is_counted() -> None:
    _host, med, guest = _setup("rangeset", limit=1)
    _link(guest, 0x200, 0, 0x201)
    _link(guest, 0x201, 0, 0x202)
    for i, pt in enumerate((0x203, 0x204, 0x205, 0x206)):
        _link(guest, 0x202, i, pt)
    _reg(guest, REG_CREATE, 0x200)  # 0x200-0x206: one run, at the limit
    guest.write(gpa(0x202, 1), 8, 0)  # unlink 0x204: a split, refused
    _reg(guest, REG_SUBMIT, 0x200)
    guest.write(gpa(0x202, 2), 8, 0)  # unlink 0x205: refused as well
    _reg(guest, REG_SUBMIT, 0x200)
    s = med.statistics()
    assert (s["unprotect_failures"], s["unprotections"], s["protected_pages"]) == (2, 0, 7)


def test_with_no_heap_left_nothing_is_protected_and_each_submission_rereads_the_tree() -> None:
    # The Xen heap sized to what the domain and the server take: every range node
    # is refused (-ENOMEM), so the proposal protects nothing and re-reads instead.
    room = _setup("rangeset")[0].heap_statistics().in_use
    _host, med, guest = _setup("rangeset", heap=room)
    _tree(guest, 0x200, 0x202, 0x204, [0x206])
    _reg(guest, REG_CREATE, 0x200)
    assert med.statistics()["protected_pages"] == 0
    guest.write(gpa(0x206, 9), 8, 0x9003)  # not trapped
    _reg(guest, REG_SUBMIT, 0x200)
    _reg(guest, REG_SUBMIT, 0x200)
    s = med.statistics()
    assert (s["reshadows"], s["pages_reread"], s["shadow_mismatches"]) == (2, 8, 0)
    assert s["limit_hits"] == 1 + 4  # the whole tree, then each page alone


def test_the_shipped_policy_follows_only_present_links() -> None:
    med, guest = _shipped()
    _tree(guest, 0x200, 0x201, 0x300, [0x400])
    _reg(guest, REG_CREATE, 0x200)
    before = set(med.protected)
    guest.write(gpa(0x300, 1), 8, 0x500 << 12)  # an address, but not present
    assert set(med.protected) == before
    assert 0x500 not in med.spts
