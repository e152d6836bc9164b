"""Property tests: every rangeset against a ``set[int]`` oracle and each other.

The state machine drives the blocked list (normal and tiny blocks) and the
literal linked-list port with the same calls.  After every step: the covered
integers equal the oracle's, all implementations hold identical ranges and
budgets, each one's ``check_invariants()`` passes, and a failed call changed
nothing at all (snapshot before/after).  Values are small so that ranges
collide, merge and split often; limits are small so that ENOMEM happens.
"""

from __future__ import annotations

import contextlib

from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ioreqlab.alloc import CountingAllocator
from ioreqlab.errors import XenError
from ioreqlab.rangeset import RangeSetBase
from tests.rangesets import IMPLEMENTATIONS

VALUES = st.integers(min_value=0, max_value=80)
LENGTHS = st.sampled_from([0, 0, 0, 1, 2, 3, 7, 15, 40])
LIMITS = st.one_of(st.none(), st.integers(min_value=0, max_value=12))


def covered(r: RangeSetBase) -> set[int]:
    return {x for s, e in r for x in range(s, e + 1)}


def runs(values: set[int]) -> int:
    """Number of maximal runs of consecutive integers: the canonical node count."""
    return sum(1 for v in values if v - 1 not in values)


Snapshot = tuple[list[tuple[int, int]], int | None, int]


def snapshot(r: RangeSetBase) -> Snapshot:
    return r.ranges(), r.budget, r.bytes_in_use


class RangeSetMachine(RuleBasedStateMachine):
    """Three implementations and an oracle, driven in lockstep."""

    def __init__(self) -> None:
        super().__init__()
        self.oracle: set[int] = set()
        self.sets: list[RangeSetBase] = []
        self.allocs: list[CountingAllocator] = []

    @initialize(limit=LIMITS)
    def start(self, limit: int | None) -> None:
        for cls in IMPLEMENTATIONS:
            alloc = CountingAllocator()
            self.allocs.append(alloc)
            self.sets.append(cls("prop", limit=limit, allocator=alloc))

    def _apply(self, method: str, s: int, e: int) -> int | None:
        outcomes: list[int | None] = []
        for r in self.sets:
            before = snapshot(r)
            try:
                getattr(r, method)(s, e)
                outcomes.append(None)
            except XenError as err:
                outcomes.append(err.errno)
                assert snapshot(r) == before, f"{type(r).__name__}.{method} failed but changed"
        note(f"{method}({s}, {e}) -> {outcomes}")
        assert len(set(outcomes)) == 1, f"implementations disagree: {outcomes}"
        return outcomes[0]

    @rule(s=VALUES, n=LENGTHS)
    def add(self, s: int, n: int) -> None:
        if self._apply("add_range", s, s + n) is None:
            self.oracle |= set(range(s, s + n + 1))

    @rule(s=VALUES, n=LENGTHS)
    def remove(self, s: int, n: int) -> None:
        if self._apply("remove_range", s, s + n) is None:
            self.oracle -= set(range(s, s + n + 1))

    @rule(n=st.integers(min_value=0, max_value=6))
    def set_limit(self, n: int) -> None:
        for r in self.sets:
            r.limit(n)

    @rule(s=VALUES, n=LENGTHS)
    def queries(self, s: int, n: int) -> None:
        e = s + n
        want_overlap = any(x in self.oracle for x in range(s, e + 1))
        want_report = []
        for rs, re_ in self.sets[0]:
            if re_ >= s and rs <= e:
                want_report.append((max(rs, s), min(re_, e)))
        for r in self.sets:
            assert r.overlaps_range(s, e) == want_overlap
            assert list(r.report_ranges(s, e)) == want_report
            # contains_range needs one stored range; the oracle says whether
            # all points are covered, and canonical form makes that equivalent.
            assert r.contains_range(s, e) == all(x in self.oracle for x in range(s, e + 1))
            assert r.contains_singleton(s) == (s in self.oracle)

    @rule()
    def point_query_burst(self) -> None:
        # A long run of point queries without a change (RangeSet once built a
        # point index after 2n of them): every answer must still agree.
        for r in self.sets:
            for _ in range(2 * r.nr_ranges + 40):
                r.contains_singleton(7)
            for x in range(130):
                assert r.contains_singleton(x) == (x in self.oracle), (type(r).__name__, x)

    @invariant()
    def agree_with_oracle(self) -> None:
        first = self.sets[0] if self.sets else None
        for r, alloc in zip(self.sets, self.allocs, strict=True):
            r.check_invariants()
            assert covered(r) == self.oracle
            assert r.nr_ranges == runs(self.oracle)
            assert alloc.in_use == r.bytes_in_use
            assert first is not None
            assert r.ranges() == first.ranges()
            assert r.budget == first.budget


TestRangeSetMachine = RangeSetMachine.TestCase


@given(
    ranges=st.lists(st.tuples(VALUES, LENGTHS), max_size=30),
    limit=st.integers(min_value=0, max_value=8),
)
def test_budget_plus_nodes_is_constant_when_limited_empty(
    ranges: list[tuple[int, int]], limit: int
) -> None:
    """B3 rule 2: ranges in use + remaining allowance == limit, when limited while empty."""
    for cls in IMPLEMENTATIONS:
        r = cls(limit=limit)
        for s, n in ranges:
            with contextlib.suppress(XenError):
                r.add_range(s, s + n)
            assert r.nr_ranges + (r.budget or 0) == limit
            assert r.nr_ranges <= limit
