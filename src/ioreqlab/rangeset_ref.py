"""The reference rangeset: Xen's sorted doubly-linked list, step for step.

Theory of operation
-------------------
This is the structure ``xen/common/rangeset.c`` ships (4.6 … HEAD): a sorted
doubly-linked list of ``struct range`` nodes, searched by a linear walk
(``find_range`` returns the highest node whose start is <= x).  Its add and
remove follow Xen's sequence of steps — find ``x`` for ``s`` and ``y`` for
``e``, allocate or extend, swallow the covered nodes, merge the next one if
adjacent — so its node budget moves exactly as Xen's ``nr_ranges`` does.

It is slow by design (O(n) per call, as in Xen) and exists for two reasons:
the property tests drive it and :class:`ioreqlab.rangeset.RangeSet` with the
same calls and require identical results, and the benchmarks measure what the
linked list costs at 8192 ranges — George Dunlap's "walking 8000 nodes".

One deliberate difference from 4.6–4.20: the multi-range branch of remove
truncates the lower range only when it really overlaps (the fix of
``e118fc98e7``, 4.21); SPEC.md asks for the fixed behaviour.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Self

from ioreqlab.rangeset import RangeSetBase, _check_range, _check_value

__all__ = ["LinkedListRangeSet"]


class _Node:
    """``struct range``: list links plus an inclusive ``[s, e]``."""

    __slots__ = ("e", "next", "prev", "s")

    def __init__(self, s: int, e: int) -> None:
        self.s = s
        self.e = e
        self.prev: _Node | None = None
        self.next: _Node | None = None


class LinkedListRangeSet(RangeSetBase):
    """A literal port of Xen's linked-list rangeset (same API as ``RangeSet``).

    >>> r = LinkedListRangeSet("ref", limit=2)
    >>> r.add_range(0, 1); r.add_range(4, 5); r.add_range(8, 9)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    ioreqlab.errors.XenENOMEM: [Errno 12] Cannot allocate memory: ... (limit reached)
    >>> r.add_range(1, 4); r.ranges()
    [(0, 5)]
    """

    __slots__ = ("_count", "_head", "_tail", "nodes_walked")

    def _reset_storage(self) -> None:
        self._head: _Node | None = None
        self._tail: _Node | None = None
        self._count = 0
        #: Nodes visited by find_range so far: the cost Xen's walk pays.
        self.nodes_walked = 0

    @property
    def nr_ranges(self) -> int:
        """Number of stored (disjoint, maximal) ranges."""
        return self._count

    # -- list primitives (Xen: find_range, insert_range, destroy_range) --

    def _find_range(self, x: int) -> _Node | None:
        found = None
        node = self._head
        while node is not None and node.s <= x:
            self.nodes_walked += 1
            found = node
            node = node.next
        return found

    def _insert_after(self, prev: _Node | None, node: _Node) -> None:
        nxt = self._head if prev is None else prev.next
        node.prev, node.next = prev, nxt
        if prev is None:
            self._head = node
        else:
            prev.next = node
        if nxt is None:
            self._tail = node
        else:
            nxt.prev = node
        self._count += 1

    def _unlink(self, node: _Node) -> None:
        if node.prev is None:
            self._head = node.next
        else:
            node.prev.next = node.next
        if node.next is None:
            self._tail = node.prev
        else:
            node.next.prev = node.prev
        self._count -= 1

    def _destroy(self, node: _Node) -> None:
        self._unlink(node)
        self._free_nodes(1)

    def _new_node(self, s: int, e: int) -> _Node:
        self._alloc_node()
        return _Node(s, e)

    def _load(self, ranges: list[tuple[int, int]]) -> None:
        for s, e in ranges:
            self._insert_after(self._tail, _Node(s, e))

    # -- Xen's operations ----------------------------------------------

    def add_range(self, s: int, e: int) -> None:
        """Xen's ``rangeset_add_range``, step for step."""
        _check_range(s, e)
        x = self._find_range(s)
        y = self._find_range(e)
        if x is y:
            if x is None or (x.e < s and x.e + 1 != s):
                node = self._new_node(s, e)
                self._insert_after(y, node)
                x = node
            elif x.e < e:
                x.e = e
        else:
            assert y is not None  # x is not y, so y found a node
            if x is None:
                x = self._head
                assert x is not None
                x.s = s
            elif x.e < s and x.e + 1 != s:
                x = x.next
                assert x is not None
                x.s = s
            x.e = max(y.e, e)
            while True:
                nxt = x.next
                if nxt is None or nxt.e > x.e:
                    break
                self._destroy(nxt)
        nxt = x.next
        if nxt is not None and x.e + 1 == nxt.s:
            x.e = nxt.e
            self._destroy(nxt)

    def remove_range(self, s: int, e: int) -> None:
        """Xen's ``rangeset_remove_range`` with the 4.21 fix applied."""
        _check_range(s, e)
        x = self._find_range(s)
        y = self._find_range(e)
        if x is y:
            if x is None or x.e < s:
                return
            if x.s < s and x.e > e:
                node = self._new_node(e + 1, x.e)
                x.e = s - 1
                self._insert_after(x, node)
            elif x.s == s and x.e <= e:
                self._destroy(x)
            elif x.s == s:
                x.s = e + 1
            elif x.e <= e:
                x.e = s - 1
            return
        assert y is not None
        if x is None:
            x = self._head
        elif x.e >= s:
            # The fix: only a lower range that reaches s is truncated.
            if x.s < s:
                x.e = s - 1
                x = x.next
        else:
            x = x.next
        while x is not y:
            assert x is not None
            nxt = x.next
            self._destroy(x)
            x = nxt
        assert y is not None
        if y.e <= e:
            self._destroy(y)
        else:
            y.s = e + 1

    def contains_range(self, s: int, e: int) -> bool:
        """True iff one stored range covers ``[s, e]`` (linear walk)."""
        _check_range(s, e)
        x = self._find_range(s)
        return x is not None and x.e >= e

    def contains_singleton(self, x: int) -> bool:
        """True iff ``x`` is stored (linear walk)."""
        _check_value("value", x)
        node = self._find_range(x)
        return node is not None and node.e >= x

    def overlaps_range(self, s: int, e: int) -> bool:
        """True iff any stored range intersects ``[s, e]`` (linear walk)."""
        _check_range(s, e)
        x = self._find_range(e)
        return x is not None and x.e >= s

    def report_ranges(self, s: int, e: int) -> Iterator[tuple[int, int]]:
        """Clipped ranges meeting ``[s, e]``, ascending."""
        _check_range(s, e)
        return self._report(s, e)

    def _report(self, s: int, e: int) -> Iterator[tuple[int, int]]:
        node = self._find_range(s)
        node = self._head if node is None else node
        while node is not None and node.s <= e:
            if node.e >= s:
                yield max(node.s, s), min(node.e, e)
            node = node.next

    def __iter__(self) -> Iterator[tuple[int, int]]:
        node = self._head
        while node is not None:
            yield node.s, node.e
            node = node.next

    def swap(self, other: Self) -> None:
        """Exchange lists with ``other``; budgets stay put."""
        self._check_swap(other)
        self._head, other._head = other._head, self._head
        self._tail, other._tail = other._tail, self._tail
        self._count, other._count = other._count, self._count
        self._after_swap(other)
