"""Heap accounting of rangeset nodes: the TLSF cost model and the thread's figures."""

from __future__ import annotations

import pytest

from ioreqlab.alloc import CountingAllocator, tlsf_cost
from ioreqlab.errors import XenENOMEM
from ioreqlab.rangeset import NodeLayout, RangeSet
from tests.rangesets import IDS, IMPLEMENTATIONS


def test_tlsf_cost_model() -> None:
    assert tlsf_cost(32) == 48
    assert tlsf_cost(40) == 64
    assert tlsf_cost(0) == 16
    assert tlsf_cost(33) == 64
    assert NodeLayout.LIST.heap_cost == 48
    assert NodeLayout.RBTREE.heap_cost == 64
    with pytest.raises(ValueError, match="negative"):
        tlsf_cost(-1)


def test_8192_rbtree_nodes_cost_at_least_448_kib() -> None:
    """Jan Beulich, 2016-02-03: "8k of wp ranges implies an overhead beyond 448k"."""
    alloc = CountingAllocator()
    r = RangeSet("wp", structure="rbtree", allocator=alloc)
    for gfn in range(0, 2 * 8192, 2):  # scattered pages: no two adjacent
        r.add_singleton(gfn)
    assert r.nr_ranges == 8192
    assert alloc.in_use == r.bytes_in_use == 8192 * 64
    assert r.bytes_in_use >= 448 * 1024


def test_full_256_list_rangeset_is_about_12_kib() -> None:
    r = RangeSet(limit=256)
    for x in range(0, 512, 2):
        r.add_singleton(x)
    assert r.bytes_in_use == 256 * 48 == 12 * 1024


class RefusingAllocator(CountingAllocator):
    """Grants ``room`` allocations, then refuses every further one."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def allocate(self, nbytes: int) -> bool:
        if self.room == 0:
            return False
        self.room -= 1
        return super().allocate(nbytes)


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
def test_heap_refusal_is_enomem_and_atomic(cls: type[RangeSet]) -> None:
    alloc = RefusingAllocator(room=2)
    r = cls("h", allocator=alloc)
    r.add_singleton(1)
    r.add_range(5, 8)
    with pytest.raises(XenENOMEM):
        r.add_singleton(20)
    with pytest.raises(XenENOMEM):
        r.remove_singleton(6)  # a split needs a node too
    assert r.ranges() == [(1, 1), (5, 8)]
    assert r.budget is None
    r.add_range(2, 4)  # bridging needs no allocation and frees one node
    assert r.ranges() == [(1, 8)]
    assert alloc.in_use == 48
    r.check_invariants()


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
def test_bytes_return_to_zero(cls: type[RangeSet]) -> None:
    alloc = CountingAllocator()
    r = cls(allocator=alloc)
    for x in range(0, 100, 3):
        r.add_singleton(x)
    r.remove_range(0, 2**64 - 1)
    assert alloc.in_use == 0
    assert r.is_empty()
