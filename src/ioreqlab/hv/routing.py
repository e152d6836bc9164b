"""Which ioreq server gets a request (``hvm_select_ioreq_server``, xen-facts §2.5).

Rules, in order
---------------
1. A domain with no server at all → nobody (the null handler).
2. A request that is neither port I/O nor MMIO (TIMEOFFSET, INVALIDATE) → the
   default server.
3. Port I/O to 0xcfc–0xcff while the cached CF8 value has its enable bit set
   is a PCI config access: the request becomes ``IOREQ_TYPE_PCI_CONFIG`` with
   address ``SBDF << 32 | register`` (segment always 0), and port rangesets are
   not consulted at all.
4. Otherwise walk the non-default servers newest first, skipping disabled
   ones.  Ports match when ``[addr, addr+size-1]`` sits inside one stored
   range; MMIO when the whole span of a ``rep`` access, ``size × count``
   bytes, does — below ``addr`` when the direction flag is set, from 4.12 on
   (``mmio_df``, 60a56dc006; 4.7 always counts upwards); PCI when the SBDF is
   stored.
5. No match → the default server, or nobody.

The CF8 cache itself is updated elsewhere (only by 4-byte writes to 0xcf8).
"""

from __future__ import annotations

from dataclasses import replace

from ioreqlab.abi.constants import UINT64_MAX, IoRangeType, IoReqType
from ioreqlab.abi.ioreq import IoReq
from ioreqlab.hv.domain import Domain
from ioreqlab.hv.server import IoreqServer

__all__ = ["CF8_ENABLED", "cf8_decode", "select_server", "span"]

#: Bit 31 of CONFIG_ADDRESS: configuration space access enabled.
CF8_ENABLED = 0x8000_0000


def cf8_decode(cf8: int, port: int) -> tuple[int, int]:
    """``(sbdf, rewritten addr)`` for a data-port access while CF8 is enabled.

    >>> sbdf, addr = cf8_decode(0x8000_1008, 0xcfe)
    >>> hex(sbdf), hex(addr)
    ('0x10', '0x100000000a')
    """
    sbdf = (cf8 & 0x00FF_FF00) >> 8
    return sbdf, (sbdf << 32) | (cf8 & 0xFC) | (port & 3)


def span(req: IoReq, *, mmio_df: bool = True) -> tuple[int, int]:
    """First and last byte a request touches (``rep`` accesses included).

    ``mmio_df`` false is 4.7's routing span, which ignores the direction flag.
    """
    if req.type == IoReqType.PIO:
        return req.addr, req.addr + req.size - 1
    count = max(req.count, 1)
    if req.df and mmio_df:
        return req.addr - (count - 1) * req.size, req.addr + req.size - 1
    return req.addr, req.addr + req.size * count - 1


def select_server(
    d: Domain, req: IoReq, *, mmio_df: bool = True
) -> tuple[IoreqServer | None, IoReq]:
    """The server for ``req`` and the request as it will be sent (maybe rewritten)."""
    if not d.servers and d.default_server is None:
        return None, req
    if req.type not in (IoReqType.PIO, IoReqType.COPY):
        return d.default_server, req
    if req.type == IoReqType.PIO and (req.addr & ~3) == 0xCFC and d.pci_cf8 & CF8_ENABLED:
        sbdf, addr = cf8_decode(d.pci_cf8, req.addr)
        for s in d.servers:
            if s.enabled and s.ranges[IoRangeType.PCI].contains_singleton(sbdf):
                return s, replace(req, type=IoReqType.PCI_CONFIG, addr=addr)
        return d.default_server, req
    kind = IoRangeType.PORT if req.type == IoReqType.PIO else IoRangeType.MEMORY
    first, last = span(req, mmio_df=mmio_df)
    if first < 0 or last > UINT64_MAX:  # a rep that wraps fits no range
        return d.default_server, req
    for s in d.servers:
        if s.enabled and s.ranges[kind].contains_range(first, last):
            return s, req
    return d.default_server, req
