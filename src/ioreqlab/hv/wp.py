"""Write-protected RAM: the three designs of the 2016 thread behind one interface.

Every design answers the same four questions for the host:

1. which ``HVMMEM_*`` types ``set_mem_type`` accepts and which transitions
   are allowed (:meth:`WpDesign.check_type`, :meth:`WpDesign.precheck`,
   :meth:`WpDesign.allowed`);
2. what setting one page does (:meth:`WpDesign.apply`);
3. who may claim which page type (:meth:`WpDesign.claim`, ``-EOPNOTSUPP``
   where the design has no claims);
4. where a guest write to a protected page goes (:meth:`WpDesign.route_write`).

``rangeset`` — the seed series (4.6/4.7 semantics).  Pages become
``p2m_mmio_write_dm`` (15) with ``HVMMEM_mmio_write_dm`` (3); the 4.6
transition rules apply (type 15 is not RAM, and may only go back to
``ram_rw``).  A write to such a page goes to the newest enabled server whose
``WP_MEM`` rangeset holds the frame, else the default server, else nowhere.

``p2m`` — what Xen adopted (4.9, xen-facts §3.3–§3.5).  Pages become
``p2m_ioreq_server`` (15) with ``HVMMEM_ioreq_server`` (4), only from
``ram_rw`` and only while a server claims the type; one owner per domain;
``-EBUSY`` for a second claim, a re-claim, or while ``entry_count`` > 0; a
disclaim resets every leftover page in 256-gfn chunks; destroying the owner
only disclaims.  Writes go to the owner, bypassing rangesets and ``enabled``;
with no owner the instruction is retried.

``p2t`` — the thread's future design (George Dunlap and Paul Durrant,
2016-02-04/05), never built.  The p2m type 15 only says "look in the p2t"; a
sparse radix table holds which of K ioreq types (``HVMMEM_ioreq_server`` and
``_1`` … ``_K-1``) the page has, each claimable by a different server with
the p2m design's rules.  Its nodes are Xen heap allocations.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, Literal

from ioreqlab.abi.constants import (
    PREEMPT_PAGES,
    HvmMem,
    IoRangeType,
    MemAccessFlag,
    P2mType,
)
from ioreqlab.errors import XenEBUSY, XenEINVAL, XenEOPNOTSUPP
from ioreqlab.hv.domain import Domain
from ioreqlab.hv.server import IoreqServer
from ioreqlab.hv.transitions import allowed, new_kind, old_class

__all__ = ["DESIGN_NAMES", "RETRY", "WpDesign", "WriteTarget", "make_design"]

DESIGN_NAMES = ("rangeset", "p2m", "p2t")

_PLAIN = {
    HvmMem.RAM_RW: P2mType.RAM_RW,
    HvmMem.RAM_RO: P2mType.RAM_RO,
    HvmMem.MMIO_DM: P2mType.MMIO_DM,
}


#: What :meth:`WpDesign.route_write` answers: a server, nobody (the write is
#: dropped), or ``RETRY`` (nobody owns the type: the instruction is retried).
RETRY: Final = "retry"
WriteTarget = IoreqServer | None | Literal["retry"]
_IOREQ = int(HvmMem.IOREQ_SERVER)
_WP_MEM = IoRangeType.WP_MEM


class WpDesign:
    """The interface; subclasses fill in each design's rules."""

    name = ""
    #: What a protected page reads back as from ``get_mem_type``.
    tracked_as = HvmMem.IOREQ_SERVER
    #: Servers get the seed series' fourth rangeset (``WP_MEM``).
    wp_mem_rangeset = False
    #: Domains get a separate page-to-type table.
    has_p2t = False

    def __init__(self, ioreq_types: int = 1) -> None:
        self.ioreq_types = ioreq_types

    def mem_types(self) -> range:
        """The ``HVMMEM_*`` values ``set_mem_type`` knows (``ARRAY_SIZE(memtype)``)."""
        return range(HvmMem.IOREQ_SERVER + self.ioreq_types)

    def is_ioreq_type(self, mem: int) -> bool:
        """Whether ``mem`` is one of this design's claimable types."""
        return HvmMem.IOREQ_SERVER <= mem < HvmMem.IOREQ_SERVER + self.ioreq_types

    def check_type(self, mem: int) -> None:
        """Type-table checks of ``set_mem_type``."""
        if mem not in self.mem_types() or mem == HvmMem.UNUSED:
            raise XenEINVAL(f"memory type {mem} is not valid in design {self.name}")

    def precheck(self, d: Domain, mem: int) -> None:
        """Checks made once before the page loop (HAP, a claimant)."""
        if self.is_ioreq_type(mem):
            if not d.hap:
                raise XenEOPNOTSUPP("ioreq memory types need HAP")
            if mem not in d.ioreq_owners:
                raise XenEINVAL(f"no ioreq server claims memory type {mem}")

    def allowed(self, old: P2mType, mem: int) -> bool:
        """The design's row of :data:`ioreqlab.hv.transitions.TRANSITIONS`."""
        kind = new_kind(mem, is_ioreq_type=self.is_ioreq_type(mem))
        return allowed(self.name, old_class(old), kind)

    def apply(self, d: Domain, gfn: int, old: P2mType, mem: int) -> None:
        """Give page ``gfn`` memory type ``mem`` (the transition is allowed)."""
        d.p2m.set(gfn, P2mType.IOREQ_SERVER if self.is_ioreq_type(mem) else _PLAIN[HvmMem(mem)])

    def mem_type_of(self, d: Domain, gfn: int) -> HvmMem:
        """What ``get_mem_type`` reports for a type-15 page."""
        return self.tracked_as

    # -- claims (p2m, p2t) ---------------------------------------------------

    def claim(self, d: Domain, s: IoreqServer, mem: int, flags: int) -> None:
        """``p2m_set_ioreq_server``: claim (flags != 0) or disclaim (0)."""
        mem = int(mem)
        owner = d.ioreq_owners.get(mem)
        if flags == 0:
            if owner is not s:
                raise XenEINVAL(f"ioreq server {s.id} does not own memory type {mem}")
            del d.ioreq_owners[mem]
            d.count("disclaims")
            if self.entries(d, mem):
                # arch_ioreq_server_map_mem_type_completed ->
                # p2m_change_entry_type_global(ioreq_server, ram_rw), whose
                # "global_logdirty = (nt == p2m_ram_logdirty)" turns global
                # log-dirty off: every log-dirty frame recalculates to ram_rw.
                if d.global_logdirty:
                    d.count("global_logdirty_lost")
                d.global_logdirty = False
                d.p2m.change_type_global(P2mType.RAM_LOGDIRTY, P2mType.RAM_RW)
            return
        if owner is not None:
            raise XenEBUSY(f"memory type {mem} is already claimed by server {owner.id}")
        if self.entries(d, mem):
            raise XenEBUSY(f"{self.entries(d, mem)} pages still have memory type {mem}")
        d.ioreq_owners[mem] = s
        d.count("claims")

    def check_claim_hap(self, d: Domain) -> None:
        """``dm_op``'s first check of the claim DMOP, before ``opaque`` is looked at."""
        if not d.hap:
            raise XenEOPNOTSUPP("p2m_ioreq_server needs HAP")

    def check_claim_args(self, mem: int, flags: int) -> None:
        """``ioreq_server_map_mem_type``'s checks before the server lookup (opaque 0 only)."""
        if not self.is_ioreq_type(mem):
            raise XenEINVAL(f"memory type {mem} cannot be claimed")
        if flags & ~int(MemAccessFlag.WRITE):  # int: ~IntFlag keeps only known bits
            raise XenEINVAL(f"flags {flags:#x}: only WRITE is supported (READ is refused)")

    def entries(self, d: Domain, mem: int) -> int:
        """Pages currently of ioreq type ``mem`` (``entry_count``)."""
        return d.p2m.entry_count

    def sweep_chunk(self, d: Domain, mem: int, first_gfn: int) -> int:
        """Reset leftover pages of ``mem`` in one 256-gfn chunk; return the next gfn.

        The chunk is the one holding the next leftover page at or after
        ``first_gfn`` (empty chunks are stepped over in the same call).
        Pages stay while some server owns the type (the recalc exception).
        Returns 0 when nothing is left.
        """
        if mem in d.ioreq_owners or not self.entries(d, mem):
            return 0
        nxt = next(self._leftovers(d, mem, first_gfn), None)
        if nxt is None:
            return 0
        lo = nxt - nxt % PREEMPT_PAGES
        hi = lo + PREEMPT_PAGES - 1
        # p2m_recalc_type: log-dirty only while p2m->global_logdirty still holds,
        # which the disclaim that started this sweep has cleared.
        reset = P2mType.RAM_LOGDIRTY if d.global_logdirty else P2mType.RAM_RW
        for gfn in list(self._leftovers(d, mem, lo, hi)):
            self._reset(d, gfn, reset)
            d.count("sweep_resets")
        d.count("sweep_chunks")
        if not self.entries(d, mem) or hi >= d.max_mapped_pfn:
            return 0
        return hi + 1

    def _leftovers(self, d: Domain, mem: int, lo: int, hi: int = 2**64 - 1) -> Iterator[int]:
        return d.p2m.tracked(lo, hi)

    def _reset(self, d: Domain, gfn: int, to: P2mType) -> None:
        d.p2m.set(gfn, to)

    def server_destroyed(self, d: Domain, s: IoreqServer) -> None:
        """Destroying an owner only disclaims: no reset, no sweep (§3.5)."""
        for mem in [m for m, o in d.ioreq_owners.items() if o is s]:
            del d.ioreq_owners[mem]
            d.count("disclaims")

    # -- routing -------------------------------------------------------------

    def route_write(self, d: Domain, gfn: int) -> WriteTarget:
        """Where a write to a type-15 page goes: O(1), one dict probe."""
        owner = d.ioreq_owners.get(_IOREQ)
        return RETRY if owner is None else owner

    def tracking_bytes(self, d: Domain) -> int:
        """Xen heap bytes this design spends on tracking pages in ``d``."""
        return 0

    def tracking_entries(self, d: Domain) -> int:
        """Stored ranges (rangeset), or tracked entries (p2m, p2t)."""
        return d.p2m.entry_count


class P2mDesign(WpDesign):
    """Xen 4.9+: ``p2m_ioreq_server`` claimed by one server."""

    name = "p2m"


class P2tDesign(WpDesign):
    """K ioreq types in a separate sparse table, one owner per type."""

    name = "p2t"
    has_p2t = True

    def apply(self, d: Domain, gfn: int, old: P2mType, mem: int) -> None:
        assert d.p2t is not None
        if self.is_ioreq_type(mem):
            d.p2t.set(gfn, mem - HvmMem.IOREQ_SERVER + 1)  # may be -ENOMEM: nothing changed
            d.p2m.set(gfn, P2mType.IOREQ_SERVER)
            d.p2t_counts[mem] = d.p2t_counts.get(mem, 0) + 1
        else:
            if old == P2mType.IOREQ_SERVER:
                self._forget(d, gfn)
            d.p2m.set(gfn, _PLAIN[HvmMem(mem)])

    def _forget(self, d: Domain, gfn: int) -> None:
        assert d.p2t is not None
        mem = HvmMem.IOREQ_SERVER + d.p2t.get(gfn) - 1
        d.p2t.clear(gfn)
        d.p2t_counts[mem] -= 1

    def mem_type_of(self, d: Domain, gfn: int) -> HvmMem:
        assert d.p2t is not None
        return HvmMem(HvmMem.IOREQ_SERVER + d.p2t.get(gfn) - 1)

    def entries(self, d: Domain, mem: int) -> int:
        return d.p2t_counts.get(mem, 0)

    def sweep_chunk(self, d: Domain, mem: int, first_gfn: int) -> int:
        """As the base design's, but the search for the next page of ``mem`` is bounded.

        The pages of the other types share the p2m's tracked set; looking past
        them is work too, so one call examines at most 256 tracked pages
        before it hands back a continuation (as Xen's preemptible sweeps bound
        each call), instead of walking every page of every other type at once.
        """
        if mem in d.ioreq_owners or not self.entries(d, mem):
            return 0
        assert d.p2t is not None
        want = mem - HvmMem.IOREQ_SERVER + 1
        for examined, gfn in enumerate(d.p2m.tracked(first_gfn, 2**64 - 1), 1):
            if d.p2t.get(gfn) == want:
                return super().sweep_chunk(d, mem, gfn)
            if examined == PREEMPT_PAGES:
                d.count("sweep_scans")
                return gfn + 1
        return 0

    def _leftovers(self, d: Domain, mem: int, lo: int, hi: int = 2**64 - 1) -> Iterator[int]:
        assert d.p2t is not None
        want = mem - HvmMem.IOREQ_SERVER + 1
        p2t = d.p2t
        return (g for g in d.p2m.tracked(lo, hi) if p2t.get(g) == want)

    def _reset(self, d: Domain, gfn: int, to: P2mType) -> None:
        self._forget(d, gfn)
        d.p2m.set(gfn, to)

    def route_write(self, d: Domain, gfn: int) -> WriteTarget:
        assert d.p2t is not None
        owner = d.ioreq_owners.get(_IOREQ - 1 + d.p2t.get(gfn))
        return RETRY if owner is None else owner

    def tracking_bytes(self, d: Domain) -> int:
        return d.p2t.bytes_in_use if d.p2t is not None else 0


class RangesetDesign(WpDesign):
    """The seed series: ``mmio_write_dm`` pages routed by per-server WP_MEM rangesets."""

    name = "rangeset"
    tracked_as = HvmMem.MMIO_WRITE_DM
    wp_mem_rangeset = True

    def mem_types(self) -> range:
        return range(HvmMem.MMIO_WRITE_DM + 1)

    def is_ioreq_type(self, mem: int) -> bool:
        return False

    def check_type(self, mem: int) -> None:
        if mem not in self.mem_types():
            raise XenEINVAL(f"memory type {mem} is not valid in design rangeset")

    def precheck(self, d: Domain, mem: int) -> None:
        return None

    def apply(self, d: Domain, gfn: int, old: P2mType, mem: int) -> None:
        t = P2mType.MMIO_WRITE_DM if mem == HvmMem.MMIO_WRITE_DM else _PLAIN[HvmMem(mem)]
        d.p2m.set(gfn, t)

    def check_claim_hap(self, d: Domain) -> None:
        raise XenEOPNOTSUPP("map_mem_type_to_ioreq_server does not exist in the seed series")

    def route_write(self, d: Domain, gfn: int) -> WriteTarget:
        for s in d.servers:
            if s.enabled and s.ranges[_WP_MEM].contains_singleton(gfn):
                return s
        return d.default_server

    def tracking_bytes(self, d: Domain) -> int:
        return sum(s.ranges[IoRangeType.WP_MEM].bytes_in_use for s in d.servers if s.ranges)

    def tracking_entries(self, d: Domain) -> int:
        return sum(s.ranges[IoRangeType.WP_MEM].nr_ranges for s in d.servers if s.ranges)


def make_design(name: str, ioreq_types: int = 4) -> WpDesign:
    """The design called ``name``; ``ioreq_types`` is K for ``p2t``."""
    if name == "rangeset":
        return RangesetDesign()
    if name == "p2m":
        return P2mDesign()
    if name == "p2t":
        if not 1 <= ioreq_types <= HvmMem.IOREQ_SERVER_7 - HvmMem.IOREQ_SERVER + 1:
            raise XenEINVAL(f"p2t supports 1..8 ioreq types, not {ioreq_types}")
        return P2tDesign(ioreq_types)
    raise XenEINVAL(f"unknown design {name!r}: choose one of {', '.join(DESIGN_NAMES)}")
