"""The Xen heap's figures, exactly: every allocation, failure, peak and reservation
counted once, per account and in all (issue 17's mutants).

The model's xenheap is a byte budget (``xmalloc`` charged through the TLSF
cost, ``tests/test_hv_heap.py``); these are the figures the reports read.
"""

from __future__ import annotations

import pytest

from ioreqlab.hv.heap import HeapStats, XenHeap


def test_every_figure_is_counted_once() -> None:
    faults: list[tuple[str, int]] = [("xmalloc", 7), ("p2t_node", 9)]
    heap = XenHeap(1000, fault=lambda site, n: (site, n) in faults)
    a, b = heap.account(1), heap.account(2)
    assert (a.owner, b.owner, heap.account(1) is a) == (1, 2, True)
    empty = HeapStats(capacity=1000, in_use=0, peak=0, reserved=0, allocations=0, failures=0)
    assert a.statistics() == heap.statistics() == empty
    assert a.allocate(300)
    assert a.allocate(200)
    a.free(400)
    assert not a.allocate(7)  # the fault hook sees the default site and the size
    assert a.allocate(9)  # the same size elsewhere, or
    assert a.allocate(7, "p2t_node")  # another size at the site, is not refused
    assert not a.allocate(9, "p2t_node")
    assert a.statistics() == HeapStats(1000, 116, 500, 0, 4, 2)
    assert not b.allocate(885)  # 884 bytes are free
    assert b.allocate(884)
    assert not b.allocate(1)  # full
    assert heap.statistics() == HeapStats(1000, 1000, 1000, 0, 5, 4)
    assert b.statistics() == HeapStats(1000, 884, 884, 0, 1, 2)


def test_a_reservation_is_set_aside_and_used_first() -> None:
    heap = XenHeap(1000)
    assert heap.reserve(1, 600)
    assert heap.reserve(1, 100)  # reservations add up
    assert not heap.reserve(2, 301)  # 300 left
    assert heap.reserve(2, 300)
    assert heap.statistics().reserved == 1000
    a = heap.account(1)
    assert a.statistics().reserved == 700
    assert a.allocate(650)  # inside the reservation
    assert heap.statistics().reserved == 350  # 50 of 1's and 300 of 2's not yet used
    assert not heap.account(3).allocate(1)  # everything free is reserved
    assert a.allocate(50)
    assert not a.allocate(1)
    a.free(700)
    heap.drop_account(1)
    assert heap.statistics().reserved == 300
    assert heap.account(1).statistics().reserved == 0  # a new account, nothing reserved
    assert heap.account(3).allocate(700)


@pytest.mark.parametrize(("capacity", "ok"), [(-1, False), (0, True)])
def test_a_heap_of_nothing_is_allowed(capacity: int, ok: bool) -> None:
    if not ok:
        with pytest.raises(ValueError, match="negative"):
            XenHeap(capacity)
        return
    heap = XenHeap(capacity)
    assert not heap.account(1).allocate(1)
    assert heap.account(1).allocate(0)
