"""The structures the rangeset benchmark compares, behind one small adapter.

Each adapter builds from canonical inclusive ranges and offers a point query,
an add and a remove of an inclusive range.  Only ``RangeSet`` and the
linked-list port have Xen's semantics (limits, exact node accounting); the
others are the "what would a library give us" baselines the issue names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import portion
from intervaltree import IntervalTree
from sortedcontainers import SortedList

from ioreqlab.rangeset import RangeSet
from ioreqlab.rangeset_ref import LinkedListRangeSet

Ranges = list[tuple[int, int]]


@dataclass(frozen=True)
class Ops:
    """Bound operations on one built structure."""

    query: Callable[[int], object]
    add: Callable[[int, int], object]
    remove: Callable[[int, int], object]


@dataclass(frozen=True)
class Adapter:
    """How to build one structure and bind its operations."""

    name: str
    build: Callable[[Ranges], Ops]
    max_size: int


class SortedListRangeSet:
    """A merging rangeset on ``sortedcontainers``: sorted starts plus a start→end dict.

    Written for the comparison only: merge on add, split on remove, no limits.
    """

    def __init__(self, ranges: Ranges) -> None:
        self.starts = SortedList(s for s, _ in ranges)
        self.end = dict(ranges)

    def _pred(self, x: int) -> int | None:
        i = self.starts.bisect_right(x)
        return None if i == 0 else int(self.starts[i - 1])

    def contains(self, x: int) -> bool:
        s = self._pred(x)
        return s is not None and self.end[s] >= x

    def add(self, s: int, e: int) -> None:
        p = self._pred(s)
        if p is not None and self.end[p] + 1 >= s:
            s, e = p, max(e, self.end[p])
            self.starts.remove(p)
            del self.end[p]
        for t in list(self.starts.irange(s, e + 1)):
            e = max(e, self.end.pop(t))
            self.starts.remove(t)
        self.starts.add(s)
        self.end[s] = e

    def remove(self, s: int, e: int) -> None:
        p = self._pred(s)
        if p is not None and self.end[p] >= s:
            pe = self.end[p]
            if p < s:
                self.end[p] = s - 1
            else:
                self.starts.remove(p)
                del self.end[p]
            if pe > e:
                self.starts.add(e + 1)
                self.end[e + 1] = pe
        for t in list(self.starts.irange(s, e)):
            te = self.end.pop(t)
            self.starts.remove(t)
            if te > e:
                self.starts.add(e + 1)
                self.end[e + 1] = te


class _PortionBox:
    """portion intervals are immutable values: keep the current one in a box."""

    def __init__(self, ranges: Ranges) -> None:
        self.iv = portion.Interval(*(portion.closed(s, e) for s, e in ranges))

    def contains(self, x: int) -> bool:
        return x in self.iv

    def add(self, s: int, e: int) -> None:
        self.iv = self.iv | portion.closed(s, e)

    def remove(self, s: int, e: int) -> None:
        self.iv = self.iv - portion.closed(s, e)


def _rangeset(r: Ranges) -> Ops:
    o = RangeSet.from_ranges(r)
    return Ops(o.contains_singleton, o.add_range, o.remove_range)


def _linked(r: Ranges) -> Ops:
    o = LinkedListRangeSet.from_ranges(r)
    return Ops(o.contains_singleton, o.add_range, o.remove_range)


def _sorted(r: Ranges) -> Ops:
    o = SortedListRangeSet(r)
    return Ops(o.contains, o.add, o.remove)


def _itree(r: Ranges) -> Ops:
    # intervaltree is half-open: [s, e] is Interval(s, e + 1).
    o = IntervalTree.from_tuples((s, e + 1) for s, e in r)
    return Ops(o.overlaps_point, lambda s, e: o.addi(s, e + 1), lambda s, e: o.chop(s, e + 1))


def _portion(r: Ranges) -> Ops:
    o = _PortionBox(r)
    return Ops(o.contains, o.add, o.remove)


def _noop1(x: int) -> None:
    return None


def _noop2(s: int, e: int) -> None:
    return None


#: The loop with a do-nothing operation: what every other figure is net of.
BASELINE_OPS = Ops(_noop1, _noop2, _noop2)

ADAPTERS: list[Adapter] = [
    Adapter("RangeSet", _rangeset, max_size=10**7),
    Adapter("sortedcontainers", _sorted, max_size=10**7),
    Adapter("intervaltree", _itree, max_size=10**7),
    Adapter("portion", _portion, max_size=65536),  # ~10 s per change at 10**6
    Adapter("linked list (Xen)", _linked, max_size=65536),
]
