"""Delivery: the per-vCPU slot state machine (XSA-262) and the buffered ring."""

from __future__ import annotations

import errno
import struct

import pytest

from ioreqlab import devicemodel
from ioreqlab.abi import (
    IOREQ_DATA_OFFSET,
    IOREQ_SIZE,
    BufIoReq,
    IoReq,
    IoReqState,
    set_slot_state,
)
from ioreqlab.errors import XenEBUSY, XenEINVAL, XenError
from ioreqlab.host import Host
from ioreqlab.hv.delivery import send_buffered
from ioreqlab.hv.pages import Page, compare_exchange_private
from ioreqlab.hv.server import IoreqServer
from tests.hv_helpers import EchoEmulator

MMIO = 0xF000_0000


def setup(
    xen: str = "4.7", bufioreq: int = 0
) -> tuple[Host, int, int, devicemodel.IoreqPages, list[int]]:
    host = Host(xen=xen, xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64, vcpus=2)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g, bufioreq)
    dm.map_io_range_to_ioreq_server(g, sid, True, MMIO, MMIO + 0xFFF)
    dm.map_io_range_to_ioreq_server(g, sid, True, 0xA0000, 0xBFFFF)
    notified: list[int] = []
    pages = dm.map_ioreq_server(g, sid, notified.append)  # map first, as QEMU does
    dm.set_ioreq_server_state(g, sid, True)
    return host, g, sid, pages, notified


def slot(pages: devicemodel.IoreqPages, vcpu: int) -> IoReq:
    return IoReq.unpack(bytes(pages.shared[vcpu * IOREQ_SIZE : (vcpu + 1) * IOREQ_SIZE]))


def set_state(
    pages: devicemodel.IoreqPages, vcpu: int, state: int, data: int | None = None
) -> None:
    off = vcpu * IOREQ_SIZE + IOREQ_DATA_OFFSET
    if data is not None:
        pages.shared[off : off + 8] = data.to_bytes(8, "little")
    set_slot_state(pages.shared, vcpu, state)


def wake(host: Host, g: int, sid: int, vcpu: int) -> None:
    """The emulator notifies the vCPU's port (``xenevtchn_notify``)."""
    devicemodel.open(host, 0).notify(g, sid, vcpu)


def test_request_is_written_ready_with_the_vcpu_port(xen: str) -> None:
    host, g, _, pages, notified = setup(xen)
    got = host.guest_access(g, 1, "mmio", MMIO + 8, 4, write=False)
    assert got.status == "pending"
    assert notified == [1]
    req = slot(pages, 1)
    assert (req.state, req.addr, req.size, req.dir) == (IoReqState.READY, MMIO + 8, 4, 1)
    assert req.vp_eport == pages.vcpu_ports[1]
    with pytest.raises(XenEBUSY):  # the vCPU is blocked until the emulator answers
        host.guest_access(g, 1, "mmio", MMIO, 4, write=False)


def test_vp_eport_is_written_on_enable_not_on_send(xen: str) -> None:
    # xen/common/ioreq.c:ioreq_server_enable -> ioreq_server_update_evtchn (4.17;
    # hvm_ioreq_server_enable in 4.7's xen/arch/x86/hvm/ioreq.c).
    host, g, _, pages, _ = setup(xen)
    assert [slot(pages, v).vp_eport for v in (0, 1)] == list(pages.vcpu_ports)
    pages.shared[24:28] = b"\xff\xff\0\0"  # a device model scribbles over vCPU 0's port
    got = host.guest_access(g, 0, "mmio", MMIO, 4, write=True, data=1)
    assert (got.status, got.fault) == ("unhandled", 13)  # #GP(0): "bad event channel"
    assert slot(pages, 0).state == IoReqState.NONE  # nothing was written
    assert host.domains[g].counters["send_refused_bad_port"] == 1


def test_only_a_notification_wakes_the_vcpu(xen: str) -> None:
    # wait_for_io: the vCPU sleeps on its port; IORESP_READY alone wakes nothing.
    host, g, sid, pages, _ = setup(xen)
    host.guest_access(g, 0, "mmio", MMIO, 2, write=False)
    set_state(pages, 0, IoReqState.IORESP_READY, data=0xABCDEF)
    assert host.resume_vcpu(g, 0).status == "pending"
    assert slot(pages, 0).state == IoReqState.IORESP_READY  # Xen has not looked
    wake(host, g, sid, 0)
    done = host.resume_vcpu(g, 0)
    assert (done.status, done.data) == ("done", 0xCDEF)  # masked to the access size
    assert slot(pages, 0).state == IoReqState.NONE


def test_forward_moves_complete_the_read(xen: str) -> None:
    host, g, sid, pages, _ = setup(xen)
    host.guest_access(g, 0, "mmio", MMIO, 2, write=False)
    set_state(pages, 0, IoReqState.INPROCESS)
    wake(host, g, sid, 0)
    assert host.resume_vcpu(g, 0).status == "pending"
    set_state(pages, 0, IoReqState.IORESP_READY, data=0xABCDEF)
    wake(host, g, sid, 0)
    done = host.resume_vcpu(g, 0)
    assert (done.status, done.data) == ("done", 0xCDEF)


def test_backward_move_crashes_the_domain_xsa262(xen: str) -> None:
    # xen/common/ioreq.c:wait_for_io (4.17): state < prev_state -> domain_crash.
    host, g, sid, pages, _ = setup(xen)
    host.guest_access(g, 0, "mmio", MMIO, 4, write=False)
    set_state(pages, 0, IoReqState.INPROCESS)
    wake(host, g, sid, 0)
    assert not host.domains[g].crashed
    set_state(pages, 0, IoReqState.READY)  # INPROCESS -> READY goes backwards
    wake(host, g, sid, 0)
    assert host.domains[g].crashed
    assert host.domains[g].counters["ioreq_state_refused"] == 1


def test_impossible_state_crashes_the_domain(xen: str) -> None:
    host, g, sid, pages, _ = setup(xen)
    host.guest_access(g, 0, "mmio", MMIO, 4, write=False)
    set_state(pages, 0, 9)
    wake(host, g, sid, 0)
    assert host.domains[g].crashed
    # domain_crash is a shutdown, not domain_kill: the device model still reaches
    # the domain (rcu_lock_remote_domain_by_id finds it) until it is destroyed,
    # but its vCPUs make no more accesses.
    dm = devicemodel.open(host, 0)
    dm.destroy_ioreq_server(g, sid)
    dm.set_isa_irq_level(g, 4, 1)
    with pytest.raises(XenError) as info:
        host.guest_access(g, 0, "pio", 0x80, 1, write=True)
    assert info.value.errno == errno.ESRCH
    host.destroy_domain(g)  # the toolstack destroys it
    with pytest.raises(XenError) as info:
        dm.create_ioreq_server(g)
    assert info.value.errno == errno.ESRCH
    assert host.heap_statistics().in_use == 0


def test_emulator_resetting_to_none_completes_with_all_ones(xen: str) -> None:
    host, g, sid, pages, _ = setup(xen)
    host.guest_access(g, 0, "mmio", MMIO, 4, write=False)
    set_state(pages, 0, IoReqState.NONE)
    wake(host, g, sid, 0)
    done = host.resume_vcpu(g, 0)
    assert (done.status, done.data) == ("done", 0xFFFFFFFF)


def test_disable_clears_the_pages_and_the_waiting_read_gets_all_ones() -> None:
    # 4.7 hvm_ioreq_server_disable -> hvm_add_ioreq_gmfn -> clear_page (gfn-mapped pages).
    host, g, sid, pages, _ = setup("4.7", bufioreq=1)
    host.guest_access(g, 1, "mmio", 0xA0000, 1, write=True, data=5)  # queued in the ring
    host.guest_access(g, 0, "mmio", MMIO, 4, write=False)
    devicemodel.open(host, 0).set_ioreq_server_state(g, sid, False)
    assert bytes(pages.shared) == bytes(4096)
    assert bytes(pages.buffered) == bytes(4096)
    wake(host, g, sid, 0)
    assert host.resume_vcpu(g, 0).data == 0xFFFFFFFF


def test_destroyed_server_leaves_its_waiting_vcpu_blocked(xen: str) -> None:
    host, g, sid, _, _ = setup(xen)
    host.guest_access(g, 0, "mmio", MMIO, 4, write=False)
    devicemodel.open(host, 0).destroy_ioreq_server(g, sid)
    assert host.resume_vcpu(g, 0).status == "pending"
    with pytest.raises(XenEBUSY):
        host.guest_access(g, 0, "pio", 0x80, 1, write=True)
    host.destroy_domain(g)
    assert host.heap_statistics().in_use == 0


def test_busy_slot_is_unhandled(xen: str) -> None:
    host, g, _, pages, _ = setup(xen)
    set_state(pages, 0, IoReqState.INPROCESS)  # a hostile emulator scribbles first
    got = host.guest_access(g, 0, "mmio", MMIO, 4, write=True, data=1)
    assert (got.status, got.fault) == ("unhandled", 13)


def test_resume_without_request_is_einval(xen: str) -> None:
    host, g, _, _, _ = setup(xen)
    with pytest.raises(XenEINVAL):
        host.resume_vcpu(g, 0)


def test_echo_emulator_completes_synchronously() -> None:
    host = Host(xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    sid = dm.create_ioreq_server(g)
    dm.map_io_range_to_ioreq_server(g, sid, False, 0x3F8, 0x3FF)
    dm.set_ioreq_server_state(g, sid, True)
    echo = EchoEmulator(host, 0, g, sid)
    got = host.guest_access(g, 0, "pio", 0x3F9, 1, write=False)
    assert (got.status, got.data) == ("done", echo.reply(echo.seen[-1]))


def ring(pages: devicemodel.IoreqPages) -> tuple[int, int]:
    rp, wp = struct.unpack_from("<II", pages.buffered, 0)
    return int(rp), int(wp)


def test_vga_writes_go_to_the_buffered_ring(xen: str) -> None:
    host, g, _, pages, notified = setup(xen, bufioreq=1)
    got = host.guest_access(g, 0, "mmio", 0xA0010, 8, write=True, data=0x1122334455667788)
    assert got.status == "buffered"
    assert ring(pages) == (0, 2)  # an 8-byte write takes two slots
    lo = BufIoReq.unpack(bytes(pages.buffered[8:16]))
    hi = BufIoReq.unpack(bytes(pages.buffered[16:24]))
    assert (lo.addr, lo.size, lo.data, hi.data) == (0xA0010, 8, 0x55667788, 0x11223344)
    assert notified == [-1]
    # A read is never buffered.
    assert host.guest_access(g, 0, "mmio", 0xA0010, 4, write=False).status == "pending"


def test_full_ring_falls_back_to_synchronous(xen: str) -> None:
    host, g, sid, pages, _ = setup(xen, bufioreq=1)
    for i in range(511):
        assert (
            host.guest_access(g, 0, "mmio", 0xA0000 + i, 1, write=True, data=i).status == "buffered"
        )
    assert ring(pages) == (0, 511)
    assert host.guest_access(g, 0, "mmio", 0xA0000, 1, write=True, data=1).status == "pending"
    # The emulator drains the ring: room again, and the write pointer wraps its slot index.
    struct.pack_into("<I", pages.buffered, 0, 511)
    set_state(pages, 0, IoReqState.IORESP_READY)
    wake(host, g, sid, 0)
    assert host.resume_vcpu(g, 0).status == "done"  # the vCPU takes its result first
    assert host.guest_access(g, 0, "mmio", 0xA0001, 1, write=True, data=2).status == "buffered"
    assert BufIoReq.unpack(bytes(pages.buffered[8:16])).addr == 0xA0001


def test_server_without_bufioreq_takes_vga_writes_synchronously(xen: str) -> None:
    host, g, _, _, _ = setup(xen, bufioreq=0)
    assert host.guest_access(g, 0, "mmio", 0xA0000, 1, write=True, data=1).status == "pending"


def test_timeoffset_is_broadcast_buffered_to_every_server() -> None:
    host = Host(xen_heap_bytes=1 << 20)
    g = host.create_domain(memory_mib=64)
    dm = devicemodel.open(host, 0)
    with_ring = dm.create_ioreq_server(g, 1)
    dm.create_ioreq_server(g, 0)  # no buffered ring: cannot take it
    notified: list[int] = []
    pages = dm.map_ioreq_server(g, with_ring, notified.append)
    assert host.broadcast_timeoffset(g, 0x1_0000_0002) == 1
    assert ring(pages) == (0, 2)  # an 8-byte value: two slots
    lo = BufIoReq.unpack(bytes(pages.buffered[8:16]))
    hi = BufIoReq.unpack(bytes(pages.buffered[16:24]))
    assert (lo.type, lo.size, lo.data, hi.data) == (7, 8, 2, 1)
    assert notified == [-1]


def test_a_zero_timeoffset_is_not_sent(xen: str) -> None:
    # xen/arch/x86/hvm/io.c:send_timeoffset_req: "if ( timeoff == 0 ) return;"
    host, g, _, pages, notified = setup(xen, bufioreq=1)
    assert host.broadcast_timeoffset(g, 0) == 0
    assert ring(pages) == (0, 0)
    assert notified == []


def test_timeoffset_reaches_a_disabled_server_only_in_47(xen: str) -> None:
    # 4.7 hvm_broadcast_ioreq walks every server; 4.17 ioreq_broadcast skips disabled ones.
    host, g, sid, pages, _ = setup(xen, bufioreq=1)
    devicemodel.open(host, 0).set_ioreq_server_state(g, sid, False)
    host.broadcast_timeoffset(g, 9)
    assert ring(pages) == ((0, 2) if xen == "4.7" else (0, 0))


@pytest.mark.parametrize(("mode", "after"), [(1, (1022, 1023)), (2, (0, 1))])
def test_atomic_mode_canonicalises_the_ring_pointers(
    xen: str, mode: int, after: tuple[int, int]
) -> None:
    # ioreq_send_buffered: with BUFIOREQ_ATOMIC, once the emulator's read pointer is
    # past a whole ring both pointers lose n * 511; LEGACY leaves them growing.
    host, g, _, pages, _ = setup(xen, bufioreq=mode)
    struct.pack_into("<II", pages.buffered, 0, 1022, 1022)  # two rings consumed
    assert host.guest_access(g, 0, "mmio", 0xA0000, 1, write=True, data=1).status == "buffered"
    assert ring(pages) == after


def test_a_vcpu_takes_its_result_before_its_next_access(xen: str) -> None:
    # One access in flight per vCPU: the completion must be collected first, so a
    # later access never receives an older access's data.
    host, g, sid, pages, _ = setup(xen)
    host.guest_access(g, 0, "mmio", MMIO, 4, write=False)
    set_state(pages, 0, IoReqState.IORESP_READY, data=0x1111)
    wake(host, g, sid, 0)  # completed while the guest was not looking
    with pytest.raises(XenEBUSY):
        host.guest_access(g, 0, "mmio", MMIO + 4, 4, write=False)
    assert host.resume_vcpu(g, 0).data == 0x1111
    assert host.guest_access(g, 0, "mmio", MMIO + 4, 4, write=False).status == "pending"


def _atomic_server() -> IoreqServer:
    """An enabled 4.17 server with a BUFIOREQ_ATOMIC ring, its frames acquired."""
    host = Host(xen="4.17")
    g = host.create_domain(memory_mib=64)
    sid = host.create_ioreq_server(0, g, bufioreq=2)
    s = host.domains[g].find_server(sid)
    assert s is not None
    host.acquire_ioreq_server_frames(0, g, sid, 0, 2)
    host.set_ioreq_server_state(0, g, sid, True)
    return s


def test_canonicalisation_retries_when_the_emulator_moves_the_read_pointer() -> None:
    # ioreq_send_buffered's loop: the 64-bit cmpxchg fails if the emulator moved its
    # read pointer in between; Xen re-reads both pointers and tries again.  Only the
    # write pointer is written before that: the read pointer is the emulator's.
    s = _atomic_server()
    struct.pack_into("<II", s.buffered_page, 0, 600, 610)
    calls: list[tuple[int, int]] = []

    def racing_cmpxchg(page: Page, offset: int, old: int, new: int) -> bool:
        calls.append((old & 0xFFFFFFFF, old >> 32))
        if len(calls) == 1:  # the emulator consumed five more slots meanwhile
            struct.pack_into("<I", page, 0, 605)
        return compare_exchange_private(page, offset, old, new)

    req = IoReq(addr=0xA0000, data=1, size=1, dir=0, type=1)
    assert send_buffered(s, req, racing_cmpxchg)
    assert calls == [(600, 611), (605, 611)]
    assert struct.unpack_from("<II", s.buffered_page, 0) == (605 - 511, 611 - 511)


def test_canonicalisation_gives_up_after_a_ring_of_tries() -> None:
    # An emulator that keeps the read pointer moving cannot make Xen loop for ever:
    # the loop stops after IOREQ_BUFFER_SLOT_NUM tries (qw counts as one for 8 bytes).
    s = _atomic_server()
    struct.pack_into("<II", s.buffered_page, 0, 600, 600)
    tries = [0]

    def never(page: Page, offset: int, old: int, new: int) -> bool:
        tries[0] += 1
        return False

    assert send_buffered(s, IoReq(addr=0xA0000, data=1, size=8, dir=0, type=1), never)
    assert tries[0] == 510  # 511 less the 8-byte write's extra slot
