"""A guest GPU driver that builds its page tables as i915 does.

The order of writes is i915's (``i915_gem_gtt.c``, gen8): a new page table is
allocated and filled with *scratch* entries first (``gen8_initialize_pt``/
``_pd``/``_pdp``: every entry present, pointing at the address space's scratch
table one level down, or at the scratch page), then linked into its parent,
and only then are its PTEs written (``gen8_ppgtt_insert_pte_entries``).  On a
vGPU with eager shadowing the link is a trapped write that shadows and
protects the new table, so each PTE written after it traps too, until the
page goes out of sync.  The fill and the scratch chain are plain RAM writes
(``rep stosq``: one access per table) because nobody protects a table yet.

Two shapes:

* ``full-4level``: a 48-bit, 4-level PPGTT per context (i915 with
  ``enable_ppgtt=3``, what current i915 needs): PML4 → PDP → PD → PT, each
  address space with its own scratch PDP, PD and PT (gen8 ``setup_scratch``);
* ``aliasing-3level``: the one legacy 32-bit PPGTT that 2015–2017 guests ran
  on a vGPU (i915 forced aliasing PPGTT under GVT-g until full PPGTT support):
  its 4 PDs and every PT of the 4 GiB range are allocated at init
  (``i915_gem_init_aliasing_ppgtt`` → ``allocate_va_range(0, total)``) before
  the vGPU is told, and all contexts share it.

2 MiB pages: with ``huge_2m_percent``, that share of new leaf slots of a
full PPGTT is bound as one 2 MiB PDE (bit 7, PS) with no page table below it,
as i915 does where the platform lists ``I915_GTT_PAGE_SIZE_2M`` (gen8's
``page_sizes`` in i915_pci.c of 4.15–5.x; later kernels dropped it).  64 KiB
pages are left out: GVT-g splits them into 4 KiB shadow entries
(``split_64KB_gtt_entry``), so they cost entries, never table pages.

Buffers: binding a buffer of N pages writes N consecutive PTEs; a leaf table
is filled by buffers up to ``ptes_per_table`` entries (tens to 512 in a real
address space), buffer sizes drawn from ``buffer_pages``.  Churn rebinds a
buffer inside an existing leaf.  :class:`HostileGpuDriver` spreads every leaf
over its own PD and PDP and never lets anything go.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ioreqlab.dm.gvtg import LEGACY_ROOT, REG_CREATE, REG_DESTROY, REG_SUBMIT, VGPU_BAR_BASE
from ioreqlab.workload.guest import Guest, GuestAllocator, gpa

__all__ = ["SHAPES", "GpuDriver", "GpuProcess", "HostileGpuDriver"]

_PRESENT = 1
_RW = 2
#: PDE bit 7: the entry maps a 2 MiB page.
_PS = 1 << 7
_FANOUT = 512
SHAPES = ("full-4level", "aliasing-3level")
#: The aliasing PPGTT spans the 4 GiB GGTT range: 4 PDs of 512 PTs.
_ALIASING_PDS = 4


@dataclass
class GpuProcess:
    """One GPU address space: its tree and where it has grown to."""

    pid: int
    root: int
    #: The value the vGPU's registers take for this address space.
    handle: int = 0
    #: (parent gfn, index) -> child gfn, for the non-leaf levels.
    links: dict[tuple[int, int], int] = field(default_factory=dict)
    leaves: list[int] = field(default_factory=list)
    #: This address space's scratch tables, by level (1 = scratch PT).
    scratch: dict[int, int] = field(default_factory=dict)
    scratch_page: int = 0
    next_leaf: int = 0
    shared: bool = False

    def frames(self) -> list[int]:
        """Every table frame of the tree (its scratch tables included)."""
        return [self.root, *self.links.values(), *self.scratch.values()]


def _entry(target: int) -> int:
    return (target << 12) | _PRESENT | _RW


class GpuDriver:
    """The i915-like guest driver of one vGPU guest."""

    def __init__(
        self,
        guest: Guest,
        rng: random.Random,
        alloc: GuestAllocator,
        *,
        bar_base: int = VGPU_BAR_BASE,
        shape: str = "full-4level",
        ptes_per_table: int = 64,
        buffer_pages: tuple[int, int] = (1, 16),
        data_pages: tuple[int, int] = (0x1000, 0x3FFFF),
        huge_2m_percent: int = 0,
    ) -> None:
        if shape not in SHAPES:
            raise ValueError(f"unknown PPGTT shape {shape!r} (known: {', '.join(SHAPES)})")
        if huge_2m_percent and shape != "full-4level":
            raise ValueError("2 MiB pages need a full 4-level PPGTT")
        self.huge_2m_percent = huge_2m_percent
        self.huge_2m = 0
        self.guest = guest
        self.rng = rng
        self.alloc = alloc
        self.bar = bar_base
        self.shape = shape
        self.ptes_per_table = ptes_per_table
        self.buffer_pages = buffer_pages
        self.data_pages = data_pages
        self.processes: dict[int, GpuProcess] = {}
        self._pids = 0
        self._aliasing: GpuProcess | None = None
        self.submissions = 0
        self.ptes_written = 0

    # -- tables -----------------------------------------------------------------

    def _new_table(self, scratch_below: int) -> int:
        """Allocate a frame and fill it with scratch entries (plain RAM writes)."""
        gfn = self.alloc.take()
        self.guest.fill(gfn, _entry(scratch_below))
        return gfn

    def _write(self, table: int, idx: int, value: int) -> None:
        self.guest.write(gpa(table, idx), 8, value)

    def _scratch_chain(self, proc: GpuProcess, levels: int) -> None:
        """The address space's scratch page and tables (gen8 ``setup_scratch``)."""
        proc.scratch_page = self.alloc.take()
        below = proc.scratch_page
        for level in range(1, levels):
            below = proc.scratch[level] = self._new_table(below)

    def _data_page(self) -> int:
        return self.rng.randint(*self.data_pages)

    # -- address spaces -----------------------------------------------------------

    def create_process(self, leaves: int = 0) -> GpuProcess:
        """A new context.  Full PPGTT: a new address space with ``leaves`` leaf
        tables; aliasing: the one shared address space, built on first use."""
        self._pids += 1
        if self.shape == "aliasing-3level":
            proc = self._aliasing_ppgtt()
            ctx = GpuProcess(self._pids, proc.root, proc.handle, shared=True)
            ctx.leaves = proc.leaves
            self.processes[ctx.pid] = ctx
            self.fill_leaves(ctx, leaves)
            return ctx
        proc = GpuProcess(self._pids, 0)
        self._scratch_chain(proc, 4)
        proc.root = self._new_table(proc.scratch[3])
        proc.handle = proc.root
        self.processes[proc.pid] = proc
        self.guest.write(self.bar + REG_CREATE, 8, proc.handle)
        self.grow(proc, leaves)
        return proc

    def _aliasing_ppgtt(self) -> GpuProcess:
        if self._aliasing is not None:
            return self._aliasing
        proc = GpuProcess(0, 0)
        self._scratch_chain(proc, 2)
        ctx_page = self.alloc.take()  # the context image's PDP registers
        for i in range(_ALIASING_PDS):
            pd = self._new_table(proc.scratch[1])
            proc.links[(ctx_page, i)] = pd
            self._write(ctx_page, i, _entry(pd))
            for j in range(_FANOUT):  # allocate_va_range(0, total): every PT, up front
                pt = self._new_table(proc.scratch_page)
                self._write(pd, j, _entry(pt))
                proc.links[(pd, j)] = pt
                proc.leaves.append(pt)
        proc.root = ctx_page
        proc.handle = ctx_page | LEGACY_ROOT
        self.guest.write(self.bar + REG_CREATE, 8, proc.handle)
        self._aliasing = proc
        return proc

    def _leaf_slot(self, proc: GpuProcess) -> tuple[int, int, int]:
        """PML4, PDP and PD indices of the next leaf table to add."""
        n = proc.next_leaf
        proc.next_leaf += 1
        return (n // (_FANOUT * _FANOUT)) % _FANOUT, (n // _FANOUT) % _FANOUT, n % _FANOUT

    def _ensure(self, proc: GpuProcess, parent: int, idx: int, level: int) -> int:
        """The level-``level`` table under ``parent[idx]``: allocated, scratch-filled,
        then linked (the link traps once ``parent`` is shadowed)."""
        child = proc.links.get((parent, idx))
        if child is None:
            child = self._new_table(proc.scratch.get(level - 1, proc.scratch_page))
            self._write(parent, idx, _entry(child))
            proc.links[(parent, idx)] = child
        return child

    def grow(self, proc: GpuProcess, leaves: int) -> None:
        """Add ``leaves`` leaf tables, each linked first and then filled with buffers."""
        if proc.shared:
            self.fill_leaves(proc, leaves)
            return
        for _ in range(leaves):
            i4, i3, i2 = self._leaf_slot(proc)
            pdp = self._ensure(proc, proc.root, i4, 3)
            pd = self._ensure(proc, pdp, i3, 2)
            if self.huge_2m_percent and self.rng.randrange(100) < self.huge_2m_percent:
                base = self._data_page() & ~(_FANOUT - 1)  # 2 MiB aligned
                self._write(pd, i2, _entry(base) | _PS)  # a 2 MiB page: no table below
                self.huge_2m += 1
                continue
            pt = self._ensure(proc, pd, i2, 1)
            proc.leaves.append(pt)
            self._bind(pt, 0, self.ptes_per_table)

    def fill_leaves(self, proc: GpuProcess, leaves: int) -> None:
        """Aliasing PPGTT: bind buffers into ``leaves`` of the preallocated tables."""
        for _ in range(min(leaves, len(proc.leaves))):
            self._bind(self.rng.choice(proc.leaves), 0, self.ptes_per_table)

    def _bind(self, pt: int, start: int, fill: int) -> None:
        """Bind buffers into ``pt`` from entry ``start`` until ``fill`` entries are used."""
        idx = start
        while idx < min(start + fill, _FANOUT):
            n = min(self.rng.randint(*self.buffer_pages), start + fill - idx, _FANOUT - idx)
            base = self._data_page()
            for k in range(n):  # gen8_ppgtt_insert_pte_entries: one PTE per page
                self._write(pt, idx + k, _entry(base + k))
            self.ptes_written += n
            idx += n

    def churn(self, proc: GpuProcess, writes: int) -> None:
        """Rebind buffers in existing leaf tables until ``writes`` PTEs are rewritten."""
        done = 0
        while proc.leaves and done < writes:
            pt = self.rng.choice(proc.leaves)
            n = min(self.rng.randint(*self.buffer_pages), writes - done)
            start = self.rng.randrange(_FANOUT - n + 1)
            self._bind(pt, start, n)
            done += n

    def submit(self, proc: GpuProcess) -> None:
        """Run a workload on the context's address space."""
        self.submissions += 1
        self.guest.write(self.bar + REG_SUBMIT, 8, proc.handle)

    def destroy_process(self, proc: GpuProcess) -> None:
        """The context is closed: the vGPU is told first, then the frames go back
        (gen8_ppgtt_cleanup after the g2v destroy notification).  The aliasing
        PPGTT outlives its contexts."""
        del self.processes[proc.pid]
        if proc.shared:
            return
        self.guest.write(self.bar + REG_DESTROY, 8, proc.handle)
        self.alloc.give_back([*proc.frames(), proc.scratch_page])

    def read_entry(self, table: int, idx: int) -> int:
        """What the guest reads back from one entry (through the normal path)."""
        return self.guest.read(gpa(table, idx), 8)


class HostileGpuDriver(GpuDriver):
    """A guest that builds the largest, most fragmented trees it can, and keeps them.

    Every leaf gets its own PD and PDP where the address space allows (so the
    tree spreads over as many frames as possible), frames come from anywhere
    in guest memory, and nothing is ever destroyed.
    """

    def _leaf_slot(self, proc: GpuProcess) -> tuple[int, int, int]:
        n = proc.next_leaf
        proc.next_leaf += 1
        return n % _FANOUT, (n // _FANOUT) % _FANOUT, 0

    def destroy_process(self, proc: GpuProcess) -> None:
        """It never lets go."""
        return
