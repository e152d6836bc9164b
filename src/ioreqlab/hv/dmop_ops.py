"""Every DMOP's own checks and effect, as one table read by :mod:`ioreqlab.hv.dmop`.

Each entry of :data:`DM_OPS` names the op's struct and a handler.  A handler
gets the decoded struct after ``dm_op``'s common checks (the target is found,
HVM, and the caller may act as its device model) and returns what Xen copies
back into ``buf[0]`` (``None`` for a ``const_op``), or raises
:class:`Continue` with the advanced struct for a hypercall continuation.

Copy-back follows ``dm.c`` (RELEASE-4.17.0; 4.9 the same for the ops it has):
create, get_info, set_mem_type and map_mem_type always copy back;
modified_memory and relocate_memory only when they continue; nr_vcpus copies
its answer.  The ops 16-20 (remote_shutdown, relocate_memory,
pin_memory_cacheattr, set_irq_level, nr_vcpus) do not exist in 4.9
(``dmop_max``); set_irq_level is Arm-only and ``-EOPNOTSUPP`` on x86.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ioreqlab.abi.constants import DmOp
from ioreqlab.abi.structs import (
    XEN_DMOP_NO_GFNS,
    CreateIoreqServer,
    DestroyIoreqServer,
    GetIoreqServerInfo,
    InjectEvent,
    InjectMsi,
    IoreqServerRange,
    MapMemTypeToIoreqServer,
    ModifiedMemory,
    NrVcpus,
    PinMemoryCacheattr,
    RelocateMemory,
    RemoteShutdown,
    SetIoreqServerState,
    SetIsaIrqLevel,
    SetMemType,
    SetPciIntxLevel,
    SetPciLinkRoute,
    TrackDirtyVram,
    WireStruct,
)
from ioreqlab.errors import XenEFAULT, XenEINVAL, XenERESTART
from ioreqlab.hv import ioreq as srv
from ioreqlab.hv import platform_ops as plat
from ioreqlab.hv.domain import Domain
from ioreqlab.hv.ports import HypercallHost

__all__ = ["DM_OPS", "Continue", "OpCall", "OpSpec"]


class Continue(XenERESTART):
    """A hypercall continuation: ``out`` is copied back and the op re-issued."""

    def __init__(self, out: WireStruct, message: str) -> None:
        super().__init__(message)
        self.out = out


@dataclass(slots=True)
class OpCall:
    """One DMOP being served: the host, the caller's and target's ids and domains.

    Made once per call and read by its handler only; not frozen, since a frozen
    dataclass costs twice as much to build and this is on every DMOP (issue 18).
    """

    host: HypercallHost
    caller: int
    domid: int
    d: Domain
    #: ``buf[1]`` onwards, as the guest passed them (``bytes`` is read-only).
    extra: Sequence[bytes | bytearray]


Handler = Callable[[OpCall, Any], WireStruct | None]


@dataclass(frozen=True, slots=True)
class OpSpec:
    """One DMOP: its struct and its handler."""

    struct: type[WireStruct]
    run: Handler


def _pad(value: object, name: str) -> None:
    if value not in (0, b"\0\0\0"):
        raise XenEINVAL(f"{name}: non-zero pad")


# -- ioreq servers (xen/common/ioreq.c:ioreq_server_dm_op) --------------------------


def _create(c: OpCall, a: CreateIoreqServer) -> WireStruct:
    _pad(a.pad, "create_ioreq_server")
    sid = c.host.create_ioreq_server(c.caller, c.domid, a.handle_bufioreq)
    return CreateIoreqServer(a.handle_bufioreq, id=sid)


def _get_info(c: OpCall, a: GetIoreqServerInfo) -> WireStruct:
    valid = XEN_DMOP_NO_GFNS if c.host.xen.get_info_flags else 0
    if a.flags & ~valid:
        raise XenEINVAL(f"get_ioreq_server_info: flags {a.flags:#x} (valid {valid:#x})")
    info = c.host.get_ioreq_server_info(
        c.caller, c.domid, a.id, gfns=not a.flags & XEN_DMOP_NO_GFNS
    )
    # What Xen does not write stays as the caller passed it.
    return GetIoreqServerInfo(
        a.id,
        a.flags,
        a.bufioreq_port if info.bufioreq_port is None else info.bufioreq_port,
        a.ioreq_pfn if info.ioreq_pfn is None else info.ioreq_pfn,
        a.bufioreq_pfn if info.bufioreq_pfn is None else info.bufioreq_pfn,
    )


# The two ops a device model makes most go straight to the servers' code: the
# dispatcher has already found both domains and made Xen's checks on them, as
# do_dm_op does once for every op (issue 18: the host's own entry points would
# look them up and check them again).


def _map(c: OpCall, a: IoreqServerRange) -> None:
    _pad(a.pad, "map_io_range_to_ioreq_server")
    srv.map_range(c.d, c.caller, a.id, a.type, a.start, a.end)


def _unmap(c: OpCall, a: IoreqServerRange) -> None:
    _pad(a.pad, "unmap_io_range_from_ioreq_server")
    srv.unmap_range(c.d, c.caller, a.id, a.type, a.start, a.end)


def _set_state(c: OpCall, a: SetIoreqServerState) -> None:
    _pad(a.pad, "set_ioreq_server_state")
    c.host.set_ioreq_server_state(c.caller, c.domid, a.id, bool(a.enabled))


def _destroy(c: OpCall, a: DestroyIoreqServer) -> None:
    _pad(a.pad, "destroy_ioreq_server")
    c.host.destroy_ioreq_server(c.caller, c.domid, a.id)


# -- memory types (xen/arch/x86/hvm/dm.c) ---------------------------------------------


def _set_mem_type(c: OpCall, a: SetMemType) -> WireStruct:
    """Up to 256 pages per pass; the rest is a continuation (``first_pfn``/``nr`` advanced)."""
    _pad(a.pad, "set_mem_type")
    done = c.host.set_mem_type(c.caller, c.domid, a.mem_type, a.first_pfn, a.nr)
    if done < a.nr:
        rest = SetMemType(a.nr - done, a.mem_type, 0, a.first_pfn + done)
        raise Continue(rest, f"set_mem_type continues at {rest.first_pfn:#x}")
    return a


def _map_mem_type(c: OpCall, a: MapMemTypeToIoreqServer) -> WireStruct:
    """Claim or disclaim; a disclaim's reset sweep continues through ``opaque``."""
    nxt = c.host.map_mem_type_to_ioreq_server(c.caller, c.domid, a.id, a.type, a.flags, a.opaque)
    if nxt:
        raise Continue(replace(a, opaque=nxt), f"p2m reset sweep continues at gfn {nxt:#x}")
    return a


# -- the platform (xen/arch/x86/hvm/dm.c and what it calls) ----------------------------


def _track_dirty_vram(c: OpCall, a: TrackDirtyVram) -> None:
    _pad(a.pad, "track_dirty_vram")
    if not c.extra:
        raise XenEINVAL("track_dirty_vram needs buf[1] for the bitmap")
    buf = c.extra[0]
    out = bytearray(len(buf))
    plat.track_dirty_vram(c.d, a.first_pfn, a.nr, out)
    if not isinstance(buf, bytearray):
        raise XenEFAULT("the dirty bitmap buffer is not writable")
    need = -(-a.nr // 8)
    buf[:need] = out[:need]


def _pci_intx(c: OpCall, a: SetPciIntxLevel) -> None:
    plat.set_pci_intx_level(c.d, a.domain, a.bus, a.device, a.intx, a.level)


def _isa_irq(c: OpCall, a: SetIsaIrqLevel) -> None:
    plat.set_isa_irq_level(c.d, a.isa_irq, a.level)


def _link_route(c: OpCall, a: SetPciLinkRoute) -> None:
    plat.set_pci_link_route(c.d, a.link, a.isa_irq)


def _modified_memory(c: OpCall, a: ModifiedMemory) -> None:
    extents = bytes(c.extra[0]) if c.extra else None
    rest, opaque = plat.modified_memory(
        c.d, a.nr_extents, a.opaque, extents, efault_bug=not c.host.xen.dmop_per_op_size
    )
    if rest:
        raise Continue(ModifiedMemory(rest, opaque), f"modified_memory: {rest} extents left")


def _inject_event(c: OpCall, a: InjectEvent) -> None:
    if a.pad0 or a.pad1:
        raise XenEINVAL("inject_event: non-zero pad")
    plat.inject_event(c.d, a.vcpuid, a.vector, a.type, a.insn_len, a.error_code, a.cr2)


def _inject_msi(c: OpCall, a: InjectMsi) -> None:
    _pad(a.pad, "inject_msi")
    plat.inject_msi(c.d, a.addr, a.data)


def _remote_shutdown(c: OpCall, a: RemoteShutdown) -> None:
    plat.remote_shutdown(c.d, a.reason)


def _relocate(c: OpCall, a: RelocateMemory) -> None:
    _pad(a.pad, "relocate_memory")
    left, src, dst = plat.relocate_memory(c.d, a.nr_frames, a.src_gfn, a.dst_gfn)
    if left:
        raise Continue(RelocateMemory(left, 0, src, dst), f"relocate_memory: {left} left")


def _pin_cacheattr(c: OpCall, a: PinMemoryCacheattr) -> None:
    _pad(a.pad, "pin_memory_cacheattr")
    plat.pin_memory_cacheattr(c.d, a.start, a.end, a.type, c.host.heap.account(c.domid))


def _nr_vcpus(c: OpCall, a: NrVcpus) -> WireStruct:
    return NrVcpus(c.d.vcpus)


#: Every DMOP the model serves, by number.
DM_OPS: dict[int, OpSpec] = {
    DmOp.CREATE_IOREQ_SERVER: OpSpec(CreateIoreqServer, _create),
    DmOp.GET_IOREQ_SERVER_INFO: OpSpec(GetIoreqServerInfo, _get_info),
    DmOp.MAP_IO_RANGE_TO_IOREQ_SERVER: OpSpec(IoreqServerRange, _map),
    DmOp.UNMAP_IO_RANGE_FROM_IOREQ_SERVER: OpSpec(IoreqServerRange, _unmap),
    DmOp.SET_IOREQ_SERVER_STATE: OpSpec(SetIoreqServerState, _set_state),
    DmOp.DESTROY_IOREQ_SERVER: OpSpec(DestroyIoreqServer, _destroy),
    DmOp.TRACK_DIRTY_VRAM: OpSpec(TrackDirtyVram, _track_dirty_vram),
    DmOp.SET_PCI_INTX_LEVEL: OpSpec(SetPciIntxLevel, _pci_intx),
    DmOp.SET_ISA_IRQ_LEVEL: OpSpec(SetIsaIrqLevel, _isa_irq),
    DmOp.SET_PCI_LINK_ROUTE: OpSpec(SetPciLinkRoute, _link_route),
    DmOp.MODIFIED_MEMORY: OpSpec(ModifiedMemory, _modified_memory),
    DmOp.SET_MEM_TYPE: OpSpec(SetMemType, _set_mem_type),
    DmOp.INJECT_EVENT: OpSpec(InjectEvent, _inject_event),
    DmOp.INJECT_MSI: OpSpec(InjectMsi, _inject_msi),
    DmOp.MAP_MEM_TYPE_TO_IOREQ_SERVER: OpSpec(MapMemTypeToIoreqServer, _map_mem_type),
    DmOp.REMOTE_SHUTDOWN: OpSpec(RemoteShutdown, _remote_shutdown),
    DmOp.RELOCATE_MEMORY: OpSpec(RelocateMemory, _relocate),
    DmOp.PIN_MEMORY_CACHEATTR: OpSpec(PinMemoryCacheattr, _pin_cacheattr),
    DmOp.NR_VCPUS: OpSpec(NrVcpus, _nr_vcpus),
}
