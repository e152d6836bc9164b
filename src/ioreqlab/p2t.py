"""The p2t: a sparse page-to-type table beside the p2m (never built in Xen).

George Dunlap, 2016-02-04: "a separate structure, similar to the p2m table,
but [...] only used by Xen to map pfn to type [...] This does mean duplicating
all the non-leaf nodes, as well as doing two sparse-tree-walks rather than
just one."  Paul Durrant, 2016-02-05: the p2m bit "could be re-purposed to
simply mean 'go look in the p2t'".

Theory of operation
-------------------
A radix tree in the style of ``xen/common/radix-tree.c``: nodes of
``2**bits`` slots (default 64), as many levels as the highest gfn needs, and
nodes only where tracked frames are.  A leaf slot holds a small type index
(1..K); 0 means "not tracked".  A node is freed as soon as its last slot
empties, so memory follows the tracked set.  Every node is a Xen heap
allocation (``radix_tree_node``: a small header and ``2**bits`` pointers),
charged through an :class:`~ioreqlab.alloc.Allocator` with the TLSF cost.

Setting an entry may need new nodes along the path; if the heap refuses one,
the nodes already made for that call are freed and ``-ENOMEM`` is raised with
nothing changed.  Clearing never allocates.
"""

from __future__ import annotations

from collections.abc import Iterator

from ioreqlab.alloc import Allocator, CountingAllocator, tlsf_cost
from ioreqlab.errors import XenEINVAL, XenENOMEM

__all__ = ["P2tTable"]

#: ``radix_tree_node`` header: height, count and an RCU head.
_NODE_HEADER = 24
_GFN_BITS = 40  # enough for 4 PiB of guest-physical space


class _Node:
    __slots__ = ("count", "slots")

    def __init__(self, size: int) -> None:
        self.slots: list[object] = [None] * size
        self.count = 0


class P2tTable:
    """gfn → ioreq type index (1..K), sparse; every node charged to the heap.

    >>> t = P2tTable(max_gfn=0xFFFFF)
    >>> t.set(0x12345, 2); t.get(0x12345), t.get(0x12346), t.nr_nodes
    (2, 0, 4)
    >>> t.clear(0x12345); t.nr_nodes, t.bytes_in_use
    (0, 0)
    """

    __slots__ = (
        "_alloc",
        "_bits",
        "_levels",
        "_mask",
        "_max_gfn",
        "_node_cost",
        "_root",
        "_size",
        "count",
        "nr_nodes",
    )

    def __init__(
        self, *, max_gfn: int = (1 << 36) - 1, bits: int = 6, allocator: Allocator | None = None
    ) -> None:
        if not 1 <= bits <= 12:
            raise XenEINVAL(f"p2t node bits {bits} is not 1..12")
        if not 0 <= max_gfn < 1 << _GFN_BITS:
            raise XenEINVAL(f"p2t max gfn {max_gfn:#x} is outside 0..2**{_GFN_BITS}-1")
        self._bits = bits
        self._size = 1 << bits
        self._mask = self._size - 1
        # As many levels as the highest gfn needs (Xen's radix tree grows its
        # height to the largest index; a domain's largest index is fixed).
        self._levels = max(1, -(-max(max_gfn.bit_length(), 1) // bits))
        self._max_gfn = max_gfn
        self._node_cost = tlsf_cost(_NODE_HEADER + 8 * self._size)
        self._alloc: Allocator = CountingAllocator() if allocator is None else allocator
        self._root: _Node | None = None
        #: Tracked frames.
        self.count = 0
        #: Radix nodes allocated.
        self.nr_nodes = 0

    @property
    def node_cost(self) -> int:
        """Heap bytes of one node."""
        return self._node_cost

    @property
    def bytes_in_use(self) -> int:
        """Heap bytes of all nodes."""
        return self.nr_nodes * self._node_cost

    def _path(self, gfn: int) -> list[int]:
        return [(gfn >> (self._bits * lvl)) & self._mask for lvl in range(self._levels - 1, -1, -1)]

    def get(self, gfn: int) -> int:
        """The type index of ``gfn`` (0 if not tracked): one walk of ``levels`` steps."""
        node = self._root
        bits, mask = self._bits, self._mask
        for lvl in range(self._levels - 1, 0, -1):
            if node is None:
                return 0
            nxt = node.slots[(gfn >> (bits * lvl)) & mask]
            node = nxt if isinstance(nxt, _Node) else None
        if node is None:
            return 0
        value = node.slots[gfn & mask]
        return value if isinstance(value, int) else 0

    def set(self, gfn: int, kind: int) -> None:
        """Track ``gfn`` as type index ``kind`` (>= 1); ``-ENOMEM`` if a node cannot be had."""
        if kind < 1:
            raise XenEINVAL(f"p2t type index {kind} must be >= 1")
        if not 0 <= gfn <= self._max_gfn:
            raise XenEINVAL(f"gfn {gfn:#x} is above the p2t's max gfn {self._max_gfn:#x}")
        made: list[_Node] = []
        try:
            if self._root is None:
                self._root = self._new_node(made)
            node = self._root
            path = self._path(gfn)
            for idx in path[:-1]:
                nxt = node.slots[idx]
                if not isinstance(nxt, _Node):
                    nxt = self._new_node(made)
                    node.slots[idx] = nxt
                    node.count += 1
                node = nxt
        except XenENOMEM:
            self._unwind(gfn, made)
            raise
        leaf_idx = path[-1]
        if node.slots[leaf_idx] is None:
            node.count += 1
            self.count += 1
        node.slots[leaf_idx] = kind

    def _new_node(self, made: list[_Node]) -> _Node:
        if not self._alloc.allocate(self._node_cost):
            raise XenENOMEM("Xen heap exhausted allocating a p2t node")
        node = _Node(self._size)
        made.append(node)
        self.nr_nodes += 1
        return node

    def _unwind(self, gfn: int, made: list[_Node]) -> None:
        """Free the nodes a failed ``set`` created (they hold nothing yet)."""
        if not made:
            return
        self._prune(gfn)
        leaked = [n for n in made if n.count]
        assert not leaked, "a node made by a failed set still holds entries"

    def clear(self, gfn: int) -> None:
        """Stop tracking ``gfn`` (no-op if not tracked); empty nodes are freed."""
        node = self._root
        if node is None:
            return
        for idx in self._path(gfn)[:-1]:
            nxt = node.slots[idx]
            if not isinstance(nxt, _Node):
                return
            node = nxt
        leaf_idx = gfn & self._mask
        if node.slots[leaf_idx] is None:
            return
        node.slots[leaf_idx] = None
        node.count -= 1
        self.count -= 1
        self._prune(gfn)

    def _prune(self, gfn: int) -> None:
        """Free empty nodes on ``gfn``'s path, bottom up."""
        if self._root is None:
            return
        trail: list[tuple[_Node, int, _Node]] = []  # (parent, slot, child) down the path
        node = self._root
        for idx in self._path(gfn)[:-1]:
            nxt = node.slots[idx]
            if not isinstance(nxt, _Node):
                break
            trail.append((node, idx, nxt))
            node = nxt
        # Walk back up, the deepest node first: drop a child that became empty.
        for parent, idx, child in reversed(trail):
            if child.count == 0:
                parent.slots[idx] = None
                parent.count -= 1
                self._free_node()
        if self._root.count == 0:
            self._root = None
            self._free_node()

    def _free_node(self) -> None:
        self._alloc.free(self._node_cost)
        self.nr_nodes -= 1

    def purge(self) -> None:
        """Untrack everything and free every node."""
        for gfn, _ in list(self.items()):
            self.clear(gfn)

    def items(self) -> Iterator[tuple[int, int]]:
        """Every tracked ``(gfn, kind)``, ascending gfn."""
        if self._root is not None:
            yield from self._walk(self._root, 0)

    def _walk(self, node: _Node, prefix: int) -> Iterator[tuple[int, int]]:
        for i, slot in enumerate(node.slots):
            if slot is None:
                continue
            here = (prefix << self._bits) | i
            if isinstance(slot, _Node):
                yield from self._walk(slot, here)
            else:
                assert isinstance(slot, int)
                yield here, slot

    def check_invariants(self) -> None:
        """Counts match the slots; no empty node is kept; node tally is exact."""
        nodes = 0
        leaves = 0

        def visit(node: _Node, lvl: int) -> None:
            nonlocal nodes, leaves
            nodes += 1
            used = [s for s in node.slots if s is not None]
            assert len(used) == node.count, "node count out of step"
            assert node.count > 0, "an empty node was kept"
            for s in used:
                if lvl == 0:
                    assert isinstance(s, int)
                    assert s >= 1
                    leaves += 1
                else:
                    assert isinstance(s, _Node)
                    visit(s, lvl - 1)

        if self._root is not None:
            visit(self._root, self._levels - 1)
        assert nodes == self.nr_nodes, f"{nodes} nodes reachable, {self.nr_nodes} counted"
        assert leaves == self.count, f"{leaves} tracked frames reachable, {self.count} counted"
