"""The three write-protect designs: set_mem_type, claims, sweeps and routing (xen-facts §3)."""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest

from ioreqlab import devicemodel
from ioreqlab.abi import (
    DmOp,
    HvmMem,
    IoRangeType,
    MapMemTypeToIoreqServer,
    P2mType,
    SetMemType,
    dm_op_buffer,
)
from ioreqlab.errors import XenError
from ioreqlab.host import Host
from tests.hv_helpers import EchoEmulator, snapshot

W = 2  # XEN_DMOP_IOREQ_MEM_ACCESS_WRITE


def fails(code: int, call: Callable[[], object]) -> None:
    with pytest.raises(XenError) as info:
        call()
    assert info.value.errno == code, info.value


def make(design: str, **kw: object) -> tuple[Host, int, devicemodel.DeviceModel, int]:
    host = Host(design=design, xen_heap_bytes=16 << 20, **kw)  # type: ignore[arg-type]
    g = host.create_domain(memory_mib=64, vcpus=1)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    return host, g, dm, sid


# -- set_mem_type: common checks -------------------------------------------


@pytest.mark.parametrize("design", ["rangeset", "p2m", "p2t"])
@pytest.mark.parametrize(
    ("first", "nr"), [(0, 0), (2**64 - 1, 2), (0x3FFF, 2), (0x4000, 1), (2**64 - 1, 1)]
)
def test_set_mem_type_range_checks_are_einval(design: str, first: int, nr: int) -> None:
    host, g, dm, _ = make(design)
    before = snapshot(host)
    fails(errno.EINVAL, lambda: dm.set_mem_type(g, HvmMem.RAM_RO, first, nr))
    assert snapshot(host) == before


@pytest.mark.parametrize("design", ["p2m", "p2t"])
def test_hvmmem_unused_and_unknown_types_are_einval(design: str) -> None:
    _, g, dm, _ = make(design)
    fails(errno.EINVAL, lambda: dm.set_mem_type(g, HvmMem.UNUSED, 0, 1))
    top = 5 if design == "p2m" else 8
    fails(errno.EINVAL, lambda: dm.set_mem_type(g, top, 0, 1))


def test_rangeset_design_knows_only_four_types() -> None:
    _, g, dm, _ = make("rangeset")
    dm.set_mem_type(g, HvmMem.MMIO_WRITE_DM, 0, 1)  # type 3 is mmio_write_dm here
    fails(errno.EINVAL, lambda: dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0, 1))


@pytest.mark.parametrize("xen", ["4.7", "4.17"])
def test_continuations_every_256_pages_below_the_caller(xen: str) -> None:
    # dm.c:set_mem_type returns -ERESTART every 256 pages with first_pfn/nr advanced
    # in the copied-back struct; the hypercall continuation re-issues it and the
    # caller sees only the end (hypercall_create_continuation).
    host, g, _, _ = make("p2m", xen=xen)
    buf = dm_op_buffer(DmOp.SET_MEM_TYPE, SetMemType(600, HvmMem.RAM_RO, 0, 0x100))
    assert host.dm_op(0, g, [buf]) == 0
    assert SetMemType.unpack(buf[8:24]) == SetMemType(88, HvmMem.RAM_RO, 0, 0x300)
    d = host.domains[g]
    assert d.counters["set_mem_type_continuations"] == 2
    assert d.counters["dmop_continuations"] == 2
    # A read-only buffer cannot take the copy-back: -EFAULT after the first chunk.
    ro = bytes(dm_op_buffer(DmOp.SET_MEM_TYPE, SetMemType(300, HvmMem.RAM_RW, 0, 0x100)))
    assert host.dm_op(0, g, [ro]) == -errno.EFAULT
    assert all(d.p2m.get(x) == P2mType.RAM_RW for x in range(0x100, 0x200))  # chunk 1 done
    assert all(d.p2m.get(x) == P2mType.RAM_RO for x in range(0x200, 0x100 + 600))
    assert d.p2m.get(0x100 + 600) == P2mType.RAM_RW


def test_mid_batch_failure_keeps_earlier_pages_changed() -> None:
    _, g, dm, sid = make("p2m")
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, W)
    dm.set_mem_type(g, HvmMem.RAM_RO, 0x105, 1)  # ram_ro -> ioreq_server is refused
    fails(errno.EINVAL, lambda: dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x100, 10))
    types = [dm.get_mem_type(g, x) for x in range(0x100, 0x10A)]
    assert types == [HvmMem.IOREQ_SERVER] * 5 + [HvmMem.RAM_RO] + [HvmMem.RAM_RW] * 4


# -- set_mem_type: per-design transition rules -------------------------------


def test_rangeset_rules_of_4_6() -> None:
    _, g, dm, _ = make("rangeset")
    dm.set_mem_type(g, HvmMem.MMIO_WRITE_DM, 0x10, 1)  # no claim needed
    fails(errno.EINVAL, lambda: dm.set_mem_type(g, HvmMem.RAM_RO, 0x10, 1))  # not RAM in 4.6
    fails(errno.EINVAL, lambda: dm.set_mem_type(g, HvmMem.MMIO_DM, 0x10, 1))
    dm.set_mem_type(g, HvmMem.RAM_RW, 0x10, 1)
    dm.set_mem_type(g, HvmMem.RAM_RO, 0x11, 1)
    dm.set_mem_type(g, HvmMem.MMIO_WRITE_DM, 0x11, 1)  # any RAM type may become write_dm
    fails(errno.EINVAL, lambda: dm.set_mem_type(g, HvmMem.RAM_RW, 0x3FFF + 1, 1))
    assert dm.get_mem_type(g, 0x11) == HvmMem.MMIO_WRITE_DM


@pytest.mark.parametrize("design", ["p2m", "p2t"])
def test_ioreq_type_rules_of_4_9(design: str) -> None:
    _, g, dm, sid = make(design)
    fails(errno.EINVAL, lambda: dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x10, 1))  # unclaimed
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, W)
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x10, 1)
    fails(errno.EINVAL, lambda: dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x10, 1))  # from itself
    fails(errno.EINVAL, lambda: dm.set_mem_type(g, HvmMem.RAM_RO, 0x10, 1))  # only back to rw
    dm.set_mem_type(g, HvmMem.RAM_RO, 0x11, 1)
    fails(errno.EINVAL, lambda: dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x11, 1))  # only from rw
    dm.set_mem_type(g, HvmMem.RAM_RW, 0x10, 1)


@pytest.mark.parametrize("design", ["p2m", "p2t"])
def test_ioreq_type_without_hap_is_eopnotsupp(design: str) -> None:
    host = Host(design=design, xen_heap_bytes=4 << 20)
    g = host.create_domain(memory_mib=64, hap=False)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    fails(errno.EOPNOTSUPP, lambda: dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0, 1))
    fails(errno.EOPNOTSUPP, lambda: dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, W))


def test_hole_may_only_become_mmio_dm() -> None:
    _, g, dm, _ = make("p2m")
    hole = 0xA0
    fails(errno.EINVAL, lambda: dm.set_mem_type(g, HvmMem.RAM_RW, hole, 1))
    dm.set_mem_type(g, HvmMem.MMIO_DM, hole, 1)


# -- claims ------------------------------------------------------------------


def raw_claim(
    host: Host, g: int, caller: int, sid: int, mem: int, flags: int, opaque: int = 0
) -> int:
    buf = dm_op_buffer(
        DmOp.MAP_MEM_TYPE_TO_IOREQ_SERVER, MapMemTypeToIoreqServer(sid, mem, flags, opaque)
    )
    return host.dm_op(caller, g, [buf])


@pytest.mark.parametrize("design", ["p2m", "p2t"])
def test_claim_check_order(design: str) -> None:
    host, g, _, _ = make(design)
    assert raw_claim(host, g, 0, 999, HvmMem.RAM_RW, W) == -errno.EINVAL  # type before id
    assert raw_claim(host, g, 0, 999, HvmMem.IOREQ_SERVER, 1) == -errno.EINVAL  # READ refused
    assert raw_claim(host, g, 0, 999, HvmMem.IOREQ_SERVER, W | 4) == -errno.EINVAL
    assert raw_claim(host, g, 0, 999, HvmMem.IOREQ_SERVER, W) == -errno.ENOENT
    stub = host.create_domain(memory_mib=16, hvm=False)
    g2 = host.create_domain(memory_mib=64, dm_domid=stub)
    other = devicemodel.open(host, stub).create_ioreq_server(g2)
    assert raw_claim(host, g2, 0, other, HvmMem.IOREQ_SERVER, W) == -errno.EPERM


@pytest.mark.parametrize("design", ["p2m", "p2t"])
def test_one_owner_ebusy_and_disclaim_rules(design: str) -> None:
    _, g, dm, a = make(design)
    b = dm.create_ioreq_server(g)
    dm.map_mem_type_to_ioreq_server(g, a, HvmMem.IOREQ_SERVER, W)
    fails(errno.EBUSY, lambda: dm.map_mem_type_to_ioreq_server(g, a, HvmMem.IOREQ_SERVER, W))
    fails(errno.EBUSY, lambda: dm.map_mem_type_to_ioreq_server(g, b, HvmMem.IOREQ_SERVER, W))
    fails(errno.EINVAL, lambda: dm.map_mem_type_to_ioreq_server(g, b, HvmMem.IOREQ_SERVER, 0))
    dm.map_mem_type_to_ioreq_server(g, a, HvmMem.IOREQ_SERVER, 0)
    fails(errno.EINVAL, lambda: dm.map_mem_type_to_ioreq_server(g, a, HvmMem.IOREQ_SERVER, 0))
    dm.map_mem_type_to_ioreq_server(g, b, HvmMem.IOREQ_SERVER, W)


def test_rangeset_design_has_no_claim_dmop() -> None:
    _, g, dm, sid = make("rangeset")
    fails(errno.EOPNOTSUPP, lambda: dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, W))


@pytest.mark.parametrize("design", ["p2m", "p2t"])
def test_disclaim_sweeps_leftovers_in_256_gfn_chunks(design: str) -> None:
    host, g, dm, sid = make(design)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, W)
    pages = [0x10, 0x11, 0x400, 0x2FFF]
    for p in pages:
        dm.set_mem_type(g, HvmMem.IOREQ_SERVER, p, 1)
    # The Python API shows each chunk (the DMOP continues below its caller).
    nxt = host.map_mem_type_to_ioreq_server(0, g, sid, HvmMem.IOREQ_SERVER, 0)
    assert nxt == 0x100
    d = host.domains[g]
    assert d.p2m.entry_count == 2
    assert HvmMem.IOREQ_SERVER not in d.ioreq_owners
    # A write meanwhile to a page not yet reset: no owner, so the instruction retries.
    assert host.guest_access(g, 0, "mmio", 0x400 << 12, 4, write=True, data=1).route == "retry"
    buf = dm_op_buffer(
        DmOp.MAP_MEM_TYPE_TO_IOREQ_SERVER,
        MapMemTypeToIoreqServer(sid, HvmMem.IOREQ_SERVER, 0, nxt),
    )
    assert host.dm_op(0, g, [buf]) == 0  # opaque != 0: the sweep goes on, no checks
    assert MapMemTypeToIoreqServer.unpack(buf[8:24]).opaque == 0x500  # the last pass's input
    assert d.p2m.entry_count == 0
    assert all(d.p2m.get(p) == P2mType.RAM_RW for p in pages)
    assert d.counters["sweep_chunks"] == 3


@pytest.mark.parametrize("design", ["p2m", "p2t"])
def test_destroying_the_owner_only_disclaims_and_blocks_new_claims(design: str) -> None:
    _, g, dm, sid = make(design)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, W)
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x20, 2)
    dm.destroy_ioreq_server(g, sid)
    new = dm.create_ioreq_server(g)
    fails(errno.EBUSY, lambda: dm.map_mem_type_to_ioreq_server(g, new, HvmMem.IOREQ_SERVER, W))
    dm.set_mem_type(g, HvmMem.RAM_RW, 0x20, 2)  # allowed with no claim
    dm.map_mem_type_to_ioreq_server(g, new, HvmMem.IOREQ_SERVER, W)


def test_log_dirty_refused_while_entries_remain() -> None:
    host, g, dm, sid = make("p2m")
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, W)
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x20, 1)
    fails(errno.EBUSY, lambda: host.set_log_dirty(g, True))
    dm.set_mem_type(g, HvmMem.RAM_RW, 0x20, 1)
    host.set_log_dirty(g, True)


# -- routing of writes to protected pages -----------------------------------


@pytest.mark.parametrize("design", ["p2m", "p2t"])
def test_writes_go_to_the_owner_bypassing_ranges_and_enabled(design: str) -> None:
    host, g, dm, sid = make(design)
    echo = EchoEmulator(host, 0, g, sid)  # no ranges at all
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, W)
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x30, 1)
    # Never enabled: Xen never wrote vp_eport into the slot, so ioreq_send
    # refuses ("bad event channel") and the guest takes #GP(0).
    never = host.guest_access(g, 0, "mmio", 0x30000, 8, write=True, data=0x55)
    assert (never.route, never.status, never.fault) == ("server", "unhandled", 13)
    dm.set_ioreq_server_state(g, sid, True)
    got = host.guest_access(g, 0, "mmio", 0x30008, 8, write=True, data=0xAB)
    assert (got.route, got.server_id, got.status) == ("server", sid, "done")
    assert echo.seen[-1].addr == 0x30008
    assert echo.seen[-1].data == 0xAB
    assert host.domains[g].read_ram(0x30008, 8) == 0  # the emulator decides what RAM gets
    read = host.guest_access(g, 0, "mmio", 0x30008, 8, write=False)
    assert read.route == "ram"  # the read half is served from RAM


@pytest.mark.parametrize(("xen", "fault"), [("4.7", 13), ("4.17", None)])
def test_a_disabled_owner_takes_writes_only_if_its_pages_are_frames(
    xen: str, fault: int | None
) -> None:
    # Disabling a gfn-mapped server clears its pages (hvm_add_ioreq_gfn), vp_eport
    # included, so the owner's next write is refused; acquired frames (4.11+,
    # ioreq_server_get_frame) are never cleared and the write still goes to it.
    host = Host(design="p2m", xen=xen, xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    EchoEmulator(host, 0, g, sid)
    dm.set_ioreq_server_state(g, sid, True)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, W)
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x30, 1)
    dm.set_ioreq_server_state(g, sid, False)
    got = host.guest_access(g, 0, "mmio", 0x30000, 4, write=True, data=1)
    assert got.fault == fault
    assert got.status == ("unhandled" if fault else "done")


def test_rangeset_design_routes_by_wp_mem_singletons() -> None:
    host, g, dm, sid = make("rangeset")
    other = dm.create_ioreq_server(g)
    EchoEmulator(host, 0, g, sid)
    EchoEmulator(host, 0, g, other)
    dm.map_wp_mem_range_to_ioreq_server(g, sid, 0x40, 0x41)
    dm.set_mem_type(g, HvmMem.MMIO_WRITE_DM, 0x40, 3)
    got = host.guest_access(g, 0, "mmio", 0x41010, 4, write=True, data=1)
    assert got.route == "null"  # server disabled, no default server: dropped
    dm.set_ioreq_server_state(g, sid, True)
    assert host.guest_access(g, 0, "mmio", 0x41010, 4, write=True, data=1).server_id == sid
    # 0x42 is write_dm but in nobody's WP_MEM: default server, here none.
    assert host.guest_access(g, 0, "mmio", 0x42000, 4, write=True, data=1).route == "null"
    assert host.guest_access(g, 0, "mmio", 0x41010, 4, write=False).route == "ram"


def test_p2t_two_mediators_each_own_a_type() -> None:
    host = Host(design="p2t", xen_heap_bytes=16 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    a = dm.create_ioreq_server(g)
    b = dm.create_ioreq_server(g)
    ea, eb = EchoEmulator(host, 0, g, a), EchoEmulator(host, 0, g, b)
    dm.set_ioreq_server_state(g, a, True)
    dm.set_ioreq_server_state(g, b, True)
    dm.map_mem_type_to_ioreq_server(g, a, HvmMem.IOREQ_SERVER, W)
    dm.map_mem_type_to_ioreq_server(g, b, HvmMem.IOREQ_SERVER_1, W)
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x100, 4)
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER_1, 0x200, 4)
    fails(errno.EINVAL, lambda: dm.set_mem_type(g, HvmMem.IOREQ_SERVER_1, 0x100, 1))
    assert host.guest_access(g, 0, "mmio", 0x100000, 4, write=True, data=1).server_id == a
    assert host.guest_access(g, 0, "mmio", 0x203000, 4, write=True, data=2).server_id == b
    assert (len(ea.seen), len(eb.seen)) == (1, 1)
    assert dm.get_mem_type(g, 0x201) == HvmMem.IOREQ_SERVER_1
    assert host.domain_heap(g).in_use > 0
    heap_before = host.domains[g].p2t.bytes_in_use  # type: ignore[union-attr]
    assert heap_before > 0
    dm.map_mem_type_to_ioreq_server(g, b, HvmMem.IOREQ_SERVER_1, 0)  # sweep only type _1
    assert dm.get_mem_type(g, 0x201) == HvmMem.RAM_RW
    assert dm.get_mem_type(g, 0x101) == HvmMem.IOREQ_SERVER


def test_p2t_nodes_are_charged_and_heap_exhaustion_is_atomic() -> None:
    host = Host(design="p2t", xen_heap_bytes=4096)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, W)
    refused = []
    for gfn in range(0, 0x4000, 0x40):  # scattered pages: a new leaf node each
        try:
            dm.set_mem_type(g, HvmMem.IOREQ_SERVER, gfn, 1)
        except XenError as err:
            refused.append(err.errno)
    assert refused
    assert set(refused) == {errno.ENOMEM}
    d = host.domains[g]
    assert d.p2t is not None
    d.p2t.check_invariants()
    assert d.p2m.entry_count == d.p2t.count
    host.destroy_domain(g)
    assert host.heap_statistics().in_use == 0


# -- global log-dirty (live migration) --------------------------------------------


@pytest.mark.parametrize("xen", ["4.7", "4.17"])
def test_log_dirty_pages_cannot_become_ioreq_and_read_as_ram_ro(xen: str) -> None:
    # hap_enable_log_dirty: ram_rw -> ram_logdirty globally; allow_p2m_type_change
    # wants ram_rw for p2m_ioreq_server; get_mem_type reports ram_logdirty as ram_ro.
    host, g, dm, sid = make("p2m", xen=xen)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, W)
    host.set_log_dirty(g, True)
    assert dm.get_mem_type(g, 0x30) == HvmMem.RAM_RO
    fails(errno.EINVAL, lambda: dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x30, 1))
    host.guest_access(g, 0, "mmio", 0x31 << 12, 4, write=True, data=5)  # faults, ram_rw
    assert dm.get_mem_type(g, 0x31) == HvmMem.RAM_RW
    assert 0x31 in host.domains[g].platform.dirty
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x31, 1)  # written since: allowed
    host.set_log_dirty(g, False)
    assert dm.get_mem_type(g, 0x30) == HvmMem.RAM_RW
    host.check_invariants()


@pytest.mark.parametrize("design", ["p2m", "p2t"])
@pytest.mark.parametrize("xen", ["4.7", "4.17"])
def test_a_disclaim_with_leftovers_turns_global_log_dirty_off(xen: str, design: str) -> None:
    # p2m.c:change_entry_type_global: "p2m->global_logdirty = (nt == p2m_ram_logdirty)"
    # runs for the disclaim's ioreq_server -> ram_rw change too, so every log-dirty
    # frame recalculates to ram_rw and the sweep resets leftovers to ram_rw.
    host, g, dm, sid = make(design, xen=xen)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, W)
    host.set_log_dirty(g, True)
    host.guest_access(g, 0, "mmio", 0x40 << 12, 4, write=True, data=1)
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x40, 1)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, 0)
    d = host.domains[g]
    assert not d.global_logdirty
    assert d.log_dirty  # the paging mode stays on: modified_memory still works
    assert d.p2m.get(0x40) == P2mType.RAM_RW
    assert dm.get_mem_type(g, 0x41) == HvmMem.RAM_RW  # no longer log-dirty
    assert d.counters["global_logdirty_lost"] == 1
    host.guest_access(g, 0, "mmio", 0x42 << 12, 4, write=True, data=1)
    assert 0x42 not in d.platform.dirty  # the write a migration needed is not logged


@pytest.mark.parametrize("design", ["rangeset", "p2m", "p2t"])
def test_a_write_straddling_into_a_protected_frame_is_decided_per_frame(design: str) -> None:
    # linear_write (emulate.c, 4.17) splits at the page boundary: the part on plain
    # RAM is written, the part on the write-protected frame goes to its owner.  The
    # model once wrote all eight bytes as RAM, bypassing the protection.
    host, g, dm, sid = make(design)
    echo = EchoEmulator(host, 0, g, sid)
    dm.set_ioreq_server_state(g, sid, True)
    if design == "rangeset":
        dm.map_wp_mem_range_to_ioreq_server(g, sid, 0x31, 0x31)
        dm.set_mem_type(g, HvmMem.MMIO_WRITE_DM, 0x31, 1)
    else:
        dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, W)
        dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x31, 1)
    got = host.guest_access(g, 0, "mmio", 0x30FFC, 8, write=True, data=0x1122334455667788)
    assert (got.route, got.server_id, got.status) == ("server", sid, "done")
    d = host.domains[g]
    assert d.read_ram(0x30FFC, 4) == 0x55667788  # the RAM part
    assert d.read_ram(0x31000, 4) == 0  # the protected part: the owner decides
    assert [(r.addr, r.size, r.data) for r in echo.seen] == [(0x31000, 4, 0x11223344)]
    # Three bytes on the protected frame go as two power-of-two chunks.
    echo.seen.clear()
    host.guest_access(g, 0, "mmio", 0x30FFB, 8, write=True, data=0x1122334455667788)
    assert [(r.addr, r.size, r.data) for r in echo.seen] == [
        (0x31000, 2, 0x2233),
        (0x31002, 1, 0x11),
    ]
    assert d.read_ram(0x30FFB, 5) == 0x4455667788


def test_p2t_disclaim_bounds_its_search_per_call() -> None:
    # 1,000 pages of one type ahead of the only page of another: the disclaim of the
    # second looks at no more than 256 tracked pages per call, handing back where to
    # go on (the DMOP continues below its caller), as Xen's sweeps bound each call.
    host = Host(design="p2t", xen_heap_bytes=16 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    a, b = dm.create_ioreq_server(g), dm.create_ioreq_server(g)
    dm.map_mem_type_to_ioreq_server(g, a, HvmMem.IOREQ_SERVER, W)
    dm.map_mem_type_to_ioreq_server(g, b, HvmMem.IOREQ_SERVER_1, W)
    for first in range(0x100, 0x100 + 1000, 256):
        dm.set_mem_type(g, HvmMem.IOREQ_SERVER, first, min(256, 0x100 + 1000 - first))
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER_1, 0x3000, 1)
    nxt = host.map_mem_type_to_ioreq_server(0, g, b, HvmMem.IOREQ_SERVER_1, 0)  # disclaim
    assert nxt == 0x100 + 256  # 256 pages of the other type examined, none reset
    assert dm.get_mem_type(g, 0x3000) == HvmMem.IOREQ_SERVER_1
    calls = 1
    while nxt:
        nxt = host.map_mem_type_to_ioreq_server(0, g, b, HvmMem.IOREQ_SERVER_1, 0, nxt)
        calls += 1
    assert calls == 4  # three scans of 256, then the last 232 and the page's chunk
    assert dm.get_mem_type(g, 0x3000) == HvmMem.RAM_RW
    assert dm.get_mem_type(g, 0x100) == HvmMem.IOREQ_SERVER
    host.check_invariants()


# -- claims and sweeps at their edges -----------------------------------------------


@pytest.mark.parametrize(("design", "k"), [("p2m", 1), ("p2t", 4)])
def test_only_the_designs_ioreq_types_can_be_claimed(design: str, k: int) -> None:
    # 4.17 knows HVMMEM_ioreq_server alone (ioreq_server_map_mem_type: type !=
    # HVMMEM_ioreq_server is -EINVAL); p2t's K defaults to 4.
    host, g, dm, sid = make(design)
    assert host.wp.mem_types() == range(HvmMem.IOREQ_SERVER + k)
    last = HvmMem.IOREQ_SERVER + k - 1
    fails(errno.EINVAL, lambda: dm.map_mem_type_to_ioreq_server(g, sid, last + 1, W))
    dm.map_mem_type_to_ioreq_server(g, sid, last, W)
    assert host.domains[g].ioreq_owners == {last: host.domains[g].find_server(sid)}


@pytest.mark.parametrize(("k", "ok"), [(0, False), (1, True), (8, True), (9, False)])
def test_p2t_takes_one_to_eight_ioreq_types(k: int, ok: bool) -> None:
    from ioreqlab.hv.wp import make_design  # noqa: PLC0415

    if ok:
        assert make_design("p2t", k).mem_types() == range(HvmMem.IOREQ_SERVER + k)
    else:
        fails(errno.EINVAL, lambda: make_design("p2t", k))


def _leftovers(design: str, pages: list[int]) -> tuple[Host, int, devicemodel.DeviceModel, int]:
    """A disclaimed type with ``pages`` left over and nothing swept yet."""
    host, g, dm, sid = make(design)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, W)
    for p in pages:
        dm.set_mem_type(g, HvmMem.IOREQ_SERVER, p, 1)
    d = host.domains[g]
    del d.ioreq_owners[HvmMem.IOREQ_SERVER]  # disclaimed, the sweep not begun
    d.p2m.change_type_global(P2mType.RAM_LOGDIRTY, P2mType.RAM_RW)
    return host, g, dm, sid


def _sweep(host: Host, g: int, sid: int, opaque: int) -> int:
    return host.map_mem_type_to_ioreq_server(0, g, sid, HvmMem.IOREQ_SERVER, 0, opaque)


@pytest.mark.parametrize("design", ["p2m", "p2t"])
def test_a_sweep_while_the_type_is_owned_resets_nothing(design: str) -> None:
    # p2m_recalc_type_range keeps p2m_ioreq_server while a server owns the type;
    # dm.c runs the loop for any non-zero opaque with flags 0, owner or not.
    host, g, dm, sid = make(design)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, W)
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x40, 1)
    assert _sweep(host, g, sid, 0x10) == 0
    assert dm.get_mem_type(g, 0x40) == HvmMem.IOREQ_SERVER


@pytest.mark.parametrize("design", ["p2m", "p2t"])
def test_a_sweep_from_past_every_leftover_finishes_and_leaves_those_below(design: str) -> None:
    host, g, dm, sid = _leftovers(design, [0x40, 0x500])
    assert _sweep(host, g, sid, 0x1000) == 0
    assert dm.get_mem_type(g, 0x40) == HvmMem.IOREQ_SERVER
    assert dm.get_mem_type(g, 0x500) == HvmMem.IOREQ_SERVER
    # From 0x400: the chunk of 0x500 is reset, and the sweep hands back the next
    # chunk (leftovers remain, below); from there nothing is left to find.
    assert _sweep(host, g, sid, 0x400) == 0x600
    assert _sweep(host, g, sid, 0x600) == 0
    assert dm.get_mem_type(g, 0x40) == HvmMem.IOREQ_SERVER
    assert dm.get_mem_type(g, 0x500) == HvmMem.RAM_RW


@pytest.mark.parametrize("design", ["p2m", "p2t"])
def test_a_sweep_ending_at_max_mapped_pfn_hands_back_no_continuation(design: str) -> None:
    # dm.c goes on only while first_gfn <= max_mapped_pfn after first_gfn += 256.
    host, g, dm, sid = _leftovers(design, [0x40])
    d = host.domains[g]
    top = d.max_mapped_pfn
    # A leftover in the chunk that ends exactly at max_mapped_pfn.
    last = top - top % 256
    assert last + 255 == top
    d.p2m.set(last, P2mType.IOREQ_SERVER)
    if design == "p2t":
        assert d.p2t is not None
        d.p2t.set(last, 1)
        d.p2t_counts[HvmMem.IOREQ_SERVER] += 1
    assert _sweep(host, g, sid, last) == 0
    assert d.p2m.get(last) == P2mType.RAM_RW
    assert dm.get_mem_type(g, 0x40) == HvmMem.IOREQ_SERVER  # below the caller's start


@pytest.mark.parametrize("design", ["p2m", "p2t"])
def test_a_sweep_after_log_dirty_came_back_resets_leftovers_to_log_dirty(design: str) -> None:
    # p2m_recalc_type_range: ram_logdirty while p2m_is_logdirty_range holds.
    # hap_clean_dirty_bitmap's change_entry_type_global(ram_rw -> ram_logdirty)
    # sets global_logdirty again between the disclaim and the continuation.
    host, g, dm, sid = make(design)
    host.set_log_dirty(g, True)
    host.guest_access(g, 0, "mmio", 0x40 << 12, 4, write=True, data=1)  # ram_rw again
    host.guest_access(g, 0, "mmio", 0x140 << 12, 4, write=True, data=1)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, W)
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x40, 1)
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x140, 1)
    nxt = host.map_mem_type_to_ioreq_server(0, g, sid, HvmMem.IOREQ_SERVER, 0)
    d = host.domains[g]
    assert (nxt, d.p2m.get(0x40), d.global_logdirty) == (0x100, P2mType.RAM_RW, False)
    host.clean_dirty_bitmap(g)
    assert d.global_logdirty
    assert _sweep(host, g, sid, nxt) == 0
    assert d.p2m.get(0x140) == P2mType.RAM_LOGDIRTY
    assert dm.get_mem_type(g, 0x140) == HvmMem.RAM_RO


@pytest.mark.parametrize("xen", ["4.7", "4.17"])
@pytest.mark.parametrize("design", ["rangeset", "p2m", "p2t"])
def test_statistics_count_each_designs_tracking(design: str, xen: str) -> None:
    host, g, dm, sid = make(design, xen=xen)
    pv = host.create_domain(memory_mib=16, hvm=False)
    pages = [0x40, 0x41, 0x42, 0x900]  # two runs
    if design == "rangeset":
        for p in pages:
            dm.map_wp_mem_range_to_ioreq_server(g, sid, p, p)
        mem = HvmMem.MMIO_WRITE_DM
    else:
        dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, W)
        mem = HvmMem.IOREQ_SERVER
    for p in pages:
        dm.set_mem_type(g, mem, p, 1)
    stats = host.statistics()
    assert (stats.design, stats.xen) == (design, xen)
    by_id = {s.domid: s for s in stats.domains}
    d = host.domains[g]
    if design == "rangeset":
        want = (2, d.servers[0].ranges[IoRangeType.WP_MEM].bytes_in_use)
    elif design == "p2m":
        want = (4, 0)
    else:
        assert d.p2t is not None
        want = (4, d.p2t.bytes_in_use)
    assert (by_id[g].tracking_entries, by_id[g].tracking_bytes) == want
    assert want[1] > 0 or design == "p2m"
    assert (by_id[g].tracked_pages, by_id[pv].tracked_pages) == (4, 0)
    assert (by_id[pv].tracking_entries, by_id[pv].tracking_bytes) == (0, 0)
