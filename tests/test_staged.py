"""Analyses as rounds of independent runs (issue 18): the same answers on any number
of workers, each later round built from what the earlier found, progress per job."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from ioreqlab.analysis.staged import Job, Single, run_staged
from ioreqlab.scenario.spec import ScenarioError


def square(x: int) -> int:
    return x * x


def fail(x: int) -> int:
    raise ScenarioError(f"job {x} failed")


@dataclass(frozen=True)
class Search:
    """Squares ``start`` onwards, a round at a time, until one passes ``stop``."""

    start: int
    stop: int
    width: int = 3

    def first(self) -> list[Job]:
        return [(square, self.start + k) for k in range(self.width)]

    def then(self, results: Sequence[Any]) -> list[Job]:
        if max(results) > self.stop:
            return []
        nxt = self.start + len(results)
        return [(square, nxt + k) for k in range(self.width)]

    def finish(self, results: Sequence[Any]) -> list[int]:
        return list(results)


@dataclass(frozen=True)
class Nothing:
    def first(self) -> list[Job]:
        return []

    def then(self, results: Sequence[Any]) -> list[Job]:
        raise AssertionError("an analysis with no jobs is never asked for more")

    def finish(self, results: Sequence[Any]) -> str:
        return f"{len(results)} results"


@pytest.mark.parametrize("workers", [1, 2])
def test_rounds_follow_what_the_last_found_and_answers_keep_their_order(workers: int) -> None:
    seen: list[tuple[int, int, int]] = []
    done: list[int] = []
    answers = run_staged(
        [Search(1, 50), Single(square, 7), Nothing(), Search(10, 0)],
        workers=workers,
        progress=lambda d, t, i: seen.append((d, t, i)),
        finished=done.append,
    )
    assert answers == [
        [k * k for k in range(1, 10)],  # three rounds: 9 > 50 is first passed by 8² = 64
        49,
        "0 results",
        [100, 121, 144],  # its first round is enough
    ]
    assert sorted(done) == [0, 1, 2, 3]
    assert done[0] == 2  # no jobs: finished before anything ran
    assert done[-1] == 0  # the search needs the most rounds
    # One report per job: 3 + 1 + 3 in the first round, then 3 and 3 more.
    assert [d for d, _t, _i in seen] == list(range(1, 14))
    assert [t for _d, t, _i in seen] == [7] * 7 + [10] * 3 + [13] * 3
    assert sorted(i for _d, _t, i in seen) == [0] * 9 + [1] + [3] * 3


def test_a_failing_job_fails_the_call() -> None:
    with pytest.raises(ScenarioError, match="job 3 failed"):
        run_staged([Single(square, 2), Single(fail, 3)], workers=1)
