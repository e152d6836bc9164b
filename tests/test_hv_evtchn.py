"""Interdomain event channels: an emulator binds its server's ports, signals, closes.

Checks follow ``common/event_channel.c:evtchn_bind_interdomain`` (4.17): the
remote domain (ESRCH), the remote port offered to the caller and unbound
(EINVAL), the new local port pending at once.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from ioreqlab.abi import IOREQ_DATA_OFFSET, IOREQ_SIZE, IOREQ_STATE_OFFSET, IoReqState
from ioreqlab.abi.constants import DOMID_SELF, IoRangeType
from ioreqlab.host import Host
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
    assert host.evtchn_send(0, buf) is None  # the buffered port wakes no vCPU
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
