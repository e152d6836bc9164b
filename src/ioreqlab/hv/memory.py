"""Guest memory the device model maps or populates (``common/memory.c``).

``foreign_frame`` is ``xenforeignmemory_map`` of one frame; ``populate_physmap``
is ``XENMEM_populate_physmap`` for a domain the caller may act on, which QEMU
uses for video RAM and option ROMs.
"""

from __future__ import annotations

from collections.abc import Sequence

from ioreqlab.abi.constants import PAGE_SHIFT, UINT64_MAX, HvmMem, P2mType
from ioreqlab.errors import XenEBUSY, XenEINVAL
from ioreqlab.hv.domain import Domain
from ioreqlab.hv.pages import Page
from ioreqlab.hv.wp import WpDesign
from ioreqlab.p2m import NO_PAGE_TYPES

__all__ = ["clean_dirty_bitmap", "foreign_frame", "populate_physmap", "set_log_dirty"]

#: ``max_order``: a control domain may populate order-12 extents, others 9
#: (``CONFIG_CTLDOM_MAX_ORDER``, ``CONFIG_DOMU_MAX_ORDER``).
_CTLDOM_MAX_ORDER, _DOMU_MAX_ORDER = 12, 9


def foreign_frame(d: Domain, gfn: int) -> Page:
    """The page behind RAM frame ``gfn`` (``-EINVAL`` for a hole or MMIO).

    An ioreq server's gfn-mapped page is the guest's own frame, so mapping
    its gfn while the server is disabled gives the server's page.
    """
    if d.p2m.get(gfn) in NO_PAGE_TYPES:
        raise XenEINVAL(f"gfn {gfn:#x} of domain {d.domid} is not RAM")
    page = d.ram.get(gfn)
    if page is None:
        page = d.ram[gfn] = d.pages.new_page()
    return page


def populate_physmap(
    d: Domain, privileged: bool, gfns: Sequence[int], order: int, wp: WpDesign
) -> int:
    """Back each ``2**order``-frame extent with fresh RAM; return how many were done.

    Like the memory op it returns a count, never an errno: an order above
    the caller's ``max_order``, or an extent that would take the domain past
    its ``max_pages``, stops it (earlier extents stay).  A populated frame is
    zeroed ``ram_rw``, whatever it held before.
    """
    if order > (_CTLDOM_MAX_ORDER if privileged else _DOMU_MAX_ORDER) or order < 0:
        return 0
    done = 0
    for first in gfns:
        n = 1 << order
        if first < 0 or first + n - 1 > UINT64_MAX >> PAGE_SHIFT:
            break
        if d.tot_pages + n > d.max_pages:
            d.count("populate_over_max_pages")
            break
        for gfn in range(first, first + n):
            old = d.p2m.get(gfn)
            if old == P2mType.IOREQ_SERVER:  # the design drops its own record too
                wp.apply(d, gfn, old, HvmMem.RAM_RW)
            d.p2m.set(gfn, P2mType.RAM_RW)
            d.ram.pop(gfn, None)
        d.tot_pages += n
        d.max_mapped_pfn = max(d.max_mapped_pfn, first + n - 1)
        done += 1
    d.count("populated_extents", done)
    return done


def set_log_dirty(d: Domain, enable: bool) -> None:
    """Global log-dirty on or off (``hap_enable_log_dirty``/``hap_disable_log_dirty``).

    ``-EBUSY`` while ioreq-typed pages remain.  On: every ``ram_rw`` frame
    becomes ``ram_logdirty`` until the guest writes it; off: back to ``ram_rw``.
    """
    if enable and d.p2m.entry_count:
        raise XenEBUSY(f"{d.p2m.entry_count} p2m_ioreq_server entries remain")
    if enable:
        d.p2m.change_type_global(P2mType.RAM_RW, P2mType.RAM_LOGDIRTY)
    else:
        d.p2m.change_type_global(P2mType.RAM_LOGDIRTY, P2mType.RAM_RW)
    d.log_dirty = d.global_logdirty = enable


def clean_dirty_bitmap(d: Domain) -> frozenset[int]:
    """``hap_clean_dirty_bitmap``: the dirty frames; logging re-armed (``-EINVAL`` if off)."""
    if not d.log_dirty:
        raise XenEINVAL(f"domain {d.domid} is not in log-dirty mode")
    dirty = frozenset(d.platform.dirty)
    d.platform.dirty.clear()
    d.p2m.change_type_global(P2mType.RAM_RW, P2mType.RAM_LOGDIRTY)
    d.global_logdirty = True
    return dirty
