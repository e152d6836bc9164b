"""Ioreq servers: creation, ranges, state and destruction (xen-facts §2.2–§2.4).

Rules
-----
1. Check order and errno are Xen's (4.7 ``hvm.c``/``ioreq.c`` with the
   security fixes SPEC.md applies): a bad ``handle_bufioreq`` is ``-EINVAL``;
   an unknown id ``-ENOENT`` (the default server is invisible to id-based
   calls); a caller that did not create the server ``-EPERM`` (4.11); an
   unknown range type ``-EINVAL``; ``start > end`` ``-EINVAL`` before anything
   else (XSA-238); an overlap in the same server and type ``-EEXIST``; a range
   not inside one stored range on unmap ``-ENOENT``; a full rangeset ``-ENOMEM``.
2. Ids come from a per-domain ``uint16`` counter, pre-incremented and skipping
   ids in use (``next_ioservid``).  As in 4.7 the counter moves as soon as a
   creation gets past its first checks, even if the creation then fails.
3. A server's ioreq frame (and its buffered-ioreq frame) come from the
   domain's gmfn pool; the default server uses the legacy ``IOREQ_PFN`` /
   ``BUFIOREQ_PFN`` params instead and has no rangesets.
4. Everything a server allocates from the Xen heap is charged to the target
   domain's account: the server struct, one rangeset struct per range type,
   one ``hvm_ioreq_vcpu`` per vCPU, and every rangeset node.  A failed create
   gives all of it back.  Sizes are those of the 4.7 structs on x86_64 as far
   as they can be reconstructed; each goes through the TLSF cost model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ioreqlab.abi.constants import (
    MAX_NR_IO_RANGES,
    PAGE_SIZE,
    UINT16_MAX,
    BufIoreqMode,
    HvmParam,
    IoRangeType,
)
from ioreqlab.alloc import tlsf_cost
from ioreqlab.errors import XenEEXIST, XenEINVAL, XenENOENT, XenENOMEM, XenEPERM
from ioreqlab.hv.domain import Domain
from ioreqlab.hv.heap import HeapAccount
from ioreqlab.rangeset import NodeLayout, RangeSet

__all__ = [
    "IOREQ_VCPU_BYTES",
    "RANGESET_STRUCT_BYTES",
    "SERVER_STRUCT_BYTES",
    "IoreqServer",
    "create_server",
    "destroy_server",
    "lookup_server",
    "map_range",
    "set_server_state",
    "unmap_range",
]

#: ``sizeof(struct hvm_ioreq_server)`` in 4.7 (links, lock, ids, two page
#: descriptors, the vCPU list, ``range[3]``, flags): about 160 bytes.
SERVER_STRUCT_BYTES = 160
#: ``sizeof(struct rangeset)``: links, domain, list head, ``nr_ranges``,
#: rwlock, ``name[32]``, flags: 96 bytes.
RANGESET_STRUCT_BYTES = 96
#: ``sizeof(struct hvm_ioreq_vcpu)``: list link, vcpu pointer, port, flag.
IOREQ_VCPU_BYTES = 32

_RANGE_NAMES = {
    IoRangeType.PORT: "port",
    IoRangeType.MEMORY: "memory",
    IoRangeType.PCI: "pci",
    IoRangeType.WP_MEM: "wp-mem",
}


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
    ioreq_pfn: int
    bufioreq_pfn: int
    vcpu_ports: list[int]
    bufioreq_port: int
    enabled: bool = False
    ranges: dict[IoRangeType, RangeSet] = field(default_factory=dict)
    shared_page: bytearray = field(default_factory=lambda: bytearray(PAGE_SIZE))
    buffered_page: bytearray = field(default_factory=lambda: bytearray(PAGE_SIZE))
    #: Heap bytes charged for the structs (nodes are charged by the rangesets).
    struct_bytes: int = 0
    #: Requests delivered, by kind ("sync", "buffered"), for statistics.
    delivered: dict[str, int] = field(default_factory=dict)

    @property
    def has_bufioreq(self) -> bool:
        """Whether the server takes buffered requests."""
        return self.bufioreq != BufIoreqMode.OFF

    def heap_bytes(self) -> int:
        """Everything this server holds in the Xen heap."""
        return self.struct_bytes + sum(r.bytes_in_use for r in self.ranges.values())


def _next_ioservid(d: Domain) -> int:
    used = {s.id for s in d.all_servers()}
    sid = d.last_ioservid
    while True:
        sid = (sid + 1) & UINT16_MAX
        if sid not in used:
            d.last_ioservid = sid
            return sid


class _Charges:
    """Heap charges of one creation, given back together if it fails."""

    def __init__(self, account: HeapAccount) -> None:
        self.account = account
        self.total = 0

    def take(self, payload: int, site: str) -> None:
        cost = tlsf_cost(payload)
        if not self.account.allocate(cost, site):
            raise XenENOMEM(f"Xen heap exhausted allocating {site} ({cost} bytes)")
        self.total += cost

    def rollback(self) -> None:
        self.account.free(self.total)
        self.total = 0


def _make_rangesets(
    d: Domain, sid: int, charges: _Charges, wp_mem: bool, layout: NodeLayout
) -> dict[IoRangeType, RangeSet]:
    kinds = [IoRangeType.PORT, IoRangeType.MEMORY, IoRangeType.PCI]
    if wp_mem:
        kinds.append(IoRangeType.WP_MEM)
    ranges = {}
    for kind in kinds:
        charges.take(RANGESET_STRUCT_BYTES, "rangeset")
        limit = MAX_NR_IO_RANGES
        if kind == IoRangeType.WP_MEM:
            limit = d.params[HvmParam.MAX_WP_RAM_RANGES] or MAX_NR_IO_RANGES
        ranges[kind] = RangeSet(
            f"ioreq_server {sid} {_RANGE_NAMES[kind]}",
            limit=limit,
            hex=True,
            structure=layout,
            allocator=charges.account.site("rangeset_node"),
        )
    return ranges


def _take_frames(d: Domain, bufioreq: int, taken: list[int]) -> tuple[int, int]:
    """The server's ioreq frame and (with buffering) ring frame, from the pool."""
    for _ in range(2 if bufioreq else 1):
        frame = d.gmfn_pool.take()
        if frame is None:
            raise XenENOMEM(f"domain {d.domid}: no ioreq server frame left in the pool")
        taken.append(frame)
    return taken[0], (taken[1] if bufioreq else 0)


def create_server(
    d: Domain,
    emulator: int,
    bufioreq: int,
    account: HeapAccount,
    new_port: Callable[[], int],
    *,
    is_default: bool = False,
    wp_mem: bool = False,
    node_layout: NodeLayout = NodeLayout.LIST,
) -> IoreqServer:
    """``hvm_create_ioreq_server``: allocate, number, and link a new server.

    ``wp_mem`` adds the seed series' fourth rangeset, limited by the domain's
    ``HVM_PARAM_MAX_WP_RAM_RANGES`` (0 means the default 256).  ``new_port``
    returns fresh event-channel port numbers.
    """
    if not 0 <= bufioreq <= BufIoreqMode.ATOMIC:
        raise XenEINVAL(f"handle_bufioreq {bufioreq} is not OFF, LEGACY or ATOMIC")
    charges = _Charges(account)
    charges.take(SERVER_STRUCT_BYTES, "ioreq_server")
    taken: list[int] = []
    try:
        if is_default and d.default_server is not None:
            raise XenEEXIST(f"domain {d.domid} already has a default ioreq server")
        sid = _next_ioservid(d)
        if is_default:
            ranges: dict[IoRangeType, RangeSet] = {}
            ioreq_pfn = d.params[HvmParam.IOREQ_PFN]
            bufioreq_pfn = d.params[HvmParam.BUFIOREQ_PFN] if bufioreq else 0
        else:
            ranges = _make_rangesets(d, sid, charges, wp_mem, node_layout)
            ioreq_pfn, bufioreq_pfn = _take_frames(d, bufioreq, taken)
        for _ in range(d.vcpus):
            charges.take(IOREQ_VCPU_BYTES, "ioreq_vcpu")
    except BaseException:
        for frame in taken:
            d.gmfn_pool.give_back(frame)
        charges.rollback()
        raise
    server = IoreqServer(
        id=sid,
        emulator=emulator,
        domid=d.domid,
        is_default=is_default,
        bufioreq=BufIoreqMode(bufioreq),
        ioreq_pfn=ioreq_pfn,
        bufioreq_pfn=bufioreq_pfn,
        vcpu_ports=[new_port() for _ in range(d.vcpus)],
        bufioreq_port=new_port() if bufioreq else 0,
        enabled=is_default,  # the default server starts enabled, others disabled
        ranges=ranges,
        struct_bytes=charges.total,
    )
    if is_default:
        d.default_server = server
    else:
        d.servers.insert(0, server)
    return server


def lookup_server(d: Domain, sid: int, caller: int) -> IoreqServer:
    """Find a non-default server by id and check that ``caller`` created it."""
    s = d.find_server(sid)
    if s is None:
        raise XenENOENT(f"domain {d.domid} has no ioreq server {sid}")
    if s.emulator != caller:
        raise XenEPERM(f"ioreq server {sid} belongs to domain {s.emulator}, not {caller}")
    return s


def _rangeset(s: IoreqServer, rtype: int) -> RangeSet:
    try:
        return s.ranges[IoRangeType(rtype)]
    except (ValueError, KeyError):
        raise XenEINVAL(f"ioreq server {s.id} has no range type {rtype}") from None


def map_range(d: Domain, caller: int, sid: int, rtype: int, start: int, end: int) -> None:
    """``map_io_range_to_ioreq_server``: route ``[start, end]`` of ``rtype`` to ``sid``."""
    if start > end:
        raise XenEINVAL(f"start {start:#x} > end {end:#x} (XSA-238)")
    s = lookup_server(d, sid, caller)
    r = _rangeset(s, rtype)
    if r.overlaps_range(start, end):
        raise XenEEXIST(f"[{start:#x}, {end:#x}] overlaps a range of ioreq server {sid}")
    r.add_range(start, end)


def unmap_range(d: Domain, caller: int, sid: int, rtype: int, start: int, end: int) -> None:
    """``unmap_io_range_from_ioreq_server``: the range must sit inside one stored range."""
    if start > end:
        raise XenEINVAL(f"start {start:#x} > end {end:#x} (XSA-238)")
    s = lookup_server(d, sid, caller)
    r = _rangeset(s, rtype)
    if not r.contains_range(start, end):
        raise XenENOENT(f"[{start:#x}, {end:#x}] is not mapped to ioreq server {sid}")
    r.remove_range(start, end)


def set_server_state(d: Domain, caller: int, sid: int, enabled: bool) -> None:
    """``set_ioreq_server_state``: enable or disable; idempotent."""
    s = lookup_server(d, sid, caller)
    s.enabled = bool(enabled)


def destroy_server(d: Domain, s: IoreqServer, account: HeapAccount) -> None:
    """Unlink ``s``, free its ranges, structs and frames (no checks: callers did them)."""
    s.enabled = False
    for r in s.ranges.values():
        r.purge()
    account.free(s.struct_bytes)
    if s.is_default:
        d.default_server = None
    else:
        d.servers.remove(s)
        d.gmfn_pool.give_back(s.ioreq_pfn)
        if s.bufioreq_pfn:
            d.gmfn_pool.give_back(s.bufioreq_pfn)
