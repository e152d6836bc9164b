"""Hypercall argument structs: ``xen_dm_op`` and its union members, ``xen_hvm_param``.

Layouts are those of ``public/hvm/dm_op.h`` (4.9+) and ``public/hvm/params.h``
compiled for x86_64 (xen-facts §4.3, §4.4).  Each struct is a frozen value with
``pack()`` and ``unpack()``; the explicit ``pad`` fields are kept so that the
hypervisor side can reject a non-zero pad with ``-EINVAL`` as Xen does.

Theory of operation
-------------------
A DMOP arrives as a list of buffers.  ``buf[0]`` holds a ``struct xen_dm_op``:
``u32 op; u32 pad;`` and a 24-byte union at offset 8.  Xen copies
``min(sizeof, buf.size)`` bytes and zero-fills the rest, so a short buffer is
not an error — a missing one is (XSA-506).  :func:`read_buffer` does that copy;
:func:`dm_op_buffer` builds a buffer for a client.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import fields
from operator import attrgetter
from typing import ClassVar, Self

from ioreqlab.abi.constants import DmOp
from ioreqlab.abi.value import value
from ioreqlab.errors import XenEINVAL

__all__ = [
    "DM_OP_SIZE",
    "DM_OP_SIZES",
    "DM_OP_UNION_OFFSET",
    "XEN_DMOP_NO_GFNS",
    "CreateIoreqServer",
    "DestroyIoreqServer",
    "DmOpHeader",
    "GetIoreqServerInfo",
    "HvmGetMemType",
    "HvmParamArg",
    "InjectEvent",
    "InjectMsi",
    "IoreqServerRange",
    "MapMemTypeToIoreqServer",
    "ModifiedMemory",
    "ModifiedMemoryExtent",
    "NrVcpus",
    "PinMemoryCacheattr",
    "RelocateMemory",
    "RemoteShutdown",
    "SetIoreqServerState",
    "SetIsaIrqLevel",
    "SetMemType",
    "SetPciIntxLevel",
    "SetPciLinkRoute",
    "TrackDirtyVram",
    "WireStruct",
    "dm_op_buffer",
    "read_buffer",
]

DM_OP_SIZE = 32
DM_OP_UNION_OFFSET = 8

#: ``XEN_DMOP_no_gfns``: get_ioreq_server_info maps nothing, returns no gfns (4.11+).
XEN_DMOP_NO_GFNS = 1

#: ``op_size[]`` of 4.11+ ``dm_op`` (x86_64): the bytes of each op's struct
#: that ``buf[0]`` must hold after the header.  0 for ops x86 does not know.
DM_OP_SIZES: tuple[int, ...] = (
    0,  # 0: no op
    6,  # create_ioreq_server
    24,  # get_ioreq_server_info
    24,  # map_io_range_to_ioreq_server
    24,  # unmap_io_range_from_ioreq_server
    4,  # set_ioreq_server_state
    4,  # destroy_ioreq_server
    16,  # track_dirty_vram
    6,  # set_pci_intx_level
    2,  # set_isa_irq_level
    2,  # set_pci_link_route
    8,  # modified_memory
    16,  # set_mem_type
    24,  # inject_event
    16,  # inject_msi
    16,  # map_mem_type_to_ioreq_server
    4,  # remote_shutdown
    24,  # relocate_memory
    24,  # pin_memory_cacheattr
    0,  # set_irq_level: Arm only, not in x86's table
    4,  # nr_vcpus
)


#: Each struct class's fields as one tuple, in order: made on first pack.
_FIELD_GETTERS: dict[type, Callable[[object], tuple[object, ...]]] = {}


class WireStruct:
    """Base of the fixed-layout structs: subclasses set ``LAYOUT`` and fields."""

    __slots__ = ()
    LAYOUT: ClassVar[struct.Struct]

    @classmethod
    def size(cls) -> int:
        """``sizeof`` the C struct."""
        return cls.LAYOUT.size

    def pack(self) -> bytes:
        """The struct's bytes, little-endian, pads as stored.

        Fields are read flat, in declaration order, by one ``attrgetter`` per
        class (no ``dataclasses.astuple``: its deep copy of every field cost a
        fifth of a run, issue 18).
        """
        cls = type(self)
        get = _FIELD_GETTERS.get(cls)
        if get is None:
            names = [f.name for f in fields(self)]  # type: ignore[arg-type]  # a dataclass
            one = attrgetter(names[0])
            get = attrgetter(*names) if len(names) > 1 else lambda s: (one(s),)
            _FIELD_GETTERS[cls] = get
        try:
            return self.LAYOUT.pack(*get(self))
        except struct.error as err:
            raise XenEINVAL(f"{type(self).__name__}: a field does not fit: {err}") from None

    @classmethod
    def unpack(cls, raw: bytes | bytearray | memoryview) -> Self:
        """Decode exactly ``size()`` bytes (use :func:`read_buffer` to pad first)."""
        return cls(*cls.LAYOUT.unpack(bytes(raw)))


@value
class DmOpHeader(WireStruct):
    """``struct xen_dm_op`` minus the union: ``u32 op; u32 pad``."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<II")
    op: int
    pad: int = 0


@value
class CreateIoreqServer(WireStruct):
    """``xen_dm_op_create_ioreq_server``: IN ``handle_bufioreq``, OUT ``id``."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<B3sH")
    handle_bufioreq: int
    pad: bytes = b"\0\0\0"
    id: int = 0


@value
class GetIoreqServerInfo(WireStruct):
    """``xen_dm_op_get_ioreq_server_info``: IN ``id``, OUT port and pfns."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<HHIQQ")
    id: int
    #: A pad in 4.9; ``flags`` from 4.11 (``XEN_DMOP_no_gfns`` = 1).
    flags: int = 0
    bufioreq_port: int = 0
    ioreq_pfn: int = 0
    bufioreq_pfn: int = 0


@value
class IoreqServerRange(WireStruct):
    """``xen_dm_op_ioreq_server_range``: map/unmap ``[start, end]`` of ``type``."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<HHIQQ")
    id: int
    pad: int
    type: int
    start: int
    end: int


@value
class SetIoreqServerState(WireStruct):
    """``xen_dm_op_set_ioreq_server_state``."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<HBB")
    id: int
    enabled: int
    pad: int = 0


@value
class DestroyIoreqServer(WireStruct):
    """``xen_dm_op_destroy_ioreq_server``."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<HH")
    id: int
    pad: int = 0


@value
class SetMemType(WireStruct):
    """``xen_dm_op_set_mem_type``: ``nr`` pages from ``first_pfn`` become ``mem_type``.

    On a continuation Xen writes the advanced ``first_pfn`` and ``nr`` back.
    """

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<IHHQ")
    nr: int
    mem_type: int
    pad: int
    first_pfn: int


@value
class MapMemTypeToIoreqServer(WireStruct):
    """``xen_dm_op_map_mem_type_to_ioreq_server``; ``opaque`` must be 0 from callers."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<HHIQ")
    id: int
    type: int
    flags: int
    opaque: int = 0


@value
class TrackDirtyVram(WireStruct):
    """``xen_dm_op_track_dirty_vram``: ``nr`` frames from ``first_pfn``; bitmap in buf[1]."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<IIQ")
    nr: int
    pad: int = 0
    first_pfn: int = 0


@value
class SetPciIntxLevel(WireStruct):
    """``xen_dm_op_set_pci_intx_level``: ``domain:bus:device`` INTx line to ``level``."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<HBBBB")
    domain: int
    bus: int
    device: int
    intx: int
    level: int


@value
class SetIsaIrqLevel(WireStruct):
    """``xen_dm_op_set_isa_irq_level``."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<BB")
    isa_irq: int
    level: int


@value
class SetPciLinkRoute(WireStruct):
    """``xen_dm_op_set_pci_link_route``: PCI link 0-3 to an ISA IRQ (0 disables)."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<BB")
    link: int
    isa_irq: int


@value
class ModifiedMemory(WireStruct):
    """``xen_dm_op_modified_memory``: ``nr_extents`` extents in buf[1]; ``opaque`` 0."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<II")
    nr_extents: int
    opaque: int = 0


@value
class ModifiedMemoryExtent(WireStruct):
    """``xen_dm_op_modified_memory_extent`` (16 bytes each, in buf[1])."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<IIQ")
    nr: int
    pad: int = 0
    first_pfn: int = 0


@value
class InjectEvent(WireStruct):
    """``xen_dm_op_inject_event``: an exception or interrupt for one vCPU."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<IBBBBIIQ")
    vcpuid: int
    vector: int
    type: int
    insn_len: int
    pad0: int = 0
    error_code: int = 0xFFFF_FFFF
    pad1: int = 0
    cr2: int = 0


@value
class InjectMsi(WireStruct):
    """``xen_dm_op_inject_msi``: MSI ``data`` to ``addr``."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<IIQ")
    data: int
    pad: int = 0
    addr: int = 0


@value
class RemoteShutdown(WireStruct):
    """``xen_dm_op_remote_shutdown``: a ``SHUTDOWN_*`` reason (others are not blocked)."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<I")
    reason: int


@value
class RelocateMemory(WireStruct):
    """``xen_dm_op_relocate_memory``: move frames from ``src_gfn`` to ``dst_gfn``.

    ``nr_frames`` is Xen's ``size`` (renamed: ``size()`` is the struct's size here).
    """

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<IIQQ")
    nr_frames: int
    pad: int = 0
    src_gfn: int = 0
    dst_gfn: int = 0


@value
class PinMemoryCacheattr(WireStruct):
    """``xen_dm_op_pin_memory_cacheattr``: gfns ``[start, end]`` to a PAT type."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<QQII")
    start: int
    end: int
    type: int
    pad: int = 0


@value
class NrVcpus(WireStruct):
    """``xen_dm_op_nr_vcpus``: OUT ``vcpus`` (4.15+)."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<I")
    vcpus: int = 0


@value
class HvmParamArg(WireStruct):
    """``xen_hvm_param``: ``domid_t domid; u32 index; u64 value`` (16 bytes)."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<H2xIQ")
    domid: int
    index: int
    value: int = 0


@value
class HvmGetMemType(WireStruct):
    """``xen_hvm_get_mem_type``: IN ``domid``, ``pfn``; OUT ``mem_type`` (16 bytes)."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<HH4xQ")
    domid: int
    mem_type: int = 0
    pfn: int = 0


def read_buffer(buf: bytes | bytearray | memoryview, size: int) -> bytes:
    """Copy ``min(size, len(buf))`` bytes and zero-fill to ``size``, as Xen does."""
    head = bytes(buf[:size])
    return head + bytes(size - len(head))


def dm_op_buffer(op: DmOp | int, arg: WireStruct, *, pad: int = 0) -> bytearray:
    """Build ``buf[0]`` of a DMOP: header, then ``arg`` in the union, 32 bytes.

    >>> b = dm_op_buffer(DmOp.DESTROY_IOREQ_SERVER, DestroyIoreqServer(id=1))
    >>> len(b), b[0], b[8]
    (32, 6, 1)
    """
    out = bytearray(DM_OP_SIZE)
    out[:DM_OP_UNION_OFFSET] = DmOpHeader(int(op), pad).pack()
    body = arg.pack()
    out[DM_OP_UNION_OFFSET : DM_OP_UNION_OFFSET + len(body)] = body
    return out
