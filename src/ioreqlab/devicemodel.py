"""A libxendevicemodel-shaped client: what a device model links against.

Every call builds the real ``xen_dm_op`` bytes, goes through
:meth:`ioreqlab.host.Host.dm_op` (so the ABI path is the tested path) and
turns ``-errno`` into :class:`~ioreqlab.errors.XenError`, as the C library
turns it into ``errno``.  The wrappers pre-validate exactly what the C
library pre-validates (PCI device and function numbers, the memory type and
flags of ``map_mem_type_to_ioreq_server``) and nothing more: everything else
is the hypervisor's to refuse.

Besides the DMOPs, a device model needs the server's pages and event
channels (``xenforeignmemory_map_resource`` and ``xenevtchn``):
:meth:`DeviceModel.map_ioreq_server` binds a notification callback and
returns the pages; :meth:`DeviceModel.notify` signals a vCPU's port.

>>> from ioreqlab.host import Host
>>> host = Host(xen_heap_bytes=1 << 20)
>>> guest = host.create_domain(memory_mib=256)
>>> dm = open(host, 0)
>>> sid = dm.create_ioreq_server(guest)
>>> dm.map_io_range_to_ioreq_server(guest, sid, False, 0x3f8, 0x3ff)
>>> dm.map_io_range_to_ioreq_server(guest, sid, False, 0x3fa, 0x3fa)  # doctest: +ELLIPSIS
Traceback (most recent call last):
  ...
ioreqlab.errors.XenEEXIST: [Errno 17] File exists: ...
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from ioreqlab.abi.constants import (
    DmOp,
    HvmMem,
    HvmOp,
    IoRangeType,
    MemAccessFlag,
    pci_sbdf,
)
from ioreqlab.abi.structs import (
    CreateIoreqServer,
    DestroyIoreqServer,
    GetIoreqServerInfo,
    HvmGetMemType,
    HvmParamArg,
    InjectEvent,
    InjectMsi,
    IoreqServerRange,
    MapMemTypeToIoreqServer,
    ModifiedMemory,
    ModifiedMemoryExtent,
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
    dm_op_buffer,
)
from ioreqlab.errors import XenEINVAL, XenENOSYS, raise_errno
from ioreqlab.host import Host

__all__ = ["DeviceModel", "IoreqPages", "open"]


@dataclass(frozen=True, slots=True)
class IoreqPages:
    """A server's pages as the emulator maps them (writable views)."""

    shared: memoryview
    buffered: memoryview
    vcpu_ports: tuple[int, ...]
    bufioreq_port: int


class DeviceModel:
    """A handle bound to one calling domain (``xendevicemodel_open``)."""

    def __init__(self, host: Host, caller: int) -> None:
        self.host = host
        self.caller = caller

    def _call(
        self, domid: int, op: DmOp, arg: WireStruct, extra: bytearray | None = None
    ) -> bytearray:
        """One DMOP (``extra`` is ``buf[1]``); continuations happen below, as in Xen."""
        buf = dm_op_buffer(op, arg)
        rc = self.host.dm_op(self.caller, domid, [buf] if extra is None else [buf, extra])
        if rc < 0:
            raise_errno(rc, f"{op.name.lower()} on domain {domid}")
        return buf

    def create_ioreq_server(self, domid: int, handle_bufioreq: int = 0) -> int:
        """Create a server (disabled); return its id."""
        buf = self._call(domid, DmOp.CREATE_IOREQ_SERVER, CreateIoreqServer(handle_bufioreq))
        return int(struct.unpack_from("<H", buf, 8 + 4)[0])

    def get_ioreq_server_info(self, domid: int, id: int) -> tuple[int, int, int]:
        """``(ioreq_pfn, bufioreq_pfn, bufioreq_port)``; the last two 0 without buffering."""
        buf = self._call(domid, DmOp.GET_IOREQ_SERVER_INFO, GetIoreqServerInfo(id))
        out = GetIoreqServerInfo.unpack(buf[8:32])
        return out.ioreq_pfn, out.bufioreq_pfn, out.bufioreq_port

    def _range(self, op: DmOp, domid: int, id: int, rtype: int, start: int, end: int) -> None:
        self._call(domid, op, IoreqServerRange(id, 0, rtype, start, end))

    def map_io_range_to_ioreq_server(
        self, domid: int, id: int, is_mmio: bool, start: int, end: int
    ) -> None:
        """Send ports (``is_mmio`` false) or MMIO bytes ``[start, end]`` to server ``id``."""
        rtype = IoRangeType.MEMORY if is_mmio else IoRangeType.PORT
        self._range(DmOp.MAP_IO_RANGE_TO_IOREQ_SERVER, domid, id, rtype, start, end)

    def unmap_io_range_from_ioreq_server(
        self, domid: int, id: int, is_mmio: bool, start: int, end: int
    ) -> None:
        """Undo :meth:`map_io_range_to_ioreq_server` (the range must be inside one mapping)."""
        rtype = IoRangeType.MEMORY if is_mmio else IoRangeType.PORT
        self._range(DmOp.UNMAP_IO_RANGE_FROM_IOREQ_SERVER, domid, id, rtype, start, end)

    @staticmethod
    def _sbdf(segment: int, bus: int, device: int, function: int) -> int:
        if device > 0x1F or function > 7 or not 0 <= bus <= 0xFF or not 0 <= segment <= 0xFFFF:
            raise XenEINVAL(f"PCI address {segment:x}:{bus:x}:{device:x}.{function:x}")
        if device < 0 or function < 0:
            raise XenEINVAL("negative PCI device or function")
        return pci_sbdf(segment, bus, device, function)

    def map_pcidev_to_ioreq_server(
        self, domid: int, id: int, segment: int, bus: int, device: int, function: int
    ) -> None:
        """Send config-space accesses of one PCI function to server ``id``."""
        sbdf = self._sbdf(segment, bus, device, function)
        self._range(DmOp.MAP_IO_RANGE_TO_IOREQ_SERVER, domid, id, IoRangeType.PCI, sbdf, sbdf)

    def unmap_pcidev_from_ioreq_server(
        self, domid: int, id: int, segment: int, bus: int, device: int, function: int
    ) -> None:
        """Undo :meth:`map_pcidev_to_ioreq_server`."""
        sbdf = self._sbdf(segment, bus, device, function)
        self._range(DmOp.UNMAP_IO_RANGE_FROM_IOREQ_SERVER, domid, id, IoRangeType.PCI, sbdf, sbdf)

    def map_wp_mem_range_to_ioreq_server(
        self, domid: int, id: int, start_gfn: int, end_gfn: int
    ) -> None:
        """Seed series (design ``rangeset``): send writes to frames ``[start, end]``."""
        self._range(
            DmOp.MAP_IO_RANGE_TO_IOREQ_SERVER, domid, id, IoRangeType.WP_MEM, start_gfn, end_gfn
        )

    def unmap_wp_mem_range_from_ioreq_server(
        self, domid: int, id: int, start_gfn: int, end_gfn: int
    ) -> None:
        """Undo :meth:`map_wp_mem_range_to_ioreq_server`."""
        self._range(
            DmOp.UNMAP_IO_RANGE_FROM_IOREQ_SERVER, domid, id, IoRangeType.WP_MEM, start_gfn, end_gfn
        )

    def map_mem_type_to_ioreq_server(self, domid: int, id: int, type: int, flags: int) -> None:
        """Claim (``flags`` = WRITE) or disclaim (0) an ioreq memory type.

        Pre-validated as libxendevicemodel does: only an ioreq type, only the
        WRITE flag; ``opaque`` is always 0.
        """
        if type < HvmMem.IOREQ_SERVER or type > HvmMem.IOREQ_SERVER_7:
            raise XenEINVAL(f"memory type {type} is not an ioreq server type")
        if flags & ~int(MemAccessFlag.WRITE):  # int: ~IntFlag keeps only known bits
            raise XenEINVAL(f"flags {flags:#x}: only XEN_DMOP_IOREQ_MEM_ACCESS_WRITE is allowed")
        self._call(
            domid, DmOp.MAP_MEM_TYPE_TO_IOREQ_SERVER, MapMemTypeToIoreqServer(id, type, flags)
        )

    def set_ioreq_server_state(self, domid: int, id: int, enabled: bool) -> None:
        """Enable or disable server ``id``."""
        self._call(domid, DmOp.SET_IOREQ_SERVER_STATE, SetIoreqServerState(id, int(bool(enabled))))

    def destroy_ioreq_server(self, domid: int, id: int) -> None:
        """Destroy server ``id``."""
        self._call(domid, DmOp.DESTROY_IOREQ_SERVER, DestroyIoreqServer(id))

    def set_mem_type(self, domid: int, mem_type: int, first_pfn: int, nr: int) -> None:
        """Set ``nr`` pages from ``first_pfn`` to ``mem_type`` (continuations followed)."""
        self._call(domid, DmOp.SET_MEM_TYPE, SetMemType(nr, mem_type, 0, first_pfn))

    # -- the platform ------------------------------------------------------------

    def track_dirty_vram(self, domid: int, first_pfn: int, nr: int) -> bytes:
        """The dirty bitmap of ``nr`` VRAM frames from ``first_pfn`` (``nr`` 0 stops)."""
        bitmap = bytearray(-(-nr // 8) or 1)
        self._call(domid, DmOp.TRACK_DIRTY_VRAM, TrackDirtyVram(nr, 0, first_pfn), bitmap)
        return bytes(bitmap[: -(-nr // 8)])

    def set_pci_intx_level(
        self, domid: int, segment: int, bus: int, device: int, intx: int, level: int
    ) -> None:
        """Assert (1) or deassert (0) a PCI INTx line."""
        arg = SetPciIntxLevel(segment, bus, device, intx, level)
        self._call(domid, DmOp.SET_PCI_INTX_LEVEL, arg)

    def set_isa_irq_level(self, domid: int, irq: int, level: int) -> None:
        """Raise (1) or lower (0) an ISA IRQ line."""
        self._call(domid, DmOp.SET_ISA_IRQ_LEVEL, SetIsaIrqLevel(irq, level))

    def set_pci_link_route(self, domid: int, link: int, irq: int) -> None:
        """Route PCI link ``link`` to ISA IRQ ``irq`` (0 disables)."""
        self._call(domid, DmOp.SET_PCI_LINK_ROUTE, SetPciLinkRoute(link, irq))

    def inject_msi(self, domid: int, msi_addr: int, msi_data: int) -> None:
        """Deliver an MSI."""
        self._call(domid, DmOp.INJECT_MSI, InjectMsi(msi_data, 0, msi_addr))

    def modified_memory_bulk(self, domid: int, extents: list[tuple[int, int]]) -> None:
        """Mark ``(first_pfn, nr)`` extents dirty for log-dirty (migration)."""
        raw = bytearray(b"".join(ModifiedMemoryExtent(nr, 0, pfn).pack() for pfn, nr in extents))
        self._call(domid, DmOp.MODIFIED_MEMORY, ModifiedMemory(len(extents)), raw)

    def modified_memory(self, domid: int, first_pfn: int, nr: int) -> None:
        """Mark ``nr`` frames from ``first_pfn`` dirty."""
        self.modified_memory_bulk(domid, [(first_pfn, nr)])

    def inject_event(
        self,
        domid: int,
        vcpu: int,
        vector: int,
        type: int,
        error_code: int,
        insn_len: int,
        extra: int,
    ) -> None:
        """Inject an exception or interrupt into ``vcpu`` (``extra``: %cr2 for #PF)."""
        arg = InjectEvent(vcpu, vector, type, insn_len, 0, error_code, 0, extra)
        self._call(domid, DmOp.INJECT_EVENT, arg)

    def shutdown(self, domid: int, reason: int) -> None:
        """``xendevicemodel_shutdown``: shut the domain down with a ``SHUTDOWN_*`` reason."""
        self._call(domid, DmOp.REMOTE_SHUTDOWN, RemoteShutdown(reason))

    def relocate_memory(self, domid: int, size: int, src_gfn: int, dst_gfn: int) -> None:
        """Move ``size`` frames from ``src_gfn`` to ``dst_gfn``."""
        self._call(domid, DmOp.RELOCATE_MEMORY, RelocateMemory(size, 0, src_gfn, dst_gfn))

    def pin_memory_cacheattr(self, domid: int, start: int, end: int, type: int) -> None:
        """Pin gfns ``[start, end]`` to a cache attribute (``0xffffffff`` deletes)."""
        self._call(domid, DmOp.PIN_MEMORY_CACHEATTR, PinMemoryCacheattr(start, end, type))

    def nr_vcpus(self, domid: int) -> int:
        """The guest's vCPU count (4.15+)."""
        buf = self._call(domid, DmOp.NR_VCPUS, NrVcpus())
        return NrVcpus.unpack(buf[8:12]).vcpus

    def get_mem_type(self, domid: int, pfn: int) -> int:
        """``xc_hvm_get_mem_type``: the ``HVMMEM_*`` type of one frame."""
        buf = bytearray(HvmGetMemType(domid, 0, pfn).pack())
        rc = self.host.hvm_op(self.caller, HvmOp.GET_MEM_TYPE, buf)
        if rc < 0:
            raise_errno(rc, f"get_mem_type of {pfn:#x} on domain {domid}")
        return HvmGetMemType.unpack(buf).mem_type

    def set_param(self, domid: int, index: int, value: int) -> None:
        """``xc_hvm_param_set``."""
        rc = self.host.hvm_op(self.caller, HvmOp.SET_PARAM, HvmParamArg(domid, index, value).pack())
        if rc < 0:
            raise_errno(rc, f"set_param {index} on domain {domid}")

    def get_param(self, domid: int, index: int) -> int:
        """``xc_hvm_param_get``."""
        buf = bytearray(HvmParamArg(domid, index).pack())
        rc = self.host.hvm_op(self.caller, HvmOp.GET_PARAM, buf)
        if rc < 0:
            raise_errno(rc, f"get_param {index} on domain {domid}")
        return HvmParamArg.unpack(buf).value

    def map_ioreq_server(self, domid: int, id: int, notify: Callable[[int], None]) -> IoreqPages:
        """Map the server's pages and bind its ports: ``notify(vcpu)`` on each send
        (``vcpu`` -1 for the buffered ring).

        As QEMU does: ``xenforeignmemory_map_resource`` of the server's frames
        where Xen has it (4.11+), else the gfns from ``get_ioreq_server_info``.
        Map before enabling: Xen writes each vCPU's ``vp_eport`` into the slots
        when the server is enabled, and only if its pages exist by then.
        """
        try:
            nframes = 2 if self._has_ring(domid, id) else 1
            # The frames are the pages the binding below hands over.
            self.host.acquire_ioreq_server_frames(self.caller, domid, id, 2 - nframes, nframes)
        except XenENOSYS:
            self.get_ioreq_server_info(domid, id)
        s = self.host.bind_ioreq_notifier(self.caller, domid, id, notify)
        return IoreqPages(
            memoryview(s.shared_page),
            memoryview(s.buffered_page),
            tuple(s.vcpu_ports),
            s.bufioreq_port,
        )

    def _has_ring(self, domid: int, id: int) -> bool:
        buf = self._call(
            domid,
            DmOp.GET_IOREQ_SERVER_INFO,
            GetIoreqServerInfo(id, self._no_gfns()),
        )
        return GetIoreqServerInfo.unpack(buf[8:32]).bufioreq_port != 0

    def _no_gfns(self) -> int:
        return 1 if self.host.xen.get_info_flags else 0

    def map_foreign(self, domid: int, gfn: int) -> memoryview:
        """``xenforeignmemory_map``: a writable view of one guest RAM frame."""
        return memoryview(self.host.foreign_page(self.caller, domid, gfn))

    def notify(self, domid: int, id: int, vcpu: int) -> None:
        """Signal ``vcpu``'s event channel after completing its request."""
        self.host.ioreq_completed(self.caller, domid, id, vcpu)


def open(host: Host, caller_domid: int) -> DeviceModel:
    """``xendevicemodel_open``: a handle acting as domain ``caller_domid``."""
    return DeviceModel(host, caller_domid)
