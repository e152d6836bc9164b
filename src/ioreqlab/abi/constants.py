"""Xen's public numbers: ops, types, states, params and flags.

Every value here is Xen's own, with the public header it lives in.  Where the
model adds something Xen never shipped (the seed series' ``WP_MEM`` range type
and ``HVM_PARAM_MAX_WP_RAM_RANGES``, the ``p2t`` design's extra ioreq types)
the docstring says so.  Nothing in this module does anything: it is vocabulary.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

__all__ = [
    "BHDR_OVERHEAD",
    "DOMID_INVALID",
    "DOMID_SELF",
    "HVM_NR_PARAMS",
    "IOREQ_BUFFER_SLOT_NUM",
    "MAX_NR_IO_RANGES",
    "MEM_ALIGN",
    "NR_IOREQ_SERVER_PAGES",
    "PAGE_SHIFT",
    "PAGE_SIZE",
    "PREEMPT_PAGES",
    "SHUTDOWN_MAX",
    "UINT16_MAX",
    "UINT32_MAX",
    "UINT64_MAX",
    "BufIoreqMode",
    "DmOp",
    "HvmMem",
    "HvmOp",
    "HvmParam",
    "IoRangeType",
    "IoReqDir",
    "IoReqState",
    "IoReqType",
    "MemAccessFlag",
    "P2mType",
    "pci_sbdf",
    "sbdf_split",
]

UINT16_MAX = (1 << 16) - 1
UINT32_MAX = (1 << 32) - 1
UINT64_MAX = (1 << 64) - 1

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT

#: ``DOMID_SELF`` (``public/xen.h``): "the calling domain".
DOMID_SELF = 0x7FF0
#: ``DOMID_INVALID`` (``public/xen.h``): no domain; libxendevicemodel's probe target.
DOMID_INVALID = 0x7FF4

#: Per-server, per-type rangeset limit (``asm-x86/hvm/domain.h``, 4.5+).
MAX_NR_IO_RANGES = 256

#: Size of the ioreq-server gmfn pool libxc configures (``xc_dom_x86.c``, 4.7).
NR_IOREQ_SERVER_PAGES = 8

#: Slots in the buffered ioreq ring (``public/hvm/ioreq.h``).
IOREQ_BUFFER_SLOT_NUM = 511

#: Long batches check for preemption every this many pages (``hvm.c``, ``dm.c``).
PREEMPT_PAGES = 256

#: ``SHUTDOWN_MAX`` (``public/sched.h``, 4.7): the highest shutdown reason.
SHUTDOWN_MAX = 5

#: TLSF allocator constants (``xen/common/xmalloc_tlsf.c``): block header
#: overhead and the alignment every request is rounded up to.
BHDR_OVERHEAD = 16
MEM_ALIGN = 16


class HvmOp(IntEnum):
    """``HVMOP_*`` numbers (``public/hvm/hvm_op.h``, 4.7)."""

    SET_PARAM = 0
    GET_PARAM = 1
    SET_PCI_INTX_LEVEL = 2
    SET_ISA_IRQ_LEVEL = 3
    SET_PCI_LINK_ROUTE = 4
    FLUSH_TLBS = 5
    TRACK_DIRTY_VRAM = 6
    MODIFIED_MEMORY = 7
    SET_MEM_TYPE = 8
    PAGETABLE_DYING = 9
    GET_TIME = 10
    XENTRACE = 11
    SET_MEM_ACCESS = 12
    GET_MEM_ACCESS = 13
    INJECT_TRAP = 14
    GET_MEM_TYPE = 15
    INJECT_MSI = 16
    CREATE_IOREQ_SERVER = 17
    GET_IOREQ_SERVER_INFO = 18
    MAP_IO_RANGE_TO_IOREQ_SERVER = 19
    UNMAP_IO_RANGE_FROM_IOREQ_SERVER = 20
    DESTROY_IOREQ_SERVER = 21
    SET_IOREQ_SERVER_STATE = 22
    SET_EVTCHN_UPCALL_VECTOR = 23
    GUEST_REQUEST_VM_EVENT = 24
    ALTP2M = 25


class DmOp(IntEnum):
    """``XEN_DMOP_*`` numbers (``public/hvm/dm_op.h``, 4.9+)."""

    CREATE_IOREQ_SERVER = 1
    GET_IOREQ_SERVER_INFO = 2
    MAP_IO_RANGE_TO_IOREQ_SERVER = 3
    UNMAP_IO_RANGE_FROM_IOREQ_SERVER = 4
    SET_IOREQ_SERVER_STATE = 5
    DESTROY_IOREQ_SERVER = 6
    TRACK_DIRTY_VRAM = 7
    SET_PCI_INTX_LEVEL = 8
    SET_ISA_IRQ_LEVEL = 9
    SET_PCI_LINK_ROUTE = 10
    MODIFIED_MEMORY = 11
    SET_MEM_TYPE = 12
    INJECT_EVENT = 13
    INJECT_MSI = 14
    MAP_MEM_TYPE_TO_IOREQ_SERVER = 15
    REMOTE_SHUTDOWN = 16
    RELOCATE_MEMORY = 17
    PIN_MEMORY_CACHEATTR = 18
    SET_IRQ_LEVEL = 19
    NR_VCPUS = 20


class IoRangeType(IntEnum):
    """Range types of map/unmap (``HVMOP_IO_RANGE_*`` / ``XEN_DMOP_IO_RANGE_*``).

    ``WP_MEM`` (3) is the seed series' addition (commit ``f5a32c5b8e``, reverted
    by ``19e5e78324``): write-protected RAM in guest frame numbers.  Only the
    ``rangeset`` design accepts it.
    """

    PORT = 0
    MEMORY = 1
    PCI = 2
    WP_MEM = 3


class IoReqType(IntEnum):
    """``IOREQ_TYPE_*`` (``public/hvm/ioreq.h``)."""

    PIO = 0
    COPY = 1
    PCI_CONFIG = 2
    TIMEOFFSET = 7
    INVALIDATE = 8


class IoReqState(IntEnum):
    """Slot states of ``ioreq_t.state`` (``public/hvm/ioreq.h``)."""

    NONE = 0
    READY = 1
    INPROCESS = 2
    IORESP_READY = 3


class IoReqDir(IntEnum):
    """``ioreq_t.dir``: ``IOREQ_WRITE 0``, ``IOREQ_READ 1``."""

    WRITE = 0
    READ = 1


class BufIoreqMode(IntEnum):
    """``HVM_IOREQSRV_BUFIOREQ_*`` (``public/hvm/hvm_op.h`` / ``dm_op.h``)."""

    OFF = 0
    LEGACY = 1
    ATOMIC = 2


class P2mType(IntEnum):
    """``p2m_type_t`` (``asm-x86/p2m.h``).

    Value 15 is ``p2m_mmio_write_dm`` in 4.6/4.7 and ``p2m_ioreq_server`` from
    4.8 (commit ``cb34624af5``); the enum keeps both names for it.
    """

    RAM_RW = 0
    INVALID = 1
    RAM_LOGDIRTY = 2
    RAM_RO = 3
    MMIO_DM = 4
    MMIO_DIRECT = 5
    POPULATE_ON_DEMAND = 6
    GRANT_MAP_RW = 7
    GRANT_MAP_RO = 8
    RAM_PAGING_OUT = 9
    RAM_PAGED = 10
    RAM_PAGING_IN = 11
    RAM_SHARED = 12
    RAM_BROKEN = 13
    MAP_FOREIGN = 14
    IOREQ_SERVER = 15
    MMIO_WRITE_DM = 15  # alias: the 4.6/4.7 name of the same value


class HvmMem(IntEnum):
    """``hvmmem_type_t`` (``public/hvm/hvm_op.h``).

    3 is ``HVMMEM_mmio_write_dm`` for interface versions < 4.7 (the seed
    series' world) and ``HVMMEM_unused`` afterwards; 4 is
    ``HVMMEM_ioreq_server`` (4.8+).  ``IOREQ_SERVER_1`` .. ``_7`` are the
    ``p2t`` design's extra types (never in Xen), numbered after 4.
    """

    RAM_RW = 0
    RAM_RO = 1
    MMIO_DM = 2
    MMIO_WRITE_DM = 3
    UNUSED = 3  # alias: the 4.7+ name of the same value
    IOREQ_SERVER = 4
    IOREQ_SERVER_1 = 5
    IOREQ_SERVER_2 = 6
    IOREQ_SERVER_3 = 7
    IOREQ_SERVER_4 = 8
    IOREQ_SERVER_5 = 9
    IOREQ_SERVER_6 = 10
    IOREQ_SERVER_7 = 11


class MemAccessFlag(IntFlag):
    """``XEN_DMOP_IOREQ_MEM_ACCESS_*`` (``public/hvm/dm_op.h``).

    ``READ`` is defined but Xen rejects it with ``-EINVAL``; 0 means disclaim.
    """

    READ = 1 << 0
    WRITE = 1 << 1


class HvmParam(IntEnum):
    """``HVM_PARAM_*`` (``public/hvm/params.h``), numbered as in 4.7.

    36 is ``HVM_PARAM_X87_FIP_WIDTH`` upstream (commit ``5d768fb1f3``); the
    seed patch claimed the same number for ``MAX_WP_RAM_RANGES``.  The model
    follows the seed (SPEC.md), so X87_FIP_WIDTH is not a param here.
    """

    CALLBACK_IRQ = 0
    STORE_PFN = 1
    STORE_EVTCHN = 2
    PAE_ENABLED = 4
    IOREQ_PFN = 5
    BUFIOREQ_PFN = 6
    VIRIDIAN = 9
    TIMER_MODE = 10
    HPET_ENABLED = 11
    IDENT_PT = 12
    DM_DOMAIN = 13
    ACPI_S_STATE = 14
    VM86_TSS = 15
    VPT_ALIGN = 16
    CONSOLE_PFN = 17
    CONSOLE_EVTCHN = 18
    ACPI_IOPORTS_LOCATION = 19
    MEMORY_EVENT_CR0 = 20
    MEMORY_EVENT_CR3 = 21
    MEMORY_EVENT_CR4 = 22
    MEMORY_EVENT_INT3 = 23
    NESTEDHVM = 24
    MEMORY_EVENT_SINGLE_STEP = 25
    BUFIOREQ_EVTCHN = 26
    PAGING_RING_PFN = 27
    MONITOR_RING_PFN = 28
    SHARING_RING_PFN = 29
    MEMORY_EVENT_MSR = 30
    TRIPLE_FAULT_REASON = 31
    IOREQ_SERVER_PFN = 32
    NR_IOREQ_SERVER_PAGES = 33
    VM_GENERATION_ID_ADDR = 34
    ALTP2M = 35
    MAX_WP_RAM_RANGES = 36


#: ``HVM_NR_PARAMS`` with the seed patch applied (``params.h``: 36 → 37).
HVM_NR_PARAMS = 37


def pci_sbdf(segment: int, bus: int, device: int, function: int) -> int:
    """``HVMOP_PCI_SBDF`` / ``XEN_DMOP_PCI_SBDF``: pack a PCI address.

    >>> hex(pci_sbdf(0, 0, 2, 0))
    '0x10'
    >>> hex(pci_sbdf(1, 0xff, 0x1f, 7))
    '0x1ffff'
    """
    return (
        ((segment & 0xFFFF) << 16) | ((bus & 0xFF) << 8) | ((device & 0x1F) << 3) | (function & 7)
    )


def sbdf_split(sbdf: int) -> tuple[int, int, int, int]:
    """Inverse of :func:`pci_sbdf`: ``(segment, bus, device, function)``.

    >>> sbdf_split(pci_sbdf(0, 3, 4, 5))
    (0, 3, 4, 5)
    """
    return (sbdf >> 16) & 0xFFFF, (sbdf >> 8) & 0xFF, (sbdf >> 3) & 0x1F, sbdf & 7
