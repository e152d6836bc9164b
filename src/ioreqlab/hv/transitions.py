"""Which ``set_mem_type`` changes each design allows: one table, read by code and docs.

``allow_p2m_type_change`` (``xen/arch/x86/hvm/dm.c``, 4.9 to 4.17) for the
``p2m`` and ``p2t`` designs; ``hvmop_set_mem_type`` of 4.6 (the seed series'
base) for ``rangeset``, where type 15 (``p2m_mmio_write_dm``) is not RAM.
A frame's p2m type falls in one of five classes; the request names one of
five kinds of ``HVMMEM_*`` type.  :data:`TRANSITIONS` says, per design,
which (class, kind) pairs are allowed; :func:`markdown` renders it for
``docs/set-mem-type.md`` (checked to be current by the suite).

Before the table, Xen answers ``-EAGAIN`` for a paged or shared frame
(``p2m_is_paging``, ``p2m_is_shared``); the model has no paging or sharing,
so its p2m never holds one, nor a grant, foreign or direct-MMIO frame (the
"other" class is in the table for completeness).
"""

from __future__ import annotations

from collections.abc import Mapping

from ioreqlab.abi.constants import HvmMem, P2mType
from ioreqlab.p2m import is_hole, is_ram

__all__ = ["KINDS", "OLD_CLASSES", "TRANSITIONS", "allowed", "markdown", "new_kind", "old_class"]

#: Classes of a frame's current p2m type.
OLD_CLASSES = ("ram_rw", "other RAM", "type 15", "hole", "other")
#: Kinds of requested ``HVMMEM_*`` type.
KINDS = ("ioreq type", "ram_rw", "ram_ro", "mmio_dm", "mmio_write_dm")

_ALL = frozenset(KINDS)

#: design -> class of the old type -> the kinds it may become.
TRANSITIONS: Mapping[str, Mapping[str, frozenset[str]]] = {
    # new == p2m_ioreq_server needs ram_rw; type 15 may only go back to ram_rw;
    # RAM may become anything else; a hole only mmio_dm.
    "p2m": {
        "ram_rw": frozenset({"ioreq type", "ram_rw", "ram_ro", "mmio_dm"}),
        "other RAM": frozenset({"ram_rw", "ram_ro", "mmio_dm"}),
        "type 15": frozenset({"ram_rw"}),
        "hole": frozenset({"mmio_dm"}),
        "other": frozenset(),
    },
    "rangeset": {
        "ram_rw": _ALL - {"ioreq type"},
        "other RAM": _ALL - {"ioreq type"},
        "type 15": frozenset({"ram_rw"}),
        "hole": frozenset({"mmio_dm"}),
        "other": frozenset(),
    },
}
TRANSITIONS = {**TRANSITIONS, "p2t": TRANSITIONS["p2m"]}


def old_class(t: P2mType) -> str:
    """The class of a frame's p2m type.

    Type 15 is its own class in every design, so whether 4.6 counted it as
    RAM does not matter here: its row in :data:`TRANSITIONS` says what it may
    become.  RAM is tested before holes, as ``allow_p2m_type_change`` does
    (paged-out RAM is both).
    """
    if t == P2mType.IOREQ_SERVER:
        return "type 15"
    if t == P2mType.RAM_RW:
        return "ram_rw"
    if is_ram(t):
        return "other RAM"
    return "hole" if is_hole(t) else "other"


def new_kind(mem: int, *, is_ioreq_type: bool) -> str:
    """The kind of a requested ``HVMMEM_*`` type."""
    if is_ioreq_type:
        return "ioreq type"
    return {
        HvmMem.RAM_RW: "ram_rw",
        HvmMem.RAM_RO: "ram_ro",
        HvmMem.MMIO_DM: "mmio_dm",
        HvmMem.MMIO_WRITE_DM: "mmio_write_dm",
    }[HvmMem(mem)]


def allowed(design: str, old: str, kind: str) -> bool:
    """Whether ``design`` lets a frame of class ``old`` become ``kind``."""
    return kind in TRANSITIONS[design][old]


def markdown() -> str:
    """The table as ``docs/set-mem-type.md``."""
    out = [
        "# set_mem_type: which changes each design allows",
        "",
        "Generated from `ioreqlab.hv.transitions` (do not edit by hand): the code reads "
        "the same table. p2m and p2t follow `allow_p2m_type_change` "
        "(xen/arch/x86/hvm/dm.c, 4.9-4.17); rangeset follows 4.6's `hvmop_set_mem_type`, "
        "where type 15 (`p2m_mmio_write_dm`) is not RAM. `other RAM` is log-dirty, "
        "read-only, paging and shared RAM; `other` is grant, foreign and direct MMIO.",
        "",
    ]
    for design in ("p2m", "p2t", "rangeset"):
        out += [f"## {design}", "", "| from \\ to | " + " | ".join(KINDS) + " |"]
        out.append("|---|" + "---|" * len(KINDS))
        for old in OLD_CLASSES:
            cells = ["yes" if allowed(design, old, k) else "-" for k in KINDS]
            out.append(f"| {old} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)
