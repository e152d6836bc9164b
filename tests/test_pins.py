"""Behaviours Xen defines that no other test pinned (issue "tests that pin").

Each test would fail if the behaviour changed; each cites where Xen does it.
"""

from __future__ import annotations

import errno
from dataclasses import replace

import pytest

from ioreqlab import devicemodel
from ioreqlab.abi import DOMID_SELF, HvmParam, IoReqType
from ioreqlab.alloc import CountingAllocator
from ioreqlab.host import Host
from ioreqlab.rangeset import NodeLayout, RangeSet
from tests.hv_helpers import EchoEmulator, errno_of
from tests.rangesets import IDS, IMPLEMENTATIONS, SmallBlockRangeSet

MMIO = 0xF000_0000


def served(xen: str = "4.7") -> tuple[Host, int, int, EchoEmulator]:
    host = Host(xen=xen, xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    echo = EchoEmulator(host, 0, g, sid)
    dm.set_ioreq_server_state(g, sid, True)
    return host, g, sid, echo


# -- routing (4.7 hvm_select_ioreq_server, 4.17 ioreq_server_select) ----------------


def test_a_domain_whose_only_server_is_the_default_one_routes_everything_there() -> None:
    host = Host(xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64, vcpus=2)
    devicemodel.open(host, 0).get_param(g, HvmParam.IOREQ_PFN)  # creates it (4.7)
    for vcpu, (space, addr) in enumerate((("pio", 0x3F8), ("mmio", MMIO))):
        got = host.guest_access(g, vcpu, space, addr, 1, write=False)
        assert got.route == "default"


def test_accesses_at_address_0_and_touching_the_top() -> None:
    host, g, sid, _ = served()
    dm = devicemodel.open(host, 0)
    dm.map_io_range_to_ioreq_server(g, sid, False, 0, 0)
    dm.map_io_range_to_ioreq_server(g, sid, True, 2**64 - 8, 2**64 - 1)
    assert host.guest_access(g, 0, "pio", 0, 1, write=False).route == "server"
    assert host.guest_access(g, 0, "mmio", 2**64 - 8, 8, write=False).route == "server"
    # A rep that would run past 2**64 - 1 fits no range (the span wraps).
    got = host.guest_access(g, 0, "mmio", 2**64 - 8, 8, write=False, count=2)
    assert got.route == "null"


@pytest.mark.parametrize("xen", ["4.17"])
def test_df_rep_accesses_outside_a_range_or_below_0(xen: str) -> None:
    host, g, sid, _ = served(xen)
    devicemodel.open(host, 0).map_io_range_to_ioreq_server(g, sid, True, MMIO, MMIO + 0xFF)
    # Backwards from MMIO + 4: the span starts 4 bytes below the range.
    got = host.guest_access(g, 0, "mmio", MMIO + 4, 4, write=False, count=3, df=True)
    assert got.route == "null"
    # Backwards from 4 with 3 elements of 4 runs below 0: no range holds it.  (Frame 0
    # is RAM, so move it away first: a hole at 0 is emulated.)
    dm = devicemodel.open(host, 0)
    dm.relocate_memory(g, 1, 0, 0x3000)
    dm.map_io_range_to_ioreq_server(g, sid, True, 0, 0xFF)
    assert host.guest_access(g, 0, "mmio", 8, 4, write=False, count=3, df=True).route == "server"
    assert host.guest_access(g, 0, "mmio", 4, 4, write=False, count=3, df=True).route == "null"


def test_a_single_mmio_access_spans_one_element() -> None:
    host, g, sid, _ = served()
    devicemodel.open(host, 0).map_io_range_to_ioreq_server(g, sid, True, MMIO, MMIO + 3)
    assert host.guest_access(g, 0, "mmio", MMIO, 4, write=False).route == "server"
    assert host.guest_access(g, 0, "mmio", MMIO + 1, 4, write=False).route == "null"


def test_cf8_bits_0_and_1_are_ignored_in_the_register() -> None:
    # hvm_pci_decode_addr: the register is cf8 & 0xfc, plus the data port's low bits.
    host, g, sid, echo = served()
    devicemodel.open(host, 0).map_pcidev_to_ioreq_server(g, sid, 0, 0, 3, 0)
    host.guest_access(g, 0, "pio", 0xCF8, 4, write=True, data=0x8000_1800 | 0x13)
    host.guest_access(g, 0, "pio", 0xCFE, 2, write=False)
    req = echo.seen[-1]
    assert req.type == IoReqType.PCI_CONFIG
    assert req.addr == (0x18 << 32) | 0x10 | 2


# -- params and the default server (4.7 hvm.c) -----------------------------------------


def test_dm_domain_rebinds_the_default_servers_emulator() -> None:
    host = Host(xen_heap_bytes=1 << 20)
    stub = host.create_domain(memory_mib=16, hvm=False)
    g = host.create_domain(memory_mib=64, dm_domid=stub)
    dm0 = devicemodel.open(host, 0)
    dm0.set_param(g, HvmParam.DM_DOMAIN, 0)
    dm0.get_param(g, HvmParam.IOREQ_PFN)  # the default server, emulated by dom0
    default = host.domains[g].default_server
    assert default is not None
    assert default.emulator == 0
    dm0.set_param(g, HvmParam.DM_DOMAIN, stub)
    d = host.domains[g]
    assert d.default_server is not None
    assert d.default_server.emulator == stub
    host.bind_default_notifier(stub, g, lambda v: None)  # the stub may bind now
    assert errno_of(lambda: host.bind_default_notifier(0, g, lambda v: None)) == errno.EPERM


def test_domid_self_means_the_caller_only_for_dm_domain() -> None:
    host = Host(xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    dm.set_param(g, HvmParam.DM_DOMAIN, DOMID_SELF)
    assert dm.get_param(g, HvmParam.DM_DOMAIN) == 0
    dm.set_param(g, HvmParam.CALLBACK_IRQ, DOMID_SELF)  # any other param stores it as is
    assert dm.get_param(g, HvmParam.CALLBACK_IRQ) == DOMID_SELF


def test_the_frame_pool_follows_ioreq_server_pfn_and_nr_pages() -> None:
    host = Host(xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64, ioreq_server_pages=0)
    dm = devicemodel.open(host, 0)
    assert errno_of(lambda: dm.create_ioreq_server(g)) == errno.ENOMEM  # no pool yet
    dm.set_param(g, HvmParam.IOREQ_SERVER_PFN, 0x2000)
    dm.set_param(g, HvmParam.NR_IOREQ_SERVER_PAGES, 1)
    sid = dm.create_ioreq_server(g)
    assert dm.get_ioreq_server_info(g, sid)[0] == 0x2000
    assert errno_of(lambda: dm.create_ioreq_server(g)) == errno.ENOMEM  # one frame only


@pytest.mark.parametrize("index", [3, 7, 8])
def test_param_indices_that_are_gaps_in_the_enum_take_any_value(index: int) -> None:
    host = Host(xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    dm.set_param(g, index, 0xDEAD)
    assert dm.get_param(g, index) == 0xDEAD


def test_nr_ioreq_server_pages_1_is_the_smallest_pool() -> None:
    host = Host(xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64, ioreq_server_pages=0)
    dm = devicemodel.open(host, 0)
    assert errno_of(lambda: dm.set_param(g, HvmParam.NR_IOREQ_SERVER_PAGES, 0)) == errno.EINVAL
    dm.set_param(g, HvmParam.NR_IOREQ_SERVER_PAGES, 1)
    assert host.domains[g].gmfn_pool.mask == 1


@pytest.mark.parametrize("xen", ["4.7", "4.17"])
def test_get_ioreq_server_info_for_buffered_and_unbuffered_servers(xen: str) -> None:
    host = Host(xen=xen, xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    plain = dm.create_ioreq_server(g, 0)
    ring = dm.create_ioreq_server(g, 1)
    pool = host.domains[g].gmfn_pool.base
    pfn, buf_pfn, port = dm.get_ioreq_server_info(g, plain)
    assert (buf_pfn, port) == (0, 0)  # left as the caller passed them
    assert pool <= pfn < pool + 8
    pfn2, buf_pfn2, port2 = dm.get_ioreq_server_info(g, ring)
    assert buf_pfn2 == pfn2 + 1  # the ring frame QEMU maps
    assert pool <= pfn2
    s = host.domains[g].find_server(ring)
    assert s is not None
    assert port2 == s.bufioreq_port != 0


def test_destroying_a_domain_that_has_a_default_server() -> None:
    host = Host(xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    devicemodel.open(host, 0).get_param(g, HvmParam.IOREQ_PFN)
    assert host.domain_heap(g).in_use > 0
    host.destroy_domain(g)
    assert host.heap_statistics().in_use == 0
    assert g not in host.domains


# -- rangesets (xen/common/rangeset.c) -----------------------------------------------


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
def test_an_add_that_leaves_a_gap_of_exactly_one_does_not_merge(cls: type[RangeSet]) -> None:
    r = cls()
    r.add_range(0, 4)
    r.add_range(6, 9)  # 5 is free: two ranges
    assert r.ranges() == [(0, 4), (6, 9)]
    r.add_singleton(5)  # now they touch on both sides: one
    assert r.ranges() == [(0, 9)]
    assert r.nr_ranges == 1


def test_blocked_storage_edges() -> None:
    r = SmallBlockRangeSet()  # two ranges a block
    for x in range(0, 40, 4):
        r.add_range(x, x + 1)
    r.check_invariants()
    r.add_range(10, 11)  # joins [8,9] and [12,13] across a block boundary
    assert (8, 13) in r.ranges()
    r.remove_range(1, 1)  # splits [0,1] in the first block, not the last
    assert r.ranges()[0] == (0, 0)
    r.check_invariants()
    assert list(r.report_ranges(5, 30)) == [
        (5, 5),  # [4, 5] clipped to the window
        (8, 13),
        (16, 17),
        (20, 21),
        (24, 25),
        (28, 29),
    ]
    oracle = {x for s, e in r.ranges() for x in range(s, e + 1)}
    r.purge()
    assert oracle
    assert r.is_empty()  # purge empties whatever was stored
    assert r.nr_ranges == 0
    r.check_invariants()


def test_from_ranges_keeps_the_node_layout() -> None:
    r = RangeSet.from_ranges([(0, 1), (5, 9)], structure="rbtree")
    assert r.bytes_in_use == 2 * 64  # 40-byte nodes cost 64 each
    assert RangeSet.from_ranges([(0, 1)], structure=NodeLayout.LIST).bytes_in_use == 48


def test_from_ranges_keeps_name_hex_allocator_and_limit() -> None:
    # Survivors of the rangeset mutation stage (docs/mutation.md): from_ranges must
    # pass every construction argument on.  (prev_e = -3 instead of -2 survives and
    # is equivalent: any start below -1 lets a first range at 0 through.)
    alloc = CountingAllocator()
    r = RangeSet.from_ranges([(0, 0), (0x10, 0x1F)], "wp", hex=True, limit=5, allocator=alloc)
    assert str(r) == "wp         { 0, 10-1f }"
    assert r.name == "wp"
    assert alloc.in_use == r.bytes_in_use > 0
    assert r.budget == 3
    assert RangeSet.from_ranges([(0, 0)]).name == "(no name)"
    assert str(RangeSet.from_ranges([(10, 12)], "d")) == "d          { 10-12 }"  # decimal
    assert RangeSet.from_ranges([(0, 3)]).ranges() == [(0, 3)]


def test_swap_moves_each_nodes_charge_to_its_new_owner() -> None:
    # rangeset mutation survivors in _check_swap: each side is charged for the nodes
    # it receives and refunded for those it gives, and an even swap charges nothing.
    a_alloc, b_alloc = CountingAllocator(), CountingAllocator()
    a = RangeSet.from_ranges([(0, 0), (2, 2), (4, 4)], allocator=a_alloc)
    b = RangeSet.from_ranges([(9, 9)], allocator=b_alloc)
    node = a.bytes_in_use // 3
    a.swap(b)
    assert (a.ranges(), b.ranges()) == ([(9, 9)], [(0, 0), (2, 2), (4, 4)])
    assert (a_alloc.in_use, b_alloc.in_use) == (node, 3 * node)
    b.swap(a)
    assert (a_alloc.in_use, b_alloc.in_use) == (3 * node, node)
    c = RangeSet.from_ranges([(20, 20)], allocator=CountingAllocator())
    made = b_alloc.allocations
    b.swap(c)  # one node for one: no allocation on either side
    assert b_alloc.allocations == made


def test_lookups_refuse_unknown_and_shut_down_domains() -> None:
    # Survivors of the hv-params stage in hv/lookup.py: an unknown id is ESRCH at
    # every lookup, and a shut-down domain neither runs (guest access) nor calls.
    host = Host(xen="4.17")
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    for call in (
        lambda: host.guest_access(999, 0, "pio", 0x80, 1, write=False),  # live
        lambda: host.create_ioreq_server(999, g),  # caller
        lambda: host.create_ioreq_server(0, 999),  # remote
        lambda: host.get_param(0, 999, HvmParam.TIMER_MODE),  # any
    ):
        assert errno_of(call) == errno.ESRCH
    dm.shutdown(g, 0)
    assert errno_of(lambda: host.guest_access(g, 0, "pio", 0x80, 1, write=False)) == errno.ESRCH
    other = host.create_domain(memory_mib=64, dm_domid=g)
    assert errno_of(lambda: host.create_ioreq_server(g, other)) == errno.ESRCH  # g cannot call
    assert host.create_ioreq_server(0, g) >= 0  # but is still found as a target


def test_every_outcome_is_a_complete_access_record() -> None:
    # Mutation stage hv-ioreq: the Access of each route and status was checked only
    # in part (route, status); every field is pinned here, the request included.
    from ioreqlab.abi import IOREQ_SIZE, IOREQ_STATE_OFFSET, IoReq  # noqa: PLC0415
    from ioreqlab.abi.constants import IoReqDir, IoReqType  # noqa: PLC0415
    from ioreqlab.hv.vcpu_io import Access, Route, Status  # noqa: PLC0415

    host = Host(design="p2m", xen="4.17")
    g = host.create_domain(memory_mib=64, vcpus=2)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g, 1)
    dm.map_io_range_to_ioreq_server(g, sid, False, 0x100, 0x10F)
    dm.map_io_range_to_ioreq_server(g, sid, True, 0xA0000, 0xBFFFF)
    state = {"mode": "answer"}

    def notify(vcpu: int) -> None:
        if vcpu < 0 or state["mode"] == "ignore":
            return
        off = vcpu * IOREQ_SIZE
        if state["mode"] == "crash":
            pages.shared[off + IOREQ_STATE_OFFSET] = 7
        else:
            req = IoReq.unpack(bytes(pages.shared[off : off + IOREQ_SIZE]))
            pages.shared[off : off + IOREQ_SIZE] = replace(req, data=0x5A, state=3).pack()
        dm.notify(g, sid, vcpu)

    pages = dm.map_ioreq_server(g, sid, notify)
    dm.set_ioreq_server_state(g, sid, True)

    def pio(port: int, write: bool, data: int = 0, size: int = 1) -> IoReq:
        return IoReq(
            addr=port,
            data=data,
            size=size,
            dir=IoReqDir.WRITE if write else IoReqDir.READ,
            type=IoReqType.PIO,
        )

    # Xen's own device (the PIT's counter 0): data and device named, the request kept.
    got = host.guest_access(g, 0, "pio", 0x40, 2, write=False)
    assert got == Access(Route.XEN, data=0xFFFF, request=pio(0x40, False, size=2), device="pit")
    # Nobody: a read is all ones, a write is dropped; the request as Xen would send it.
    assert host.guest_access(g, 0, "pio", 0x300, 2, write=False) == Access(
        Route.NULL, data=0xFFFF, request=pio(0x300, False, size=2)
    )
    assert host.guest_access(g, 0, "pio", 0x300, 1, write=True, data=9) == Access(
        Route.NULL, request=pio(0x300, True, 9)
    )
    # Plain RAM.
    ram = IoReq(addr=0x5000, size=4, dir=IoReqDir.READ, type=IoReqType.COPY)
    assert host.guest_access(g, 0, "mmio", 0x5000, 4, write=False) == Access(
        Route.RAM, data=0, request=ram
    )
    # The server answers at once: done, its data, no request kept.
    assert host.guest_access(g, 0, "pio", 0x100, 1, write=False) == Access(
        Route.SERVER, sid, data=0x5A
    )
    # The buffered VGA window: queued, no reply.
    vga = IoReq(addr=0xA0000, data=1, size=2, dir=IoReqDir.WRITE, type=IoReqType.COPY)
    assert host.guest_access(g, 0, "mmio", 0xA0000, 2, write=True, data=1) == Access(
        Route.SERVER, sid, status=Status.BUFFERED, request=vga
    )
    # Pending while the emulator sits on it; a busy slot is unhandleable (#GP).
    state["mode"] = "ignore"
    assert host.guest_access(g, 1, "pio", 0x101, 1, write=False) == Access(
        Route.SERVER, sid, status=Status.PENDING, request=pio(0x101, False)
    )
    # vCPU 0's slot left READY by the emulator: Xen cannot send, the guest takes #GP(0).
    pages.shared[IOREQ_STATE_OFFSET] = 1
    assert host.guest_access(g, 0, "pio", 0x103, 1, write=False) == Access(
        Route.SERVER, sid, status=Status.UNHANDLED, request=pio(0x103, False), fault=13
    )
    pages.shared[IOREQ_STATE_OFFSET] = 0
    # A crash: the request is named, the server too.
    state["mode"] = "crash"
    assert host.guest_access(g, 0, "pio", 0x102, 1, write=True, data=3) == Access(
        Route.SERVER, sid, status=Status.CRASHED, request=pio(0x102, True, 3)
    )


@pytest.mark.parametrize("xen", ["4.7", "4.17"])
def test_destroying_a_disabled_server_leaves_its_frame_as_the_guest_wrote_it(xen: str) -> None:
    # Disabled, a gfn-mapped server's frame is guest RAM (hvm_add_ioreq_gfn cleared
    # it then); destroy only frees the gfn (hvm_unmap_ioreq_gfn): nothing clears
    # the page again (xen/arch/x86/hvm/ioreq.c, 4.17; hvm/ioreq.c, 4.7).
    host = Host(xen=xen, xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g, 0)
    pfn, _, _ = dm.get_ioreq_server_info(g, sid)
    assert host.guest_access(g, 0, "mmio", pfn << 12, 8, write=True, data=0x1234).route == "ram"
    dm.destroy_ioreq_server(g, sid)
    assert host.guest_access(g, 0, "mmio", pfn << 12, 8, write=False).data == 0x1234


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
def test_contains_singleton_is_a_range_of_one_and_repr_names_the_class(
    cls: type[RangeSet],
) -> None:
    r = cls()
    r.add_range(5, 9)
    assert [r.contains_singleton(x) for x in (4, 5, 9, 10)] == [False, True, True, False]
    assert repr(r) == f"<{cls.__name__} {r}>"
