"""Rangeset benchmark: point query, add, remove and split at 256 … 1,000,000 ranges.

Stored ranges are ``[8i, 8i+2]`` for ``i < n`` (disjoint, never adjacent).
Operations, each on indices never touched before by that operation:

* query  — ``contains`` of ``8i+1`` (hit) and ``8i+5`` (miss), alternating;
* add    — a new disjoint singleton ``8i+5`` (Xen allocates a node);
* remove — the whole range ``[8i, 8i+2]`` (Xen frees a node);
* split  — the middle point ``8i+1`` (Xen allocates a node for the upper half).

Targets (issue 2): at 8192 ranges, RangeSet's query and add at least 10× faster
than intervaltree; RangeSet's query at 1,000,000 ranges no more than 3× its
cost at 256.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Iterator

from bench.competitors import ADAPTERS, BASELINE_OPS, Ops
from bench.harness import Timing, fmt_ns, markdown_table, time_batch

SIZES = [256, 8192, 65536, 1_000_000]
OPS = ["query", "add", "remove", "split"]
REPEAT = 5
BATCH_NS = 40_000_000  # aim for ~40 ms per timed batch
MAX_BATCH = 2000

Results = dict[tuple[int, str, str], Timing]


def _batch(ops: Ops, op: str, idx: list[int]) -> Callable[[], None]:
    """A closure running ``op`` on every index, with arguments precomputed."""
    if op == "query":
        xs = [8 * (i >> 1) + (1 if i & 1 == 0 else 5) for i in idx]
        q = ops.query

        def run_query() -> None:
            for x in xs:
                q(x)

        return run_query
    if op == "add":
        pairs = [(8 * i + 5, 8 * i + 5) for i in idx]
        fn = ops.add
    elif op == "remove":
        pairs = [(8 * i, 8 * i + 2) for i in idx]
        fn = ops.remove
    else:
        pairs = [(8 * i + 1, 8 * i + 1) for i in idx]
        fn = ops.remove

    def run_pairs() -> None:
        for s, e in pairs:
            fn(s, e)

    return run_pairs


def _measure(
    ops: Ops, op: str, pool: Iterator[int], pool_size: int, warm: int = 0
) -> tuple[Timing, Timing]:
    """Time ``op`` on fresh indices from ``pool``; also the same loop doing nothing.

    ``warm`` untimed operations come first (queries only: they change nothing).
    """
    if warm:
        _batch(ops, op, [next(pool) for _ in range(warm)])()
    t0 = time.perf_counter_ns()
    _batch(ops, op, [next(pool)])()
    probe = max(time.perf_counter_ns() - t0, 1)
    cap = min(MAX_BATCH, max(1, pool_size // (REPEAT + 2)))
    n_ops = max(1, min(cap, BATCH_NS // probe))
    batches = [_batch(ops, op, [next(pool) for _ in range(n_ops)]) for _ in range(REPEAT + 1)]
    it = iter(batches)

    def fresh_batch() -> None:
        next(it)()

    timing = time_batch(fresh_batch, n_ops, repeat=REPEAT)
    empty = _batch(BASELINE_OPS, op, list(range(n_ops)))
    return timing, time_batch(empty, n_ops, repeat=REPEAT)


def run(sizes: list[int] = SIZES, seed: int = 2016) -> tuple[str, Results]:
    """Run every adapter at every size; return the Markdown section and raw results."""
    rng = random.Random(seed)
    results: Results = {}
    for n in sizes:
        ranges = [(8 * i, 8 * i + 2) for i in range(n)]
        perm = list(range(n))
        rng.shuffle(perm)
        half = n // 2
        for adapter in ADAPTERS:
            if n > adapter.max_size:
                continue
            ops = adapter.build(ranges)
            pools = {
                "query": (iter(rng.randrange(2 * n) for _ in range(10**9)), 10**9),
                "add": (iter(rng.sample(range(n), n)), n),
                "split": (iter(perm[:half]), half),
                "remove": (iter(perm[half:]), n - half),
            }
            for op in ("query", "add", "split", "remove"):
                # Steady state: every structure first answers 2n + 64 untimed
                # queries (warm caches, any lazy structure of a competitor built).
                warm = 2 * n + 64 if op == "query" else 0
                timing, empty = _measure(ops, op, *pools[op], warm=warm)
                results[(n, op, adapter.name)] = timing.net_of(empty)
    return _report(sizes, results), results


def chase_latency(n: int, steps: int = 200_000, seed: int = 1) -> float:
    """ns per *dependent* load walking a random cycle through ``n`` slots.

    Each step's index comes from the previous load, as in a binary search, so
    the memory latency of a working set of that size cannot be hidden.  The
    slots are a list of int objects, the same kind of memory a RangeSet query
    walks (a list slot, then the int it points at): an ``array`` of machine
    words would be 8× denser and stay in this machine's L3 at 10⁶ ranges.
    """
    rng = random.Random(seed)
    order = list(range(n))
    rng.shuffle(order)
    nxt = [0] * n
    for a, b in itertools.pairwise([*order, order[0]]):
        nxt[a] = b

    def walk() -> None:
        i = 0
        for _ in range(steps):
            i = nxt[i]

    return time_batch(walk, steps, repeat=3).median_ns


def targets(results: Results) -> list[tuple[str, float, float, bool]]:
    """(description, measured ratio, required ratio, met) for each issue target."""
    out = []
    for op in ("query", "add"):
        ours = results[(8192, op, "RangeSet")].median_ns
        theirs = results[(8192, op, "intervaltree")].median_ns
        ratio = theirs / ours
        out.append((f"{op} at 8192: intervaltree / RangeSet", ratio, 10.0, ratio >= 10.0))
    if (1_000_000, "query", "RangeSet") in results:
        big = results[(1_000_000, "query", "RangeSet")].median_ns
        small = results[(256, "query", "RangeSet")].median_ns
        ratio = big / small
        out.append(("query at 1,000,000 / query at 256 (RangeSet)", ratio, 3.0, ratio <= 3.0))
    return out


def _report(sizes: list[int], results: Results) -> str:
    names = [a.name for a in ADAPTERS]
    head = ["ranges", "operation", *names, "intervaltree ÷ RangeSet"]
    rows = []
    for n in sizes:
        for op in OPS:
            cells = [f"{n:,}", op]
            for name in names:
                t = results.get((n, op, name))
                cells.append(fmt_ns(t.median_ns) if t else "n/a")
            ours = results.get((n, op, "RangeSet"))
            base = results.get((n, op, "intervaltree"))
            cells.append(f"{base.median_ns / ours.median_ns:.1f}×" if ours and base else "n/a")
            rows.append(cells)
    lines = [
        "## Rangeset operations",
        "",
        "Median ns per operation, net of the same loop calling a do-nothing function",
        "(5 timed batches after a warm-up, fresh indices in every batch). Queries are",
        "timed after every structure has answered 2n + 64 untimed queries. RangeSet",
        "has no point index any more: the built-in scenario ran no faster with one",
        "(issue 18), so its queries are the blocked list's two bisects.",
        "`n/a`: the linked list is not run above 65,536 ranges (one point query there",
        "walks half a million nodes), nor portion (a change costs ~10 s at 10⁶).",
        "",
        markdown_table(head, rows),
        "",
        "Targets:",
        "",
    ]
    for desc, ratio, need, met in targets(results):
        rel = "≥" if "intervaltree" in desc else "≤"
        verdict = "met" if met else "MISSED"
        lines.append(f"- {desc}: **{ratio:.1f}×** (target {rel} {need:g}×) — {verdict}")
    small, big = chase_latency(2 * 256), chase_latency(2 * 1_000_000)
    lines += [
        "",
        "Why RangeSet's queries grow faster than log n: its query is a chain",
        "of about log₂ n *dependent* comparisons, each loading an int object the previous",
        "one chose. Measured in this run, one dependent load through a working set the",
        f"size of 256 ranges costs {fmt_ns(small)}, through one the size of 10⁶ ranges",
        f"{fmt_ns(big)} ({big / small:.1f}×): the small set lives in L1, the large one",
        "in DRAM. The comparison count grows 2.5× from 256 to 10⁶ ranges (8 → 20);",
        "the wall time also pays a DRAM miss for most of those comparisons. That is why",
        "the two query targets above (set with the point index: ≥ 10× intervaltree at",
        "8,192, ≤ 3× from 256 to 10⁶ ranges) are missed since it went. Issue 18 chose",
        "the simpler code: no workload of the model holds 10⁶ ranges, and the built-in",
        "scenario's sets are queried while they change (3 index builds in a whole run,",
        "and the run was no faster with them).",
    ]
    return "\n".join(lines) + "\n"
