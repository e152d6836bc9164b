"""Where independent jobs run: in this process, a local process pool, or Dask.

Rules
-----
1. A job is a picklable module-level function and its argument; jobs are
   independent and deterministic, so :func:`map_jobs` returns their results
   in job order whichever executor ran them — the same bytes out.
2. ``workers=1`` runs them here, one after another (no pickling at all);
   more uses a ``ProcessPoolExecutor`` of that size.  ``scheduler`` selects
   Dask distributed instead: ``"local"`` starts a ``LocalCluster`` of
   ``workers`` processes for the call, ``"tcp://HOST:PORT"`` connects to a
   running scheduler.  Dask is an optional extra (``pip install
   'ioreqlab[dask]'``), imported only when asked for.
3. ``progress(done, total)`` is called in this process as each job finishes,
   and ``on_result(index, result)`` too, in completion order (a resumable
   study writes each result as it comes).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

from ioreqlab.scenario.spec import ScenarioError

__all__ = ["default_workers", "map_jobs"]

A = TypeVar("A")
R = TypeVar("R")


def default_workers() -> int:
    """The machine's cores (the CPUs this process may run on)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def map_jobs(
    fn: Callable[[A], R],
    jobs: Sequence[A],
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_result: Callable[[int, R], None] | None = None,
) -> list[R]:
    """``[fn(job) for job in jobs]``, on the executor asked for, in job order."""
    if workers < 1:
        raise ScenarioError(f"workers must be at least 1, not {workers}")
    results: list[Any] = [None] * len(jobs)
    finished = 0

    def done(i: int, r: R) -> None:
        nonlocal finished
        results[i] = r
        finished += 1
        if on_result:
            on_result(i, r)
        if progress:
            progress(finished, len(jobs))

    if scheduler is not None:
        _dask(fn, jobs, workers, scheduler, done)
    elif workers == 1 or len(jobs) <= 1:
        for i, job in enumerate(jobs):
            done(i, fn(job))
    else:
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            futures = {pool.submit(fn, job): i for i, job in enumerate(jobs)}
            for f in as_completed(futures):
                done(futures[f], f.result())
    return results


def _dask(
    fn: Callable[[A], R],
    jobs: Sequence[A],
    workers: int,
    scheduler: str,
    done: Callable[[int, R], None],
) -> None:
    try:  # the optional extra: imported only when asked for
        dd: Any = importlib.import_module("distributed")
    except ImportError:
        raise ScenarioError(
            "--scheduler needs Dask distributed: pip install 'ioreqlab[dask]'"
        ) from None
    if scheduler == "local":
        cluster: Any = dd.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        address: Any = cluster
    elif scheduler.startswith("tcp://"):
        cluster, address = None, scheduler
    else:
        raise ScenarioError(f"--scheduler {scheduler!r}: use 'local' or tcp://HOST:PORT")
    try:
        with dd.Client(address) as client:
            futures = [client.submit(fn, job, pure=False) for job in jobs]
            index = {f.key: i for i, f in enumerate(futures)}
            for f in dd.as_completed(futures):
                done(index[f.key], f.result())
    except OSError as err:
        raise ScenarioError(f"cannot reach the Dask scheduler {scheduler}: {err}") from None
    finally:
        if cluster is not None:
            cluster.close()
