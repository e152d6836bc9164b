"""Analyses as rounds of independent runs, so that every core has work.

Rules
-----
1. A :class:`Staged` analysis names the jobs of its first round; a later
   round's jobs may depend on what the earlier ones found (the planner runs
   the limit it measured the guests to need); ``finish`` turns every result,
   in the order its jobs were named, into the answer.
2. :func:`run_staged` runs several analyses together: one round of all of
   them goes to :func:`~ioreqlab.scenario.executor.map_jobs` as one batch,
   so a figure made of six runs spreads over the cores instead of holding
   one of them (issue 18: ``findings`` on two workers was 1.07× with its
   heaviest figure one job).  The answers are the same on any executor.
3. A job is ``(fn, arg)``: ``fn`` a module-level function, so that the job
   pickles by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from ioreqlab.scenario.executor import map_jobs

__all__ = ["Job", "Single", "Staged", "run_staged"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

#: A job: a module-level function and its one argument.
Job = tuple[Callable[[Any], Any], Any]


class Staged(Protocol[T_co]):
    """An analysis made of independent runs, in rounds."""

    def first(self) -> list[Job]:
        """The first round's jobs."""

    def then(self, results: Sequence[Any]) -> list[Job]:
        """The next round's jobs, from every result so far; ``[]`` when there are none."""

    def finish(self, results: Sequence[Any]) -> T_co:
        """The answer, from every result in the order the jobs were named."""


@dataclass(frozen=True, slots=True)
class Single(Generic[T]):
    """An analysis that is one job: ``fn(arg)`` is the answer."""

    fn: Callable[[Any], T]
    arg: Any

    def first(self) -> list[Job]:
        return [(self.fn, self.arg)]

    def then(self, results: Sequence[Any]) -> list[Job]:
        return []

    def finish(self, results: Sequence[Any]) -> T:
        answer: T = results[0]
        return answer


def _call(job: Job) -> Any:
    fn, arg = job
    return fn(arg)


def run_staged(
    analyses: Sequence[Staged[Any]],
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    finished: Callable[[int], None] | None = None,
) -> list[Any]:
    """Every analysis's answer, in order, its rounds run on ``workers`` processes.

    ``progress(done, total, analysis)`` comes as each job ends (``total`` counts
    the rounds named so far); ``finished(analysis)`` as an analysis has its last
    result, in the order they finish.
    """
    rounds = _Rounds(analyses, progress, finished)
    while batch := rounds.batch():
        map_jobs(_call, batch, workers=workers, scheduler=scheduler, on_result=rounds.landed)
    return [a.finish(r) for a, r in zip(analyses, rounds.results, strict=True)]


class _Rounds:
    """The bookkeeping of :func:`run_staged`: whose job is which, what each has."""

    def __init__(
        self,
        analyses: Sequence[Staged[Any]],
        progress: Callable[[int, int, int], None] | None,
        finished: Callable[[int], None] | None,
    ) -> None:
        self.analyses, self.progress, self.finished = analyses, progress, finished
        self.results: list[list[Any]] = [[] for _ in analyses]
        self.pending = [a.first() for a in analyses]
        self.done = self.total = 0
        self.owner: list[int] = []
        self.got: dict[int, Any] = {}
        self.waiting: list[int] = []
        for i, jobs in enumerate(self.pending):
            if not jobs and finished:
                finished(i)  # nothing to run: done before the first round

    def batch(self) -> list[Job]:
        """The next round of every analysis that has one, as one list of jobs."""
        self.owner = [i for i, jobs in enumerate(self.pending) for _job in jobs]
        jobs = [job for pending in self.pending for job in pending]
        self.waiting = [len(p) for p in self.pending]
        self.pending = [[] for _ in self.analyses]
        self.got = {}
        self.total += len(jobs)
        return jobs

    def landed(self, k: int, result: Any) -> None:
        """Job ``k`` of this round ended with ``result``."""
        i = self.owner[k]
        self.got[k] = result
        self.done += 1
        self.waiting[i] -= 1
        if self.progress:
            self.progress(self.done, self.total, i)
        if self.waiting[i]:
            return
        # This analysis's round is complete: its results in the order they were named.
        self.results[i].extend(self.got[j] for j, o in enumerate(self.owner) if o == i)
        self.pending[i] = self.analyses[i].then(self.results[i])
        if not self.pending[i] and self.finished:
            self.finished(i)
