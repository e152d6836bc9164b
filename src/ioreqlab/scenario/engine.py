"""A tiny discrete-event engine (SimPy's vocabulary): deterministic by construction.

Events are ``(time, sequence, action)``; ties in time are broken by the order
they were scheduled, so the same schedule always runs the same way.

>>> e = Engine(); out = []
>>> e.schedule(2, lambda: out.append("b")); e.schedule(1, lambda: out.append("a"))
>>> e.schedule(2, lambda: out.append("c")); e.run(); out, e.now
(['a', 'b', 'c'], 2)
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

__all__ = ["Engine"]


class Engine:
    """``now``, ``schedule``, ``step``, ``run(until)``."""

    def __init__(self) -> None:
        self.now = 0
        self._seq = 0
        self._queue: list[tuple[int, int, Callable[[], None]]] = []

    def schedule(self, delay: int, action: Callable[[], None]) -> None:
        """Run ``action`` ``delay`` time units from now."""
        if delay < 0:
            raise ValueError("cannot schedule in the past")
        self._seq += 1
        heapq.heappush(self._queue, (self.now + delay, self._seq, action))

    def peek(self) -> int | None:
        """Time of the next event, or None."""
        return self._queue[0][0] if self._queue else None

    def step(self) -> None:
        """Run the next event."""
        when, _, action = heapq.heappop(self._queue)
        self.now = when
        action()

    def run(self, until: int | None = None) -> None:
        """Run events until the queue is empty or the next one is after ``until``."""
        while self._queue and (until is None or self._queue[0][0] <= until):
            self.step()
