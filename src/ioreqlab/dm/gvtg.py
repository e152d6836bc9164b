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
``0x0108``     read: 1 once the vGPU is in failsafe mode
``0x100000+``  the global GTT: 8-byte entries, mediated like registers
=============  ==========================================================

A root is a table frame: a 4-level tree's PML4 (4 KiB tables in guest RAM,
512 entries of 8 bytes; bit 0 present, bits 12+ the next frame).  With bit 62
(:data:`LEGACY_ROOT`) set it is a legacy 32-bit (3-level) address space: the
frame then holds the 4 PDP entries of the context image, and the tables are
the 4 page directories below them (gtt.c ``GTT_TYPE_PPGTT_ROOT_L3_ENTRY``).

Two policies
------------
``shipped`` (:mod:`ioreqlab.dm.gvt_shipped`) is what GVT-g does, in 2016 XenGT and
upstream alike.  ``proposal-2016`` (:class:`GvtgMediator`, this module) is the
fallback proposed in the 2016 thread and never shipped; it is kept, labelled,
so the thread's figures can be reproduced.  The GPU cannot take a fault,
so before every submission the shadow of the active tree must equal the
guest's tables (George Dunlap, 2016-02-04).  The proposal keeps, per table
page, a snapshot of the guest bytes its shadow was built from (the shadow's
translated entries are a function of it), and write-protects the page
through :class:`~ioreqlab.wpclient.WriteProtector`, whatever the host's design.
A trapped write is emulated into guest RAM and the snapshot updated; a write
to a non-leaf table marks the trees using it for a structure re-walk.

When protection fails for lack of room (``-ENOMEM``: the rangeset limit, or
the Xen heap), the proposal does what Zhiyuan Lv and Kevin Tian describe
(2016-02-05): it unprotects and drops the least recently used *inactive*
trees and retries; what still does not fit stays unprotected, and those
pages are re-read before every submission.  Slower, never wrong: a tree
larger than the limit still submits correctly.  At each submission the
active tree is verified page by page; ``shadow_mismatches`` counts failures
and must stay 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from struct import pack_into
from typing import TypeVar

from ioreqlab.abi.constants import PAGE_SHIFT, PAGE_SIZE
from ioreqlab.abi.ioreq import IoReq
from ioreqlab.devicemodel import DeviceModel
from ioreqlab.dm.gvt_gpu import CostModel, PhysicalGpu
from ioreqlab.dm.qemu import PciFunction
from ioreqlab.dm.runtime import DeviceModelServer
from ioreqlab.errors import XenError
from ioreqlab.wpclient import WriteProtector

__all__ = [
    "ADDR_4K_MASK",
    "BAR_SIZE",
    "LEGACY_ROOT",
    "REG_CREATE",
    "REG_DESTROY",
    "REG_FAILSAFE",
    "REG_SUBMIT",
    "VGPU_BAR_BASE",
    "GvtgMediator",
    "MediatorBase",
    "ProtectedSet",
    "TreeShadow",
    "child_tables",
    "entry_gfn",
    "links_table",
    "root_tables",
]

REG_SUBMIT = 0x0000
REG_DESTROY = 0x0008
REG_CREATE = 0x0010
REG_SUBMISSIONS = 0x0100
REG_FAILSAFE = 0x0108
GGTT_BASE = 0x100000
BAR_SIZE = 2 << 20
#: Where the vGPU's register BAR sits: in the MMIO hole below 4 GiB, above
#: what the QEMU-like emulator hands out.
VGPU_BAR_BASE = 0xF800_0000
#: A root value with this bit is a legacy 32-bit address space (4 PDPs).
LEGACY_ROOT = 1 << 62
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


#: PDE bit 7: a 2 MiB page, no table below it.
_PSE = 1 << 7
#: The address bits of an entry: 12 to 45 (gtt.c's ``ADDR_4K_MASK``,
#: ``GENMASK_ULL(GTT_HAW - 1, 12)`` with ``GTT_HAW`` 46); the bits above are flags
#: GVT-g ignores when it follows an entry to the next table.
ADDR_4K_MASK = ((1 << 46) - 1) & ~(PAGE_SIZE - 1)


def entry_gfn(entry: int) -> int:
    """The frame an entry points to (``gen8_gtt_get_pfn`` of a 4 KiB entry)."""
    return (entry & ADDR_4K_MASK) >> PAGE_SHIFT


def links_table(entry: int, level: int) -> bool:
    """Whether an entry of a level-``level`` table points to a table: present,
    above the leaves, and not a 2 MiB page (a level-2 entry with PS)."""
    return bool(entry & _PRESENT) and level > 1 and not (level == 2 and entry & _PSE)


def child_tables(table: bytes | bytearray | memoryview, level: int) -> list[int]:
    """The table frames a level-``level`` table's entries point to."""
    if level <= 1:
        return []
    view = memoryview(table).cast("Q")
    if level == 2:
        return [entry_gfn(e) for e in view if e & _PRESENT and not e & _PSE]
    return [entry_gfn(e) for e in view if e & _PRESENT]


class ProtectedSet:
    """The frames a mediator has protected, with the runs they form.

    A ``rangeset`` host stores one range per maximal run of consecutive
    frames (adjacent ranges merge), so ``runs`` is what the server's WP_MEM
    rangeset holds; the peaks are over every change, not sampled.

    >>> p = ProtectedSet(); p.add([5, 6, 9]); p.runs, p.peak_runs
    (2, 2)
    >>> p.add([7, 8]); p.runs, p.peak_runs, len(p)
    (1, 2, 5)
    """

    __slots__ = ("_set", "peak_pages", "peak_runs", "runs")

    def __init__(self) -> None:
        self._set: set[int] = set()
        self.runs = 0
        self.peak_runs = 0
        self.peak_pages = 0

    def __contains__(self, gfn: object) -> bool:
        return gfn in self._set

    def __len__(self) -> int:
        return len(self._set)

    def __iter__(self) -> Iterator[int]:
        return iter(self._set)

    def add(self, gfns: Iterable[int]) -> None:
        """Frames now protected."""
        s = self._set
        for g in gfns:
            if g not in s:
                self.runs += 1 - ((g - 1) in s) - ((g + 1) in s)
                s.add(g)
        self.peak_runs = max(self.peak_runs, self.runs)
        self.peak_pages = max(self.peak_pages, len(s))

    def discard(self, gfns: Iterable[int]) -> None:
        """Frames no longer protected."""
        s = self._set
        for g in gfns:
            if g in s:
                s.discard(g)
                self.runs -= 1 - ((g - 1) in s) - ((g + 1) in s)


def root_tables(page: memoryview | None, root: int) -> list[tuple[int, int]]:
    """The table frames a root stands for, with their levels.

    A 4-level root is its PML4 (level 4); a legacy root's frame holds 4 PDP
    entries, and its tables are the page directories they point to (level 2).
    """
    if not root & LEGACY_ROOT:
        return [(root, LEVELS)]
    if page is None:
        return []
    return [(entry_gfn(e), 2) for e in page.cast("Q")[:4] if e & _PRESENT]


class MediatorBase:
    """What both policies share: the vGPU's PCI function and register BAR, guest
    memory access, the write-protect client, the cost model and the timer."""

    POLICY = ""
    #: What both policies count; each adds its own.
    COUNTERS: tuple[str, ...] = (
        "submissions",
        "submissions_run",
        "lost_submissions",
        "trapped_writes",
        "pages_shadowed",
        "protections",
        "unprotections",
        "unprotect_failures",
        "limit_hits",
        "evictions",
        "reshadows",
        "pages_reread",
        "shadow_mismatches",
        "stale_entries",
        "oos_syncs",
    )

    def __init__(
        self,
        dm: DeviceModel,
        domid: int,
        *,
        bar_base: int = VGPU_BAR_BASE,
        timer: Callable[[], int] | None = None,
        gpu: PhysicalGpu | None = None,
        costs: CostModel | None = None,
    ) -> None:
        self.dm = dm
        #: The caller's clock (ns), if the mediator's own time is to be measured:
        #: ``elapsed_ns`` then sums the time spent in trapped writes and submissions.
        self.timer = timer
        self.elapsed_ns = {"trapped_writes": 0, "submissions": 0}
        self.domid = domid
        self.bar_base = bar_base
        self.gpu = gpu if gpu is not None else PhysicalGpu(oos_pages=0)
        self.costs = costs if costs is not None else CostModel()
        #: The cost model's CPU time of everything this mediator did (ns).
        self.cpu_ns = 0
        self.server = DeviceModelServer(dm, domid, name="gvt-g")
        self.server.wp_handler = self.on_trapped_write
        self.pci = PciFunction(0, 2, 0, 0x8086, 0x1616, 0x030000, bars={0: BAR_SIZE})
        self.wp: WriteProtector | None = None
        self.protected = ProtectedSet()
        self.ggtt: dict[int, int] = {}
        self.clock = 0
        self.failsafe = False
        self.stats = dict.fromkeys(self.COUNTERS, 0)
        self._setup()

    def _setup(self) -> None:
        """The policy's own state."""

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> int:
        """Create the server, map the vGPU, claim the write-protect type."""
        sid = self.server.start()
        pack_into("<I", self.pci.config, 0x10, self.bar_base)  # BAR 0
        self.server.map("pci", self.pci.sbdf, self.pci.sbdf, self.pci)
        self.server.map("mmio", self.bar_base, self.bar_base + BAR_SIZE - 1, self)
        self.wp = WriteProtector(self.dm, self.domid, sid)
        self.wp.start()
        return sid

    def stop(self) -> None:
        """Drop every shadow, disclaim, and destroy the server."""
        self.drop_all()
        if self.wp is not None:
            self.wp.stop()
        self.server.stop()

    def drop_all(self) -> None:
        """Unshadow everything (the policy's own)."""
        raise NotImplementedError

    # -- register BAR ------------------------------------------------------------

    def io(self, kind: str, offset: int, size: int, write: bool, data: int) -> int:
        """An access to the register BAR."""
        if not write:
            if offset == REG_SUBMISSIONS:
                return self.stats["submissions"]
            if offset == REG_FAILSAFE:
                return int(self.failsafe)
            if offset >= GGTT_BASE:
                return self.ggtt.get((offset - GGTT_BASE) >> 3, 0)
            return 0
        if offset >= GGTT_BASE:
            self.ggtt[(offset - GGTT_BASE) >> 3] = data  # the GGTT is mediated directly
        elif offset == REG_CREATE:
            self.create(data)
        elif offset == REG_DESTROY:
            self.destroy(data)
        elif offset == REG_SUBMIT:
            self.submit(data)
        return 0

    def create(self, root: int) -> None:
        """The guest announced a new address space."""
        raise NotImplementedError

    def destroy(self, root: int) -> None:
        """The guest dropped an address space."""
        raise NotImplementedError

    # -- guest memory ------------------------------------------------------------

    def _page(self, gfn: int) -> memoryview | None:
        try:
            return self.dm.map_foreign(self.domid, gfn)
        except XenError:
            return None  # not RAM: a hostile entry; treated as not present

    def _snapshot(self, gfn: int) -> bytes:
        page = self._page(gfn)
        return bytes(page) if page is not None else bytes(PAGE_SIZE)

    def _roots(self, root: int) -> list[tuple[int, int]]:
        page = self._page(root & ~LEGACY_ROOT) if root & LEGACY_ROOT else None
        return root_tables(page, root)

    def walk(self, root: int) -> dict[int, int]:
        """The guest's tree as it is now: table gfn → level (4 = PML4).

        Each table is mapped once per walk (issue 18: it was mapped twice).
        """
        found: dict[int, int] = {}
        todo = self._roots(root)
        while todo:
            gfn, level = todo.pop()
            if gfn in found:
                continue
            page = self._page(gfn)
            if page is None:
                continue
            found[gfn] = level
            todo.extend((child, level - 1) for child in child_tables(page, level))
        return found

    def _emulate(self, req: IoReq) -> list[tuple[int, int, int]]:
        """Write a trapped request into guest RAM, element by element (a rep
        access goes down or up with ``df``); each written ``(gfn, offset, size)``."""
        out = []
        step = -req.size if req.df else req.size
        mask = (1 << (8 * req.size)) - 1
        for k in range(req.count):
            addr = req.addr + k * step
            if req.data_is_ptr:
                src = self._page((req.data + k * step) >> PAGE_SHIFT)
                off_src = (req.data + k * step) & (PAGE_SIZE - 1)
                if src is None or off_src + req.size > PAGE_SIZE:
                    continue
                value = int.from_bytes(src[off_src : off_src + req.size], "little")
            else:
                value = req.data & mask
            gfn, off = addr >> PAGE_SHIFT, addr & (PAGE_SIZE - 1)
            page = self._page(gfn)
            if page is None:
                continue
            n = min(req.size, PAGE_SIZE - off)
            page[off : off + n] = value.to_bytes(req.size, "little")[:n]
            out.append((gfn, off, n))
        return out

    # -- protection ------------------------------------------------------------------

    def _try_protect(self, gfns: list[int]) -> bool:
        """Protect ``gfns`` in one go; False (counted) if there is no room."""
        assert self.wp is not None
        self.cpu_ns += self.costs.protect_call_ns + self.costs.protect_page_ns * len(gfns)
        try:
            self.wp.protect(gfns)
        except XenError as err:
            if err.errno != _ENOMEM:
                raise
            self.stats["limit_hits"] += 1
            return False
        self.protected.add(gfns)
        self.stats["protections"] += len(gfns)
        return True

    def _unprotect(self, gfns: list[int]) -> bool:
        """Unprotect ``gfns``; False if the host refused (a rangeset split at the limit)."""
        assert self.wp is not None
        self.cpu_ns += self.costs.protect_call_ns + self.costs.protect_page_ns * len(gfns)
        try:
            self.wp.unprotect(gfns)
        except XenError as err:
            if err.errno != _ENOMEM:
                raise
            self.stats["unprotect_failures"] += 1
            return False
        self.protected.discard(gfns)
        self.stats["unprotections"] += len(gfns)
        return True

    # -- timing ------------------------------------------------------------------------

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
        raise NotImplementedError

    def submit(self, root: int) -> None:
        """Run a workload on ``root``: bring its shadow up to date, then verify it."""
        self._timed("submissions", self._submit, root)

    def _submit(self, root: int) -> None:
        raise NotImplementedError

    def statistics(self) -> dict[str, int]:
        """Counters plus the shadow's and the protection's size and peaks."""
        return {
            **self.stats,
            "failsafe": int(self.failsafe),
            "protected_pages": len(self.protected),
            "protected_ranges": self.protected.runs,
            "peak_protected_pages": self.protected.peak_pages,
            "peak_runs": self.protected.peak_runs,
            "mediator_cpu_ns": self.cpu_ns,
        }


class GvtgMediator(MediatorBase):
    """The ``proposal-2016`` policy: protect what fits, evict LRU inactive trees,
    re-read the rest before every submission (never shipped; see the module doc)."""

    POLICY = "proposal-2016"

    def _setup(self) -> None:
        self.trees: dict[int, TreeShadow] = {}
        self.snapshots: dict[int, bytes] = {}
        self.page_roots: dict[int, set[int]] = {}
        #: Roots whose shadow was dropped to make room: shadowing them again is re-shadow work.
        self.evicted: set[int] = set()

    def drop_all(self) -> None:
        """Drop every tree."""
        for root in list(self.trees):
            self._evict(root, for_room=False)

    def create(self, root: int) -> None:
        """Shadow the new tree."""
        self._tree(root)

    def destroy(self, root: int) -> None:
        """Drop the tree."""
        self._evict(root, for_room=False)
        self.evicted.discard(root)

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
                self.cpu_ns += self.costs.reread_page_ns * len(tables)
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
                self.cpu_ns += self.costs.shadow_page_ns
            users.add(tree.root)
        self._protect([g for g in new if g not in self.protected], tree.root)

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
        # Every table of a tree has its snapshot and its users (_attach keeps them together).
        for gfn in gfns:
            del tree.tables[gfn]
            users = self.page_roots[gfn]
            users.discard(tree.root)
            if not users:
                del self.page_roots[gfn]
                del self.snapshots[gfn]
                if gfn in self.protected:
                    unprotect.append(gfn)
        if unprotect:
            self._unprotect(unprotect)

    def _evict(self, root: int, *, for_room: bool = True) -> None:
        tree = self.trees.pop(root, None)
        if tree is None:
            return
        self._detach(tree, list(tree.tables))
        if for_room:
            self.evicted.add(root)
            self.stats["evictions"] += 1

    # -- trapped writes --------------------------------------------------------------

    def _trapped_write(self, req: IoReq) -> None:
        self.stats["trapped_writes"] += 1
        self.cpu_ns += self.costs.trap_ns
        for gfn, _off, _n in self._emulate(req):
            if gfn in self.snapshots:  # a table of some tree: page_roots names them
                self.snapshots[gfn] = self._snapshot(gfn)
                for root in self.page_roots[gfn]:
                    tree = self.trees[root]
                    if tree.tables[gfn] > 1:
                        tree.stale_structure = True

    # -- submission --------------------------------------------------------------------

    def _submit(self, root: int) -> None:
        self.clock += 1
        self.stats["submissions"] += 1
        self.stats["submissions_run"] += 1
        self.cpu_ns += self.costs.submission_ns
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
                self.cpu_ns += self.costs.reread_page_ns * len(reread)
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
            **super().statistics(),
            "trees": len(self.trees),
            "shadowed_pages": len(self.snapshots),
            "oos_pages": 0,
            "oos_pages_peak": 0,
        }
