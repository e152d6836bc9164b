"""Guest I/O: what happens when a vCPU touches a port or guest-physical address.

The host validates an access and builds its ``ioreq_t``; :class:`VcpuIo`
does the rest, in Xen's order:

1. a 4-byte write to port 0xcf8 updates the domain's CF8 cache (the intercept
   then says "unhandled", so the access is still routed normally); Xen's own
   port handlers (PIT, PIC, ELCR, RTC, PM blocks, debug console:
   :mod:`ioreqlab.hv.intercept`) take their ports before any server;
2. an MMIO access looks at the p2m type of its frame: plain RAM is read or
   written directly (``ram_ro`` drops writes); a write to a protected frame
   (type 15) goes where the write-protect design says — a server, nobody, or
   a retry — and its read half comes from RAM;
3. anything else is emulated: :func:`~ioreqlab.hv.routing.select_server`
   picks the server; nobody means reads of all-ones and dropped writes;
4. delivery: stdvga writes (the VGA window) go to the buffered ring when
   they can; everything else goes into the vCPU's slot, the emulator is
   notified, and the vCPU blocks on its port.  Only the emulator's
   notification wakes it; then the slot is read once (forward moves only:
   :mod:`ioreqlab.hv.delivery`).  A send Xen cannot make (no pages, a busy
   slot, a ``vp_eport`` that is not the vCPU's port) is unhandleable: the
   guest takes #GP(0) (``handle_mmio``/``handle_pio``).  A vCPU waiting on a
   server that is destroyed stays blocked.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum

from ioreqlab.abi.constants import PAGE_SHIFT, PAGE_SIZE, UINT64_MAX, IoReqDir, IoReqType, P2mType
from ioreqlab.abi.ioreq import IoReq
from ioreqlab.abi.value import value
from ioreqlab.errors import XenEBUSY, XenEINVAL
from ioreqlab.hv.delivery import SlotStatus, check_slot, send_buffered, send_sync
from ioreqlab.hv.domain import Domain
from ioreqlab.hv.evtchn import EventChannels
from ioreqlab.hv.intercept import intercept_port
from ioreqlab.hv.ioreq import replace_ports
from ioreqlab.hv.routing import select_server
from ioreqlab.hv.server import IoreqServer
from ioreqlab.hv.wp import RETRY, WpDesign
from ioreqlab.profiles import XenProfile

__all__ = ["GP_FAULT", "Access", "Route", "Status", "VcpuIo"]

#: The legacy VGA window, whose writes stdvga sends buffered.
_VGA_WINDOW = (0xA0000, 0xBFFFF)
#: ``TRAP_gp_fault``: what the guest takes for an access Xen cannot handle.
GP_FAULT = 13


class Route(StrEnum):
    """Where an access went (compares equal to its name in lower case)."""

    SERVER = "server"
    DEFAULT = "default"
    NULL = "null"
    RAM = "ram"
    RETRY = "retry"
    XEN = "xen"


class Status(StrEnum):
    """How far an access got."""

    DONE = "done"
    PENDING = "pending"
    BUFFERED = "buffered"
    UNHANDLED = "unhandled"
    CRASHED = "crashed"
    GONE = "gone"


@value
class Access:
    """What became of one guest access.

    ``route``: ``"server"`` (an ioreq server's slot or ring), ``"default"``
    (the default server), ``"null"`` (nobody: reads all-ones, writes dropped),
    ``"ram"`` (plain guest RAM), ``"retry"`` (the instruction is retried),
    ``"xen"`` (one of Xen's own devices, named by ``device``, took it).
    ``status``: ``"done"``, ``"pending"`` (the vCPU waits for the emulator),
    ``"buffered"`` (queued in the ring, no reply), ``"unhandled"`` (Xen could
    not send: ``fault`` is then the vector the guest takes, 13 = #GP(0)),
    ``"crashed"`` or ``"gone"`` (the domain was destroyed while the access
    waited: its vCPU never runs again).  ``data`` is the value a read
    returns once done.
    """

    route: Route
    server_id: int | None = None
    data: int | None = None
    status: Status = Status.DONE
    request: IoReq | None = None
    fault: int | None = None
    device: str | None = None


@dataclass(slots=True)
class _Waiting:
    """A vCPU blocked on a synchronous request."""

    server: IoreqServer
    last_seen: int
    is_read: bool
    size: int
    route: Route
    #: Elements of an element-by-element REP MOVS still to send after this one.
    rest: tuple[IoReq, ...] = ()


Key = tuple[int, int]

#: The counter each delivered route bumps (named once, not per access).
_ROUTED = {r: f"routed_{r}" for r in (Route.DEFAULT, Route.SERVER)}


class VcpuIo:
    """Routing, delivery and completion of guest accesses, for every domain of a host."""

    def __init__(self, wp: WpDesign, xen: XenProfile) -> None:
        self.wp = wp
        self.xen = xen
        self.waiting: dict[Key, _Waiting] = {}
        #: Completions the guest has not collected yet (finished asynchronously).
        self.finished: dict[Key, Access] = {}
        #: Emulators in this process: (domid, server id) -> notify(vcpu).
        self.notifiers: dict[Key, Callable[[int], None]] = {}
        #: Ports an emulator bound with ``EVTCHNOP_bind_interdomain``.
        self.channels = EventChannels()

    def blocked(self, domid: int, vcpu: int) -> bool:
        """Whether the vCPU waits on an emulator, or has a result it has not taken yet.

        A vCPU runs on only once its I/O has completed and been consumed
        (``vcpu_ioreq_handle_completion``), so it cannot start a second access
        while the first one's result waits for :meth:`resume`.
        """
        return (domid, vcpu) in self.waiting or (domid, vcpu) in self.finished

    def check_access(self, d: Domain, vcpu: int, space: str, addr: int, size: int) -> None:
        """What a guest access must be before Xen emulates it (else ``-EINVAL``),
        and its vCPU free (``-EBUSY``: still blocked on an emulator)."""
        if not d.hvm:
            raise XenEINVAL(f"domain {d.domid} is not an HVM guest")
        if not 0 <= vcpu < d.vcpus:
            raise XenEINVAL(f"domain {d.domid} has no vcpu {vcpu}")
        if space not in ("pio", "mmio"):
            raise XenEINVAL(f"access space {space!r} is not 'pio' or 'mmio'")
        if size not in (1, 2, 4, 8) or (space == "pio" and size == 8):
            raise XenEINVAL(f"access size {size} is not valid for {space}")
        if space == "pio" and addr > 0xFFFF:  # IN/OUT take a 16-bit port
            raise XenEINVAL(f"port {addr:#x} is not an x86 I/O port (0..0xffff)")
        if self.blocked(d.domid, vcpu):
            raise XenEBUSY(f"vcpu {vcpu} of domain {d.domid} is blocked on an emulator")

    def access(self, d: Domain, vcpu: int, req: IoReq) -> Access:
        """Route and deliver a validated request from ``vcpu`` of ``d``."""
        write = req.dir == IoReqDir.WRITE
        if req.type == IoReqType.PIO:
            if write and req.addr == 0xCF8 and req.size == 4:
                d.pci_cf8 = req.data & 0xFFFF_FFFF
            hit = intercept_port(d, req)
            if hit is not None:
                d.count("xen_emulated")
                return Access(Route.XEN, data=hit.data, request=req, device=hit.device)
        if req.type == IoReqType.COPY and req.data_is_ptr:
            moved = self._rep_movs(d, vcpu, req)
            if moved is not None:
                return moved
        elif req.type == IoReqType.COPY:
            gfn = req.addr >> PAGE_SHIFT
            if write and (req.addr & (PAGE_SIZE - 1)) + req.size > PAGE_SIZE:
                split = self._straddling_write(d, vcpu, req)
                if split is not None:
                    return split
            t = d.p2m.get(gfn)
            if t == P2mType.IOREQ_SERVER:
                if not write:
                    return self._ram(d, req, discard=False)  # the read half comes from RAM
                return self._protected_write(d, vcpu, gfn, req)
            if t in (P2mType.RAM_RW, P2mType.RAM_LOGDIRTY, P2mType.RAM_RO):
                return self._ram(d, req, discard=t == P2mType.RAM_RO, t=t)
        s, sent = select_server(d, req, mmio_df=self.xen.mmio_df)
        if s is None:
            d.count("null_accesses")
            ones = (1 << (8 * req.size)) - 1
            return Access(Route.NULL, data=None if write else ones, request=sent)
        return self._deliver(d, vcpu, s, sent)

    def _straddling_write(self, d: Domain, vcpu: int, req: IoReq) -> Access | None:
        """A write across a frame boundary onto a write-protected frame, decided per frame.

        ``linear_write`` (``arch/x86/hvm/emulate.c``, 4.17) splits an access at
        the page boundary and handles each part by its own frame's type; the
        part on a ``p2m_ioreq_server`` frame goes to its owner in power-of-two
        chunks (``hvmemul_phys_mmio_access``).  None when neither frame is
        write-protected (the access then goes on as before).  The RAM part is
        written first; the protected chunks follow one after another, as the
        parts of a ``rep`` do.
        """
        first = PAGE_SIZE - (req.addr & (PAGE_SIZE - 1))
        low = req.data & ((1 << (8 * first)) - 1)
        parts = [
            (req.addr, first, low),
            (req.addr + first, req.size - first, req.data >> (8 * first)),
        ]
        types = [d.p2m.get(addr >> PAGE_SHIFT) for addr, _, _ in parts]
        if P2mType.IOREQ_SERVER not in types or req.count != 1:
            return None
        d.count("wp_straddling_writes")
        chunks: list[IoReq] = []
        for (start, length, part), t in zip(parts, types, strict=True):
            if t != P2mType.IOREQ_SERVER:
                if t in (P2mType.RAM_RW, P2mType.RAM_LOGDIRTY):
                    self._write_ram(d, start, length, part)
                continue
            addr, size, value = start, length, part
            while size:
                chunk = 1 << (size.bit_length() - 1)  # the largest power of two that fits
                data = value & ((1 << (8 * chunk)) - 1)
                chunks.append(
                    IoReq(addr=addr, data=data, size=chunk, dir=IoReqDir.WRITE, type=IoReqType.COPY)
                )
                addr, size, value = addr + chunk, size - chunk, value >> (8 * chunk)
        return self._send_elements(d, vcpu, tuple(chunks))

    def _ram(self, d: Domain, req: IoReq, *, discard: bool, t: P2mType | None = None) -> Access:
        """Plain RAM: a read of one element, or a write of ``count`` (``rep stos``).

        ``t`` is the p2m type of the first frame, when the caller has read it.
        """
        d.count("ram_accesses")
        if req.dir == IoReqDir.READ:
            return Access(Route.RAM, data=d.read_ram(req.addr, req.size), request=req)
        if discard:
            return Access(Route.RAM, request=req)
        if req.count <= 1:  # the common case: one element
            self._write_ram(d, req.addr, req.size, req.data, t)
            return Access(Route.RAM, request=req)
        count = req.count
        off = req.addr & (PAGE_SIZE - 1)
        if not req.df and off + count * req.size <= PAGE_SIZE:
            # A forward ``rep stos`` inside one frame: one slice, the same bytes
            # and the same per-frame effects as element by element.
            self._write_ram(d, req.addr, req.size, req.data)
            d.write_block(req.addr, req.data.to_bytes(8, "little")[: req.size] * count)
            return Access(Route.RAM, request=req)
        step = -req.size if req.df else req.size
        for i in range(count):
            self._write_ram(d, req.addr + i * step, req.size, req.data)
        return Access(Route.RAM, request=req)

    @staticmethod
    def _write_ram(
        d: Domain, gpa: int, size: int, value: int, first_type: P2mType | None = None
    ) -> None:
        d.write_ram(gpa, size, value)
        # Each frame the write touches (linear_write splits at the page boundary
        # and copies each part to its own frame, arch/x86/hvm/emulate.c, 4.17).
        first = gpa >> PAGE_SHIFT
        for gfn in range(first, ((gpa + size - 1) >> PAGE_SHIFT) + 1):
            d.platform.note_write(gfn)
            t = first_type if gfn == first and first_type is not None else d.p2m.get(gfn)
            if t == P2mType.RAM_LOGDIRTY:
                # The write faults: paging_mark_pfn_dirty, then the frame is ram_rw.
                d.platform.dirty.add(gfn)
                d.p2m.set(gfn, P2mType.RAM_RW)

    def _rep_movs(self, d: Domain, vcpu: int, req: IoReq) -> Access | None:
        """``hvmemul_rep_movs``: ``addr`` is the emulated side, ``data`` the RAM buffer.

        Returns None when ``addr`` is not RAM (the request goes to a server
        with ``data_is_ptr``, the emulator copying to or from the buffer).
        RAM-to-RAM is a memmove (an overlap the first element would corrupt
        is unhandleable: #GP(0)); onto a ``p2m_ioreq_server`` page it is the
        profile's ``rep_movs_to_ioreq``.
        """
        gfn = req.addr >> PAGE_SHIFT
        t = d.p2m.get(gfn)
        write = req.dir == IoReqDir.WRITE
        if t not in (P2mType.RAM_RW, P2mType.RAM_LOGDIRTY, P2mType.RAM_RO, P2mType.IOREQ_SERVER):
            return None
        src, dst = (req.data, req.addr) if write else (req.addr, req.data)
        count, size = max(req.count, 1), req.size
        step = -size if req.df else size
        if t == P2mType.IOREQ_SERVER and write and self.xen.rep_movs_to_ioreq == "elements":
            elems = tuple(
                IoReq(
                    addr=dst + i * step,
                    data=d.read_ram(src + i * step, size),
                    size=size,
                    dir=IoReqDir.WRITE,
                    type=IoReqType.COPY,
                )
                for i in range(count)
            )
            d.count("rep_movs_elements", count)
            return self._send_elements(d, vcpu, elems)
        lo_s = src - (count - 1) * size if req.df else src
        lo_d = dst - (count - 1) * size if req.df else dst
        nbytes = count * size
        if lo_d + size > lo_s and lo_d < lo_s + nbytes and src != dst:
            d.count("rep_movs_overlap")
            return Access(Route.RAM, status=Status.UNHANDLED, request=req, fault=GP_FAULT)
        values = [d.read_ram(lo_s + i * size, size) for i in range(count)]
        if t == P2mType.IOREQ_SERVER and write:
            d.count("rep_movs_wp_bypass")  # 4.9: memcpy into the page, its owner never sees it
        d.count("ram_accesses")
        for i, v in enumerate(values):
            dgfn = (lo_d + i * size) >> PAGE_SHIFT
            if d.p2m.get(dgfn) != P2mType.RAM_RO:
                self._write_ram(d, lo_d + i * size, size, v)
        return Access(Route.RAM, request=req)

    def _send_elements(self, d: Domain, vcpu: int, elems: tuple[IoReq, ...]) -> Access:
        """One element after another to the page's owner, as the instruction restarts.

        ``elems`` is never empty (a straddle has a protected chunk, a move at
        least one element, and a wait's ``rest`` is sent only when it has one).
        An element that does not complete at once ends the call: a pending one
        leaves the rest to :meth:`completed`.  If the guest crashed during the
        notification of an element that did complete, its vCPUs never run
        again, so the next element is not sent.  (One that destroyed the guest
        ends its own element's access, ``gone``.)
        """
        for i, el in enumerate(elems):
            got = self._protected_write(d, vcpu, el.addr >> PAGE_SHIFT, el)
            if got.status == Status.PENDING:  # (a pending access always has its wait)
                self.waiting[(d.domid, vcpu)].rest = elems[i + 1 :]
            if got.status != Status.DONE or i + 1 == len(elems):
                return got
            if d.crashed:
                return Access(got.route, got.server_id, status=Status.CRASHED, request=elems[i + 1])
        raise AssertionError("an element-by-element access has no element")

    def _protected_write(self, d: Domain, vcpu: int, gfn: int, req: IoReq) -> Access:
        """A write to a write-protected page: the design decides who sees it."""
        target = self.wp.route_write(d, gfn)
        d.count("wp_writes")
        if target == RETRY:
            d.count("wp_retries")
            return Access(Route.RETRY, request=req)
        if target is None:
            d.count("null_accesses")
            return Access(Route.NULL, request=req)
        assert isinstance(target, IoreqServer)
        return self._deliver(d, vcpu, target, req)

    def _deliver(self, d: Domain, vcpu: int, s: IoreqServer, req: IoReq) -> Access:
        route = Route.DEFAULT if s.is_default else Route.SERVER
        d.count(_ROUTED[route])
        lo, hi = _VGA_WINDOW
        if (
            req.type == IoReqType.COPY
            and req.dir == IoReqDir.WRITE
            and lo <= req.addr <= hi
            and send_buffered(s, req, d.pages.compare_exchange_u64)
        ):
            self.notify(d, s, -1)
            return Access(route, s.id, status=Status.BUFFERED, request=req)
        refused = send_sync(s, vcpu, req)
        if refused is not None:
            d.count(f"send_refused_{refused.value}")
            return Access(route, s.id, status=Status.UNHANDLED, request=req, fault=GP_FAULT)
        w = _Waiting(s, 1, req.dir == IoReqDir.READ and not req.data_is_ptr, req.size, route)
        self.waiting[(d.domid, vcpu)] = w
        self.notify(d, s, vcpu)
        done = self.finished.pop((d.domid, vcpu), None)  # woken during the notification
        if done is not None:
            return done
        # The notification ran the emulator, which may have ended the guest.
        if not d.alive:
            return Access(route, s.id, status=Status.GONE, request=req)
        if d.crashed:
            return Access(route, s.id, status=Status.CRASHED, request=req)
        return Access(route, s.id, status=Status.PENDING, request=req)

    def notify(self, d: Domain, s: IoreqServer, vcpu: int) -> None:
        """Signal the server's event channel for ``vcpu`` (-1: the buffered ring)."""
        fn = self.notifiers.get((d.domid, s.id))
        if fn is not None:
            fn(vcpu)
            return
        b = self.channels.bound(d.domid, s.bufioreq_port if vcpu < 0 else s.vcpu_ports[vcpu])
        if b is not None:
            b.notify()

    def complete(self, d: Domain, vcpu: int, w: _Waiting, *, keep: bool = True) -> Access:
        """Read the slot once; on completion, unblock the vCPU.

        With ``keep`` the final Access is also kept for :meth:`resume` (the
        guest collects it later).
        """
        outcome, w.last_seen = check_slot(w.server, vcpu, w.last_seen)
        if outcome.refused_move:
            d.count("ioreq_state_refused")
        if outcome.status == SlotStatus.CRASH:
            d.count("ioreq_state_invalid")
            self.crash(d)
            return Access(w.route, w.server.id, status=Status.CRASHED)
        if outcome.status == SlotStatus.PENDING:
            return Access(w.route, w.server.id, status=Status.PENDING)
        del self.waiting[(d.domid, vcpu)]
        if outcome.status == SlotStatus.EMULATOR_GONE:
            d.count("emulator_gone")
        data = outcome.data & ((1 << (8 * w.size)) - 1) if w.is_read else None
        done = Access(w.route, w.server.id, data=data)
        if keep:
            self.finished[(d.domid, vcpu)] = done
        return done

    def completed(self, d: Domain, vcpu: int) -> Access | None:
        """A port whose notify vCPU is ``vcpu`` was signalled: wake it if it is blocked.

        Any such port wakes it, whichever server the port belongs to: the
        vCPU then re-reads the slot of the server it waits on
        (``default_xen_notification_fn`` clears ``_VPF_blocked_in_xen``, and
        ``vcpu_ioreq_handle_completion`` calls ``wait_for_io`` for its pending
        server, ``common/ioreq.c``, 4.17; ``hvm_do_resume``, 4.7).  If that
        server was destroyed, nothing is pending any more and the access
        completes with the request's own data: 0 for a read.
        """
        if vcpu >= d.vcpus:
            raise XenEINVAL(f"domain {d.domid} has no vcpu {vcpu} (no such port to signal)")
        w = self.waiting.get((d.domid, vcpu))
        if w is None:
            return None
        if any(w.server is x for x in d.all_servers()):
            done = self.complete(d, vcpu, w)
        else:
            del self.waiting[(d.domid, vcpu)]
            d.count("woken_after_server_gone")
            done = Access(w.route, w.server.id, data=0 if w.is_read else None)
            self.finished[(d.domid, vcpu)] = done
        if w.rest and done.status == Status.DONE:  # the REP MOVS goes on with its next element
            self.finished.pop((d.domid, vcpu), None)
            done = self._send_elements(d, vcpu, w.rest)
            if done.status != Status.PENDING:
                self.finished[(d.domid, vcpu)] = done
        return done

    def resume(self, d: Domain, vcpu: int) -> Access:
        """The guest side of a pending access: its result once the emulator woke it.

        A vCPU nobody woke is still blocked (``"pending"``): writing
        IORESP_READY without notifying the port wakes nothing.
        """
        done = self.finished.pop((d.domid, vcpu), None)
        if done is not None:
            return done
        w = self.waiting.get((d.domid, vcpu))
        if w is None:
            raise XenEINVAL(f"vcpu {vcpu} of domain {d.domid} has no access in flight")
        return Access(w.route, w.server.id, status=Status.PENDING)

    def broadcast_timeoffset(self, d: Domain, offset: int) -> int:
        """A buffered TIMEOFFSET write to every server; how many did not take it.

        A zero offset is not sent at all (``send_timeoffset_req``).
        """
        if offset == 0:
            return 0
        req = IoReq(data=offset & UINT64_MAX, size=8, dir=IoReqDir.WRITE, type=IoReqType.TIMEOFFSET)
        failed = 0
        for s in d.all_servers():
            if not d.alive or not any(s is x for x in d.all_servers()):
                continue  # an earlier notification ended the guest or this server
            if not (s.enabled or self.xen.broadcast_disabled):
                continue
            if send_buffered(s, req, d.pages.compare_exchange_u64):
                self.notify(d, s, -1)
            else:
                failed += 1
        d.count("timeoffset_broadcasts")
        return failed

    def crash(self, d: Domain) -> None:
        """``domain_crash``: the domain is shut down (reason crash), its vCPUs stop.

        It is not dying: the toolstack and its device model still reach it
        (DMOPs work) until it is destroyed.
        """
        d.crashed = True
        for key in [k for k in self.waiting if k[0] == d.domid]:
            del self.waiting[key]

    def rebind_default(self, d: Domain, dm: int) -> None:
        """``HVM_PARAM_DM_DOMAIN`` names ``dm`` (``hvm_set_dm_domain``, 4.7).

        A different domain gets fresh ports for the default server
        (:func:`ioreqlab.hv.ioreq.replace_ports`): the old emulator's ends are
        left unbound, and its notifier here goes with them.
        """
        s = d.default_server
        if s is not None and s.emulator != dm:
            self.notifiers.pop((d.domid, s.id), None)
            self.channels.drop_remote(d.domid, replace_ports(d, s))
            s.emulator = dm

    def drop_server(self, s: IoreqServer) -> None:
        """A server went away: its ports are unbound.

        A vCPU waiting on it stays blocked: the port it waits on is freed
        (``ioreq_server_remove_all_vcpus``), and only a signal on another port
        of that vCPU wakes it (:meth:`completed`).
        """
        self.notifiers.pop((s.domid, s.id), None)
        self.channels.drop_remote(s.domid, s.guest_ports())

    def check(self, live: Collection[int]) -> None:
        """Every in-flight entry belongs to a live domain, and each blocked
        vCPU has either a waiting request or a collected result, not both."""
        for table in (self.waiting, self.finished, self.notifiers):
            stale = [k for k in table if k[0] not in live]
            assert not stale, f"in-flight entries for destroyed domains: {stale}"
        both = set(self.waiting) & set(self.finished)
        assert not both, f"vcpus both waiting and finished: {sorted(both)}"

    def forget_domain(self, domid: int) -> None:
        """A domain went away: drop every table entry about it."""
        for table in (self.waiting, self.finished, self.notifiers):
            for key in [k for k in table if k[0] == domid]:
                del table[key]
        self.channels.forget_domain(domid)
