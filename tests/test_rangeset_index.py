"""The point index: a flat snapshot that must answer exactly as the rangeset."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ioreqlab.abi.constants import UINT64_MAX
from ioreqlab.alloc import CountingAllocator
from ioreqlab.errors import XenError
from ioreqlab.rangeset import RangeSet
from ioreqlab.rangeset_index import PointIndex


@st.composite
def canonical_ranges(draw: st.DrawFn) -> list[tuple[int, int]]:
    """Sorted, disjoint, non-adjacent ranges, small or spread over 64 bits."""
    top = draw(st.sampled_from([64, 1 << 12, 1 << 40, UINT64_MAX]))
    cuts = sorted(draw(st.sets(st.integers(0, top), min_size=2, max_size=40)))
    if len(cuts) % 2:
        cuts.pop()
    out: list[tuple[int, int]] = []
    for s, e in zip(cuts[::2], cuts[1::2], strict=True):
        if out and s <= out[-1][1] + 1:
            continue
        out.append((s, e))
    return out


def probes(ranges: list[tuple[int, int]]) -> set[int]:
    xs = {0, UINT64_MAX}
    for s, e in ranges:
        xs |= {s - 1, s, (s + e) // 2, e, e + 1}
    return {x for x in xs if 0 <= x <= UINT64_MAX}


@given(canonical_ranges())
def test_index_answers_as_a_linear_scan(ranges: list[tuple[int, int]]) -> None:
    if not ranges:
        with pytest.raises(ValueError, match="at least one range"):
            PointIndex(ranges)
        return
    idx = PointIndex(ranges)
    assert len(idx.buckets) == idx.limit
    assert len(ranges) <= idx.limit // 2 <= 4 * len(ranges)
    for x in probes(ranges):
        assert idx.contains(x) == any(s <= x <= e for s, e in ranges), x


def test_crowded_buckets_fall_back_to_a_bisect() -> None:
    # One huge range forces wide buckets; the small ones then share a bucket.
    ranges = [(0, 0), (2, 2), (4, 4), (6, 6), (1 << 40, UINT64_MAX)]
    idx = PointIndex(ranges)
    assert idx.crowded[0] == (0, 4)  # bucket 0 holds every start
    assert [x for x in range(9) if idx.contains(x)] == [0, 2, 4, 6]
    assert idx.contains(UINT64_MAX)
    assert not idx.contains((1 << 40) - 1)


def warm(r: RangeSet) -> None:
    """Query enough to build the index (an empty set never builds one)."""
    for _ in range(2 * r.nr_ranges + 34):
        r.contains_singleton(1)
    assert (r._index is not None) == (r.nr_ranges > 0)


def test_rangeset_builds_the_index_only_after_quiet_queries() -> None:
    r = RangeSet.from_ranges([(8 * i, 8 * i + 2) for i in range(100)])
    for _ in range(200 + 32):
        r.contains_singleton(3)
    assert r._index is None
    warm(r)
    assert r.contains_singleton(794)
    assert not r.contains_singleton(795)
    r.check_invariants()


@pytest.mark.parametrize(
    "change",
    [
        lambda r, a: r.add_range(5, 5),  # a new node in a gap (the fast path)
        lambda r, a: r.add_range(2, 9),  # a merge
        lambda r, a: r.remove_range(9, 9),  # a split
        lambda r, a: r.remove_range(0, 100),  # ranges gone
        lambda r, a: r.swap(RangeSet.from_ranges([(5, 5)], allocator=a)),
        lambda r, a: r.purge(),
    ],
)
def test_every_change_drops_the_index(
    change: Callable[[RangeSet, CountingAllocator], None],
) -> None:
    alloc = CountingAllocator()
    r = RangeSet.from_ranges([(0, 2), (8, 10), (16, 18)], allocator=alloc)
    warm(r)
    change(r, alloc)
    assert r._index is None
    oracle = {x for s, e in r for x in range(s, e + 1)}
    assert [x for x in range(40) if r.contains_singleton(x)] == sorted(oracle)
    warm(r)
    assert [x for x in range(40) if r.contains_singleton(x)] == sorted(oracle)
    r.check_invariants()


@pytest.mark.parametrize("bad", [-1, UINT64_MAX + 1, True, 1.0, "3", None])
def test_indexed_queries_still_reject_bad_values(bad: object) -> None:
    r = RangeSet.from_ranges([(0, 2), (8, 10)])
    warm(r)
    with pytest.raises(XenError):
        r.contains_singleton(bad)  # type: ignore[arg-type]
    assert r._index is not None


def test_from_columns_matches_the_tuple_form_and_checks_lengths() -> None:
    ranges = [(0, 2), (8, 10), (1 << 40, (1 << 40) + 5)]
    a = PointIndex(ranges)
    b = PointIndex.from_columns([s for s, _ in ranges], [e for _, e in ranges])
    assert (a.buckets, a.crowded, a.shift) == (b.buckets, b.crowded, b.shift)
    with pytest.raises(ValueError, match="one end per start"):
        PointIndex.from_columns([0, 8], [2])


def test_nbytes_counts_the_arrays() -> None:
    small = PointIndex([(0, 2), (8, 10)])  # span fits 32 bits: 4-byte bucket words
    assert small.nbytes() == 2 * 8 * 2 + 4 * small.limit
    wide = PointIndex([(0, 2), (1 << 40, 1 << 41)])  # 8-byte bucket words
    assert wide.nbytes() == 2 * 8 * 2 + 8 * wide.limit
