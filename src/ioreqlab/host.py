"""The host: Xen itself, as far as ioreq servers are concerned.

A :class:`Host` boots with dom0 (id 0, privileged), a bounded Xen heap and a
write-protect design.  Its methods are the hypervisor's operations, each in
Xen's check order, each raising :class:`~ioreqlab.errors.XenError` with
Xen's errno and changing nothing when it fails:

* domctl level (the toolstack): :meth:`create_domain`, :meth:`destroy_domain`;
* device-model level, by domid of the caller: ioreq server create / info /
  map / unmap / state / destroy, and HVM params;
* the guest: :meth:`guest_access` — a port or MMIO access from one vCPU,
  routed, delivered to an emulator's slot and completed.

The ABI boundary (struct bytes in, ``0``/``-errno`` out) is :meth:`dm_op` and
:meth:`hvm_op` (:mod:`ioreqlab.hv.dmop`), which :mod:`ioreqlab.devicemodel` uses.

Domain lookup follows ``rcu_lock_remote_domain_by_id``: the caller acting on
itself is ``-EPERM``, an unknown (or crashed, or destroyed) domain ``-ESRCH``.
Device-model operations then need an HVM target (``-EINVAL``) and a caller
that is privileged or the target's device-model domain (``XSM_DM_PRIV``,
``-EPERM``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ioreqlab.abi.constants import (
    DOMID_INVALID,
    NR_IOREQ_SERVER_PAGES,
    PAGE_SHIFT,
    PAGE_SIZE,
    HvmMem,
    HvmParam,
    IoReqDir,
    IoReqType,
)
from ioreqlab.abi.ioreq import IOREQ_SIZE, IoReq
from ioreqlab.errors import (
    XenEINVAL,
    XenENOENT,
    XenENOMEM,
    XenENOSYS,
    XenEPERM,
    XenError,
    XenESRCH,
)
from ioreqlab.hv import ioreq as srv
from ioreqlab.hv import memory as mem
from ioreqlab.hv import memtype
from ioreqlab.hv import params as prm
from ioreqlab.hv.boundary import check_prototypes
from ioreqlab.hv.census import check_host_invariants, host_statistics, model_bytes
from ioreqlab.hv.dmop import Buffer, dispatch_dm_op, dispatch_hvm_op
from ioreqlab.hv.domain import Domain, check_new_domain, layout_hvm
from ioreqlab.hv.evtchn import bind_interdomain, send_target
from ioreqlab.hv.heap import FaultHook, HeapStats, XenHeap
from ioreqlab.hv.lookup import Lookup
from ioreqlab.hv.pages import (
    DEFAULT_MODEL_MEMORY,
    HEAP_PAGES,
    MODEL_ENTRY_COST,
    MODEL_PAGE_COST,
    BoundedPages,
    Page,
    PageProvider,
)
from ioreqlab.hv.server import IoreqServer
from ioreqlab.hv.stats import DomainStats, HostStats, IoreqServerInfo
from ioreqlab.hv.vcpu_io import Access, Route, Status, VcpuIo
from ioreqlab.hv.wp import DESIGN_NAMES, WpDesign, make_design
from ioreqlab.p2t import P2tTable
from ioreqlab.profiles import DEFAULT_XEN, XenProfile, profile
from ioreqlab.rangeset import NodeLayout

__all__ = [
    "DESIGNS",
    "Access",
    "DomainStats",
    "Host",
    "HostStats",
    "IoreqServerInfo",
    "Route",
    "Status",
]

DESIGNS = DESIGN_NAMES

#: Room above the guest's RAM for what its device model populates: xl's
#: default 16 MiB of stdvga video RAM plus ``LIBXL_MAXMEM_CONSTANT`` (1 MiB).
_DM_EXTRA_PAGES = (17 << 20) >> PAGE_SHIFT
#: The first domid Xen reserves (``DOMID_FIRST_RESERVED``).
_DOMID_FIRST_RESERVED = 0x7FF0


@check_prototypes
class Host:
    """One physical host running Xen.

    >>> h = Host(design="p2m", xen_heap_bytes=1 << 20)
    >>> dom = h.create_domain(memory_mib=512)
    >>> sid = h.create_ioreq_server(0, dom, bufioreq=0)
    >>> h.map_io_range(0, dom, sid, 0, 0x3f8, 0x3ff); h.set_ioreq_server_state(0, dom, sid, True)
    >>> str(h.guest_access(dom, 0, "pio", 0x3f8, 1, write=True, data=0x41).route)
    'server'
    """

    def __init__(
        self,
        design: str = "p2m",
        xen: str = DEFAULT_XEN,
        xen_heap_bytes: int = 64 << 20,
        wp_ram_ranges_cap: int = 8192,
        *,
        node_layout: NodeLayout | str = NodeLayout.LIST,
        p2t_types: int = 4,
        p2t_node_bits: int = 6,
        fault: FaultHook | None = None,
        pages: PageProvider = HEAP_PAGES,
        memory_mib: int = 1 << 20,
        model_memory_bytes: int = DEFAULT_MODEL_MEMORY,
    ) -> None:
        """``memory_mib`` is the machine's RAM, which guests share (1 TiB unless
        told); ``model_memory_bytes`` bounds what the model itself may hold:
        pages written or mapped, and p2m entries (:class:`BoundedPages`)."""
        if min(xen_heap_bytes, wp_ram_ranges_cap, memory_mib, model_memory_bytes) < 0:
            raise XenEINVAL("heap, wp cap, memory and model bound must not be negative")
        self.memory_pages = (memory_mib << 20) >> PAGE_SHIFT
        #: The Xen release this host behaves as (:mod:`ioreqlab.profiles`).
        self.xen: XenProfile = profile(xen)
        self.wp: WpDesign = make_design(design, p2t_types)
        self.design = design
        self.p2t_node_bits = p2t_node_bits
        self.wp_ram_ranges_cap = wp_ram_ranges_cap
        self.node_layout = (
            NodeLayout[node_layout.upper()] if isinstance(node_layout, str) else node_layout
        )
        self.heap = XenHeap(xen_heap_bytes, fault=fault)
        #: Where every page Xen allocates comes from (:mod:`ioreqlab.hv.pages`).
        self.pages = pages
        self.store = BoundedPages(pages, lambda: model_bytes(self.domains), model_memory_bytes)
        dom0 = Domain(0, "Domain-0", hvm=False, hap=True, nr_pages=0, vcpus=1, privileged=True)
        dom0.pages = self.store
        self.domains: dict[int, Domain] = {0: dom0}
        #: How hypercalls find their domains (also the DMOP boundary's).
        self.lookup = Lookup(self.domains)
        self._rover = 0
        self.io = VcpuIo(self.wp, self.xen)

    # -- domctl: the toolstack's level ---------------------------------------

    def create_domain(
        self,
        *,
        memory_mib: int,
        vcpus: int = 1,
        hvm: bool = True,
        hap: bool = True,
        dm_domid: int = 0,
        name: str | None = None,
        ioreq_server_pages: int = NR_IOREQ_SERVER_PAGES,
        preallocate_bytes: int = 0,
    ) -> int:
        """Create a domain and lay out its HVM params as libxc does; return its id.

        ``dm_domid`` is the domain allowed to act as its device model (besides
        dom0).  ``preallocate_bytes`` reserves that much Xen heap for the domain
        alone, so nothing another domain does can make its later allocations
        fail (``-ENOMEM`` now if the heap cannot spare it).
        """
        free = self.memory_pages - sum(o.nr_pages for o in self.domains.values())
        nr_pages = check_new_domain(memory_mib, vcpus, ioreq_server_pages, preallocate_bytes, free)
        dm = self.domains.get(dm_domid)
        if dm is None or not dm.alive:
            raise XenESRCH(f"device-model domain {dm_domid} does not exist")
        domid = self._next_domid()
        d = Domain(
            domid,
            name or f"domain-{domid}",
            hvm=hvm,
            hap=hap,
            nr_pages=nr_pages,
            vcpus=vcpus,
            dm_domid=dm_domid,
            pages=self.store,
        )
        if hvm:
            layout_hvm(d, ioreq_server_pages, legacy_gfns=self.xen.legacy_gfns)
        d.tot_pages = d.nr_pages + len(d.special)
        d.max_pages = d.tot_pages + _DM_EXTRA_PAGES
        acct = self.heap.account(domid)  # every domain has its share of the heap from birth
        try:
            if self.wp.has_p2t and hvm:
                site = acct.site("p2t_node")
                d.p2t = P2tTable(max_gfn=d.max_mapped_pfn, bits=self.p2t_node_bits, allocator=site)
            if preallocate_bytes and not self.heap.reserve(domid, preallocate_bytes):
                raise XenENOMEM(f"cannot reserve {preallocate_bytes} bytes of Xen heap")
        except BaseException:
            self.heap.drop_account(domid)  # a refused domain leaves no account behind
            raise
        self._rover = domid
        self.domains[domid] = d
        return domid

    def _next_domid(self) -> int:
        # A server holds a reference to its emulating domain (get_knownalive_domain):
        # a destroyed stub stays a zombie, its id taken, until its servers go.
        held = {s.emulator for d in self.domains.values() for s in d.all_servers()}
        for step in range(1, _DOMID_FIRST_RESERVED):
            cand = (self._rover + step) % _DOMID_FIRST_RESERVED
            if cand and cand not in self.domains and cand not in held:
                return cand
        raise XenENOMEM("no free domain id")  # pragma: no cover - 32k domains

    def destroy_domain(self, domid: int) -> None:
        """Tear a domain down: its servers, their ranges, every heap byte."""
        d = self.domains.get(domid)
        if d is None or domid == 0:
            raise XenESRCH(f"no domain {domid} to destroy")
        acct = self.heap.account(domid)
        for s in d.all_servers():
            self.wp.server_destroyed(d, s)
            srv.destroy_server(d, s, acct)
        if d.p2t is not None:
            d.p2t.purge()
        acct.free(d.platform.pinned_bytes)  # hvm_destroy_cacheattr_region_list
        d.platform.pinned_bytes = 0
        d.alive = False
        for other in self.domains.values():  # its rights were its own (d->target)
            if other.dm_domid == domid:
                other.dm_domid = DOMID_INVALID
        self.io.forget_domain(domid)
        self.heap.drop_account(domid)
        del self.domains[domid]

    # -- ioreq servers ------------------------------------------------------

    def create_ioreq_server(self, caller: int, domid: int, bufioreq: int = 0) -> int:
        """Create a (disabled) server emulated by ``caller``; return its id."""
        c, d = self.lookup.dm_target(caller, domid)
        self.store.room(2 * MODEL_PAGE_COST, "an ioreq server's two pages")
        s = srv.create_server(
            d,
            c.domid,
            bufioreq,
            self.heap.account(domid),
            self.xen,
            wp_mem=self.wp.wp_mem_rangeset,
            node_layout=self.node_layout,
        )
        return s.id

    def get_ioreq_server_info(
        self, caller: int, domid: int, sid: int, *, gfns: bool = True
    ) -> IoreqServerInfo:
        """The server's ioreq frame and, with buffering, its ring frame and port.

        From 4.11 the frames are mapped on this call (``gfns`` false is
        ``XEN_DMOP_no_gfns``: only the port, nothing mapped); 4.7 mapped them
        at creation.  The gfns are None when not asked for (or not buffered).
        """
        c, d = self.lookup.dm_target(caller, domid)
        s = srv.lookup_server(d, sid, c.domid)
        if gfns:
            srv.map_gfns(d, s)
        ioreq_pfn = s.ioreq_pfn if gfns else None
        if s.has_bufioreq:
            return IoreqServerInfo(ioreq_pfn, s.bufioreq_pfn if gfns else None, s.bufioreq_port)
        return IoreqServerInfo(ioreq_pfn, None, None)

    def acquire_ioreq_server_frames(
        self, caller: int, domid: int, sid: int, frame: int, nr_frames: int
    ) -> list[Page]:
        """``XENMEM_acquire_resource`` of ``XENMEM_resource_ioreq_server`` (4.11+).

        Frame 0 is the buffered ring, frame 1 the ioreq page.  ``nr_frames``
        0 is the size query (the returned list is empty; see
        :meth:`ioreq_server_max_frames`).  Checks in ``acquire_resource``'s
        order: the range fits 32 bits (``-EINVAL``), the target
        (``-ESRCH``/``-EPERM``), ``XSM_DM_PRIV`` (``-EPERM``), an HVM target
        (``-EINVAL``), then per frame ``ioreq_server_get_frame``: the server
        (``-ENOENT``), its emulator (``-EPERM``), pages not gfn-mapped
        (``-EPERM``), the index (``-ENOENT`` for a missing ring, ``-EINVAL``).
        Under a profile without the resource, ``-ENOSYS`` (unknown memory op).
        """
        if not self.xen.acquire_resource:
            raise XenENOSYS(f"XENMEM_acquire_resource does not exist in Xen {self.xen.version}")
        if frame < 0 or nr_frames < 0 or (frame >> 32) or ((frame + nr_frames) >> 32):
            raise XenEINVAL(f"frames {frame}+{nr_frames} do not fit 32 bits")
        c, d = self.lookup.remote(caller, domid)
        return srv.acquire_frames(c, d, sid, frame, nr_frames)

    def ioreq_server_max_frames(self, domid: int) -> int:
        """``ioreq_server_max_frames``: the ring plus one page per 128 vCPUs."""
        d = self.lookup.live(domid)
        return 1 + -(-d.vcpus * IOREQ_SIZE // PAGE_SIZE) if d.hvm else 0

    def map_io_range(
        self, caller: int, domid: int, sid: int, rtype: int, start: int, end: int
    ) -> None:
        """Send ``[start, end]`` of range type ``rtype`` to server ``sid``."""
        c, d = self.lookup.dm_target(caller, domid)
        srv.map_range(d, c.domid, sid, rtype, start, end)

    def unmap_io_range(
        self, caller: int, domid: int, sid: int, rtype: int, start: int, end: int
    ) -> None:
        """Stop sending ``[start, end]`` of ``rtype`` to ``sid``."""
        c, d = self.lookup.dm_target(caller, domid)
        srv.unmap_range(d, c.domid, sid, rtype, start, end)

    def set_ioreq_server_state(self, caller: int, domid: int, sid: int, enabled: bool) -> None:
        """Enable or disable server ``sid``."""
        c, d = self.lookup.dm_target(caller, domid)
        srv.set_server_state(d, c.domid, sid, enabled)

    def destroy_ioreq_server(self, caller: int, domid: int, sid: int) -> None:
        """Destroy server ``sid``: its ranges are deregistered, its frames returned."""
        c, d = self.lookup.dm_target(caller, domid)
        s = srv.lookup_server(d, sid, c.domid)
        self.io.drop_server(s)
        self.wp.server_destroyed(d, s)
        srv.destroy_server(d, s, self.heap.account(domid))

    def _ensure_default(self, d: Domain) -> None:
        if d.default_server is None and self.xen.default_server:
            srv.create_server(
                d,
                d.params[HvmParam.DM_DOMAIN],
                1,
                self.heap.account(d.domid),
                self.xen,
                is_default=True,
                # The seed's range[4] is in every server's struct, the default's too.
                wp_mem=self.wp.wp_mem_rangeset,
            )

    # -- write-protected RAM: memory types and claims -----------------------

    def set_mem_type(self, caller: int, domid: int, mem: int, first_pfn: int, nr: int) -> int:
        """Set up to 256 pages from ``first_pfn`` to ``mem``; return how many were done.

        The caller continues with the rest (the DMOP's ``-ERESTART``).  Not
        atomic, as in Xen: if page *k* is refused, pages before it stay changed.
        """
        _, d = self.lookup.dm_target(caller, domid)
        self.store.room(min(nr, 256) * MODEL_ENTRY_COST, f"{nr:,} retyped pages")
        return memtype.set_mem_type(self.wp, d, mem, first_pfn, nr)

    def get_mem_type(self, caller: int, domid: int, pfn: int) -> HvmMem:
        """``HVMOP_get_mem_type`` (§3.4): the guest itself, its DM or dom0 may ask."""
        c, d = self.lookup.any(caller, domid)
        return memtype.get_mem_type(self.wp, c, d, pfn)

    def map_mem_type_to_ioreq_server(
        self, caller: int, domid: int, sid: int, mem: int, flags: int, opaque: int = 0
    ) -> int:
        """Claim (``flags`` = WRITE) or disclaim (0) ioreq memory type ``mem``.

        Returns 0 when done, or the gfn a disclaim's reset sweep continues at
        (pass it back as ``opaque``; a fresh call passes 0).  As in Xen's
        ``dm_op``, a non-zero ``opaque`` skips every check but HAP's: with
        ``flags`` non-zero nothing happens, with 0 the sweep runs from
        ``opaque`` whoever asks.
        """
        c, d = self.lookup.dm_target(caller, domid)
        return memtype.map_mem_type(self.wp, c, d, sid, mem, flags, opaque)

    def set_log_dirty(self, domid: int, enable: bool) -> None:
        """The toolstack turns global log-dirty (live migration) on or off.

        Refused with ``-EBUSY`` while ioreq-typed pages remain
        (``hap_enable_log_dirty``).  On: every ``ram_rw`` frame becomes
        ``ram_logdirty`` until the guest writes it; off: back to ``ram_rw``
        (``hap_disable_log_dirty``).
        """
        mem.set_log_dirty(self._toolstack_target(domid), enable)

    def clean_dirty_bitmap(self, domid: int) -> frozenset[int]:
        """``XEN_DOMCTL_SHADOW_OP_CLEAN``: the frames dirtied since the last clean.

        The bitmap is emptied and logging re-armed (``hap_clean_dirty_bitmap``:
        every ``ram_rw`` frame back to ``ram_logdirty``, which also turns
        ``global_logdirty`` back on).  ``-EINVAL`` outside log-dirty mode.
        """
        return mem.clean_dirty_bitmap(self._toolstack_target(domid))

    def _toolstack_target(self, domid: int) -> Domain:
        """A live domain for a domctl (``-ESRCH`` otherwise)."""
        d = self.domains.get(domid)
        if d is None or not d.alive:
            raise XenESRCH(f"no domain {domid}")
        return d

    # -- HVM params ---------------------------------------------------------

    def set_param(self, caller: int, domid: int, index: int, value: int) -> None:
        """``HVMOP_set_param``."""
        self._check_param_index(index)
        c, d = self.lookup.any(caller, domid)
        prm.set_param(
            c,
            d,
            index,
            value,
            self.xen,
            wp_ranges_cap=self.wp_ram_ranges_cap,
            rebind_default=lambda dm: self.io.rebind_default(d, dm),
        )

    def get_param(self, caller: int, domid: int, index: int) -> int:
        """``HVMOP_get_param``; reading the legacy ioreq params creates the default server."""
        self._check_param_index(index)
        c, d = self.lookup.any(caller, domid)
        return prm.get_param(c, d, index, self.xen, ensure_default=lambda: self._ensure_default(d))

    def _check_param_index(self, index: int) -> None:
        nr = self.xen.params.nr_params
        if not isinstance(index, int) or not 0 <= index < nr:
            raise XenEINVAL(f"param index {index} >= HVM_NR_PARAMS ({nr}, Xen {self.xen.version})")

    # -- the emulator side: event channels ----------------------------------

    def bind_ioreq_notifier(
        self, caller: int, domid: int, sid: int, notify: Callable[[int], None]
    ) -> IoreqServer:
        """Bind the server's event channels: ``notify(vcpu)`` runs when Xen sends.

        Returns the server, whose ``shared_page`` and ``buffered_page`` the
        emulator reads and writes (``xenforeignmemory_map_resource``).
        """
        c, d = self.lookup.dm_target(caller, domid)
        s = srv.lookup_server(d, sid, c.domid)
        self.io.notifiers[(domid, sid)] = notify
        return s

    def bind_default_notifier(
        self, caller: int, domid: int, notify: Callable[[int], None]
    ) -> IoreqServer:
        """The legacy path: the default server's emulator binds its ports.

        Only the domain named by ``HVM_PARAM_DM_DOMAIN`` (the default server's
        emulator) may; the server must exist (read ``IOREQ_PFN`` first).
        """
        c, d = self.lookup.dm_target(caller, domid)
        s = d.default_server
        if s is None:
            raise XenENOENT(f"domain {domid} has no default ioreq server")
        if s.emulator != c.domid:
            raise XenEPERM(f"domain {caller} is not the default server's emulator")
        self.io.notifiers[(domid, s.id)] = notify
        return s

    def ioreq_completed(self, caller: int, domid: int, sid: int, vcpu: int) -> Access | None:
        """The emulator signals ``vcpu``'s port: Xen wakes the vCPU and reads the slot."""
        c, d = self.lookup.dm_target(caller, domid)
        s = d.default_server
        if s is None or s.id != sid or s.emulator != c.domid:
            srv.lookup_server(d, sid, c.domid)  # -ENOENT, or -EPERM for another emulator
        return self.io.completed(d, vcpu)

    def evtchn_bind_interdomain(
        self, caller: int, remote_domid: int, remote_port: int, notify: Callable[[], None]
    ) -> int:
        """``EVTCHNOP_bind_interdomain`` of a server's guest port; the local port.

        See :func:`ioreqlab.hv.evtchn.bind_interdomain` for Xen's checks.
        ``notify`` runs each time Xen signals the channel, and once at binding.
        """
        self.lookup.live(caller)
        return bind_interdomain(
            self.io.channels, self.domains, caller, remote_domid, remote_port, notify
        )

    def evtchn_send(self, caller: int, local_port: int) -> Access | None:
        """``EVTCHNOP_send`` on the caller's port: for a vCPU's port, Xen wakes the vCPU.

        Returns the access the signal completed, if any.  A port whose guest
        end is gone drops the signal (``ECS_UNBOUND``); an unknown port is
        ``-EINVAL``.
        """
        target = send_target(self.io.channels, self.domains, caller, local_port)
        return None if target is None else self.io.completed(*target)

    def evtchn_close(self, caller: int, local_port: int) -> None:
        """``EVTCHNOP_close``: the guest's port is unbound, offered to the caller again."""
        self.io.channels.close(caller, local_port)

    def foreign_page(self, caller: int, domid: int, gfn: int) -> Page:
        """``xenforeignmemory_map`` of one guest RAM frame, for its device model.

        Only dom0 or the guest's device-model domain may map; the frame must be
        RAM (``-EINVAL`` otherwise).  Untouched frames are created as zeros.
        """
        _, d = self.lookup.dm_target(caller, domid)
        return mem.foreign_frame(d, gfn)

    def populate_physmap(self, caller: int, domid: int, gfns: Sequence[int], order: int = 0) -> int:
        """``XENMEM_populate_physmap`` (:func:`ioreqlab.hv.memory.populate_physmap`)."""
        try:
            c, d = self.lookup.any(caller, domid)
            prm.allow_target(c, d)
        except XenError:
            return 0  # the memory op counts extents: a refusal is 0 done
        return mem.populate_physmap(d, c.privileged, gfns, order, self.wp)

    # -- the guest ----------------------------------------------------------

    def guest_access(
        self,
        domid: int,
        vcpu: int,
        space: str,
        addr: int,
        size: int,
        *,
        write: bool,
        data: int = 0,
        count: int = 1,
        df: bool = False,
        data_is_ptr: bool = False,
    ) -> Access:
        """One access by ``vcpu`` of ``domid``: ``space`` is ``"pio"`` or ``"mmio"``."""
        d = self.lookup.live(domid)
        self.io.check_access(d, vcpu, space, addr, size)
        # Positional, in ioreq_t's field order (the cheaper call on every access):
        # addr, data, count, size, vp_eport, state, data_is_ptr, dir, df, type.
        req = IoReq(
            addr,
            data if write or data_is_ptr else 0,  # with a pointer: the buffer address
            count,
            size,
            0,
            0,
            data_is_ptr,
            IoReqDir.WRITE if write else IoReqDir.READ,
            df,
            IoReqType.PIO if space == "pio" else IoReqType.COPY,
        )
        return self.io.access(d, vcpu, req)

    def broadcast_timeoffset(self, domid: int, offset: int) -> int:
        """The guest's RTC moved: tell every server (``hvm_broadcast_ioreq``, buffered).

        An 8-byte ``IOREQ_TYPE_TIMEOFFSET`` write goes into each server's
        buffered ring — all servers in 4.7, enabled or not.  Returns how many
        did not take it (no buffered ring, or a full one), as Xen does.
        """
        return self.io.broadcast_timeoffset(self.lookup.live(domid), offset)

    def resume_vcpu(self, domid: int, vcpu: int) -> Access:
        """The guest side of a pending access: its result once the emulator is done.

        Returns the completed Access (collected once), or a ``"pending"`` one
        while the emulator has not answered.
        """
        return self.io.resume(self.lookup.live(domid), vcpu)

    # -- the ABI boundary ---------------------------------------------------

    def dm_op(self, caller: int, domid: int, bufs: Sequence[Buffer]) -> int:
        """``HYPERVISOR_dm_op``: real ``xen_dm_op`` bytes in, ``0`` or ``-errno`` out.

        Outputs are written back into ``bufs[0]`` (which must be a bytearray).
        """
        return dispatch_dm_op(self, caller, domid, bufs)

    def hvm_op(self, caller: int, op: int, buf: Buffer) -> int:
        """``HYPERVISOR_hvm_op`` for ``set_param``/``get_param`` (``xen_hvm_param``)."""
        return dispatch_hvm_op(self, caller, op, buf)

    def count_continuation(self, domid: int) -> None:
        """One ``-ERESTART`` chunk of a DMOP on ``domid``, continued below its caller."""
        if (d := self.domains.get(domid)) is not None:
            d.count("dmop_continuations")

    # -- statistics ---------------------------------------------------------

    def statistics(self) -> HostStats:
        """A frozen snapshot of the whole host: heap, and each domain's figures."""
        return host_statistics(self.design, self.xen.version, self.domains, self.heap, self.wp)

    def check_invariants(self) -> None:
        """Each structure's invariants, each heap account equal to what its
        servers and p2t table hold, and no in-flight access of a dead domain.
        Raises ``AssertionError`` on the first violation (checked after every
        step by tests, fuzzers and the model checker)."""
        check_host_invariants(self.domains, self.heap)
        self.io.check(self.domains.keys())

    def heap_statistics(self) -> HeapStats:
        """The whole Xen heap."""
        return self.heap.statistics()

    def domain_heap(self, domid: int) -> HeapStats:
        """One domain's share of the Xen heap."""
        return self.heap.account(domid).statistics()
