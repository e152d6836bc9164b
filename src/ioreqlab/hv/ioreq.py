"""Ioreq servers: creation, ranges, state and destruction (xen-facts §2.2–§2.4).

Rules
-----
1. Check order and errno are Xen's, for the host's profile
   (:mod:`ioreqlab.profiles`), with the security fixes SPEC.md applies: a bad
   ``handle_bufioreq`` is ``-EINVAL``; an unknown id ``-ENOENT`` (the 4.7
   default server is invisible to id-based calls); a caller that did not
   create the server ``-EPERM`` (4.11); an unknown range type ``-EINVAL``;
   ``start > end`` ``-EINVAL`` before anything else (XSA-238); an overlap in
   the same server and type ``-EEXIST``; a range not inside one stored range
   on unmap ``-ENOENT``; a full rangeset ``-ENOMEM``.
2. Ids.  4.7: a per-domain ``uint16`` counter, pre-incremented and skipping
   ids in use (``next_ioservid``); the counter moves as soon as a creation
   gets past its first checks, even if the creation then fails.  4.11+: the
   lowest free slot of an array of ``MAX_NR_IOREQ_SERVERS`` (8), ``-ENOSPC``
   when all are taken (``ioreq_server_create``).
3. Pages.  A server's ioreq frame (and its buffered-ioreq frame) are guest
   frames from the domain's gmfn pool — taken at creation in 4.7
   (``hvm_ioreq_server_setup_pages``), only when ``get_ioreq_server_info``
   asks for gfns in 4.11+ (``arch_ioreq_server_map_pages``); or, 4.11+,
   Xen-owned frames handed out by ``XENMEM_acquire_resource``
   (``ioreq_server_get_frame``).  The two ways exclude each other
   (``-EPERM``).  While a gfn-mapped server is enabled its frames are out of
   the guest's p2m; enabling and disabling both clear the pages
   (``hvm_remove_ioreq_gfn``/``hvm_add_ioreq_gfn``), so a disable loses what
   the slots and ring held.  The 4.7 default server uses the legacy
   ``IOREQ_PFN``/``BUFIOREQ_PFN`` frames and has no rangesets.
4. ``vp_eport``: each vCPU's event-channel port is written into its slot when
   the server is enabled (and when a vCPU is added to an enabled server), if
   the server has pages then (``ioreq_server_update_evtchn``) — never when a
   request is sent.  A send checks it (:mod:`ioreqlab.hv.delivery`).
5. Everything a server allocates from the Xen heap is charged to the target
   domain's account: the server struct, one rangeset struct per range type,
   one ``hvm_ioreq_vcpu`` per vCPU, and every rangeset node.  A failed create
   gives all of it back.  Sizes are those of the 4.7 structs on x86_64 as far
   as they can be reconstructed; each goes through the TLSF cost model.
"""

from __future__ import annotations

from ioreqlab.abi.constants import (
    MAX_NR_IO_RANGES,
    UINT16_MAX,
    BufIoreqMode,
    HvmParam,
    IoRangeType,
    P2mType,
)
from ioreqlab.alloc import tlsf_cost
from ioreqlab.errors import (
    XenEEXIST,
    XenEINVAL,
    XenENOENT,
    XenENOMEM,
    XenENOSPC,
    XenEPERM,
    XenError,
)
from ioreqlab.hv.domain import Domain
from ioreqlab.hv.heap import HeapAccount
from ioreqlab.hv.pages import Page
from ioreqlab.hv.server import IoreqServer
from ioreqlab.p2m import NO_PAGE_TYPES
from ioreqlab.profiles import XenProfile
from ioreqlab.rangeset import NodeLayout, RangeSet

__all__ = [
    "IOREQ_VCPU_BYTES",
    "RANGESET_STRUCT_BYTES",
    "SERVER_STRUCT_BYTES",
    "IoreqServer",
    "acquire_frames",
    "create_server",
    "destroy_server",
    "get_frame",
    "lookup_server",
    "map_gfns",
    "map_range",
    "replace_ports",
    "set_server_state",
    "unmap_range",
]

#: ``sizeof(struct hvm_ioreq_server)`` in 4.7 with the seed's ``range[4]``; the
#: charge per release and range count is the profile's ``ioreq_server_bytes``.
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


def _next_ioservid(d: Domain) -> int:
    """4.7's ``next_ioservid``: the next ``ioservid_t`` after the last one not in use.

    With all 65,536 ids in use Xen's ``goto again`` loop never ends; the model
    stops after one lap and refuses (``-ENOSPC``) rather than hang.
    """
    used = {s.id for s in d.all_servers()}
    sid = d.last_ioservid
    for _ in range(UINT16_MAX + 1):
        sid = (sid + 1) & UINT16_MAX
        if sid not in used:
            d.last_ioservid = sid
            return sid
    raise XenENOSPC(f"domain {d.domid} uses every ioservid_t (Xen 4.7 would spin here)")


def _free_slot(d: Domain, slots: int) -> int:
    """The lowest free slot of the 4.11+ array (``ioreq_server_create``)."""
    used = {s.id for s in d.servers}
    for sid in range(slots):
        if sid not in used:
            return sid
    raise XenENOSPC(f"domain {d.domid} has all {slots} ioreq servers already")


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
    d: Domain, sid: int, charges: _Charges, wp_mem: bool, layout: NodeLayout, wp_param: int
) -> dict[IoRangeType, RangeSet]:
    kinds = [IoRangeType.PORT, IoRangeType.MEMORY, IoRangeType.PCI]
    if wp_mem:
        kinds.append(IoRangeType.WP_MEM)
    ranges = {}
    for kind in kinds:
        charges.take(RANGESET_STRUCT_BYTES, "rangeset")
        limit = MAX_NR_IO_RANGES
        if kind == IoRangeType.WP_MEM:
            limit = d.params[wp_param] or MAX_NR_IO_RANGES
        ranges[kind] = RangeSet(
            f"ioreq_server {sid} {_RANGE_NAMES[kind]}",
            limit=limit,
            hex=True,
            structure=layout,
            allocator=charges.account.site("rangeset_node"),
        )
    return ranges


def _take_frames(d: Domain, bufioreq: int, taken: list[int]) -> tuple[int, int | None]:
    """The server's ioreq frame and (with buffering) ring frame, from the pool."""
    for _ in range(2 if bufioreq else 1):
        frame = d.gmfn_pool.take(d.params)
        if frame is None:
            raise XenENOMEM(f"domain {d.domid}: no ioreq server frame left in the pool")
        taken.append(frame)
    return taken[0], (taken[1] if bufioreq else None)


def map_gfns(d: Domain, s: IoreqServer) -> None:
    """``arch_ioreq_server_map_pages`` (4.11+): give the pages guest frames.

    ``-EPERM`` if the pages were acquired as frames; ``-EINVAL`` for a dying
    domain; ``-ENOMEM`` when the pool (and the legacy frames) are empty.  A
    failure on the ring frame unmaps the ioreq frame too, as Xen does.
    """
    if s.frames:
        raise XenEPERM(f"ioreq server {s.id}'s pages were acquired as frames")
    if s.ioreq_pfn is not None and (s.bufioreq_pfn is not None or not s.has_bufioreq):
        return
    if not d.alive:
        raise XenEINVAL(f"domain {d.domid} is dying")
    if s.ioreq_pfn is None:
        s.ioreq_pfn = _ring_gfn(d, "ioreq page")
    if s.has_bufioreq:
        try:
            s.bufioreq_pfn = _ring_gfn(d, "buffered ring")
        except XenError:
            _unmap_gfns(d, s)
            raise
    _bind_gfn_pages(d, s)


def _ring_gfn(d: Domain, what: str) -> int:
    """``hvm_map_ioreq_gfn``: a frame from the pool that ``prepare_ring_for_helper`` maps.

    ``-ENOMEM`` when none is left; ``-EINVAL`` (the frame goes back) when the
    frame has no page -- a legacy frame another enabled server holds out of
    the p2m, say (``get_page_from_gfn`` finds nothing).
    """
    pfn = d.gmfn_pool.take(d.params)
    if pfn is None:
        raise XenENOMEM(f"domain {d.domid}: no ioreq server frame left for the {what}")
    if d.p2m.get(pfn) in NO_PAGE_TYPES:
        if not d.gmfn_pool.give_back(pfn, d.params):
            d.count("ioreq_gfn_outside_pool")
        raise XenEINVAL(f"domain {d.domid}: gfn {pfn:#x} for the {what} holds no page")
    return pfn


def _unmap_gfns(d: Domain, s: IoreqServer) -> None:
    """``arch_ioreq_server_unmap_pages``: the frames go back to the pool."""
    for pfn in (s.bufioreq_pfn, s.ioreq_pfn):
        if pfn is not None and not d.gmfn_pool.give_back(pfn, d.params):
            d.count("ioreq_gfn_outside_pool")
    s.ioreq_pfn = s.bufioreq_pfn = None


#: ``XENMEM_resource_ioreq_server_frame_bufioreq`` and ``_ioreq(0)``.
FRAME_BUFIOREQ, FRAME_IOREQ = 0, 1


def get_frame(s: IoreqServer, idx: int) -> Page:
    """``ioreq_server_get_frame`` (4.11+) after the lookup: allocate, then pick ``idx``.

    ``-EPERM`` if the pages are guest frames already; ``-ENOENT`` for the
    ring of a server without one; ``-EINVAL`` for any other index.  The
    allocation stays even when the index is refused, as in Xen.
    """
    if not s.frames:
        if s.ioreq_pfn is not None:
            raise XenEPERM(f"ioreq server {s.id}'s pages are mapped as guest frames")
        s.frames = True
        s.clear_pages()
    if idx == FRAME_BUFIOREQ:
        if not s.has_bufioreq:
            raise XenENOENT(f"ioreq server {s.id} has no buffered ring")
        return s.buffered_page
    if idx == FRAME_IOREQ:
        return s.shared_page
    raise XenEINVAL(f"ioreq server {s.id} has no frame {idx}")


def create_server(
    d: Domain,
    emulator: int,
    bufioreq: int,
    account: HeapAccount,
    xen: XenProfile,
    *,
    is_default: bool = False,
    wp_mem: bool,
    node_layout: NodeLayout = NodeLayout.LIST,
) -> IoreqServer:
    """``hvm_create_ioreq_server`` / ``ioreq_server_create``: allocate, number, link.

    ``wp_mem`` is the seed series' struct, whose ``range[4]`` every server
    carries (the default one too); a non-default server gets the fourth
    rangeset, limited by the domain's ``HVM_PARAM_MAX_WP_RAM_RANGES`` (0 means
    the default 256).
    """
    if not 0 <= bufioreq <= BufIoreqMode.ATOMIC:
        raise XenEINVAL(f"handle_bufioreq {bufioreq} is not OFF, LEGACY or ATOMIC")
    charges = _Charges(account)
    charges.take(xen.ioreq_server_bytes[4 if wp_mem else 3], "ioreq_server")
    taken: list[int] = []
    ioreq_pfn: int | None = None
    bufioreq_pfn: int | None = None
    try:
        if is_default and d.default_server is not None:
            raise XenEEXIST(f"domain {d.domid} already has a default ioreq server")
        sid = _next_ioservid(d) if xen.max_servers is None else _free_slot(d, xen.max_servers)
        if is_default:
            ranges: dict[IoRangeType, RangeSet] = {}
            ioreq_pfn = d.params[HvmParam.IOREQ_PFN]
            bufioreq_pfn = d.params[HvmParam.BUFIOREQ_PFN] if bufioreq else None
        else:
            wp_param = xen.params.max_wp_ram_ranges
            ranges = _make_rangesets(d, sid, charges, wp_mem, node_layout, wp_param)
            if xen.pages_at_create:
                ioreq_pfn, bufioreq_pfn = _take_frames(d, bufioreq, taken)
        for _ in range(d.vcpus):
            charges.take(IOREQ_VCPU_BYTES, "ioreq_vcpu")
        shared_page, buffered_page = d.pages.new_page(), d.pages.new_page()
    except BaseException:
        for frame in taken:
            if not d.gmfn_pool.give_back(frame, d.params):
                d.count("ioreq_gfn_outside_pool")
        charges.rollback()
        raise
    vcpu_ports, bufioreq_port = _alloc_ports(d, bufioreq)
    server = IoreqServer(
        id=sid,
        emulator=emulator,
        domid=d.domid,
        is_default=is_default,
        bufioreq=BufIoreqMode(bufioreq),
        vcpu_ports=vcpu_ports,
        bufioreq_port=bufioreq_port,
        ioreq_pfn=ioreq_pfn,
        bufioreq_pfn=bufioreq_pfn,
        ranges=ranges,
        shared_page=shared_page,
        buffered_page=buffered_page,
        struct_bytes=charges.total,
    )
    if is_default:
        d.default_server = server
        _bind_gfn_pages(d, server)
        set_state(d, server, True)  # the default server starts enabled
    elif xen.max_servers is None:
        _bind_gfn_pages(d, server)
        d.servers.insert(0, server)  # 4.7: list_add, newest first
    else:
        # 4.11+: FOR_EACH_IOREQ_SERVER walks the array from the highest slot down.
        d.servers.append(server)
        d.servers.sort(key=lambda x: -x.id)
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
    # By the plain number: an IoRangeType key hashes and compares as its int.
    r: RangeSet | None = s.ranges.get(rtype)  # type: ignore[call-overload]  # int keys IntEnum
    if r is None:
        raise XenEINVAL(f"ioreq server {s.id} has no range type {rtype}")
    return r


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
    set_state(d, lookup_server(d, sid, caller), bool(enabled))


def set_state(d: Domain, s: IoreqServer, enabled: bool) -> None:
    """``ioreq_server_enable``/``_disable``: pages cleared, ports written on enable.

    A gfn-mapped server's frames leave the guest's p2m while it is enabled
    (``hvm_remove_ioreq_gfn``) and come back, as RAM holding the cleared
    pages, when it is disabled (``hvm_add_ioreq_gfn``).
    """
    if s.enabled == enabled:
        return
    if s.gfn_mapped:
        s.clear_pages()
        for pfn, page in _gfn_pages(s):
            if enabled:
                d.p2m.set(pfn, P2mType.INVALID)
                d.ram.pop(pfn, None)
            else:
                d.p2m.set(pfn, P2mType.RAM_RW)
                d.ram[pfn] = page
    s.enabled = enabled
    if enabled:
        s.write_vp_eports()


def _gfn_pages(s: IoreqServer) -> list[tuple[int, Page]]:
    pages = [(s.ioreq_pfn, s.shared_page), (s.bufioreq_pfn, s.buffered_page)]
    return [(pfn, page) for pfn, page in pages if pfn is not None]


def _bind_gfn_pages(d: Domain, s: IoreqServer) -> None:
    """In gfn mode the pages *are* the guest's frames (``prepare_ring_for_helper``)."""
    if s.ioreq_pfn is not None:
        s.shared_page = d.ram.setdefault(s.ioreq_pfn, s.shared_page)
    if s.bufioreq_pfn is not None:
        s.buffered_page = d.ram.setdefault(s.bufioreq_pfn, s.buffered_page)


def _alloc_ports(d: Domain, bufioreq: int) -> tuple[list[int], int]:
    """The guest ports of a new server, in Xen's order.

    ``ioreq_server_add_vcpu`` runs once per vCPU and allocates that vCPU's
    port, then, on vCPU 0 of a server with buffered requests, the buffered
    port (``common/ioreq.c``, 4.17; ``hvm_ioreq_server_add_vcpu``,
    ``arch/x86/hvm/ioreq.c``, 4.7): vCPU 0, buffered, vCPU 1, ...
    """
    vcpu_ports: list[int] = []
    bufioreq_port = 0
    for vcpu in range(d.vcpus):
        vcpu_ports.append(d.alloc_port())
        if vcpu == 0 and bufioreq:
            bufioreq_port = d.alloc_port()
    return vcpu_ports, bufioreq_port


def replace_ports(d: Domain, s: IoreqServer) -> list[int]:
    """``hvm_set_dm_domain``'s port swap (4.7): fresh ports for ``s``; the old ones.

    ``hvm_replace_event_channel`` allocates the new port before it frees the
    old one, so no port is reused; vCPU 0 replaces the buffered port first
    (``arch/x86/hvm/ioreq.c``, RELEASE-4.7.0).  The slots get the new ports.
    """
    old = s.guest_ports()
    for vcpu in range(len(s.vcpu_ports)):
        if vcpu == 0 and s.has_bufioreq:
            s.bufioreq_port = _swap_port(d, s.bufioreq_port)
        s.vcpu_ports[vcpu] = _swap_port(d, s.vcpu_ports[vcpu])
    s.write_vp_eports()
    return old


def _swap_port(d: Domain, port: int) -> int:
    new = d.alloc_port()
    d.ports.discard(port)
    return new


def destroy_server(d: Domain, s: IoreqServer, account: HeapAccount) -> None:
    """Unlink ``s``, free its ranges, structs, ports and frames (no checks: callers did them)."""
    set_state(d, s, False)
    d.ports.difference_update(s.guest_ports())
    for r in s.ranges.values():
        r.purge()
    account.free(s.struct_bytes)
    if s.is_default:
        d.default_server = None
    else:
        d.servers.remove(s)
        _unmap_gfns(d, s)
    s.frames = False


def acquire_frames(c: Domain, d: Domain, sid: int, frame: int, nr: int) -> list[Page]:
    """``acquire_resource`` after the domain lookup: XSM, the target, each frame.

    ``XSM_DM_PRIV`` (``-EPERM``), an HVM target (``-EINVAL``), an id that fits
    ``ioservid_t`` (``-EINVAL``), then :func:`get_frame` per frame after the
    server lookup (``-ENOENT``, ``-EPERM`` for another emulator).
    """
    if not (c.privileged or c.domid == d.dm_domid):
        raise XenEPERM(f"domain {c.domid} may not map resources of domain {d.domid}")
    if not d.hvm:
        raise XenEINVAL(f"domain {d.domid} has no ioreq server frames")
    if not 0 <= sid <= UINT16_MAX:
        raise XenEINVAL(f"ioreq server id {sid} does not fit ioservid_t")
    return [get_frame(lookup_server(d, sid, c.domid), idx) for idx in range(frame, frame + nr)]
