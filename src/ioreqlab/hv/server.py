"""The ioreq server record: who emulates what for which domain, and its pages.

The operations on a server (create, map, enable, destroy) are
:mod:`ioreqlab.hv.ioreq`'s; this module holds only the record, so that the
domain can keep its servers without importing the operations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ioreqlab.abi.constants import PAGE_SIZE, BufIoreqMode, IoRangeType
from ioreqlab.abi.ioreq import IOREQ_SIZE, IOREQ_VP_EPORT_OFFSET
from ioreqlab.hv.pages import Page
from ioreqlab.rangeset import RangeSet

__all__ = ["IoreqServer"]


@dataclass(eq=False)
class IoreqServer:
    """One ioreq server: who emulates what for which domain.

    Created only by :func:`create_server`.  ``shared_page`` holds one 32-byte
    ``ioreq_t`` slot per vCPU; ``buffered_page`` the 511-slot ring.
    """

    id: int
    emulator: int
    domid: int
    is_default: bool
    bufioreq: BufIoreqMode
    vcpu_ports: list[int]
    bufioreq_port: int
    #: The guest frames of the pages (None: not gfn-mapped, Xen's INVALID_GFN).
    ioreq_pfn: int | None = None
    bufioreq_pfn: int | None = None
    #: The pages were handed out by XENMEM_acquire_resource (4.11+).
    frames: bool = False
    enabled: bool = False
    ranges: dict[IoRangeType, RangeSet] = field(default_factory=dict)
    shared_page: Page = field(default_factory=lambda: bytearray(PAGE_SIZE))
    buffered_page: Page = field(default_factory=lambda: bytearray(PAGE_SIZE))
    #: Heap bytes charged for the structs (nodes are charged by the rangesets).
    struct_bytes: int = 0
    #: Requests delivered, by kind ("sync", "buffered"), for statistics.
    delivered: dict[str, int] = field(default_factory=dict)

    @property
    def has_bufioreq(self) -> bool:
        """Whether the server takes buffered requests."""
        return self.bufioreq != BufIoreqMode.OFF

    @property
    def has_pages(self) -> bool:
        """Whether the pages exist in Xen (``s->ioreq.va != NULL``)."""
        return self.frames or self.ioreq_pfn is not None

    @property
    def gfn_mapped(self) -> bool:
        """Whether the pages are guest frames (taken out of the p2m while enabled)."""
        return self.ioreq_pfn is not None and not self.is_default

    def guest_ports(self) -> list[int]:
        """Every guest port of the server: its vCPUs', and the buffered one if it has it."""
        buffered = [self.bufioreq_port] if self.has_bufioreq else []
        return [*self.vcpu_ports, *buffered]

    def write_vp_eports(self) -> None:
        """``ioreq_server_update_evtchn`` for every vCPU: its port into its slot."""
        if not self.has_pages:
            return
        for vcpu, port in enumerate(self.vcpu_ports):
            off = vcpu * IOREQ_SIZE + IOREQ_VP_EPORT_OFFSET
            self.shared_page[off : off + 4] = port.to_bytes(4, "little")

    def clear_pages(self) -> None:
        """``clear_page`` of both pages."""
        self.shared_page[:] = bytes(PAGE_SIZE)
        self.buffered_page[:] = bytes(PAGE_SIZE)

    def heap_bytes(self) -> int:
        """Everything this server holds in the Xen heap."""
        return self.struct_bytes + sum(r.bytes_in_use for r in self.ranges.values())
