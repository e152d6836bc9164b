"""Rangesets with exactly Xen's semantics, fast at every size.

Rules (``xen/common/rangeset.c``, xen-facts §1)
------------------------------------------------
1. A rangeset is a set of integers in ``0 .. 2**64-1`` stored as *inclusive*
   ranges ``[s, e]``, kept canonical: sorted, disjoint, and never adjacent —
   ``[a, b]`` and ``[b+1, c]`` always merge into ``[a, c]``.
2. Every stored range is one heap *node*.  A rangeset may carry a budget of
   nodes (``rangeset_limit``).  A node is spent exactly when Xen allocates
   one: adding a range that touches nothing at or below its start and no
   range starting inside it (even if it then merges upwards with the next
   range: Xen allocates first and merges after), or removing from the middle
   of a range (a split).  Freed nodes give budget back.  With the budget at 0
   those calls fail with ``-ENOMEM`` and change nothing.
3. Errors are atomic: a failed call leaves the set, its budget and its heap
   charge exactly as they were.
4. Bad arguments (``s > e``, a value outside 64 bits) are ``-EINVAL`` before
   anything is looked at (XSA-238's lesson).  The 4.6–4.20 ``remove_range``
   bug (§1.5) is *not* reproduced.

Theory of operation
-------------------
Xen keeps one sorted doubly-linked list and walks it (``find_range``), so a
lookup costs O(n).  That is faithful but useless at a million ranges; the
literal port lives in :mod:`ioreqlab.rangeset_ref` as a reference that the
same tests drive.  :class:`RangeSet` stores the same canonical ranges in a
*blocked sorted list* (the idea of ``sortedcontainers``): a list of blocks,
each two parallel sorted Python lists of starts and ends holding at most
``2 * LOAD`` ranges, plus a list of each block's first start.  A point query
is two ``bisect`` calls; an add or remove is two bisects, a splice inside one
block (a memmove of at most ``2 * LOAD`` pointers) and occasionally a block
split or deletion.

Xen's add/remove are stated in terms of its list walk; here they are computed
from the same facts (which ranges touch ``[s, e]``, which one lies below
``s``), and the node accounting follows Xen's allocate/destroy sequence.  The
reference port executes Xen's own sequence; property tests check that both
always agree, node budget included.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from enum import Enum
from typing import Self

from ioreqlab.abi.constants import UINT32_MAX, UINT64_MAX
from ioreqlab.alloc import Allocator, CountingAllocator, tlsf_cost
from ioreqlab.errors import XenEINVAL, XenENOMEM

__all__ = ["NodeLayout", "RangeSet", "RangeSetBase"]

#: Names are copied into ``char name[32]`` by ``safe_strcpy``: 31 bytes and a NUL.
_NAME_MAX = 31


class NodeLayout(Enum):
    """How big one stored range is in Xen's heap.

    ``LIST`` is what Xen ships: ``struct range`` = ``list_head`` + ``s`` + ``e``,
    32 bytes (48 with the TLSF header).  ``RBTREE`` is the 40-byte red-black
    node of the seed series' rangeset rework (64 with the header).
    """

    LIST = 32
    RBTREE = 40

    @property
    def payload(self) -> int:
        """``sizeof`` the node struct on x86_64."""
        return int(self.value)

    @property
    def heap_cost(self) -> int:
        """Heap bytes one node takes, TLSF header and rounding included."""
        return tlsf_cost(self.payload)


def _check_value(name: str, v: int) -> None:
    if type(v) is not int:
        raise XenEINVAL(f"{name} must be an integer, not {type(v).__name__}")
    if not 0 <= v <= UINT64_MAX:
        raise XenEINVAL(f"{name}={v} is outside 0..2**64-1")


def _check_range(s: int, e: int) -> None:
    _check_value("start", s)
    _check_value("end", e)
    if s > e:
        raise XenEINVAL(f"start {s:#x} > end {e:#x}")


class RangeSetBase:
    """What every rangeset implementation shares: arguments, budget, heap, printing.

    Subclasses store the ranges; this class owns Xen's ``nr_ranges`` counter
    (here :attr:`budget`), the heap charge, the name and the print format.
    """

    __slots__ = (
        "_alloc", "_base", "_budget", "_hex", "_layout", "_name", "_name_bytes", "_node_cost",
    )  # fmt: skip

    def __init__(
        self,
        name: str | None = None,
        *,
        limit: int | None = None,
        hex: bool = False,
        structure: NodeLayout | str = NodeLayout.LIST,
        allocator: Allocator | None = None,
    ) -> None:
        # safe_strcpy cuts at 31 *bytes* (of UTF-8 here), even inside a character;
        # the bytes are kept for printing, and a readable form for messages.
        raw = ("(no name)" if name is None else str(name)).encode("utf-8", "surrogatepass")
        self._name_bytes = raw[:_NAME_MAX]
        self._name = self._name_bytes.decode("utf-8", "replace")
        self._hex = bool(hex)
        if isinstance(structure, str):
            try:
                structure = NodeLayout[structure.upper()]
            except KeyError:
                raise XenEINVAL(f"unknown rangeset structure {structure!r}") from None
        self._layout = structure
        self._node_cost = structure.heap_cost
        self._alloc: Allocator = CountingAllocator() if allocator is None else allocator
        self._reset_storage()
        # Xen's nr_ranges: -1 = unlimited, decremented per node allocated,
        # incremented per node freed; allocation refused only at exactly 0.
        self._budget = -1
        # budget + stored ranges stays equal to this; it is what check_invariants tests.
        self._base = -1
        if limit is not None:
            self.limit(limit)

    # -- identity and accounting ---------------------------------------

    @property
    def name(self) -> str:
        """The name as Xen stores it, readable (``"(no name)"`` for None).

        Xen keeps at most 31 bytes; a character cut there reads as U+FFFD
        (:attr:`name_bytes` has the bytes themselves).
        """
        return self._name

    @property
    def name_bytes(self) -> bytes:
        """The name's bytes, as Xen's ``char name[32]`` holds them (31 at most)."""
        return self._name_bytes

    @property
    def structure(self) -> NodeLayout:
        """The node layout whose heap cost is charged."""
        return self._layout

    @property
    def budget(self) -> int | None:
        """Nodes that may still be allocated, or None when unlimited."""
        return self._budget if self._budget >= 0 else None

    @property
    def nr_ranges(self) -> int:
        """Number of stored (disjoint, maximal) ranges."""
        raise NotImplementedError

    @property
    def bytes_in_use(self) -> int:
        """Heap bytes taken by the stored nodes."""
        return self.nr_ranges * self._node_cost

    def limit(self, n: int) -> None:
        """Set the node budget to ``n`` outright (``rangeset_limit``).

        Xen means this for an empty set; on a non-empty one the stored nodes
        are not subtracted, and freeing them later raises the budget above
        ``n`` — modelled as is.

        ``n`` is an ``unsigned int`` in Xen (``rangeset_limit(struct rangeset *,
        unsigned int)``): a value of 2**32 or more cannot reach it, because C
        converts it modulo 2**32 at the call.  The model refuses such a value
        (and a negative one) with ``-EINVAL`` rather than keep a wrapped budget
        silently — a deliberate deviation (docs/deviations.md).
        """
        if type(n) is not int or not 0 <= n <= UINT32_MAX:
            raise XenEINVAL(f"rangeset limit {n!r} is outside 0..2**32-1")
        self._budget = n
        self._base = n + self.nr_ranges

    def is_empty(self) -> bool:
        """True if no range is stored."""
        return self.nr_ranges == 0

    def _alloc_node(self) -> None:
        """Xen's ``alloc_range``: the budget first, then the heap."""
        if self._budget == 0:
            raise XenENOMEM(f"rangeset '{self._name}' has no node left (limit reached)")
        if not self._alloc.allocate(self._node_cost):
            raise XenENOMEM(f"Xen heap exhausted allocating a node for '{self._name}'")
        self._budget -= 1

    def _free_nodes(self, k: int) -> None:
        """Xen's ``destroy_range``, ``k`` times."""
        if k:
            self._alloc.free(k * self._node_cost)
            self._budget += k

    @classmethod
    def from_ranges(
        cls,
        ranges: Iterable[tuple[int, int]],
        name: str | None = None,
        *,
        limit: int | None = None,
        hex: bool = False,
        structure: NodeLayout | str = NodeLayout.LIST,
        allocator: Allocator | None = None,
    ) -> Self:
        """Build a rangeset holding ``ranges`` (sorted, disjoint, non-adjacent).

        The same result as adding each range in turn to an empty set with
        ``limit``, but without the per-call search: ``O(n)``.  Input that is not
        canonical is ``-EINVAL``; more ranges than ``limit`` or than the heap
        grants is ``-ENOMEM`` with nothing left allocated.

        >>> RangeSet.from_ranges([(0, 1), (5, 9)]).ranges()
        [(0, 1), (5, 9)]
        """
        self = cls(name, limit=limit, hex=hex, structure=structure, allocator=allocator)
        checked: list[tuple[int, int]] = []
        prev_e = -2
        for s, e in ranges:
            _check_range(s, e)
            if s <= prev_e + 1:
                raise XenEINVAL(f"range [{s:#x}, {e:#x}] is not above and apart from the last")
            checked.append((s, e))
            prev_e = e
        granted = 0
        try:
            for _ in checked:
                self._alloc_node()
                granted += 1
        except XenENOMEM:
            self._free_nodes(granted)
            raise
        self._load(checked)
        return self

    def _load(self, ranges: list[tuple[int, int]]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _reset_storage(self) -> None:  # pragma: no cover - abstract
        """Make the (empty) storage; called once by ``__init__``."""
        raise NotImplementedError

    # -- singletons and the rest of the API ----------------------------

    def add_range(self, s: int, e: int) -> None:  # pragma: no cover - abstract
        """Add ``[s, e]`` (see subclass)."""
        raise NotImplementedError

    def remove_range(self, s: int, e: int) -> None:  # pragma: no cover - abstract
        """Remove ``[s, e]`` (see subclass)."""
        raise NotImplementedError

    def contains_range(self, s: int, e: int) -> bool:  # pragma: no cover - abstract
        """True iff one stored range covers ``[s, e]`` (see subclass)."""
        raise NotImplementedError

    def overlaps_range(self, s: int, e: int) -> bool:  # pragma: no cover - abstract
        """True iff any stored range meets ``[s, e]`` (see subclass)."""
        raise NotImplementedError

    def report_ranges(self, s: int, e: int) -> Iterator[tuple[int, int]]:  # pragma: no cover
        """Clipped stored ranges meeting ``[s, e]`` (see subclass)."""
        raise NotImplementedError

    def swap(self, other: Self) -> None:  # pragma: no cover - abstract
        """Exchange contents with ``other`` (see subclass)."""
        raise NotImplementedError

    def purge(self) -> None:
        """Drop every range and free every node (``rangeset_purge``, 4.19).

        Never fails: removing a span that covers everything splits nothing.
        """
        if not self.is_empty():
            first = next(iter(self))[0]
            self.remove_range(first, self._last_value())

    def _last_value(self) -> int:
        """The highest stored value (the set must not be empty); O(n) here."""
        last = -1
        for _, e in self:
            last = e
        return last

    def add_singleton(self, x: int) -> None:
        """``add_range(x, x)``."""
        self.add_range(x, x)

    def remove_singleton(self, x: int) -> None:
        """``remove_range(x, x)``."""
        self.remove_range(x, x)

    def contains_singleton(self, x: int) -> bool:  # pragma: no cover - abstract
        """``contains_range(x, x)`` (each implementation has its own, faster one)."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[tuple[int, int]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def ranges(self) -> list[tuple[int, int]]:
        """All stored ranges, ascending."""
        return list(self)

    def __len__(self) -> int:
        return self.nr_ranges

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self}>"

    def __str__(self) -> str:
        """``rangeset_printk``: ``name`` in 10 columns, then ``{ s-e, x }``.

        >>> r = RangeSet("ioreq_server 1 memory", hex=True)
        >>> r.add_range(0xf0000000, 0xf0000fff); r.add_singleton(0xf0002000)
        >>> str(r)
        'ioreq_server 1 memory { f0000000-f0000fff, f0002000 }'
        >>> str(RangeSet("pci"))
        'pci        { }'
        """
        return self.printk_bytes().decode("utf-8", "replace")

    def printk_bytes(self) -> bytes:
        """``rangeset_printk``'s exact bytes: ``%-10s`` pads the name's *bytes*."""
        fmt = "x" if self._hex else "d"
        parts = [f" {s:{fmt}}" if s == e else f" {s:{fmt}}-{e:{fmt}}" for s, e in self]
        pad = b" " * max(0, 10 - len(self._name_bytes))
        return self._name_bytes + pad + f" {{{','.join(parts)} }}".encode()

    def _check_swap(self, other: RangeSetBase) -> None:
        """Before a swap: move the nodes' heap charges with the nodes.

        ``rangeset_swap`` swaps any two rangesets and cannot fail: in Xen all
        nodes live in one heap.  Here each set charges its own allocator (a
        domain's account) at its own node cost, so each side is charged for
        the nodes it receives and refunded for those it gives.  Growth is
        charged first; if an allocator refuses, ``-ENOMEM`` and nothing has
        changed (only possible between different accounts or layouts).
        """
        if type(other) is not type(self):
            raise XenEINVAL("rangeset swap needs two rangesets of the same implementation")
        if other._alloc is self._alloc and other._node_cost == self._node_cost:
            return
        grow_self = (other.nr_ranges - self.nr_ranges) * self._node_cost
        grow_other = (self.nr_ranges - other.nr_ranges) * other._node_cost
        if grow_self > 0 and not self._alloc.allocate(grow_self):
            raise XenENOMEM(f"{self._name}: cannot take {other.nr_ranges} swapped nodes")
        # The two growths have opposite signs: when the other side is refused,
        # this side has not grown, so there is nothing to give back.
        if grow_other > 0 and not other._alloc.allocate(grow_other):
            raise XenENOMEM(f"{other._name}: cannot take {self.nr_ranges} swapped nodes")
        if grow_self < 0:
            self._alloc.free(-grow_self)
        if grow_other < 0:
            other._alloc.free(-grow_other)

    def _after_swap(self, other: RangeSetBase) -> None:
        # Budgets stay where they were (xen-facts §1.2); the bookkeeping base follows.
        self._base = self._budget + self.nr_ranges
        other._base = other._budget + other.nr_ranges

    def check_invariants(self) -> None:
        """Assert canonical form and budget accounting (for tests; O(n)).

        Raises AssertionError on the first broken rule.
        """
        prev_e = -2
        count = 0
        for s, e in self:
            assert 0 <= s <= e <= UINT64_MAX, f"bad range [{s}, {e}]"
            assert s > prev_e + 1, f"range [{s}, {e}] overlaps or touches its predecessor"
            prev_e = e
            count += 1
        assert count == self.nr_ranges, f"nr_ranges {self.nr_ranges} != {count} stored"
        assert self._budget + count == self._base, "node budget out of step with stored nodes"
        # No "a limited set's budget is never negative": rangeset_swap keeps each
        # set's nr_ranges counter while the nodes move, so after a swap between
        # sets of different sizes a counter may sit below zero (unlimited) and
        # reach 0 — a limit of nothing — once its new nodes are freed, as in Xen.


class RangeSet(RangeSetBase):
    """Xen's rangeset on a blocked sorted list: O(log n) for every operation.

    Methods for changing: :meth:`add_range`, :meth:`remove_range`,
    :meth:`add_singleton`, :meth:`remove_singleton`, :meth:`limit`,
    :meth:`swap`.  Queries: :meth:`contains_range`, :meth:`overlaps_range`,
    :meth:`report_ranges`, :meth:`contains_singleton`, :meth:`is_empty`,
    :attr:`nr_ranges`, :attr:`budget`, :attr:`bytes_in_use`.

    Runtime complexity: ``O(log n)`` per query; ``O(log n + LOAD + k)`` per
    change that merges or drops ``k`` ranges.

    >>> r = RangeSet("demo", limit=2)
    >>> r.add_range(0x10, 0x1f); r.add_range(0x30, 0x3f)
    >>> r.add_range(0x50, 0x5f)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    ioreqlab.errors.XenENOMEM: [Errno 12] Cannot allocate memory: ... (limit reached)
    >>> r.add_range(0x20, 0x2f); r.ranges(), r.budget
    ([(16, 63)], 1)

    :param name: shown by ``str()``; truncated to 31 characters.
    :param limit: node budget (``rangeset_limit``); None = unlimited.
    :param hex: print numbers in hex (``RANGESETF_prettyprint_hex``).
    :param structure: node layout charged to the heap, ``"list"`` or ``"rbtree"``.
    :param allocator: where node costs are charged (default: a counter).
    """

    __slots__ = ("_count", "_ends", "_firsts", "_starts")

    #: Target block size of the blocked list; a block splits at twice this.
    #: (Tests shrink it in a subclass to exercise splits and block deletion.)
    LOAD = 512

    def _reset_storage(self) -> None:
        self._starts: list[list[int]] = []
        self._ends: list[list[int]] = []
        self._firsts: list[int] = []
        self._count = 0

    @property
    def nr_ranges(self) -> int:
        """Number of stored (disjoint, maximal) ranges."""
        return self._count

    # -- positions -----------------------------------------------------
    # A position is (block, index).  _find(x) gives the highest range whose
    # start is <= x, as Xen's find_range does, or (-1, -1) when there is none.

    def _find(self, x: int) -> tuple[int, int]:
        b = bisect_right(self._firsts, x) - 1
        if b < 0:
            return -1, -1
        return b, bisect_right(self._starts[b], x) - 1

    def _after(self, b: int, i: int) -> tuple[int, int]:
        """The position following (b, i), or the first one when b < 0.

        The result may be one past the end of the last block.
        """
        if b < 0:
            return 0, 0
        if i + 1 < len(self._starts[b]):
            return b, i + 1
        return b + 1, 0

    def _run(self, b: int, i: int, bound: int) -> tuple[int, int]:
        """Count ranges from (b, i) on whose start is <= bound; also the last end."""
        starts, ends = self._starts, self._ends
        k = 0
        last_e = -1
        nblocks = len(starts)
        while b < nblocks:
            blk_s = starts[b]
            j = bisect_right(blk_s, bound, i)
            if j > i:
                k += j - i
                last_e = ends[b][j - 1]
            if j < len(blk_s):
                break
            b, i = b + 1, 0
        return k, last_e

    def _splice(self, b: int, i: int, k: int, new: list[tuple[int, int]]) -> None:
        """Replace the ``k`` ranges from position (b, i) with ``new`` (in order)."""
        starts, ends, firsts = self._starts, self._ends, self._firsts
        if not starts:
            starts.append([])
            ends.append([])
            firsts.append(0)
        blk_s, blk_e = starts[b], ends[b]
        take = min(k, len(blk_s) - i)
        blk_s[i : i + take] = [s for s, _ in new]
        blk_e[i : i + take] = [e for _, e in new]
        rest = k - take
        nb = b + 1
        while rest:
            n = len(starts[nb])
            if rest >= n:
                del starts[nb], ends[nb], firsts[nb]
                rest -= n
            else:
                del starts[nb][:rest], ends[nb][:rest]
                firsts[nb] = starts[nb][0]
                rest = 0
        self._count += len(new) - k
        if not blk_s:
            del starts[b], ends[b], firsts[b]
            return
        firsts[b] = blk_s[0]
        if len(blk_s) > 2 * self.LOAD:
            self._split_block(b)

    def _last_value(self) -> int:
        return self._ends[-1][-1]

    def _split_block(self, b: int) -> None:
        blk_s, blk_e = self._starts[b], self._ends[b]
        half = len(blk_s) // 2
        self._starts.insert(b + 1, blk_s[half:])
        self._ends.insert(b + 1, blk_e[half:])
        self._firsts.insert(b + 1, blk_s[half])
        del blk_s[half:], blk_e[half:]

    # -- Xen's operations ----------------------------------------------

    def add_range(self, s: int, e: int) -> None:
        """Add ``[s, e]``, merging with overlapping and adjacent ranges.

        Spends a node only when Xen's ``rangeset_add_range`` allocates one;
        ``-ENOMEM`` (budget 0 or heap refused) leaves everything unchanged.
        Runtime complexity: ``O(log n + LOAD + k)``.
        """
        if type(s) is not int or type(e) is not int or s < 0 or s > e or e > UINT64_MAX:
            _check_range(s, e)  # raises with the precise reason
        # Fast paths for the two commonest cases: already covered, and a
        # range in a gap that touches nothing (one new node, no merging).
        firsts = self._firsts
        b = bisect_right(firsts, s) - 1
        if b >= 0:
            blk_s = self._starts[b]
            blk_e = self._ends[b]
            i = bisect_right(blk_s, s) - 1
            xe = blk_e[i]
            if xe >= e:
                return  # inside one stored range: Xen changes nothing
            if xe + 1 < s:
                j = i + 1
                if j < len(blk_s):
                    nxt = blk_s[j]
                elif b + 1 < len(firsts):
                    nxt = firsts[b + 1]
                else:
                    nxt = UINT64_MAX + 2
                if nxt > e + 1:
                    self._alloc_node()
                    blk_s.insert(j, s)
                    blk_e.insert(j, e)
                    self._count += 1
                    if len(blk_s) > 2 * self.LOAD:
                        self._split_block(b)
                    return
        self._add_general(s, e)

    def _add_general(self, s: int, e: int) -> None:
        xb, xi = self._find(s)
        touching = xb >= 0 and self._ends[xb][xi] + 1 >= s
        if touching:
            fb, fi = xb, xi
            new_s = self._starts[xb][xi]
        else:
            fb, fi = self._after(xb, xi)
            new_s = s
        k, last_e = self._run(fb, fi, e + 1)
        new_e = max(e, last_e)
        # Xen allocates iff nothing at or below s touches s and no range starts in (s, e].
        starts_inside = k > 0 and not touching and self._starts[fb][fi] <= e
        if not touching and not starts_inside:
            self._alloc_node()
            freed = k  # 0, or 1 when the new node merges with the next range
        else:
            freed = k - 1
        self._free_nodes(freed)
        self._splice(fb, fi, k, [(new_s, new_e)])

    def remove_range(self, s: int, e: int) -> None:
        """Remove ``[s, e]``; absent parts are ignored.

        Only a split (``[s, e]`` strictly inside one range) needs a node, so
        only a split can fail with ``-ENOMEM``.
        Runtime complexity: ``O(log n + LOAD + k)``.
        """
        _check_range(s, e)
        xb, xi = self._find(s)
        if xb >= 0 and self._ends[xb][xi] >= s:
            fb, fi = xb, xi
        else:
            fb, fi = self._after(xb, xi)
        k, last_e = self._run(fb, fi, e)
        if not k:
            return
        first_s = self._starts[fb][fi]
        keep: list[tuple[int, int]] = []
        if first_s < s:
            keep.append((first_s, s - 1))
        if last_e > e:
            keep.append((e + 1, last_e))
        if len(keep) > k:  # a split: Xen allocates the upper half
            self._alloc_node()
        else:
            self._free_nodes(k - len(keep))
        self._splice(fb, fi, k, keep)

    def contains_range(self, s: int, e: int) -> bool:
        """True iff a single stored range covers all of ``[s, e]``.

        Runtime complexity: ``O(log n)``.
        """
        _check_range(s, e)
        b = bisect_right(self._firsts, s) - 1
        if b < 0:
            return False
        i = bisect_right(self._starts[b], s) - 1
        return self._ends[b][i] >= e

    def contains_singleton(self, x: int) -> bool:
        """True iff ``x`` is stored.  Runtime complexity: ``O(log n)``.

        (A point index built on sets that had stopped changing was removed: the
        built-in scenario ran no faster with it, bench/RESULTS.md, issue 18.)

        >>> r = RangeSet(); r.add_range(5, 9)
        >>> r.contains_singleton(9), r.contains_singleton(10)
        (True, False)
        """
        # Validation is deferred to the paths that need it: a True answer
        # means x lies inside a stored range, so only its type needs checking.
        try:
            b = bisect_right(self._firsts, x) - 1
            hit = b >= 0 and self._ends[b][bisect_right(self._starts[b], x) - 1] >= x
            if hit and type(x) is int:
                return True
        except TypeError:
            pass  # not comparable with int: reported just below
        _check_value("value", x)  # raises for a bad x; a good one is absent
        return False

    def overlaps_range(self, s: int, e: int) -> bool:
        """True iff any stored range intersects ``[s, e]``.

        Runtime complexity: ``O(log n)``.
        """
        _check_range(s, e)
        b, i = self._find(e)
        return b >= 0 and self._ends[b][i] >= s

    def report_ranges(self, s: int, e: int) -> Iterator[tuple[int, int]]:
        """Yield each stored range meeting ``[s, e]``, clipped to it, ascending.

        >>> r = RangeSet(); r.add_range(0, 9); r.add_range(20, 29)
        >>> list(r.report_ranges(5, 25))
        [(5, 9), (20, 25)]
        """
        _check_range(s, e)
        return self._report(s, e)

    def _report(self, s: int, e: int) -> Iterator[tuple[int, int]]:
        b, i = self._find(s)
        if b < 0 or self._ends[b][i] < s:
            b, i = self._after(b, i)
        starts, ends = self._starts, self._ends
        while b < len(starts):
            blk_s, blk_e = starts[b], ends[b]
            while i < len(blk_s):
                rs = blk_s[i]
                if rs > e:
                    return
                yield max(rs, s), min(blk_e[i], e)
                i += 1
            b, i = b + 1, 0

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for blk_s, blk_e in zip(self._starts, self._ends, strict=True):
            yield from zip(blk_s, blk_e, strict=True)

    def swap(self, other: Self) -> None:
        """Exchange contents with ``other``; budgets stay put (``rangeset_swap``).

        Works between any two sets; the nodes' heap charges move with them
        (``-ENOMEM``, nothing changed, if the receiving allocator refuses).
        As in Xen the ``nr_ranges`` counters do not move, so an unlimited set
        that receives fewer nodes than it gave away becomes limited to 0 once
        it is emptied (xen/common/rangeset.c:rangeset_swap, RELEASE-4.17.0).
        """
        self._check_swap(other)
        self._starts, other._starts = other._starts, self._starts
        self._ends, other._ends = other._ends, self._ends
        self._firsts, other._firsts = other._firsts, self._firsts
        self._count, other._count = other._count, self._count
        self._after_swap(other)

    def _load(self, ranges: list[tuple[int, int]]) -> None:
        step = self.LOAD
        for i in range(0, len(ranges), step):
            chunk = ranges[i : i + step]
            self._starts.append([s for s, _ in chunk])
            self._ends.append([e for _, e in chunk])
            self._firsts.append(chunk[0][0])
        self._count = len(ranges)

    def check_invariants(self) -> None:
        """Canonical form, budget, and the block structure (O(n))."""
        for b, (blk_s, blk_e) in enumerate(zip(self._starts, self._ends, strict=True)):
            assert blk_s, f"block {b} is empty"
            assert len(blk_s) == len(blk_e), f"block {b} starts/ends differ in length"
            assert len(blk_s) <= 2 * self.LOAD, f"block {b} is over-full"
            assert self._firsts[b] == blk_s[0], f"block {b} first start is stale"
        assert len(self._firsts) == len(self._starts), "block index out of step"
        super().check_invariants()
