"""A GVT-g style mediator: XenGT's device model, shadowing the guest's GPU page tables.

The vGPU
--------
The mediator serves one guest's vGPU through its own ioreq server: PCI
function 00:02.0 (an Intel Broadwell GT2, 8086:1616) and its register BAR.
The register layout is the model's own (documented here, not Intel's):

=============  ==========================================================
BAR offset     meaning
=============  ==========================================================
``0x0000``     SUBMIT: write a PPGTT root frame — run a workload on that tree
``0x0008``     DESTROY: write a root — the guest driver dropped that tree
``0x0010``     CREATE: write a root — a new tree (GVT-g's PVINFO g2v notify)
``0x0100``     read: submissions so far
``0x100000+``  the global GTT: 8-byte entries, mediated like registers
=============  ==========================================================

Shadowing (``drivers/gpu/drm/i915/gvt/gtt.c`` in spirit)
--------------------------------------------------------
A PPGTT is a 4-level tree of 4 KiB tables in guest RAM (512 entries of 8
bytes; bit 0 present, bits 12+ the next frame).  The GPU cannot take a fault,
so before every submission the shadow of the active tree must equal the
guest's tables (George Dunlap, 2016-02-04).  The mediator keeps, per table
page, a snapshot of the guest bytes its shadow was built from (the shadow's
translated entries are a function of it), and write-protects the page
through :class:`~ioreqlab.wpclient.WriteProtector`, whatever the host's design.
A trapped write is emulated into guest RAM and the snapshot updated; a write
to a non-leaf table marks the trees using it for a structure re-walk.

When protection fails for lack of room (``-ENOMEM``: the rangeset limit, or
the Xen heap), the mediator does what Zhiyuan Lv and Kevin Tian describe
(2016-02-05): it unprotects and drops the least recently used *inactive*
trees and retries; what still does not fit stays unprotected, and those
pages are re-read before every submission.  Slower, never wrong: a tree
larger than the limit still submits correctly.  At each submission the
active tree is verified page by page; ``shadow_mismatches`` counts failures
and must stay 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from ioreqlab.abi.constants import PAGE_SHIFT, PAGE_SIZE
from ioreqlab.abi.ioreq import IoReq
from ioreqlab.devicemodel import DeviceModel
from ioreqlab.dm.qemu import PciFunction
from ioreqlab.dm.runtime import DeviceModelServer
from ioreqlab.errors import XenError
from ioreqlab.wpclient import WriteProtector

__all__ = [
    "BAR_SIZE",
    "REG_CREATE",
    "REG_DESTROY",
    "REG_SUBMIT",
    "VGPU_BAR_BASE",
    "GvtgMediator",
    "TreeShadow",
]

REG_SUBMIT = 0x0000
REG_DESTROY = 0x0008
REG_CREATE = 0x0010
REG_SUBMISSIONS = 0x0100
GGTT_BASE = 0x100000
BAR_SIZE = 2 << 20
#: Where the vGPU's register BAR sits: in the MMIO hole below 4 GiB, above
#: what the QEMU-like emulator hands out.
VGPU_BAR_BASE = 0xF800_0000
LEVELS = 4
_PRESENT = 1
T = TypeVar("T")
_ENOMEM = 12


@dataclass
class TreeShadow:
    """One shadowed PPGTT: its table pages (gfn → level) and when it last ran."""

    root: int
    tables: dict[int, int] = field(default_factory=dict)
    last_used: int = 0
    stale_structure: bool = False


def _present(page: memoryview, level: int) -> list[int]:
    """The frames a table's present entries point to (none below level 2)."""
    if level <= 1:
        return []
    return [e >> PAGE_SHIFT for e in page.cast("Q") if e & _PRESENT]


class GvtgMediator:
    """One guest's vGPU: register emulation and PPGTT/GGTT shadowing."""

    COUNTERS = (
        "submissions",
        "trapped_writes",
        "pages_shadowed",
        "protections",
        "unprotections",
        "limit_hits",
        "evictions",
        "reshadows",
        "pages_reread",
        "shadow_mismatches",
    )

    def __init__(
        self,
        dm: DeviceModel,
        domid: int,
        *,
        bar_base: int = VGPU_BAR_BASE,
        mem_type: int = 4,
        timer: Callable[[], int] | None = None,
    ) -> None:
        self.dm = dm
        #: The caller's clock (ns), if the mediator's own time is to be measured:
        #: ``elapsed_ns`` then sums the time spent in trapped writes and submissions.
        self.timer = timer
        self.elapsed_ns = {"trapped_writes": 0, "submissions": 0}
        self.domid = domid
        self.bar_base = bar_base
        self.server = DeviceModelServer(dm, domid, name="gvt-g")
        self.server.wp_handler = self.on_trapped_write
        self.pci = PciFunction(0, 2, 0, 0x8086, 0x1616, 0x030000, bars={0: BAR_SIZE})
        self.mem_type = mem_type
        self.wp: WriteProtector | None = None
        self.trees: dict[int, TreeShadow] = {}
        self.snapshots: dict[int, bytes] = {}
        self.page_roots: dict[int, set[int]] = {}
        self.protected: set[int] = set()
        self.ggtt: dict[int, int] = {}
        #: Roots whose shadow was dropped to make room: shadowing them again is re-shadow work.
        self.evicted: set[int] = set()
        self.clock = 0
        self.stats = dict.fromkeys(self.COUNTERS, 0)

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> int:
        """Create the server, map the vGPU, claim the write-protect type."""
        sid = self.server.start()
        self.pci.config[0x10:0x14] = self.bar_base.to_bytes(4, "little")
        self.server.map("pci", self.pci.sbdf, self.pci.sbdf, self.pci)
        self.server.map("mmio", self.bar_base, self.bar_base + BAR_SIZE - 1, self)
        self.wp = WriteProtector(self.dm, self.domid, sid, mem_type=self.mem_type)
        self.wp.start()
        return sid

    def stop(self) -> None:
        """Drop every shadow, disclaim, and destroy the server."""
        for root in list(self.trees):
            self._evict(root, for_room=False)
        if self.wp is not None:
            self.wp.stop()
        self.server.stop()

    # -- register BAR ------------------------------------------------------------

    def io(self, kind: str, offset: int, size: int, write: bool, data: int) -> int:
        """An access to the register BAR."""
        if not write:
            if offset == REG_SUBMISSIONS:
                return self.stats["submissions"]
            if offset >= GGTT_BASE:
                return self.ggtt.get((offset - GGTT_BASE) >> 3, 0)
            return 0
        if offset >= GGTT_BASE:
            self.ggtt[(offset - GGTT_BASE) >> 3] = data  # the GGTT is mediated directly
        elif offset == REG_CREATE:
            self._tree(data)
        elif offset == REG_DESTROY:
            self._evict(data, for_room=False)
            self.evicted.discard(data)
        elif offset == REG_SUBMIT:
            self.submit(data)
        return 0

    # -- guest memory ------------------------------------------------------------

    def _page(self, gfn: int) -> memoryview | None:
        try:
            return self.dm.map_foreign(self.domid, gfn)
        except XenError:
            return None  # not RAM: a hostile entry; treated as not present

    def _children(self, gfn: int, level: int) -> list[int]:
        page = self._page(gfn)
        return [] if page is None else _present(page, level)

    def walk(self, root: int) -> dict[int, int]:
        """The guest's tree as it is now: table gfn → level (4 = root).

        Each table is mapped once per walk (issue 18: it was mapped twice).
        """
        found: dict[int, int] = {}
        todo = [(root, LEVELS)]
        while todo:
            gfn, level = todo.pop()
            if gfn in found:
                continue
            page = self._page(gfn)
            if page is None:
                continue
            found[gfn] = level
            todo.extend((child, level - 1) for child in _present(page, level))
        return found

    def _snapshot(self, gfn: int) -> bytes:
        page = self._page(gfn)
        return bytes(page) if page is not None else bytes(PAGE_SIZE)

    # -- shadows -------------------------------------------------------------------

    def _tree(self, root: int) -> TreeShadow:
        tree = self.trees.get(root)
        if tree is None:
            tree = self.trees[root] = TreeShadow(root)
            tables = self.walk(root)
            if root in self.evicted:  # dropped for room earlier: read it all again
                self.evicted.discard(root)
                self.stats["reshadows"] += 1
                self.stats["pages_reread"] += len(tables)
            self._attach(tree, tables)
        return tree

    def _attach(self, tree: TreeShadow, tables: dict[int, int]) -> None:
        """Shadow and protect the pages ``tables`` adds to ``tree``."""
        new = [g for g in tables if g not in tree.tables]
        for gfn in new:
            tree.tables[gfn] = tables[gfn]
            users = self.page_roots.setdefault(gfn, set())
            if not users:
                self.snapshots[gfn] = self._snapshot(gfn)
                self.stats["pages_shadowed"] += 1
            users.add(tree.root)
        self._protect([g for g in new if g not in self.protected], tree.root)

    def _try_protect(self, gfns: list[int]) -> bool:
        """Protect ``gfns`` in one go; False (counted) if there is no room."""
        assert self.wp is not None
        try:
            self.wp.protect(gfns)
        except XenError as err:
            if err.errno != _ENOMEM:
                raise
            self.stats["limit_hits"] += 1
            return False
        self.protected.update(gfns)
        self.stats["protections"] += len(gfns)
        return True

    def _protect(self, gfns: list[int], active: int) -> None:
        if not gfns or self._try_protect(gfns):
            return
        # Make room: drop the least recently used inactive trees, one by one.
        for victim in sorted(self.trees.values(), key=lambda t: t.last_used):
            if victim.root == active:
                continue
            self._evict(victim.root)
            if self._try_protect(gfns):
                return
        # Still no room: protect what fits, page by page; the rest is re-read.
        for gfn in gfns:
            self._try_protect([gfn])

    def _detach(self, tree: TreeShadow, gfns: list[int]) -> None:
        unprotect = []
        for gfn in gfns:
            tree.tables.pop(gfn, None)
            users = self.page_roots.get(gfn)
            if users is None:
                continue
            users.discard(tree.root)
            if not users:
                del self.page_roots[gfn]
                self.snapshots.pop(gfn, None)
                if gfn in self.protected:
                    unprotect.append(gfn)
        if unprotect:
            assert self.wp is not None
            self.wp.unprotect(unprotect)
            self.protected.difference_update(unprotect)
            self.stats["unprotections"] += len(unprotect)

    def _evict(self, root: int, *, for_room: bool = True) -> None:
        tree = self.trees.pop(root, None)
        if tree is None:
            return
        self._detach(tree, list(tree.tables))
        if for_room:
            self.evicted.add(root)
            self.stats["evictions"] += 1

    # -- trapped writes --------------------------------------------------------------

    def _timed(self, key: str, fn: Callable[[T], None], arg: T) -> None:
        """``fn(arg)``, its time added to ``elapsed_ns[key]`` when there is a timer."""
        if self.timer is None:
            fn(arg)
            return
        t0 = self.timer()
        try:
            fn(arg)
        finally:
            self.elapsed_ns[key] += self.timer() - t0

    def on_trapped_write(self, req: IoReq) -> None:
        """A guest write to a page we protect: emulate it, keep the shadow in sync."""
        self._timed("trapped_writes", self._trapped_write, req)

    def _trapped_write(self, req: IoReq) -> None:
        self.stats["trapped_writes"] += 1
        gfn = req.addr >> PAGE_SHIFT
        page = self._page(gfn)
        if page is None:
            return
        off = req.addr & (PAGE_SIZE - 1)
        n = min(req.size, PAGE_SIZE - off)
        page[off : off + n] = (req.data & ((1 << (8 * req.size)) - 1)).to_bytes(req.size, "little")[
            :n
        ]
        if gfn in self.snapshots:
            self.snapshots[gfn] = bytes(page)
            for root in self.page_roots.get(gfn, ()):
                tree = self.trees[root]
                if tree.tables.get(gfn, 1) > 1:
                    tree.stale_structure = True

    # -- submission --------------------------------------------------------------------

    def submit(self, root: int) -> None:
        """Run a workload on ``root``: bring its shadow up to date, then verify it."""
        self._timed("submissions", self._submit, root)

    def _submit(self, root: int) -> None:
        self.clock += 1
        self.stats["submissions"] += 1
        tree = self._tree(root)
        tree.last_used = self.clock
        unprotected = [g for g in tree.tables if g not in self.protected]
        if tree.stale_structure or unprotected:
            now = self.walk(root)
            self._detach(tree, [g for g in tree.tables if g not in now])
            self._attach(tree, now)
            tree.stale_structure = False
            reread = [g for g in tree.tables if g not in self.protected]
            for gfn in reread:
                self.snapshots[gfn] = self._snapshot(gfn)
            if reread:
                self.stats["reshadows"] += 1
                self.stats["pages_reread"] += len(reread)
        self.verify(tree)

    def verify(self, tree: TreeShadow) -> int:
        """Compare the active tree's shadow with the guest's tables; count mismatches."""
        bad = 0
        if set(self.walk(tree.root)) != set(tree.tables):
            bad += 1
        for gfn in tree.tables:
            if self.snapshots.get(gfn) != self._snapshot(gfn):
                bad += 1
        self.stats["shadow_mismatches"] += bad
        return bad

    def statistics(self) -> dict[str, int]:
        """Counters plus the current shadow's size."""
        return {
            **self.stats,
            "trees": len(self.trees),
            "shadowed_pages": len(self.snapshots),
            "protected_pages": len(self.protected),
        }
