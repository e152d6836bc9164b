"""Memory types: ``set_mem_type``, ``get_mem_type`` and claiming a type for a server.

The host looks the domains up (``rcu_lock_remote_domain_by_id`` and the
DMOP's XSM check); these functions are what follows, in Xen's order
(``arch/x86/hvm/dm.c:set_mem_type``, ``hvm.c:hvmop_get_mem_type``,
``dm.c``'s ``XEN_DMOP_map_mem_type_to_ioreq_server``).  What each design
allows is the design's (:mod:`ioreqlab.hv.wp`, :mod:`ioreqlab.hv.transitions`).
"""

from __future__ import annotations

from ioreqlab.abi.constants import PREEMPT_PAGES, UINT64_MAX, HvmMem, P2mType
from ioreqlab.errors import XenEINVAL
from ioreqlab.hv import ioreq as srv
from ioreqlab.hv import params as prm
from ioreqlab.hv.domain import Domain
from ioreqlab.hv.wp import WpDesign
from ioreqlab.p2m import get_mem_type as p2m_mem_type

__all__ = ["get_mem_type", "map_mem_type", "set_mem_type"]


def set_mem_type(wp: WpDesign, d: Domain, mem: int, first_pfn: int, nr: int) -> int:
    """Up to 256 pages from ``first_pfn`` to ``mem``; how many were done (not atomic)."""
    last = first_pfn + nr - 1
    # set_mem_type: first_pfn > last_pfn (nr 0 wraps) or past domain_get_maximum_gpfn,
    # the highest gfn ever mapped, special pages included.
    if nr <= 0 or first_pfn < 0 or last > UINT64_MAX or last > d.max_mapped_pfn:
        raise XenEINVAL(f"pages [{first_pfn:#x}, +{nr}) are not within the guest")
    wp.check_type(mem)
    wp.precheck(d, mem)
    todo = min(nr, PREEMPT_PAGES)
    for gfn in range(first_pfn, first_pfn + todo):
        old = d.p2m.get(gfn)
        if not wp.allowed(old, mem):
            d.count("set_mem_type_refused")
            raise XenEINVAL(f"gfn {gfn:#x}: {old.name.lower()} -> memory type {mem} refused")
        wp.apply(d, gfn, old, mem)
    d.count("set_mem_type_pages", todo)
    if todo < nr:
        d.count("set_mem_type_continuations")
    return todo


def get_mem_type(wp: WpDesign, c: Domain, d: Domain, pfn: int) -> HvmMem:
    """``HVMOP_get_mem_type`` after the lookup: XSM_TARGET, the HVM check, the type."""
    prm.allow_target(c, d)
    if not d.hvm:
        raise XenEINVAL(f"domain {d.domid} is not an HVM guest")
    t = d.p2m.get(pfn)
    if t == P2mType.IOREQ_SERVER:
        return wp.mem_type_of(d, pfn)
    return p2m_mem_type(t, tracked_as=wp.tracked_as)


def map_mem_type(
    wp: WpDesign, c: Domain, d: Domain, sid: int, mem: int, flags: int, opaque: int
) -> int:
    """Claim or disclaim ``mem`` for server ``sid``; 0, or where the sweep goes on."""
    wp.check_claim_hap(d)
    if opaque == 0:
        wp.check_claim_args(mem, flags)
        s = srv.lookup_server(d, sid, c.domid)
        wp.claim(d, s, mem, flags)
    if flags:
        return 0
    nxt = wp.sweep_chunk(d, mem, opaque)
    if nxt:
        d.count("sweep_continuations")
    return nxt
