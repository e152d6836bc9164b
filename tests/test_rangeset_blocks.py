"""The blocked rangeset's structure, pinned where mutation testing found it loose.

Issue 17: mutants that split a block into the wrong place, mis-index the
block after the one being changed, or purge from the wrong end survived the
suite, because random operations rarely split a block that is not the last.
Here small blocks (``LOAD`` 2 and 3) are driven with seeded operations at
random places, each step compared with the linked list (Xen's own layout) on
every query, and ``check_invariants`` run after each.
"""

from __future__ import annotations

import random

import pytest

from ioreqlab.alloc import CountingAllocator
from ioreqlab.errors import XenENOMEM
from ioreqlab.rangeset import RangeSet
from ioreqlab.rangeset_ref import LinkedListRangeSet
from tests.rangesets import SmallBlockRangeSet


class Load3RangeSet(RangeSet):
    """Blocks of 3 to 6 ranges: splits land at odd offsets."""

    LOAD = 3


def _ops(rng: random.Random, top: int) -> tuple[str, int, int]:
    op = rng.choice(("add", "add", "add", "remove", "contains", "overlaps", "report"))
    s = rng.randrange(top)
    e = min(top, s + rng.choice((0, 0, 1, 2, 3, 7, 20)))
    return op, s, e


@pytest.mark.parametrize("cls", [SmallBlockRangeSet, Load3RangeSet])
@pytest.mark.parametrize("seed", range(6))
def test_small_blocks_agree_with_the_linked_list_everywhere(cls: type[RangeSet], seed: int) -> None:
    rng = random.Random(seed)
    top = rng.choice((60, 200, 1000))
    blocked, ref = cls(), LinkedListRangeSet()
    for _ in range(600):
        op, s, e = _ops(rng, top)
        if op == "add":
            blocked.add_range(s, e)
            ref.add_range(s, e)
        elif op == "remove":
            blocked.remove_range(s, e)
            ref.remove_range(s, e)
        elif op == "contains":
            assert blocked.contains_range(s, e) == ref.contains_range(s, e)
            assert blocked.contains_singleton(s) == ref.contains_singleton(s)
        elif op == "overlaps":
            assert blocked.overlaps_range(s, e) == ref.overlaps_range(s, e)
        else:
            assert list(blocked.report_ranges(s, e)) == list(ref.report_ranges(s, e))
        blocked.check_invariants()
        assert blocked.ranges() == ref.ranges()
        assert blocked.nr_ranges == ref.nr_ranges


@pytest.mark.parametrize("cls", [SmallBlockRangeSet, Load3RangeSet])
def test_splitting_a_block_that_is_not_the_last(cls: type[RangeSet]) -> None:
    # Ranges at 100, 110, ... fill several blocks; adding below them, in the first
    # block, splits it while later blocks exist.
    r = cls()
    for x in range(100, 400, 10):
        r.add_singleton(x)
    assert len(r._starts) > 2
    for x in range(0, 30, 3):
        r.add_singleton(x)
        r.check_invariants()
    assert r.ranges() == [(x, x) for x in range(0, 30, 3)] + [(x, x) for x in range(100, 400, 10)]
    assert r._firsts == [blk[0] for blk in r._starts]


def test_a_fast_add_across_a_block_boundary_merges_both_sides() -> None:
    r = SmallBlockRangeSet()
    for x in range(0, 100, 4):  # [0], [4], [8], ... across many blocks
        r.add_singleton(x)
    boundary = r._firsts[1]
    r.add_range(boundary - 3, boundary - 1)  # touches the last range of block 0 and block 1
    r.check_invariants()
    assert (boundary - 4, boundary) in r.ranges()
    assert r.contains_range(boundary - 4, boundary)


@pytest.mark.parametrize("gap", [1, 2])
def test_adds_that_leave_a_gap_of_one_stay_apart(gap: int) -> None:
    r = RangeSet()
    r.add_range(0, 4)
    r.add_range(4 + gap + 1, 9)
    assert r.nr_ranges == 2  # a gap of one value is still a gap
    r.add_range(5, 4 + gap)
    assert r.ranges() == [(0, 9)]


@pytest.mark.parametrize("cls", [RangeSet, SmallBlockRangeSet, LinkedListRangeSet])
def test_purge_leaves_nothing(cls: type[RangeSet]) -> None:
    # Against an independent oracle: after purge, no value of any former range is held.
    r = cls()
    spans = [(3, 9), (20, 20), (40, 55), (2**64 - 5, 2**64 - 1)]
    for s, e in spans:
        r.add_range(s, e)
    r.purge()
    assert r.is_empty()
    assert r.nr_ranges == 0
    assert not any(r.overlaps_range(s, e) for s, e in spans)


@pytest.mark.parametrize("cls", [RangeSet, SmallBlockRangeSet])
def test_from_ranges_keeps_the_node_layout_and_blocks(cls: type[RangeSet]) -> None:
    spans = [(x, x + 1) for x in range(0, 300, 5)]
    built = cls.from_ranges(spans, structure="rbtree")
    added = cls(structure="rbtree")
    for s, e in spans:
        added.add_range(s, e)
    assert built.structure == added.structure
    assert built.bytes_in_use == added.bytes_in_use == len(spans) * 64
    built.check_invariants()
    assert built.ranges() == added.ranges()
    built.add_range(7, 9)  # the blocks it built are usable as they are
    built.check_invariants()


def test_swap_moves_heap_charges_between_accounts() -> None:
    a_heap, b_heap = CountingAllocator(), CountingAllocator()
    a = RangeSet("a", allocator=a_heap)
    b = RangeSet("b", allocator=b_heap)
    for x in range(0, 30, 3):
        a.add_singleton(x)  # 10 nodes
    b.add_singleton(100)  # 1 node
    a.swap(b)
    assert (a.nr_ranges, b.nr_ranges) == (1, 10)
    assert (a_heap.in_use, b_heap.in_use) == (48, 480)
    a.swap(b)  # now the caller has fewer: the other side is refunded
    assert (a.nr_ranges, b.nr_ranges) == (10, 1)
    assert (a_heap.in_use, b_heap.in_use) == (480, 48)


class _Capped(CountingAllocator):
    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def allocate(self, nbytes: int) -> bool:
        if self.in_use + nbytes > self.room:
            return False
        return super().allocate(nbytes)


@pytest.mark.parametrize("refuse", ["self", "other"])
def test_a_refused_swap_changes_nothing(refuse: str) -> None:
    small = _Capped(48 * 2)
    big = CountingAllocator()
    a = RangeSet("a", allocator=small if refuse == "self" else big)
    b = RangeSet("b", allocator=big if refuse == "self" else small)
    many, few = (b, a) if refuse == "self" else (a, b)
    for x in range(0, 30, 3):
        many.add_singleton(x)
    few.add_singleton(500)
    before = (a.ranges(), b.ranges(), small.in_use, big.in_use)
    with pytest.raises(XenENOMEM):
        a.swap(b)
    assert (a.ranges(), b.ranges(), small.in_use, big.in_use) == before


def test_names_keep_any_string_and_print_cut_characters() -> None:
    # A lone surrogate survives into the name bytes (surrogatepass), and a name cut
    # at 31 bytes inside a character still prints (decoded with replacement).
    odd = RangeSet("a\udcff")
    assert odd.name_bytes == b"a\xed\xb3\xbf"
    cut = RangeSet("x" * 30 + "é")  # é is 2 bytes: the cut leaves half of it
    assert len(cut.name_bytes) == 31
    assert cut.name == "x" * 30 + "\ufffd"
    assert str(cut).startswith("x" * 30 + "\ufffd")


def test_the_layout_is_what_was_asked() -> None:
    from ioreqlab.rangeset import NodeLayout  # noqa: PLC0415

    assert RangeSet(structure="rbtree").structure is NodeLayout.RBTREE
    assert RangeSet().structure is NodeLayout.LIST


@pytest.mark.parametrize("cls", [RangeSet, SmallBlockRangeSet, LinkedListRangeSet])
def test_at_the_limit_an_add_reaching_the_next_range_needs_no_node(cls: type[RangeSet]) -> None:
    # rangeset_add_range: [s, e] with a range starting at e grows that range's node;
    # nothing is allocated, so a full set still takes it.
    r = cls(limit=2)
    r.add_range(0, 1)
    r.add_range(10, 12)
    r.add_range(5, 10)
    assert r.ranges() == [(0, 1), (5, 12)]
    r.check_invariants()


@pytest.mark.parametrize("cls", [RangeSet, SmallBlockRangeSet, LinkedListRangeSet])
@pytest.mark.parametrize(("s", "e"), [(1, "9"), ("1", 9), (1, 2.0), (True, 3)])
def test_a_value_that_is_not_an_integer_is_einval(
    cls: type[RangeSet], s: object, e: object
) -> None:
    from ioreqlab.errors import XenEINVAL  # noqa: PLC0415

    r = cls()
    r.add_range(20, 30)
    with pytest.raises(XenEINVAL):
        r.add_range(s, e)  # type: ignore[arg-type]  # the bad input under test
    assert r.ranges() == [(20, 30)]
