"""A guest GPU driver: processes, their PPGTT trees, PTE updates and submissions.

What it does, in the order i915 does it (as far as the mediator can see):

* a process gets an address space: a fresh PML4 frame, announced to the
  vGPU (CREATE);
* mapping buffers grows the tree: for each new leaf table, the driver makes
  sure the PDP/PD above it exist (allocating and linking them), fills a few
  PTEs of the new table *before* linking it (plain RAM writes: nobody
  protects it yet), then links it into its PD — a write to a protected page
  if the PD is shadowed;
* churn rewrites PTEs of existing leaf tables (trapped writes once shadowed);
* a submission writes the root to the vGPU's SUBMIT register;
* a process exit announces DESTROY and returns the frames; a frame reused
  later has its old entries cleared first.

Knobs: processes, leaf tables per process, PTEs written per table, churn,
and the guest allocator's placement policy.  :class:`HostileGpuDriver`
builds trees as fragmented and as large as it can and never lets them go.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ioreqlab.dm.gvtg import REG_CREATE, REG_DESTROY, REG_SUBMIT, VGPU_BAR_BASE
from ioreqlab.workload.guest import Guest, GuestAllocator, gpa

__all__ = ["GpuDriver", "GpuProcess", "HostileGpuDriver"]

_PRESENT = 1
_FANOUT = 512


@dataclass
class GpuProcess:
    """One GPU address space: its tree and where it has grown to."""

    pid: int
    root: int
    #: (parent gfn, index) -> child gfn, for the non-leaf levels.
    links: dict[tuple[int, int], int] = field(default_factory=dict)
    leaves: list[int] = field(default_factory=list)
    #: frame -> entry indices written (so a reused frame can be cleared).
    written: dict[int, set[int]] = field(default_factory=dict)
    next_leaf: int = 0

    def frames(self) -> list[int]:
        """Every table frame of the tree."""
        return [self.root, *self.links.values()]


class GpuDriver:
    """The i915-like guest driver of one vGPU guest."""

    def __init__(
        self,
        guest: Guest,
        rng: random.Random,
        alloc: GuestAllocator,
        *,
        bar_base: int = VGPU_BAR_BASE,
        ptes_per_table: int = 8,
        data_pages: tuple[int, int] = (0x1000, 0x3FFFF),
    ) -> None:
        self.guest = guest
        self.rng = rng
        self.alloc = alloc
        self.bar = bar_base
        self.ptes_per_table = ptes_per_table
        self.data_pages = data_pages
        self.processes: dict[int, GpuProcess] = {}
        self._pids = 0
        self._dirty: dict[int, set[int]] = {}
        self.submissions = 0

    # -- frames -----------------------------------------------------------------

    def _new_table(self, proc: GpuProcess) -> int:
        gfn = self.alloc.take()
        stale = self._dirty.pop(gfn, set())
        for idx in sorted(stale):  # a reused frame: clear what its last owner wrote
            self.guest.write(gpa(gfn, idx), 8, 0)
        proc.written[gfn] = set()
        return gfn

    def _entry(self, proc: GpuProcess, table: int, idx: int, target: int) -> None:
        self.guest.write(gpa(table, idx), 8, (target << 12) | _PRESENT)
        proc.written.setdefault(table, set()).add(idx)

    def _data_page(self) -> int:
        return self.rng.randint(*self.data_pages)

    # -- process lifecycle ----------------------------------------------------------

    def create_process(self, leaves: int = 0) -> GpuProcess:
        """A new address space with ``leaves`` leaf tables."""
        self._pids += 1
        proc = GpuProcess(self._pids, 0)
        proc.root = self._new_table(proc)
        self.processes[proc.pid] = proc
        self.guest.write(self.bar + REG_CREATE, 8, proc.root)
        self.grow(proc, leaves)
        return proc

    def _leaf_slot(self, proc: GpuProcess) -> tuple[int, int, int]:
        """PML4, PDP and PD indices of the next leaf table to add."""
        n = proc.next_leaf
        proc.next_leaf += 1
        return (n // (_FANOUT * _FANOUT)) % _FANOUT, (n // _FANOUT) % _FANOUT, n % _FANOUT

    def _ensure(self, proc: GpuProcess, parent: int, idx: int) -> int:
        child = proc.links.get((parent, idx))
        if child is None:
            child = self._new_table(proc)
            self._entry(proc, parent, idx, child)
            proc.links[(parent, idx)] = child
        return child

    def grow(self, proc: GpuProcess, leaves: int) -> None:
        """Add ``leaves`` leaf tables, each with a few PTEs, linked in last."""
        for _ in range(leaves):
            i4, i3, i2 = self._leaf_slot(proc)
            pdp = self._ensure(proc, proc.root, i4)
            pd = self._ensure(proc, pdp, i3)
            pt = self._new_table(proc)
            for idx in self.rng.sample(range(_FANOUT), self.ptes_per_table):
                self._entry(proc, pt, idx, self._data_page())
            self._entry(proc, pd, i2, pt)
            proc.links[(pd, i2)] = pt
            proc.leaves.append(pt)

    def churn(self, proc: GpuProcess, writes: int) -> None:
        """Rewrite ``writes`` PTEs of existing leaf tables (buffer remaps)."""
        if not proc.leaves:
            return
        for _ in range(writes):
            pt = self.rng.choice(proc.leaves)
            self._entry(proc, pt, self.rng.randrange(_FANOUT), self._data_page())

    def submit(self, proc: GpuProcess) -> None:
        """Run a workload on the process's address space."""
        self.submissions += 1
        self.guest.write(self.bar + REG_SUBMIT, 8, proc.root)

    def destroy_process(self, proc: GpuProcess) -> None:
        """The process exits: the vGPU is told, the frames go back (dirty)."""
        self.guest.write(self.bar + REG_DESTROY, 8, proc.root)
        del self.processes[proc.pid]
        for gfn in proc.frames():
            self._dirty[gfn] = proc.written.get(gfn, set())
        self.alloc.give_back(proc.frames())

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
