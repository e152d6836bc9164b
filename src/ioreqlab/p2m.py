"""The p2m table: each guest frame's type (``asm-x86/p2m.h``, xen-facts §3).

Theory of operation
-------------------
Xen keeps a type in every p2m entry.  At creation every RAM frame is
``p2m_ram_rw`` and everything else is a hole (``p2m_invalid``).  The model
stores only what differs from that default — a dict of overrides — so a
1 TiB guest with 8192 changed frames costs 8192 dict entries, and a lookup is
one dict probe plus the memory-map test.

For the types the write-protect designs care about (``p2m_ioreq_server`` /
``p2m_mmio_write_dm``, value 15) the table also keeps an ordered index of the
frames holding them, so ``entry_count`` is exact at every step and a reset
sweep finds the next such frame without scanning the whole guest.  This index
is the model's bookkeeping: Xen's p2m needs no memory beyond its entries, and
nothing here is charged to the Xen heap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ioreqlab.abi.constants import HvmMem, P2mType
from ioreqlab.rangeset import RangeSet

__all__ = [
    "HOLE_TYPES",
    "NO_PAGE_TYPES",
    "RAM_TYPES",
    "READONLY_TYPES",
    "P2mTable",
    "get_mem_type",
    "is_hole",
    "is_ram",
]

#: ``P2M_RAM_TYPES`` of 4.9+ (``p2m_ioreq_server`` is RAM there; ``p2m_ram_broken``
#: is not RAM in any release: ``asm-x86/p2m.h``, 4.6 to 4.17).
RAM_TYPES = frozenset(
    {
        P2mType.RAM_RW,
        P2mType.RAM_LOGDIRTY,
        P2mType.RAM_RO,
        P2mType.RAM_PAGING_OUT,
        P2mType.RAM_PAGED,
        P2mType.RAM_PAGING_IN,
        P2mType.RAM_SHARED,
        P2mType.IOREQ_SERVER,
    }
)
#: ``P2M_HOLE_TYPES`` (``asm-x86/p2m.h``, 4.6 to 4.17): paged-out RAM is a hole too.
HOLE_TYPES = frozenset({P2mType.MMIO_DM, P2mType.INVALID, P2mType.RAM_PAGING_IN, P2mType.RAM_PAGED})
_TRACKED = P2mType.IOREQ_SERVER
#: Types with no page behind the frame: ``get_page_from_gfn`` finds nothing, so a
#: foreign map, ``prepare_ring_for_helper`` or a relocation refuses them.
NO_PAGE_TYPES = frozenset({P2mType.INVALID, P2mType.MMIO_DM, P2mType.MMIO_DIRECT})
#: ``P2M_RO_TYPES`` (4.9+): what ``get_mem_type`` reports as ``ram_ro``.
READONLY_TYPES = frozenset(
    {P2mType.RAM_LOGDIRTY, P2mType.RAM_RO, P2mType.GRANT_MAP_RO, P2mType.RAM_SHARED}
)


def is_ram(t: P2mType) -> bool:
    """``p2m_is_ram`` of 4.9+: type 15 is RAM (4.6 differs only there, and every
    caller treats type 15 on its own)."""
    return t in RAM_TYPES


def is_hole(t: P2mType) -> bool:
    """``p2m_is_hole``."""
    return t in HOLE_TYPES


def get_mem_type(t: P2mType, *, tracked_as: HvmMem) -> HvmMem:
    """``HVMOP_get_mem_type``'s mapping (§3.4), checked in Xen's order.

    ``tracked_as`` is what type 15 reads back as: ``HVMMEM_mmio_write_dm``
    in 4.6, ``HVMMEM_ioreq_server`` from 4.8.
    """
    if t in (P2mType.MMIO_DM, P2mType.MMIO_DIRECT):
        return HvmMem.MMIO_DM
    if t == _TRACKED:
        return tracked_as
    if t in READONLY_TYPES:  # p2m_is_readonly: log-dirty pages read back as ram_ro
        return HvmMem.RAM_RO
    if t in RAM_TYPES or t in (P2mType.POPULATE_ON_DEMAND, P2mType.GRANT_MAP_RW):
        return HvmMem.RAM_RW
    return HvmMem.MMIO_DM


class P2mTable:
    """gfn → p2m type for one domain; defaults come from its memory map.

    >>> p2m = P2mTable(lambda gfn: gfn < 16)
    >>> p2m.get(3), p2m.get(99)
    (<P2mType.RAM_RW: 0>, <P2mType.INVALID: 1>)
    >>> p2m.set(3, P2mType.IOREQ_SERVER); p2m.entry_count
    1
    >>> p2m.set(3, P2mType.RAM_RW); p2m.entry_count, len(p2m)
    (0, 0)
    """

    __slots__ = ("_entries", "_index", "_is_ram", "_overrides", "_ram")

    def __init__(self, is_ram_gfn: Callable[[int], bool]) -> None:
        self._is_ram = is_ram_gfn
        self._overrides: dict[int, P2mType] = {}
        self._index = RangeSet("p2m type 15 index")
        self._entries = 0
        #: The type of every RAM frame nobody changed (``ram_logdirty`` under
        #: global log-dirty).
        self._ram = P2mType.RAM_RW

    def default(self, gfn: int) -> P2mType:
        """The type ``gfn`` has unless it was changed on its own."""
        return self._ram if self._is_ram(gfn) else P2mType.INVALID

    def change_type_global(self, old: P2mType, new: P2mType) -> None:
        """``p2m_change_entry_type_global``: every frame of type ``old`` becomes ``new``.

        O(changed frames): untouched RAM follows through the default type.
        Type 15 is never changed this way (it goes by the reset sweep).
        """
        if _TRACKED in (old, new):
            raise ValueError("p2m_ioreq_server frames change by the reset sweep")
        if self._ram == old:
            self._ram = new
        for gfn, t in list(self._overrides.items()):
            if t == old:
                self._overrides[gfn] = new
            if self._overrides[gfn] == self.default(gfn):
                del self._overrides[gfn]

    def get(self, gfn: int) -> P2mType:
        """The type of ``gfn``: O(1)."""
        t = self._overrides.get(gfn)
        return t if t is not None else self.default(gfn)

    def set(self, gfn: int, t: P2mType) -> None:
        """Change one entry (a 4K entry: ``p2m_ioreq_server`` is never a superpage)."""
        old = self.get(gfn)
        if t == self.default(gfn):
            self._overrides.pop(gfn, None)
        else:
            self._overrides[gfn] = t
        if old == _TRACKED and t != _TRACKED:
            self._index.remove_singleton(gfn)
            self._entries -= 1
        elif t == _TRACKED and old != _TRACKED:
            self._index.add_singleton(gfn)
            self._entries += 1

    @property
    def entry_count(self) -> int:
        """Frames whose type is 15 (``p2m->ioreq.entry_count``)."""
        return self._entries

    def tracked(self, lo: int = 0, hi: int = 2**64 - 1) -> Iterator[int]:
        """Frames of type 15 within ``[lo, hi]``, ascending."""
        for s, e in self._index.report_ranges(lo, hi):
            yield from range(s, e + 1)

    def __len__(self) -> int:
        """Number of entries that differ from the default (the model's memory)."""
        return len(self._overrides)

    def check_invariants(self) -> None:
        """No override equals its default; the index holds exactly the type-15 frames."""
        for gfn, t in self._overrides.items():
            assert t != self.default(gfn), f"gfn {gfn:#x} stores its default type"
        want = sorted(g for g, t in self._overrides.items() if t == _TRACKED)
        assert list(self.tracked()) == want, "type-15 index out of step"
        assert self._entries == len(want), "entry_count out of step"
        self._index.check_invariants()
