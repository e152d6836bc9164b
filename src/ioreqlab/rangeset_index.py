"""A point index for a rangeset that is queried much more than it changes.

A :class:`~ioreqlab.rangeset.RangeSet` answers ``contains_singleton`` with a
binary search over Python int objects: about log₂ n dependent loads, and
once the set outgrows the CPU caches each of them is a cache miss.  For a
set that stops changing (an emulator's port and MMIO ranges, a guest's
write-protected pages between bursts) it builds this index, a snapshot in
three flat machine-word arrays:

* ``starts`` and ``ends``: every stored range, ascending;
* ``first`` and ``last``: the span from the lowest start to the highest end
  cut into n to 2n buckets of 2**shift values each; ``first[k]`` is the
  first range whose end reaches bucket ``k`` and ``last[k]`` the last one
  starting at or before its end.  The one range that can hold ``x`` is the
  last one starting at or below ``x`` among ``first[k] .. last[k]``: no
  candidate, one, or (for crowded buckets) a few to bisect.

A query is then a shift, two array loads and, for a crowded bucket,
a search over its few candidates: a constant number of memory touches whatever n is.  The index
is a snapshot: the rangeset drops it on any change and builds a new one only
after enough queries without a change to pay for the build (see
``RangeSet.contains_singleton``).

>>> idx = PointIndex([(0, 2), (8, 10), (1000, 1000)])
>>> [x for x in range(1002) if idx.contains(x)]
[0, 1, 2, 8, 9, 10, 1000]
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate


class PointIndex:
    """The flat snapshot of sorted, disjoint inclusive ``ranges`` (non-empty)."""

    __slots__ = ("base", "ends", "first", "last", "nbuckets", "shift", "starts")

    def __init__(self, ranges: Sequence[tuple[int, int]]) -> None:
        n = len(ranges)
        if n == 0:
            raise ValueError("a point index needs at least one range")
        self.starts = starts = array("Q", [s for s, _ in ranges])
        self.ends = ends = array("Q", [e for _, e in ranges])
        self.base = base = starts[0]
        span = ends[-1] - base + 1
        # Buckets of 2**shift values, at most span/n wide: n to 2n buckets.
        self.shift = shift = max(0, (span // n).bit_length() - 1)
        self.nbuckets = nb = ((span - 1) >> shift) + 1
        ending = [0] * nb  # ranges ending in bucket k
        starting = [0] * nb  # ranges starting in bucket k
        for e in ends:
            ending[(e - base) >> shift] += 1
        for s in starts:
            starting[(s - base) >> shift] += 1
        # first[k]: ranges ending before bucket k; last[k]: ranges starting
        # in or before bucket k, less one.
        # Positions fit 32 bits below 2**31 ranges: half the memory to miss in.
        code = "i" if n < 1 << 31 else "q"
        self.first = array(code, accumulate(ending[:-1], initial=0))
        self.last = array(code, (c - 1 for c in accumulate(starting)))

    def contains(self, x: int) -> bool:
        """True iff a range of the snapshot holds ``x`` (an int, any value).

        ``RangeSet.contains_singleton`` inlines this; keep the two in step.
        """
        k = (x - self.base) >> self.shift
        if k < 0 or k >= self.nbuckets:
            return False
        j = self.first[k]
        hi = self.last[k]
        if j < hi:
            j = bisect_right(self.starts, x, j, hi + 1) - 1
        # With no candidate (j > hi) range j starts after the bucket; after
        # the bisect j may be one below first[k], a range ending before it.
        # Either way the bounds below say no (even for j = -1, the last range).
        return self.ends[j] >= x and self.starts[j] <= x

    def nbytes(self) -> int:
        """Bytes held by the four arrays (the model's memory, not Xen heap)."""
        return sum(a.itemsize * len(a) for a in (self.starts, self.ends, self.first, self.last))
