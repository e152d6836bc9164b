"""Table-driven rangeset conformance: Xen's own vectors and the verified 4.7 runs.

Vectors re-expressed from ``tools/tests/rangeset/test-rangeset.c`` (xen-project/xen,
commit 7bf777b42c, 2025) and xen-facts §1.3, §1.4 and §1.6 (a userspace build of
the 4.7 ``rangeset.c`` with limit 2).
"""

from __future__ import annotations

import pytest

from ioreqlab.alloc import CountingAllocator
from ioreqlab.errors import XenEINVAL, XenENOMEM
from ioreqlab.rangeset import RangeSetBase
from tests.rangesets import IDS, IMPLEMENTATIONS

Ranges = list[tuple[int, int]]


def build(cls: type[RangeSetBase], ranges: Ranges, limit: int | None = None) -> RangeSetBase:
    r = cls("t", hex=True)
    for s, e in ranges:
        r.add_range(s, e)
    if limit is not None:
        r.limit(limit)
    return r


# (stored ranges, operation, range, expected ranges)
VECTORS: list[tuple[Ranges, str, tuple[int, int], Ranges]] = [
    # Removals that span several stored ranges (the path of the §1.5 bug).
    ([(0, 1), (4, 5)], "remove", (3, 4), [(0, 1), (5, 5)]),
    ([(0, 1), (4, 5), (7, 8)], "remove", (3, 7), [(0, 1), (8, 8)]),
    ([(0, 1), (4, 5)], "remove", (2, 3), [(0, 1), (4, 5)]),
    ([(0, 1), (4, 5)], "remove", (1, 4), [(0, 0), (5, 5)]),
    ([(0, 1), (4, 5)], "remove", (0, 5), []),
    ([(0, 1), (4, 5)], "remove", (6, 9), [(0, 1), (4, 5)]),
    # Single-range removal: whole, trim low, trim high, split.
    ([(10, 20)], "remove", (10, 20), []),
    ([(10, 20)], "remove", (10, 12), [(13, 20)]),
    ([(10, 20)], "remove", (18, 25), [(10, 17)]),
    ([(10, 20)], "remove", (12, 14), [(10, 11), (15, 20)]),
    # Additions: adjacency merges both ways, bridging, covering, re-adding.
    ([(0, 1)], "add", (2, 3), [(0, 3)]),
    ([(4, 5)], "add", (2, 3), [(2, 5)]),
    ([(0, 1), (4, 5), (8, 9)], "add", (1, 8), [(0, 9)]),
    ([(0, 1), (4, 5)], "add", (2, 3), [(0, 5)]),
    ([(2, 3), (6, 7)], "add", (0, 9), [(0, 9)]),
    ([(0, 9)], "add", (3, 4), [(0, 9)]),
    ([(5, 5)], "add", (0, 3), [(0, 3), (5, 5)]),
    # The top of the value space: adjacency at 2**64-1 must not wrap.
    ([(0, 0)], "add", (2**64 - 1, 2**64 - 1), [(0, 0), (2**64 - 1, 2**64 - 1)]),
    ([(2**64 - 2, 2**64 - 1)], "remove", (2**64 - 1, 2**64 - 1), [(2**64 - 2, 2**64 - 2)]),
]


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
@pytest.mark.parametrize(("before", "op", "arg", "after"), VECTORS)
def test_xen_vectors(
    cls: type[RangeSetBase], before: Ranges, op: str, arg: tuple[int, int], after: Ranges
) -> None:
    r = build(cls, before)
    getattr(r, f"{op}_range")(*arg)
    assert r.ranges() == after
    r.check_invariants()


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
def test_verified_47_run_with_limit_2(cls: type[RangeSetBase]) -> None:
    """xen-facts §1.6, line by line (a userspace build of the 4.7 code, limit 2)."""
    r = cls("t", limit=2, hex=True)
    r.add_range(0x10, 0x1F)
    assert r.budget == 1
    r.add_range(0x30, 0x3F)
    assert r.budget == 0
    with pytest.raises(XenENOMEM):
        r.add_range(0x50, 0x5F)
    assert r.ranges() == [(0x10, 0x1F), (0x30, 0x3F)]
    r.add_range(0x20, 0x2F)  # bridges two ranges: one node comes back
    assert r.ranges() == [(0x10, 0x3F)]
    assert r.budget == 1
    r.add_range(0x50, 0x5F)
    assert r.budget == 0
    r.add_singleton(0x40)  # touches the end of 10-3f: no node needed at budget 0
    assert r.ranges() == [(0x10, 0x40), (0x50, 0x5F)]
    assert r.budget == 0
    with pytest.raises(XenENOMEM):
        r.remove_singleton(0x18)  # a split needs a node
    assert r.ranges() == [(0x10, 0x40), (0x50, 0x5F)]
    r.remove_singleton(0x10)  # a trim does not
    assert r.ranges() == [(0x11, 0x40), (0x50, 0x5F)]
    r.remove_range(0x50, 0x5F)  # a whole range frees its node
    assert r.budget == 1
    r.check_invariants()


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
def test_limit_zero_refuses_first_add(cls: type[RangeSetBase]) -> None:
    r = cls("t", limit=0)
    with pytest.raises(XenENOMEM):
        r.add_singleton(1)
    assert r.is_empty()


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
def test_bridge_three_frees_two(cls: type[RangeSetBase]) -> None:
    r = build(cls, [(0, 1), (4, 5), (8, 9)], limit=0)
    r.add_range(1, 8)
    assert r.ranges() == [(0, 9)]
    assert r.budget == 2


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
def test_touching_next_from_below_needs_a_node_for_a_moment(cls: type[RangeSetBase]) -> None:
    """§1.3: a range in a gap that only touches the next range needs a node first."""
    r = build(cls, [(0, 1), (10, 19)], limit=0)
    with pytest.raises(XenENOMEM):
        r.add_range(5, 9)
    assert r.ranges() == [(0, 1), (10, 19)]
    r.limit(1)
    r.add_range(5, 9)
    assert r.ranges() == [(0, 1), (5, 19)]
    assert r.budget == 1  # allocated, then freed by the merge: net zero


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
def test_limit_on_nonempty_set_lets_budget_exceed_limit(cls: type[RangeSetBase]) -> None:
    r = build(cls, [(0, 0), (2, 2), (4, 4)], limit=1)
    r.remove_range(0, 4)
    assert r.budget == 4  # 1 + the three nodes freed: Xen does not subtract on limit()


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
@pytest.mark.parametrize(("s", "e"), [(5, 4), (-1, 3), (0, 2**64), (2**64, 2**64), (1.5, 2)])
def test_bad_arguments_are_einval_and_change_nothing(
    cls: type[RangeSetBase], s: int, e: int
) -> None:
    r = build(cls, [(1, 2)])
    for call in (r.add_range, r.remove_range, r.contains_range, r.overlaps_range):
        with pytest.raises(XenEINVAL):
            call(s, e)
    with pytest.raises(XenEINVAL):
        list(r.report_ranges(s, e))
    assert r.ranges() == [(1, 2)]


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
@pytest.mark.parametrize("bad", [-1, 2**64, 1.0, 1.5, "1", None, True])
def test_bad_singletons_are_einval(cls: type[RangeSetBase], bad: object) -> None:
    r = build(cls, [(0, 5)])
    for call in (r.contains_singleton, r.add_singleton, r.remove_singleton):
        with pytest.raises(XenEINVAL):
            call(bad)  # type: ignore[arg-type]  # deliberately wrong types
    assert r.ranges() == [(0, 5)]


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
def test_bad_limit_is_einval(cls: type[RangeSetBase]) -> None:
    r = cls()
    for bad in (-1, 2**32):
        with pytest.raises(XenEINVAL):
            r.limit(bad)
    r.limit(2**32 - 1)
    assert r.budget == 2**32 - 1


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
def test_queries(cls: type[RangeSetBase]) -> None:
    r = build(cls, [(0, 9), (20, 29), (40, 40)])
    assert r.contains_range(0, 9)
    assert not r.contains_range(0, 20)  # needs ONE range to cover all of it
    assert not r.contains_range(5, 25)
    assert r.overlaps_range(5, 25)
    assert r.overlaps_range(30, 40)
    assert not r.overlaps_range(10, 19)
    assert not r.overlaps_range(41, 2**64 - 1)
    assert list(r.report_ranges(0, 2**64 - 1)) == [(0, 9), (20, 29), (40, 40)]
    assert list(r.report_ranges(5, 20)) == [(5, 9), (20, 20)]
    assert list(r.report_ranges(10, 19)) == []
    assert r.contains_singleton(40)
    assert not r.contains_singleton(41)


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
def test_print_format(cls: type[RangeSetBase]) -> None:
    r = cls("ioreq_server 1 memory", hex=True)
    r.add_range(0xF0000000, 0xF0000FFF)
    r.add_singleton(0xF0002000)
    assert str(r) == "ioreq_server 1 memory { f0000000-f0000fff, f0002000 }"
    d = cls("port")
    d.add_range(0x3F8, 0x3FF)
    d.add_singleton(0xCF8)
    assert str(d) == "port       { 1016-1023, 3320 }"
    assert str(cls()) == "(no name)  { }"
    assert cls("x" * 40).name == "x" * 31


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
def test_swap_moves_ranges_not_budgets(cls: type[RangeSetBase]) -> None:
    a = build(cls, [(0, 1), (5, 6)], limit=10)
    b = cls("b", limit=3, allocator=a._alloc)
    b.add_range(100, 200)
    a.swap(b)
    assert a.ranges() == [(100, 200)]
    assert b.ranges() == [(0, 1), (5, 6)]
    assert a.budget == 10  # limit() came after the adds in build(): nothing subtracted
    assert b.budget == 2
    a.check_invariants()
    b.check_invariants()
    c = cls("c", structure="rbtree", allocator=a._alloc)
    in_use = a._alloc.in_use  # type: ignore[attr-defined]
    a.swap(c)  # rangeset_swap takes any two sets: the node charges move with the nodes
    assert (a.ranges(), c.ranges()) == ([], [(100, 200)])
    assert a._alloc.in_use == in_use - 48 + 64  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
def test_swap_between_two_default_sets(cls: type[RangeSetBase]) -> None:
    # xen/common/rangeset.c:rangeset_swap (RELEASE-4.17.0) has no failure path.
    a, b = cls(), cls()
    a.add_range(1, 2)
    a.add_range(9, 9)
    b.add_range(50, 60)
    a.swap(b)
    assert (a.ranges(), b.ranges()) == ([(50, 60)], [(1, 2), (9, 9)])
    assert a._alloc.in_use == 48  # type: ignore[attr-defined]
    assert b._alloc.in_use == 96  # type: ignore[attr-defined]
    a.check_invariants()
    b.check_invariants()


class _Refusing:
    """An allocator that grants nothing (a full account)."""

    def allocate(self, nbytes: int) -> bool:
        return False

    def free(self, nbytes: int) -> None:
        raise AssertionError("nothing was granted")


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
def test_swap_into_a_full_account_is_enomem_and_changes_nothing(
    cls: type[RangeSetBase],
) -> None:
    a = cls("a", allocator=_Refusing())
    b = cls("b")
    b.add_range(3, 4)
    with pytest.raises(XenENOMEM):
        a.swap(b)
    assert (a.ranges(), b.ranges()) == ([], [(3, 4)])
    assert b._alloc.in_use == 48  # type: ignore[attr-defined]


def test_unknown_structure_is_einval() -> None:
    with pytest.raises(XenEINVAL):
        IMPLEMENTATIONS[0](structure="skiplist")


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
def test_from_ranges_equals_adding_one_by_one(cls: type[RangeSetBase]) -> None:
    ranges = [(x * 8, x * 8 + 2) for x in range(50)]
    bulk = cls.from_ranges(ranges, limit=60)
    step = build(cls, [])
    step.limit(60)
    for s, e in ranges:
        step.add_range(s, e)
    assert bulk.ranges() == step.ranges() == ranges
    assert bulk.budget == step.budget == 10
    bulk.check_invariants()
    bulk.add_range(3, 7)  # still a working set afterwards
    assert bulk.ranges()[0] == (0, 10)


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
@pytest.mark.parametrize("bad", [[(5, 6), (1, 2)], [(1, 2), (3, 4)], [(1, 3), (2, 5)], [(4, 3)]])
def test_from_ranges_rejects_non_canonical_input(
    cls: type[RangeSetBase], bad: list[tuple[int, int]]
) -> None:
    with pytest.raises(XenEINVAL):
        cls.from_ranges(bad)


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
def test_from_ranges_over_limit_is_enomem_and_frees_all(cls: type[RangeSetBase]) -> None:
    alloc = CountingAllocator()
    with pytest.raises(XenENOMEM):
        cls.from_ranges([(0, 0), (2, 2), (4, 4)], limit=2, allocator=alloc)
    assert alloc.in_use == 0


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=IDS)
def test_swap_keeps_counters_so_an_emptied_unlimited_set_can_end_limited(
    cls: type[RangeSetBase],
) -> None:
    # rangeset_swap moves the lists, never nr_ranges: b's counter is -3 (-1,
    # then two nodes taken) while it now holds a's three nodes; once those are
    # freed the counter reads 0 - a limit of nothing that nobody set.
    a, b = cls(), cls()
    for x in (0, 10, 20):
        a.add_singleton(x)
    b.add_singleton(100)
    b.add_singleton(200)
    a.swap(b)
    b.remove_range(0, 20)
    assert b.budget == 0
    with pytest.raises(XenENOMEM):
        b.add_singleton(9)
    a.remove_range(100, 200)
    assert a.budget is None  # -4 + 2: still counting below zero, unlimited
