"""Interdomain event channels: an emulator binds its server's ports, signals, closes.

Checks follow ``common/event_channel.c:evtchn_bind_interdomain`` (4.17): the
remote domain (ESRCH), the remote port offered to the caller and unbound
(EINVAL), the new local port pending at once.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from ioreqlab.abi import (
    IOREQ_DATA_OFFSET,
    IOREQ_SIZE,
    IOREQ_STATE_OFFSET,
    IOREQ_VP_EPORT_OFFSET,
    IoReqState,
)
from ioreqlab.abi.constants import DOMID_SELF, HvmParam, IoRangeType
from ioreqlab.host import Host
from ioreqlab.hv.server import IoreqServer
from ioreqlab.hv.vcpu_io import Status
from tests.hv_helpers import errno_of


def _guest_with_server(xen: str = "4.17") -> tuple[Host, int, int]:
    host = Host(xen=xen)
    g = host.create_domain(memory_mib=16, vcpus=2)
    sid = host.create_ioreq_server(0, g, bufioreq=1)
    host.map_io_range(0, g, sid, IoRangeType.PORT, 0x3F8, 0x3FF)
    host.acquire_ioreq_server_frames(0, g, sid, 0, 2)
    host.set_ioreq_server_state(0, g, sid, True)
    return host, g, sid


def test_bind_needs_the_port_offered_to_the_caller() -> None:
    host, g, sid = _guest_with_server()
    s = host.domains[g].find_server(sid)
    assert s is not None
    fired: list[int] = []
    assert errno_of(lambda: host.evtchn_bind_interdomain(0, 999, 1, lambda: None)) == errno.ESRCH
    unknown = max(*s.vcpu_ports, s.bufioreq_port) + 100
    assert (
        errno_of(lambda: host.evtchn_bind_interdomain(0, g, unknown, lambda: None)) == errno.EINVAL
    )
    other = host.create_domain(memory_mib=16)
    port = s.vcpu_ports[0]
    # Only the server's emulator (dom0 here) is offered the port.
    assert (
        errno_of(lambda: host.evtchn_bind_interdomain(other, g, port, lambda: None)) == errno.EINVAL
    )
    local = host.evtchn_bind_interdomain(0, g, port, lambda: fired.append(0))
    assert fired == [0]  # pending at once, as Xen sets it
    assert errno_of(lambda: host.evtchn_bind_interdomain(0, g, port, lambda: None)) == errno.EINVAL
    host.evtchn_close(0, local)
    again = host.evtchn_bind_interdomain(0, g, port, lambda: None)
    assert again >= 1
    assert errno_of(lambda: host.evtchn_send(0, 4242)) == errno.EINVAL


def test_domid_self_names_the_caller() -> None:
    host, _, _ = _guest_with_server()
    # Dom0's own ports are not ioreq ports: DOMID_SELF resolves, the port is refused.
    assert errno_of(lambda: host.evtchn_bind_interdomain(0, DOMID_SELF, 1, lambda: None)) == (
        errno.EINVAL
    )


def test_a_signal_on_the_vcpu_port_completes_the_access() -> None:
    host, g, sid = _guest_with_server()
    s = host.domains[g].find_server(sid)
    assert s is not None
    woken: list[str] = []

    def waker(vcpu: int) -> Callable[[], None]:
        return lambda: woken.append(f"vcpu{vcpu}")

    locals_ = [host.evtchn_bind_interdomain(0, g, p, waker(v)) for v, p in enumerate(s.vcpu_ports)]
    buf = host.evtchn_bind_interdomain(0, g, s.bufioreq_port, lambda: woken.append("buf"))
    woken.clear()
    acc = host.guest_access(g, 1, "pio", 0x3F8, 1, write=False)
    assert acc.status == Status.PENDING
    assert woken == ["vcpu1"]
    # The emulator answers in the slot and signals vCPU 1's port.
    off = IOREQ_SIZE + IOREQ_STATE_OFFSET
    s.shared_page[IOREQ_SIZE + IOREQ_DATA_OFFSET] = 0x5A
    s.shared_page[off] = IoReqState.IORESP_READY
    assert host.evtchn_send(0, buf) is None  # the buffered port wakes vCPU 0: it waits on nothing
    done = host.evtchn_send(0, locals_[1])
    assert done is not None
    assert done.status == Status.DONE
    assert done.data == 0x5A
    assert host.resume_vcpu(g, 1).data == 0x5A


def test_destroying_the_server_leaves_the_local_port_unbound() -> None:
    host, g, sid = _guest_with_server()
    s = host.domains[g].find_server(sid)
    assert s is not None
    local = host.evtchn_bind_interdomain(0, g, s.vcpu_ports[0], lambda: None)
    host.destroy_ioreq_server(0, g, sid)
    assert host.evtchn_send(0, local) is None  # ECS_UNBOUND: the signal is dropped
    host.evtchn_close(0, local)
    assert errno_of(lambda: host.evtchn_send(0, local)) == errno.EINVAL


def test_destroying_the_guest_drops_its_bindings() -> None:
    host, g, sid = _guest_with_server()
    s = host.domains[g].find_server(sid)
    assert s is not None
    local = host.evtchn_bind_interdomain(0, g, s.vcpu_ports[0], lambda: None)
    host.destroy_domain(g)
    assert host.evtchn_send(0, local) is None


def _slot_answer(s: IoreqServer, vcpu: int, data: int) -> None:
    """The emulator's answer in ``vcpu``'s slot of ``s``: data, then IORESP_READY."""
    s.shared_page[vcpu * IOREQ_SIZE + IOREQ_DATA_OFFSET] = data
    s.shared_page[vcpu * IOREQ_SIZE + IOREQ_STATE_OFFSET] = IoReqState.IORESP_READY


def _server(host: Host, g: int, sid: int) -> IoreqServer:
    s = host.domains[g].find_server(sid)
    assert s is not None
    return s


def test_guest_ports_are_the_lowest_free_in_xens_order() -> None:
    # get_free_port (common/event_channel.c, 4.17) hands out the lowest free
    # port, port 0 being reserved; ioreq_server_add_vcpu allocates vCPU 0's
    # port, then the buffered one, then the next vCPU's (common/ioreq.c, 4.17).
    host = Host(xen="4.17")
    g = host.create_domain(memory_mib=16, vcpus=3)
    a = _server(host, g, host.create_ioreq_server(0, g, bufioreq=1))
    assert (a.vcpu_ports, a.bufioreq_port) == ([1, 3, 4], 2)
    b = _server(host, g, host.create_ioreq_server(0, g, bufioreq=0))
    assert (b.vcpu_ports, b.bufioreq_port) == ([5, 6, 7], 0)
    # Another guest numbers its own ports from 1.
    other = host.create_domain(memory_mib=16, vcpus=1)
    c = _server(host, other, host.create_ioreq_server(0, other, bufioreq=1))
    assert (c.vcpu_ports, c.bufioreq_port) == ([1], 2)
    # Destroying a server frees its ports: the next server gets them back.
    host.destroy_ioreq_server(0, g, a.id)
    d = _server(host, g, host.create_ioreq_server(0, g, bufioreq=1))
    assert (d.vcpu_ports, d.bufioreq_port) == ([1, 3, 4], 2)


def test_a_port_number_reused_by_a_new_server_can_be_bound_again() -> None:
    host, g, sid = _guest_with_server()
    port = _server(host, g, sid).vcpu_ports[0]
    host.evtchn_bind_interdomain(0, g, port, lambda: None)
    host.destroy_ioreq_server(0, g, sid)
    new = _server(host, g, host.create_ioreq_server(0, g, bufioreq=1))
    assert new.vcpu_ports[0] == port  # the lowest free port again
    fired: list[int] = []
    host.evtchn_bind_interdomain(0, g, port, lambda: fired.append(1))
    assert fired == [1]


def test_local_ports_are_the_callers_lowest_free_and_unbound_ones_stay_taken() -> None:
    host, g, sid = _guest_with_server()
    s = _server(host, g, sid)
    first = host.evtchn_bind_interdomain(0, g, s.vcpu_ports[0], lambda: None)
    second = host.evtchn_bind_interdomain(0, g, s.vcpu_ports[1], lambda: None)
    assert (first, second) == (1, 2)
    host.evtchn_close(0, first)  # closed: ECS_FREE, so the lowest free again
    assert host.evtchn_bind_interdomain(0, g, s.bufioreq_port, lambda: None) == 1
    # A guest end freed leaves the local end ECS_UNBOUND: not free.
    other_sid = host.create_ioreq_server(0, g, bufioreq=0)
    t = _server(host, g, other_sid)
    third = host.evtchn_bind_interdomain(0, g, t.vcpu_ports[0], lambda: None)
    assert third == 3
    host.destroy_ioreq_server(0, g, other_sid)
    fresh = _server(host, g, host.create_ioreq_server(0, g, bufioreq=0))
    assert host.evtchn_bind_interdomain(0, g, fresh.vcpu_ports[0], lambda: None) == 4
    host.evtchn_close(0, third)
    assert host.evtchn_bind_interdomain(0, g, fresh.vcpu_ports[1], lambda: None) == 3


def test_the_buffered_port_wakes_vcpu_0() -> None:
    # The buffered port's notify vCPU is 0 (alloc_unbound_xen_event_channel(d, 0, ...)):
    # a send on it wakes vCPU 0, which re-reads its slot.
    host, g, sid = _guest_with_server()
    s = _server(host, g, sid)
    buf = host.evtchn_bind_interdomain(0, g, s.bufioreq_port, lambda: None)
    assert host.guest_access(g, 0, "pio", 0x3F8, 1, write=False).status == Status.PENDING
    assert host.guest_access(g, 1, "pio", 0x3F8, 1, write=False).status == Status.PENDING
    _slot_answer(s, 1, 0x11)
    early = host.evtchn_send(0, buf)
    assert early is not None
    assert early.status == Status.PENDING  # vCPU 0 woke, but its slot is not answered yet
    _slot_answer(s, 0, 0x22)
    done = host.evtchn_send(0, buf)
    assert done is not None
    assert (done.status, done.data) == (Status.DONE, 0x22)
    assert host.resume_vcpu(g, 1).status == Status.PENDING  # nobody woke vCPU 1


def test_any_port_of_the_vcpu_wakes_it_and_it_reads_the_server_it_waits_on() -> None:
    host, g, sid = _guest_with_server()
    a = _server(host, g, sid)
    b_sid = host.create_ioreq_server(0, g, bufioreq=0)
    host.map_io_range(0, g, b_sid, IoRangeType.PORT, 0x2F8, 0x2FF)
    host.acquire_ioreq_server_frames(0, g, b_sid, 1, 1)  # frame 1: the synchronous page
    host.set_ioreq_server_state(0, g, b_sid, True)
    b = _server(host, g, b_sid)
    a_port1 = host.evtchn_bind_interdomain(0, g, a.vcpu_ports[1], lambda: None)
    assert host.guest_access(g, 1, "pio", 0x2F8, 1, write=False).status == Status.PENDING
    _slot_answer(b, 1, 0x33)
    done = host.evtchn_send(0, a_port1)  # server A's port for vCPU 1: vCPU 1 wakes
    assert done is not None
    assert (done.status, done.data, done.server_id) == (Status.DONE, 0x33, b_sid)


def test_a_vcpu_woken_after_its_server_went_away_completes_with_the_requests_data() -> None:
    # Nothing is pending once the server is gone: vcpu_ioreq_handle_completion
    # completes the access with vio->req.data, 0 for a read (hvmemul_do_io, 4.17).
    host, g, sid = _guest_with_server()
    b_sid = host.create_ioreq_server(0, g, bufioreq=0)
    host.map_io_range(0, g, b_sid, IoRangeType.PORT, 0x2F8, 0x2FF)
    host.acquire_ioreq_server_frames(0, g, b_sid, 1, 1)  # frame 1: the synchronous page
    host.set_ioreq_server_state(0, g, b_sid, True)
    a_port1 = host.evtchn_bind_interdomain(0, g, _server(host, g, sid).vcpu_ports[1], lambda: None)
    assert host.guest_access(g, 1, "pio", 0x2F8, 1, write=False).status == Status.PENDING
    host.destroy_ioreq_server(0, g, b_sid)
    assert host.resume_vcpu(g, 1).status == Status.PENDING  # blocked until something wakes it
    done = host.evtchn_send(0, a_port1)
    assert done is not None
    assert (done.status, done.data) == (Status.DONE, 0)
    assert host.domains[g].counters["woken_after_server_gone"] == 1


def test_dm_domain_replaces_the_default_servers_ports_47() -> None:
    # hvm_set_dm_domain / hvm_replace_event_channel (arch/x86/hvm/ioreq.c,
    # RELEASE-4.7.0): each port is replaced by the lowest free one, allocated
    # before the old one is freed (vCPU 0's buffered port first), so a port
    # freed by one swap is taken by the next; the old emulator's ends are left
    # unbound, BUFIOREQ_EVTCHN and the slots name the new ports.
    host = Host(xen="4.7")
    dm = host.create_domain(memory_mib=16, hvm=False)
    g = host.create_domain(memory_mib=16, vcpus=2)
    host.get_param(0, g, HvmParam.IOREQ_PFN)  # creates the default server, emulated by dom0
    s = host.domains[g].default_server
    assert s is not None
    assert (s.vcpu_ports, s.bufioreq_port) == ([1, 3], 2)
    old_local = host.evtchn_bind_interdomain(0, g, s.vcpu_ports[0], lambda: None)
    host.set_param(0, g, HvmParam.DM_DOMAIN, dm)
    # buffered 2 -> 4 (2 freed); vCPU 0's 1 -> 2 (1 freed); vCPU 1's 3 -> 1.
    assert (s.vcpu_ports, s.bufioreq_port, s.emulator) == ([2, 1], 4, dm)
    assert host.get_param(0, g, HvmParam.BUFIOREQ_EVTCHN) == 4
    eports = [
        int.from_bytes(s.shared_page[v * IOREQ_SIZE + IOREQ_VP_EPORT_OFFSET :][:4], "little")
        for v in range(2)
    ]
    assert eports == [2, 1]
    assert host.evtchn_send(0, old_local) is None  # the old end is ECS_UNBOUND
    assert errno_of(lambda: host.evtchn_bind_interdomain(0, g, 2, lambda: None)) == errno.EINVAL
    assert errno_of(lambda: host.evtchn_bind_interdomain(dm, g, 3, lambda: None)) == errno.EINVAL
    fired: list[int] = []
    host.evtchn_bind_interdomain(dm, g, 2, lambda: fired.append(1))
    assert fired == [1]
    host.evtchn_bind_interdomain(dm, g, 1, lambda: None)  # the old end no longer holds port 1
    # The same domain again changes nothing (s->domid == domid).
    host.set_param(0, g, HvmParam.DM_DOMAIN, dm)
    assert (s.vcpu_ports, s.bufioreq_port) == ([2, 1], 4)
