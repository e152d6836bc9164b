"""What the hypercall boundary needs from the host: a small protocol.

:mod:`ioreqlab.hv.dmop` and :mod:`ioreqlab.hv.dmop_ops` serve the ABI against
this protocol rather than :class:`ioreqlab.host.Host` itself, so the
hypervisor's modules read in one direction (the host imports them, never the
other way round).  ``Host`` satisfies it structurally; mypy checks that where
``Host.dm_op`` hands itself over.
"""

from __future__ import annotations

from typing import Protocol

from ioreqlab.abi.constants import HvmMem
from ioreqlab.hv.heap import XenHeap
from ioreqlab.hv.lookup import Lookup
from ioreqlab.hv.stats import IoreqServerInfo
from ioreqlab.profiles import XenProfile

__all__ = ["HypercallHost"]


class HypercallHost(Protocol):
    """The host as the DMOP and HVMOP handlers see it."""

    xen: XenProfile
    lookup: Lookup
    heap: XenHeap

    def count_continuation(self, domid: int) -> None: ...

    def create_ioreq_server(self, caller: int, domid: int, bufioreq: int = 0) -> int: ...

    def get_ioreq_server_info(
        self, caller: int, domid: int, sid: int, *, gfns: bool = True
    ) -> IoreqServerInfo: ...

    def map_io_range(
        self, caller: int, domid: int, sid: int, rtype: int, start: int, end: int
    ) -> None: ...

    def unmap_io_range(
        self, caller: int, domid: int, sid: int, rtype: int, start: int, end: int
    ) -> None: ...

    def set_ioreq_server_state(self, caller: int, domid: int, sid: int, enabled: bool) -> None: ...

    def destroy_ioreq_server(self, caller: int, domid: int, sid: int) -> None: ...

    def set_mem_type(self, caller: int, domid: int, mem: int, first_pfn: int, nr: int) -> int: ...

    def map_mem_type_to_ioreq_server(
        self, caller: int, domid: int, sid: int, mem: int, flags: int, opaque: int = 0
    ) -> int: ...

    def get_mem_type(self, caller: int, domid: int, pfn: int) -> HvmMem: ...

    def set_param(self, caller: int, domid: int, index: int, value: int) -> None: ...

    def get_param(self, caller: int, domid: int, index: int) -> int: ...
