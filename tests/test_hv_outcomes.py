"""Every way a guest access ends, named in full: route, server, status, data, request.

The reports and the device-model tests read these fields, so each outcome
path is checked field by field, not only by its status.  Cited behaviours:
``hvm_wait_for_io`` / ``wait_for_io`` (4.7 / 4.17 ``ioreq.c``),
``hvmemul_do_io`` and ``linear_write`` (``arch/x86/hvm/emulate.c``, 4.17).
"""

from __future__ import annotations

import errno
import functools
import types

import pytest

from ioreqlab import devicemodel
from ioreqlab.abi import IOREQ_DATA_OFFSET, IOREQ_SIZE, IOREQ_STATE_OFFSET, IoReqState
from ioreqlab.abi.constants import PAGE_SIZE, HvmMem, HvmParam, IoRangeType, IoReqType, P2mType
from ioreqlab.host import Host
from ioreqlab.hv import ioreq as srv
from ioreqlab.hv.server import IoreqServer
from ioreqlab.hv.vcpu_io import Access, Route, Status
from ioreqlab.profiles import DEFAULT_XEN
from tests.hv_helpers import EchoEmulator, errno_of
from tests.test_hv_evtchn import _guest_with_server

W = 2  # XEN_DMOP_IOREQ_MEM_ACCESS_WRITE


def _guest(xen: str = "4.17") -> tuple[Host, int, int, IoreqServer]:
    host, g, sid = _guest_with_server(xen)
    s = host.domains[g].find_server(sid)
    assert s is not None
    return host, g, sid, s


def _state(s: IoreqServer, vcpu: int, state: int, data: int | None = None) -> None:
    if data is not None:
        s.shared_page[vcpu * IOREQ_SIZE + IOREQ_DATA_OFFSET] = data
    s.shared_page[vcpu * IOREQ_SIZE + IOREQ_STATE_OFFSET] = state


def _fields(acc: Access | None) -> tuple[object, ...]:
    assert acc is not None
    return acc.route, acc.server_id, acc.status, acc.data, acc.fault


def test_a_wake_on_an_unanswered_slot_names_the_route_and_server_and_waits() -> None:
    host, g, sid, s = _guest()
    port = host.evtchn_bind_interdomain(0, g, s.vcpu_ports[1], lambda: None)
    pending = host.guest_access(g, 1, "pio", 0x3F8, 1, write=False)
    assert _fields(pending) == (Route.SERVER, sid, Status.PENDING, None, None)
    assert pending.request is not None
    assert pending.request.addr == 0x3F8
    assert _fields(host.evtchn_send(0, port)) == (Route.SERVER, sid, Status.PENDING, None, None)
    assert _fields(host.resume_vcpu(g, 1)) == (Route.SERVER, sid, Status.PENDING, None, None)
    _state(s, 1, IoReqState.IORESP_READY, 0x5A)
    assert _fields(host.evtchn_send(0, port)) == (Route.SERVER, sid, Status.DONE, 0x5A, None)
    assert _fields(host.resume_vcpu(g, 1)) == (Route.SERVER, sid, Status.DONE, 0x5A, None)
    assert "emulator_gone" not in host.domains[g].counters


def test_an_invalid_state_in_the_slot_crashes_the_guest_naming_the_server() -> None:
    host, g, sid, s = _guest()
    port = host.evtchn_bind_interdomain(0, g, s.vcpu_ports[0], lambda: None)
    host.guest_access(g, 0, "pio", 0x3F8, 1, write=False)
    _state(s, 0, 7)  # past IORESP_READY: domain_crash
    assert _fields(host.evtchn_send(0, port)) == (Route.SERVER, sid, Status.CRASHED, None, None)
    assert host.domains[g].crashed


@pytest.mark.parametrize("size", [1, 2, 4])
def test_a_slot_reset_to_none_ends_the_read_with_all_ones(size: int) -> None:
    # state NONE when Xen wakes: the emulator went away; a read gets ~0 (its size).
    host, g, sid, s = _guest()
    port = host.evtchn_bind_interdomain(0, g, s.vcpu_ports[0], lambda: None)
    host.guest_access(g, 0, "pio", 0x3F8, size, write=False)
    _state(s, 0, IoReqState.NONE)
    want = (1 << (8 * size)) - 1
    assert _fields(host.evtchn_send(0, port)) == (Route.SERVER, sid, Status.DONE, want, None)
    assert host.domains[g].counters["emulator_gone"] == 1


@pytest.mark.parametrize("write", [False, True])
def test_a_vcpu_woken_after_its_server_is_gone_ends_with_the_requests_data(write: bool) -> None:
    host, g, _, s = _guest()
    b_sid = host.create_ioreq_server(0, g, bufioreq=0)
    host.map_io_range(0, g, b_sid, IoRangeType.PORT, 0x2F8, 0x2FF)
    host.acquire_ioreq_server_frames(0, g, b_sid, 1, 1)
    host.set_ioreq_server_state(0, g, b_sid, True)
    port = host.evtchn_bind_interdomain(0, g, s.vcpu_ports[1], lambda: None)
    host.guest_access(g, 1, "pio", 0x2F8, 1, write=write, data=0x77)
    host.destroy_ioreq_server(0, g, b_sid)
    want = (Route.SERVER, b_sid, Status.DONE, None if write else 0, None)
    assert _fields(host.evtchn_send(0, port)) == want
    assert _fields(host.resume_vcpu(g, 1)) == want
    assert errno_of(lambda: host.resume_vcpu(g, 1)) == errno.EINVAL  # collected


def test_a_vcpu_past_the_last_is_refused() -> None:
    host, g, _, _ = _guest()
    assert errno_of(lambda: host.guest_access(g, 2, "pio", 0x3F8, 1, write=False)) == errno.EINVAL
    assert errno_of(lambda: host.guest_access(g, -1, "pio", 0x3F8, 1, write=False)) == (
        errno.EINVAL
    )


def _p2m_guest(xen: str = DEFAULT_XEN) -> tuple[Host, int, devicemodel.DeviceModel, int]:
    host = Host(design="p2m", xen=xen, xen_heap_bytes=16 << 20)
    g = host.create_domain(memory_mib=64, vcpus=1)
    dm = devicemodel.open(host, 0)
    return host, g, dm, dm.create_ioreq_server(g)


def test_a_write_to_ram_ro_is_dropped_and_a_read_served() -> None:
    host, g, dm, _ = _p2m_guest()
    d = host.domains[g]
    d.write_ram(0x40 << 12, 8, 0x1122334455667788)
    dm.set_mem_type(g, HvmMem.RAM_RO, 0x40, 1)
    acc = host.guest_access(g, 0, "mmio", 0x40 << 12, 4, write=True, data=0xAAAAAAAA)
    assert _fields(acc) == (Route.RAM, None, Status.DONE, None, None)
    assert acc.request is not None
    assert acc.request.addr == 0x40 << 12
    assert d.read_ram(0x40 << 12, 8) == 0x1122334455667788
    rep = host.guest_access(g, 0, "mmio", 0x40 << 12, 8, write=True, data=0, count=4)
    assert (rep.route, rep.status) == (Route.RAM, Status.DONE)
    assert d.read_ram(0x40 << 12, 8) == 0x1122334455667788
    read = host.guest_access(g, 0, "mmio", 0x40 << 12, 2, write=False)
    assert _fields(read) == (Route.RAM, None, Status.DONE, 0x7788, None)


def test_ram_writes_name_their_request() -> None:
    host, g, _, _ = _p2m_guest()
    for count, df in ((1, False), (4, False), (4, True)):
        acc = host.guest_access(g, 0, "mmio", 0x50F00, 8, write=True, data=1, count=count, df=df)
        assert _fields(acc) == (Route.RAM, None, Status.DONE, None, None)
        assert acc.request is not None
        assert (acc.request.addr, acc.request.count, acc.request.df) == (0x50F00, count, df)


def test_a_backwards_rep_stos_across_a_frame_writes_down_from_its_address() -> None:
    host, g, _, _ = _p2m_guest()
    d = host.domains[g]
    top = (0x61 << 12) + 4  # the first element is in frame 0x61, the rest below it
    host.guest_access(g, 0, "mmio", top, 4, write=True, data=0xCAFEF00D, count=3, df=True)
    assert [d.read_ram(top - 4 * i, 4) for i in range(3)] == [0xCAFEF00D] * 3
    assert d.read_ram(top + 4, 4) == 0
    assert d.read_ram(top - 12, 4) == 0


def test_a_rep_stos_into_a_log_dirty_frame_dirties_each_frame_it_writes() -> None:
    # From an odd address, 4 one-byte elements cross into the next frame by one.
    host, g, _, _ = _p2m_guest()
    d = host.domains[g]
    host.set_log_dirty(g, True)
    start = (0x71 << 12) - 3
    host.guest_access(g, 0, "mmio", start, 1, write=True, data=0xEE, count=4)
    assert {0x70, 0x71} <= d.platform.dirty
    assert (d.p2m.get(0x70), d.p2m.get(0x71)) == (P2mType.RAM_RW, P2mType.RAM_RW)
    assert d.read_ram(start, 4) == 0xEEEEEEEE
    host.guest_access(g, 0, "mmio", (0x91 << 12) - 4, 2, write=True, data=0x1234, count=4)
    assert {0x90, 0x91} <= d.platform.dirty  # 8 bytes from 4 below the boundary: both frames
    host.guest_access(g, 0, "mmio", 0x80000, 8, write=True, data=5, count=512)  # exactly a frame
    assert 0x81 not in d.platform.dirty
    assert d.read_ram(0x80FF8, 8) == 5


def test_writes_at_the_end_of_a_protected_frame_split_only_when_they_cross() -> None:
    host, g, dm, sid = _p2m_guest()
    echo = EchoEmulator(host, 0, g, sid)
    dm.set_ioreq_server_state(g, sid, True)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, W)
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x31, 1)
    host.guest_access(g, 0, "mmio", 0x31FFC, 4, write=True, data=0x11223344)  # ends at the end
    assert [(r.addr, r.size, r.data, r.type) for r in echo.seen] == [
        (0x31FFC, 4, 0x11223344, IoReqType.COPY)
    ]
    echo.seen.clear()
    host.guest_access(g, 0, "mmio", 0x30FFD, 4, write=True, data=0x11223344)  # odd, crossing
    assert [(r.addr, r.size, r.data, r.type) for r in echo.seen] == [
        (0x31000, 1, 0x11, IoReqType.COPY)
    ]
    assert host.domains[g].read_ram(0x30FFD, 3) == 0x223344


def test_a_write_with_no_owner_retries_and_one_with_no_server_is_dropped() -> None:
    host, g, dm, sid = _p2m_guest()
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, W)
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x10, 1)
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x433, 1)
    # The disclaim's first call resets the first chunk only: 0x433 is left, unowned.
    assert host.map_mem_type_to_ioreq_server(0, g, sid, HvmMem.IOREQ_SERVER, 0) == 0x100
    retry = host.guest_access(g, 0, "mmio", 0x433000 + PAGE_SIZE - 4, 4, write=True, data=9)
    assert _fields(retry) == (Route.RETRY, None, Status.DONE, None, None)
    assert retry.request is not None
    assert retry.request.addr == 0x433FFC
    rs = Host(design="rangeset", xen_heap_bytes=16 << 20)
    g2 = rs.create_domain(memory_mib=64, vcpus=1)
    dm2 = devicemodel.open(rs, 0)
    dm2.set_mem_type(g2, HvmMem.MMIO_WRITE_DM, 0x35, 1)  # nobody's range: dropped
    null = rs.guest_access(g2, 0, "mmio", 0x35000, 4, write=True, data=9)
    assert _fields(null) == (Route.NULL, None, Status.DONE, None, None)
    assert null.request is not None
    assert null.request.addr == 0x35000


# -- server lifecycle edges -----------------------------------------------------------


def test_the_47_default_servers_buffered_ring_is_the_page_at_bufioreq_pfn() -> None:
    # hvm_create_ioreq_server(d, domid, 1, HVM_IOREQSRV_BUFIOREQ_LEGACY, ...):
    # QEMU maps HVM_PARAM_BUFIOREQ_PFN and must find the ring there.
    host = Host(xen="4.7")
    g = host.create_domain(memory_mib=16)
    pfn = host.get_param(0, g, HvmParam.BUFIOREQ_PFN)
    s = host.domains[g].default_server
    assert s is not None
    assert (s.ioreq_pfn, s.bufioreq_pfn) == (host.get_param(0, g, HvmParam.IOREQ_PFN), pfn)
    assert host.foreign_page(0, g, pfn) is s.buffered_page


def test_destroying_a_disabled_47_server_leaves_its_frames_as_ram() -> None:
    # A disabled server's pages are in the guest's p2m (hvm_add_ioreq_gfn);
    # hvm_destroy_ioreq_server disables nothing more and frees the gfns.
    host = Host(xen="4.7")
    g = host.create_domain(memory_mib=16)
    sid = host.create_ioreq_server(0, g, bufioreq=1)
    s = host.domains[g].find_server(sid)
    assert s is not None
    frames = (s.ioreq_pfn, s.bufioreq_pfn)
    assert None not in frames
    host.set_ioreq_server_state(0, g, sid, True)  # hvm_remove_ioreq_gfn: out of the p2m
    assert [host.domains[g].p2m.get(f) for f in frames if f is not None] == [P2mType.INVALID] * 2
    host.set_ioreq_server_state(0, g, sid, False)  # hvm_add_ioreq_gfn: RAM again
    assert [host.domains[g].p2m.get(f) for f in frames if f is not None] == [P2mType.RAM_RW] * 2
    host.destroy_ioreq_server(0, g, sid)
    assert [host.domains[g].p2m.get(f) for f in frames if f is not None] == [P2mType.RAM_RW] * 2


def test_417_servers_are_searched_from_the_highest_id_down() -> None:
    # FOR_EACH_IOREQ_SERVER walks the array from MAX_NR_IOREQ_SERVERS down
    # (common/ioreq.c, 4.17): a newer server that reuses a freed lower id loses
    # an overlap to an older one with a higher id.
    host = Host(xen="4.17")
    g = host.create_domain(memory_mib=16)
    a = host.create_ioreq_server(0, g)
    b = host.create_ioreq_server(0, g)
    host.destroy_ioreq_server(0, g, a)
    c = host.create_ioreq_server(0, g)
    assert (a, b, c) == (0, 1, 0)
    for sid in (b, c):
        host.map_io_range(0, g, sid, IoRangeType.PORT, 0x3F8, 0x3FF)
        host.acquire_ioreq_server_frames(0, g, sid, 1, 1)
        host.set_ioreq_server_state(0, g, sid, True)
    acc = host.guest_access(g, 0, "pio", 0x3F8, 1, write=True, data=1)
    assert (acc.route, acc.server_id) == (Route.SERVER, b)


# -- the buffered ring: what it takes ------------------------------------------------------


@pytest.mark.parametrize("xen", ["4.7", "4.17"])
def test_only_single_vga_writes_of_a_power_of_two_go_to_the_ring(xen: str) -> None:
    # hvm_send_buffered_ioreq (4.7) / ioreq_send_buffered (4.17): count 1, no
    # data pointer, size 1, 2, 4 or 8; anything else goes synchronously.
    from tests.test_hv_delivery import setup  # noqa: PLC0415

    host, g, _, _, _ = setup(xen, bufioreq=1)
    for size in (1, 2, 4, 8):
        acc = host.guest_access(g, 0, "mmio", 0xA0010, size, write=True, data=1)
        assert acc.status == Status.BUFFERED, size
    rep = host.guest_access(g, 0, "mmio", 0xA0020, 1, write=True, data=1, count=4)
    assert rep.status == Status.PENDING  # a rep stos is not buffered
    host2, g2, _, _, _ = setup(xen, bufioreq=1)
    movs = host2.guest_access(g2, 0, "mmio", 0xA0020, 1, write=True, data=0x5000, data_is_ptr=True)
    assert movs.status == Status.PENDING  # nor one element moved from RAM


@pytest.mark.parametrize("xen", ["4.7", "4.17"])
def test_an_8_byte_write_needs_two_free_slots_in_the_ring(xen: str) -> None:
    from tests.test_hv_delivery import setup  # noqa: PLC0415

    host, g, _, _, _ = setup(xen, bufioreq=1)
    for i in range(510):
        host.guest_access(g, 0, "mmio", 0xA0000 + i, 1, write=True, data=i)
    # One slot left: an 8-byte write (two slots, qw) is refused and goes synchronously.
    acc = host.guest_access(g, 0, "mmio", 0xA0000, 8, write=True, data=1)
    assert acc.status == Status.PENDING


# -- notifications and broadcasts ----------------------------------------------------------


def test_a_broadcast_skips_a_disabled_server_and_goes_on_counting_each_refusal() -> None:
    # ioreq_broadcast (4.17) walks every server, skipping disabled ones; each
    # server that cannot take the request counts once.
    host = Host(xen="4.17", xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    low = dm.create_ioreq_server(g, 1)
    notified: list[int] = []
    dm.map_ioreq_server(g, low, notified.append)
    dm.set_ioreq_server_state(g, low, True)
    for _ in range(2):
        dm.set_ioreq_server_state(g, dm.create_ioreq_server(g, 0), True)  # no ring
    dm.create_ioreq_server(g, 1)  # highest id, disabled: walked first, skipped
    assert host.broadcast_timeoffset(g, 5) == 2
    assert notified == [-1]


def test_each_notification_signals_its_own_port() -> None:
    # A synchronous request signals its vCPU's port (vCPU 0's too); a buffered
    # one the buffered port.
    host, g, _, s = _guest()
    fired: list[str] = []
    for name, port in (("v0", s.vcpu_ports[0]), ("v1", s.vcpu_ports[1]), ("buf", s.bufioreq_port)):
        host.evtchn_bind_interdomain(0, g, port, functools.partial(fired.append, name))
    fired.clear()
    host.guest_access(g, 0, "pio", 0x3F8, 1, write=False)
    assert fired == ["v0"]
    s.shared_page[IOREQ_STATE_OFFSET] = IoReqState.IORESP_READY
    host.ioreq_completed(0, g, s.id, 0)
    host.resume_vcpu(g, 0)
    host.map_io_range(0, g, s.id, IoRangeType.MEMORY, 0xA0000, 0xBFFFF)
    fired.clear()
    assert host.guest_access(g, 1, "mmio", 0xBFFFF, 1, write=True, data=1).status == (
        Status.BUFFERED  # the last byte of the VGA window
    )
    assert fired == ["buf"]


def test_a_crash_ends_only_the_crashed_guests_waits() -> None:
    host, g, sid, s = _guest()
    other = host.create_domain(memory_mib=16, vcpus=1)
    o_sid = host.create_ioreq_server(0, other, bufioreq=0)
    host.map_io_range(0, other, o_sid, IoRangeType.PORT, 0x3F8, 0x3FF)
    host.acquire_ioreq_server_frames(0, other, o_sid, 1, 1)
    host.set_ioreq_server_state(0, other, o_sid, True)
    o = host.domains[other].find_server(o_sid)
    assert o is not None
    host.guest_access(other, 0, "pio", 0x3F8, 1, write=False)
    host.guest_access(g, 0, "pio", 0x3F8, 1, write=False)
    _state(s, 0, 7)
    assert _fields(host.ioreq_completed(0, g, sid, 0)) == (
        Route.SERVER, sid, Status.CRASHED, None, None
    )  # fmt: skip
    # The crashed guest's vCPUs wait on nothing any more; the other guest's still do.
    assert sorted(host.io.waiting) == [(other, 0)]
    _state(o, 0, IoReqState.IORESP_READY, 0x42)
    assert _fields(host.ioreq_completed(0, other, o_sid, 0)) == (
        Route.SERVER, o_sid, Status.DONE, 0x42, None
    )  # fmt: skip


def test_a_destroyed_servers_emulator_no_longer_hears_its_id() -> None:
    # 4.17 reuses a freed id: the new server's requests must not reach the old
    # server's emulator.
    host = Host(xen="4.17", xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    old = dm.create_ioreq_server(g)
    EchoEmulator(host, 0, g, old)
    dm.destroy_ioreq_server(g, old)
    new = dm.create_ioreq_server(g)
    assert new == old
    dm.map_io_range_to_ioreq_server(g, new, False, 0x3F8, 0x3FF)
    host.acquire_ioreq_server_frames(0, g, new, 1, 1)
    dm.set_ioreq_server_state(g, new, True)
    s = host.domains[g].find_server(new)
    assert s is not None
    fired: list[int] = []
    host.evtchn_bind_interdomain(0, g, s.vcpu_ports[0], lambda: fired.append(1))
    assert host.guest_access(g, 0, "pio", 0x3F8, 1, write=False).status == Status.PENDING
    assert fired == [1, 1]  # at binding, then the request: its channel, not the old emulator


def test_dm_domain_takes_the_default_server_from_its_old_in_process_emulator() -> None:
    host = Host(xen="4.7")
    dm_dom = host.create_domain(memory_mib=16, hvm=False)
    g = host.create_domain(memory_mib=16, vcpus=1)
    host.get_param(0, g, HvmParam.IOREQ_PFN)
    heard: list[int] = []
    s = host.bind_default_notifier(0, g, heard.append)  # dom0 emulates it, in process
    host.set_param(0, g, HvmParam.DM_DOMAIN, dm_dom)
    fired: list[int] = []
    host.evtchn_bind_interdomain(dm_dom, g, s.vcpu_ports[0], lambda: fired.append(1))
    host.guest_access(g, 0, "pio", 0x3F8, 1, write=False)
    assert heard == []
    assert fired == [1, 1]


def test_a_write_straddling_two_log_dirty_frames_dirties_both() -> None:
    # linear_write copies each part to its own frame (emulate.c, 4.17).
    host, g, _, _ = _p2m_guest()
    d = host.domains[g]
    host.set_log_dirty(g, True)
    host.guest_access(g, 0, "mmio", (0x201 << 12) - 2, 4, write=True, data=0x1234)
    assert {0x200, 0x201} <= d.platform.dirty
    assert d.read_ram((0x201 << 12) - 2, 4) == 0x1234


def test_a_slot_completed_keeps_its_other_bits_and_only_the_state_goes_to_none() -> None:
    # p->state = STATE_IOREQ_NONE writes the 4-bit field; data_is_ptr, dir and df stay.
    host, g, _, s = _guest()
    port = host.evtchn_bind_interdomain(0, g, s.vcpu_ports[0], lambda: None)
    host.guest_access(g, 0, "pio", 0x3F8, 1, write=False)
    byte = s.shared_page[IOREQ_STATE_OFFSET]
    assert byte >> 4  # dir (read) is set in the upper bits
    _state(s, 0, (byte & 0xF0) | IoReqState.IORESP_READY)
    host.evtchn_send(0, port)
    assert s.shared_page[IOREQ_STATE_OFFSET] == byte & 0xF0


def test_an_access_whose_notification_destroys_the_guest_names_its_request() -> None:
    host, g, sid, _ = _guest()
    host.bind_ioreq_notifier(0, g, sid, lambda vcpu: host.destroy_domain(g))
    acc = host.guest_access(g, 0, "pio", 0x3F9, 1, write=True, data=3)
    assert _fields(acc) == (Route.SERVER, sid, Status.GONE, None, None)
    assert acc.request is not None
    assert (acc.request.addr, acc.request.data) == (0x3F9, 3)


def test_a_servers_rangesets_are_named_for_it_and_print_in_hex() -> None:
    # hvm_ioreq_server_alloc_rangesets: "ioreq_server %d %s", RANGESETF_prettyprint_hex.
    _, _, sid, s = _guest()
    port = s.ranges[IoRangeType.PORT]
    assert port.name_bytes == f"ioreq_server {sid} port".encode()
    assert "3f8-3ff" in str(port)


def test_a_ring_frame_refused_gives_the_ioreq_frame_back() -> None:
    # hvm_ioreq_server_map_pages (4.17, legacy gfns): the ring's frame fails
    # after the ioreq page got one; hvm_unmap_ioreq_gfn gives that one back.
    host = Host(xen="4.17")
    g = host.create_domain(memory_mib=16, ioreq_server_pages=1)
    d = host.domains[g]
    assert d.gmfn_pool.free_frames() == 1
    buffered = host.create_ioreq_server(0, g, bufioreq=1)
    assert errno_of(lambda: host.get_ioreq_server_info(0, g, buffered)) == errno.ENOMEM
    s = d.find_server(buffered)
    assert s is not None
    assert (s.ioreq_pfn, s.bufioreq_pfn, d.gmfn_pool.free_frames()) == (None, None, 1)
    plain = host.create_ioreq_server(0, g, bufioreq=0)
    first = host.get_ioreq_server_info(0, g, plain)
    assert host.get_ioreq_server_info(0, g, plain) == first  # mapped once, not again
    assert d.gmfn_pool.free_frames() == 0


def test_acquire_resource_takes_every_ioservid_t_and_finds_none_past_the_servers() -> None:
    host, g, _, _ = _guest()
    assert errno_of(lambda: host.acquire_ioreq_server_frames(0, g, 0xFFFF, 1, 1)) == errno.ENOENT
    assert errno_of(lambda: host.acquire_ioreq_server_frames(0, g, 0x10000, 1, 1)) == (errno.EINVAL)


# -- rep movs ---------------------------------------------------------------------------------


def _movs(
    host: Host, g: int, dst: int, src: int, size: int, count: int, *, df: bool = False
) -> Access:
    return host.guest_access(
        g, 0, "mmio", dst, size, write=True, data=src, count=count, data_is_ptr=True, df=df
    )


def test_rep_movs_between_adjacent_buffers_is_a_copy_and_an_overlap_is_gp() -> None:
    host, g, _, _ = _p2m_guest()
    d = host.domains[g]
    d.write_ram(0x50000, 8, 0x0807060504030201)
    ok = _movs(host, g, 0x50008, 0x50000, 1, 8)  # right after the source
    assert _fields(ok) == (Route.RAM, None, Status.DONE, None, None)
    assert ok.request is not None
    assert (ok.request.addr, ok.request.data) == (0x50008, 0x50000)
    assert d.read_ram(0x50008, 8) == 0x0807060504030201
    _movs(host, g, 0x4FFF8, 0x50000, 1, 8)  # ends where the source begins
    assert d.read_ram(0x4FFF8, 8) == 0x0807060504030201
    # One below the source: its first element ends where the source begins, and
    # a forward copy onto the lower half is safe (memmove order).
    down = _movs(host, g, 0x4FFFF, 0x50000, 1, 8)
    assert down.status == Status.DONE
    assert d.read_ram(0x4FFFF, 8) == 0x0807060504030201
    bad = _movs(host, g, 0x50004, 0x50000, 1, 8)  # inside the source
    assert _fields(bad) == (Route.RAM, None, Status.UNHANDLED, None, 13)
    assert bad.request is not None
    assert bad.request.addr == 0x50004


def test_rep_movs_into_a_ram_ro_frame_writes_only_the_frames_that_take_writes() -> None:
    host, g, dm, _ = _p2m_guest()
    d = host.domains[g]
    d.write_ram(0x60000, 8, 0x1111111111111111)
    dm.set_mem_type(g, HvmMem.RAM_RO, 0x53, 1)
    _movs(host, g, 0x52FFC, 0x60000, 1, 8)  # 4 bytes in 0x52, 4 in the read-only 0x53
    assert d.read_ram(0x52FFC, 4) == 0x11111111
    assert d.read_ram(0x53000, 4) == 0


def test_rep_movs_element_by_element_stops_when_a_notification_ends_the_guest() -> None:
    # 4.17 sends a move onto a p2m_ioreq_server page element by element; the
    # first element's emulator answers, then destroys the guest: the access ends
    # there, gone, and the rest never run.
    host, g, sid, s = _two_vcpu_move_guest()
    assert host.xen.rep_movs_to_ioreq == "elements"

    def answer_then_destroy(vcpu: int) -> None:
        s.shared_page[IOREQ_STATE_OFFSET] = IoReqState.IORESP_READY
        host.ioreq_completed(0, g, sid, vcpu)
        host.destroy_domain(g)

    host.bind_ioreq_notifier(0, g, sid, answer_then_destroy)
    acc = _movs(host, g, 0x31008, 0x60000, 4, 3, df=True)
    assert _fields(acc) == (Route.SERVER, sid, Status.GONE, None, None)
    assert acc.request is not None
    assert acc.request.addr == 0x31008  # the first element (the others go down from it)


def test_rep_movs_element_by_element_sends_each_element_down_from_the_first() -> None:
    host, g, dm, sid = _p2m_guest("4.17")
    echo = EchoEmulator(host, 0, g, sid)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, W)
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x31, 1)
    dm.set_ioreq_server_state(g, sid, True)
    host.domains[g].write_ram(0x60000 - 8, 12, 0x333333332222222211111111)
    acc = _movs(host, g, 0x31008, 0x60000, 4, 3, df=True)
    assert acc.status == Status.DONE
    got = [(r.addr, r.size, r.data, r.dir, r.type) for r in echo.seen]
    want = [
        (0x31008 - 4 * i, 4, v, 0, IoReqType.COPY)
        for i, v in enumerate((0x33333333, 0x22222222, 0x11111111))
    ]
    assert got == want


def test_a_rep_movs_read_copies_from_the_address_into_the_buffer() -> None:
    host, g, _, _ = _p2m_guest()
    d = host.domains[g]
    d.write_ram(0x50000, 4, 0xA1B2C3D4)
    host.guest_access(
        g, 0, "mmio", 0x50000, 1, write=False, data=0x58000, count=4, data_is_ptr=True
    )
    assert d.read_ram(0x58000, 4) == 0xA1B2C3D4
    assert d.read_ram(0x50000, 4) == 0xA1B2C3D4


def test_a_backwards_rep_is_routed_by_the_bytes_it_spans() -> None:
    # 4.12+ (ioreq_mmio_first_byte): the span runs down from the first element,
    # whose last byte is the access's own end: one past the range is outside.
    host, g, dm, sid = _p2m_guest("4.17")
    EchoEmulator(host, 0, g, sid)
    dm.map_io_range_to_ioreq_server(g, sid, True, 0xF000_0000, 0xF000_0FFE)
    dm.set_ioreq_server_state(g, sid, True)
    inside = host.guest_access(g, 0, "mmio", 0xF000_0FFB, 4, write=False, count=2, df=True)
    assert (inside.route, inside.server_id) == (Route.SERVER, sid)
    past = host.guest_access(g, 0, "mmio", 0xF000_0FFC, 4, write=False, count=2, df=True)
    assert past.route == Route.NULL


def _two_vcpu_move_guest() -> tuple[Host, int, int, IoreqServer]:
    """4.17, p2m: frame 0x31 of a 2-vCPU guest claimed by server ``sid``, enabled."""
    host = Host(design="p2m", xen="4.17", xen_heap_bytes=16 << 20)
    g = host.create_domain(memory_mib=64, vcpus=2)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    dm.map_mem_type_to_ioreq_server(g, sid, HvmMem.IOREQ_SERVER, W)
    dm.set_mem_type(g, HvmMem.IOREQ_SERVER, 0x31, 1)
    host.acquire_ioreq_server_frames(0, g, sid, 1, 1)
    dm.set_ioreq_server_state(g, sid, True)
    s = host.domains[g].find_server(sid)
    assert s is not None
    return host, g, sid, s


def test_a_move_whose_completed_element_crashed_the_guest_sends_no_more() -> None:
    # The emulator answers the first element, then writes a state past
    # IORESP_READY into vCPU 1's slot and signals it: domain_crash.  The crashed
    # guest's vCPUs never run again, so the instruction never restarts for the
    # next element: the access ends crashed, naming that element, unsent.
    host, g, sid, s = _two_vcpu_move_guest()
    calls: list[int] = []

    def answer_then_crash(vcpu: int) -> None:
        calls.append(vcpu)
        if vcpu == 0:
            _state(s, 0, IoReqState.IORESP_READY)
            host.ioreq_completed(0, g, sid, 0)
            _state(s, 1, 7)
            host.ioreq_completed(0, g, sid, 1)

    host.bind_ioreq_notifier(0, g, sid, answer_then_crash)
    waiting = host.guest_access(g, 1, "mmio", 0x31000, 4, write=True, data=1)
    assert waiting.status == Status.PENDING
    acc = _movs(host, g, 0x31008, 0x60000, 4, 3, df=True)
    assert host.domains[g].crashed
    assert _fields(acc) == (Route.SERVER, sid, Status.CRASHED, None, None)
    assert acc.request is not None
    assert (acc.request.addr, acc.request.size) == (0x31004, 4)  # the second element
    assert calls == [1, 0]  # vCPU 1's write, then the first element only


def test_a_move_element_answered_at_once_after_a_wait_is_there_for_resume() -> None:
    # The first element waits; when it completes the next goes down and its
    # emulator answers at once: the whole move is done, and the guest collects
    # that result when it resumes.
    host, g, sid, s = _two_vcpu_move_guest()
    calls: list[int] = []

    def answer_from_the_second(vcpu: int) -> None:
        calls.append(vcpu)
        if len(calls) > 1:
            _state(s, vcpu, IoReqState.IORESP_READY)
            host.ioreq_completed(0, g, sid, vcpu)

    host.bind_ioreq_notifier(0, g, sid, answer_from_the_second)
    first = _movs(host, g, 0x31008, 0x60000, 4, 2)
    assert first.status == Status.PENDING
    _state(s, 0, IoReqState.IORESP_READY)
    host.ioreq_completed(0, g, sid, 0)
    assert calls == [0, 0]
    done = host.resume_vcpu(g, 0)
    assert _fields(done) == (Route.SERVER, sid, Status.DONE, None, None)
    assert not host.io.blocked(g, 0)


def _atomic_ring_guest(servers: int = 1) -> tuple[Host, int, list[IoreqServer]]:
    """4.17: ``servers`` enabled BUFIOREQ_ATOMIC servers, frames acquired, in broadcast order."""
    host = Host(xen="4.17")
    g = host.create_domain(memory_mib=16)
    for _ in range(servers):
        sid = host.create_ioreq_server(0, g, bufioreq=2)
        host.acquire_ioreq_server_frames(0, g, sid, 0, 2)
        host.set_ioreq_server_state(0, g, sid, True)
    return host, g, list(host.domains[g].all_servers())


def _pointers(s: IoreqServer) -> tuple[int, int]:
    rp, wp = (int.from_bytes(s.buffered_page[i : i + 4], "little") for i in (0, 4))
    return rp, wp


def test_canonicalisation_starts_when_the_read_pointer_reaches_one_whole_ring() -> None:
    # ioreq_send_buffered: "read_pointer >= IOREQ_BUFFER_SLOT_NUM" takes a ring
    # off both pointers; 511 is already one ring.
    host, g, (s,) = _atomic_ring_guest()
    host.map_io_range(0, g, s.id, IoRangeType.MEMORY, 0xA0000, 0xBFFFF)
    s.buffered_page[0:8] = (511 | 511 << 32).to_bytes(8, "little")
    assert host.guest_access(g, 0, "mmio", 0xA0000, 1, write=True, data=1).status == "buffered"
    assert _pointers(s) == (0, 1)
    s.buffered_page[0:8] = (510 | 510 << 32).to_bytes(8, "little")
    host.guest_access(g, 0, "mmio", 0xA0000, 1, write=True, data=1)
    assert _pointers(s) == (510, 511)  # below one ring: left as they are


def test_a_timeoffset_broadcast_canonicalises_an_atomic_ring_too() -> None:
    host, g, (s,) = _atomic_ring_guest()
    s.buffered_page[0:8] = (511 | 511 << 32).to_bytes(8, "little")
    assert host.broadcast_timeoffset(g, 9) == 0
    assert _pointers(s) == (0, 2)  # an 8-byte request: two slots


def test_a_broadcast_goes_on_past_a_server_an_earlier_notification_destroyed() -> None:
    host, g, (first, second, third) = _atomic_ring_guest(3)
    host.bind_ioreq_notifier(
        0, g, first.id, lambda vcpu: host.destroy_ioreq_server(0, g, second.id)
    )
    assert host.broadcast_timeoffset(g, 9) == 0
    assert [_pointers(s)[1] for s in (first, third)] == [2, 2]
    assert host.domains[g].find_server(second.id) is None


def test_a_ram_write_across_two_ram_frames_is_a_ram_access() -> None:
    host, g, _, _ = _p2m_guest()
    d = host.domains[g]
    acc = host.guest_access(g, 0, "mmio", 0x50FFC, 8, write=True, data=0x1122334455667788)
    assert _fields(acc) == (Route.RAM, None, Status.DONE, None, None)
    assert d.read_ram(0x50FFC, 8) == 0x1122334455667788
    assert "wp_straddling_writes" not in d.counters


def test_a_single_ram_write_or_move_touches_only_its_own_bytes() -> None:
    host, g, _, _ = _p2m_guest()
    d = host.domains[g]
    host.guest_access(g, 0, "mmio", 0x50000, 4, write=True, data=0xAABBCCDD)
    assert d.read_ram(0x50000, 8) == 0xAABBCCDD
    d.write_ram(0x60000, 8, 0x1122334455667788)
    _movs(host, g, 0x51000, 0x60000, 4, 1)
    assert d.read_ram(0x51000, 8) == 0x55667788


def test_the_47_server_id_search_takes_the_last_free_id_of_a_whole_lap() -> None:
    # next_ioservid (4.7) walks every ioservid_t after the last one handed out;
    # with all but one in use it still finds that one, and with none free it
    # refuses (where Xen would spin).
    host = Host(xen="4.7")
    g = host.create_domain(memory_mib=16)
    d = host.domains[g]
    d.last_ioservid = 0
    used = [types.SimpleNamespace(id=i) for i in range(1, 0xFFFF)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(type(d), "all_servers", lambda self: used)
        assert srv._next_ioservid(d) == 0xFFFF
        used.append(types.SimpleNamespace(id=0xFFFF))
        used.append(types.SimpleNamespace(id=0))
        assert errno_of(lambda: srv._next_ioservid(d)) == errno.ENOSPC
