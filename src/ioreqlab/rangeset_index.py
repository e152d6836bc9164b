"""A point index for a rangeset that is queried much more than it changes.

A :class:`~ioreqlab.rangeset.RangeSet` answers ``contains_singleton`` with a
binary search over Python int objects: about log₂ n dependent loads, and
once the set outgrows the CPU caches each of them is a cache miss.  For a
set that stops changing (an emulator's port and MMIO ranges, a guest's
write-protected pages between bursts) it builds this index, a snapshot in
flat machine-word arrays.

The span from the lowest start to the highest end is cut into up to 4n
buckets of 2**shift values each (2n to 4n unless the ranges are packed so
tightly that one value per bucket is already fewer).  So many buckets keep
most of them down to one candidate range even when ranges are scattered at
random.  ``buckets[2k], buckets[2k+1]`` describe
bucket ``k``:

* the start and end, as offsets from the lowest start, of the one range
  that can hold a value of the bucket (the common case: one cache line to
  read, then two comparisons).  Offsets take 32 bits when the span allows,
  halving the memory a query can miss in;
* ``(0, 0)`` when no range reaches the bucket (bucket 0 always holds the
  lowest start, and no other bucket holds offset 0);
* ``(1, 0)`` when several do: ``crowded[2k]`` then gives the first and last
  candidate, bisected in the ``starts`` and ``ends`` arrays of all ranges.

A query is a shift and one pair of loads whatever n is, plus a short bisect
in crowded buckets.  The index is a snapshot: the rangeset drops it on any
change and builds a new one only after enough queries without a change to
pay for the build (see ``RangeSet.contains_singleton``).

>>> idx = PointIndex([(0, 2), (8, 10), (1000, 1000)])
>>> [x for x in range(1002) if idx.contains(x)]
[0, 1, 2, 8, 9, 10, 1000]
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from typing import Self

#: ``buckets`` entries: no candidate, several candidates.
EMPTY = (0, 0)
CROWDED = (1, 0)


class PointIndex:
    """The flat snapshot of sorted, disjoint inclusive ``ranges`` (non-empty)."""

    __slots__ = ("base", "buckets", "crowded", "ends", "limit", "shift", "starts")

    def __init__(self, ranges: Sequence[tuple[int, int]]) -> None:
        self._build(array("Q", [s for s, _ in ranges]), array("Q", [e for _, e in ranges]))

    @classmethod
    def from_columns(cls, starts: Iterable[int], ends: Iterable[int]) -> Self:
        """The index of ranges given as their starts and their ends, both ascending.

        RangeSet builds from its blocks this way: no tuple per range.
        """
        idx = cls.__new__(cls)
        idx._build(array("Q", starts), array("Q", ends))
        return idx

    def _build(self, starts: array[int], ends: array[int]) -> None:
        n = len(starts)
        if n == 0 or len(ends) != n:
            raise ValueError("a point index needs at least one range, and one end per start")
        self.starts = starts
        self.ends = ends
        self.base = base = starts[0]
        span = ends[-1] - base + 1
        # Buckets of 2**shift values, at most span/2n wide: up to 4n buckets.
        self.shift = shift = max(0, (span // n).bit_length() - 2)
        nb = ((span - 1) >> shift) + 1
        self.limit = 2 * nb
        # One pass over the ranges, in order: a range fills the buckets it
        # touches with its bounds; a bucket that the previous range already
        # touches becomes crowded, listing its first and last candidate.
        code = "I" if span <= 1 << 32 else "Q"
        buckets = array(code, bytes(2 * nb * array(code).itemsize))  # all EMPTY
        crowded: dict[int, tuple[int, int]] = {}
        prev_last = -1
        for j, (s, e) in enumerate(zip(starts, ends, strict=True)):
            k = (s - base) >> shift
            last = (e - base) >> shift
            if k == prev_last:
                k2 = k << 1
                crowded[k2] = (crowded[k2][0] if k2 in crowded else j - 1, j)
                buckets[k2] = CROWDED[0]
                buckets[k2 + 1] = CROWDED[1]
                k += 1
            if k == last:
                buckets[2 * k] = s - base
                buckets[2 * k + 1] = e - base
            elif k < last:
                buckets[2 * k : 2 * last + 2] = array(code, (s - base, e - base)) * (last - k + 1)
            prev_last = last
        self.buckets = buckets
        self.crowded = crowded

    def contains(self, x: int) -> bool:
        """True iff a range of the snapshot holds ``x`` (an int, any value).

        ``RangeSet.contains_singleton`` inlines this; keep the two in step.
        """
        d = x - self.base
        k = (d >> self.shift) << 1
        if k < 0 or k >= self.limit:
            return False
        s = self.buckets[k]
        e = self.buckets[k + 1]
        if s <= e:
            return s <= d <= e
        j, hi = self.crowded[k]
        j = bisect_right(self.starts, x, j, hi + 1) - 1
        return j >= 0 and self.starts[j] <= x <= self.ends[j]

    def nbytes(self) -> int:
        """Bytes held by the arrays (the model's memory, not Xen heap; the
        crowded-bucket dict is not counted)."""
        return sum(a.itemsize * len(a) for a in (self.starts, self.ends, self.buckets))
