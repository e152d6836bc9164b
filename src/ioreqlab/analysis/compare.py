"""The design comparison: one table, and the same data as JSON (SPEC.md "Main job")."""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Mapping

from ioreqlab import __version__
from ioreqlab.scenario.runner import DesignResult
from ioreqlab.scenario.spec import Scenario

__all__ = [
    "COLUMNS",
    "LEGEND",
    "TIMING",
    "cell",
    "comparison_json",
    "comparison_legend",
    "comparison_table",
    "design_summaries",
    "wrap",
]

COLUMNS = (
    ("design", "design"),
    ("tracked pages", "tracked_pages"),
    ("ranges/entries", "stored_ranges"),
    ("Xen heap B", "heap_bytes"),
    ("peak ranges", "peak_ranges"),
    ("limit hits", "limit_hits"),
    ("vGPUs failsafe", "failsafe_vgpus"),
    ("lost submits", "lost_submissions"),
    ("trapped writes", "trapped_writes"),
    ("oos syncs", "oos_syncs"),
    ("mediator CPU ms", "mediator_cpu_ms"),
    ("CPU ms/GPU s", "mediator_cpu_ms_per_gpu_s"),
    ("unprotect", "unprotections"),
    ("re-shadows", "reshadows"),
    ("pages re-read", "pages_reread"),
    ("mismatch", "shadow_mismatches"),
    ("accesses", "accesses"),
    ("to server", "routed_server"),
    ("to RAM", "ram_accesses"),
    ("retried", "wp_retries"),
)

#: The model's own time, on this machine: printed apart from the counts, never compared.
TIMING = (
    ("µs/trapped write", "ns_per_trapped_write"),
    ("µs/submission", "ns_per_submission"),
)

#: What each column of the table counts (printed under it: readable without the source).
LEGEND = (
    ("tracked pages", "guest pages write-protected at the end of the run"),
    ("ranges/entries", "what the design stores for them: rangeset ranges, or p2m/p2t entries"),
    ("Xen heap B", "Xen heap bytes those structures take (p2m: none, the p2m has room)"),
    ("peak ranges", "the most the design stored at once (the limit a guest needs)"),
    ("limit hits", "protections refused (-ENOMEM): the limit, or the heap, was full"),
    ("vGPUs failsafe", "vGPUs whose GPU work stopped: a protection was refused (shipped)"),
    ("lost submits", "submissions not run because their vGPU was in failsafe"),
    ("trapped writes", "guest writes to protected table pages, emulated by the mediator"),
    ("oos syncs", "out-of-sync table pages compared and re-protected before submissions"),
    ("mediator CPU ms", "the cost model's CPU time of all that work ([costs]; estimates)"),
    ("CPU ms/GPU s", "that CPU time per second of the guests' GPU work (slower, in numbers)"),
    ("unprotect", "pages the mediator stopped protecting (trees destroyed or evicted)"),
    ("re-shadows", "page-table trees shadowed again after losing protection"),
    ("pages re-read", "guest pages read again to rebuild those shadows"),
    ("mismatch", "submissions whose shadow differed from the guest's tables: must be 0"),
    ("accesses", "guest accesses issued"),
    ("to server / to RAM", "where they went: an ioreq server, or plain RAM"),
    ("retried", "writes to a protected page whose type nobody claims: retried, as Xen does"),
    (
        "µs/trapped write",
        "the mediator's own time per trapped write, in this model on this "
        "machine: not Xen's, not GVT-g's",
    ),
    (
        "µs/submission",
        "the mediator's own time per submission (syncing and checking the shadow), "
        "in this model on this machine",
    ),
)


def cell(r: DesignResult, key: str) -> str:
    """One design's value of one column, as the table prints it."""
    if key == "design":
        return r.design
    if key in r.routes or key in ("routed_server", "ram_accesses", "wp_retries"):
        return f"{r.routes.get(key, 0):,}"
    value = getattr(r, key)
    if key in ("ns_per_trapped_write", "ns_per_submission"):
        return f"{value / 1000:,.1f}"  # printed in µs
    if key == "mediator_cpu_ms_per_gpu_s":
        return f"{value:,.2f}"
    return f"{value:,.0f}" if isinstance(value, float) else f"{value:,}"


def comparison_table(results: Mapping[str, DesignResult], *, wide: bool = False) -> str:
    """The comparison, within 80 columns: a row per quantity, a column per design.

    The model's own timing is set apart under the counts (it is this
    machine's, not Xen's, and not deterministic).  ``wide``: the one-line-per-
    design layout, every quantity a column (about 170 columns).
    """
    if wide:
        head = [c for c, _ in COLUMNS + TIMING]
        rows = [[cell(r, key) for _, key in COLUMNS + TIMING] for r in results.values()]
        return _grid(head, rows)
    names = list(results)
    counts = [[label, *(cell(results[n], key) for n in names)] for label, key in COLUMNS[1:]]
    timing = [[label, *(cell(results[n], key) for n in names)] for label, key in TIMING]
    widths = [max(len(x) for x in col) for col in zip(["", *names], *counts, *timing, strict=True)]
    widths[1:] = [max(w, 9) for w in widths[1:]]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    out = [line(["", *names]), line(["-" * w for w in widths])]
    out += [line(row) for row in counts]
    out += ["", line(["timing (this machine, not Xen)", *[""] * len(names)]).rstrip()]
    out += [line(row) for row in timing]
    return "\n".join(out)


def _grid(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


#: The unit of each number in the JSON results (a result file says what it holds).
UNITS = {
    "tracked_pages": "guest pages (4 KiB frames) write-protected at the end",
    "peak_tracked_pages": "guest pages, at the peak",
    "stored_ranges": "rangeset ranges (nodes) held",
    "heap_bytes": "bytes of Xen heap held at the end",
    "heap_bytes_total": "bytes of Xen heap held, whole host",
    "limit_hits": "protections refused (-ENOMEM)",
    "reshadows": "page-table trees shadowed again",
    "pages_reread": "guest pages re-read to re-shadow",
    "reread_per_submission": "pages re-read per GPU submission",
    "ns_per_access": "nanoseconds of the model's own time per guest access (not Xen's)",
    "ns_per_trapped_write": "nanoseconds of the mediator's own time per trapped write",
    "ns_per_submission": "nanoseconds of the mediator's own time per submission (the model's)",
    "routing_ns": "nanoseconds of the model's own time routing, per round",
    "heap_bytes_per_guest": "bytes of Xen heap, worst case at the limit",
    "heap_bytes_per_host": "bytes of Xen heap for every vGPU guest",
    "heap_capacity": "bytes of Xen heap on the host",
    "budget": "pages re-read per submission allowed",
}


def describe(scenario: Scenario) -> dict[str, object]:
    """What makes a result file self-describing: the tool's version, the host's
    settings and the units of its numbers."""
    return {
        "ioreqlab_version": __version__,
        "host": {k: list(v) if isinstance(v, tuple) else v
                 for k, v in dataclasses.asdict(scenario.host).items()},
        "units": UNITS,
    }  # fmt: skip


def comparison_legend(width: int = 80) -> str:
    """What each row (or ``--wide`` column) of :func:`comparison_table` counts,
    wrapped to ``width``."""
    name_w = max(len(name) for name, _ in LEGEND)
    indent = " " * (name_w + 4)
    return "\n".join(
        textwrap.fill(text, width, initial_indent=f"  {name:<{name_w}}  ", subsequent_indent=indent)
        for name, text in LEGEND
    )


def wrap(lines: list[str], width: int = 80) -> list[str]:
    """Each line wrapped to ``width``, continuations indented."""
    return [textwrap.fill(line, width, subsequent_indent="    ") for line in lines]


def design_summaries(results: Mapping[str, DesignResult]) -> list[str]:
    """One line per design: who hit what."""
    out = []
    for name, r in results.items():
        dead = sorted(g for g, v in r.guests.items() if v.get("failsafe"))
        if r.limit_hits and r.policy == "shipped":
            what = f"{r.limit_hits:,} protection{'s' if r.limit_hits != 1 else ''} refused; " + (
                f"failsafe (GPU work stopped): {', '.join(dead)}" if dead else "no vGPU in failsafe"
            )
        elif r.limit_hits:
            what = (
                f"{r.limit_hits:,} protection{'s' if r.limit_hits != 1 else ''} refused, "
                f"{r.reshadows:,} tree{'s' if r.reshadows != 1 else ''} re-shadowed "
                f"({r.pages_reread:,} pages re-read)"
            )
        else:
            what = "every page it was asked to protect, protected; nothing re-shadowed"
        heap = f"{r.heap_bytes:,} B of Xen heap" if r.heap_bytes else "no Xen heap"
        out.append(f"{name}: {r.tracked_pages:,} pages tracked in {heap}; {what}.")
    return out


def comparison_json(scenario: Scenario, results: Mapping[str, DesignResult]) -> dict[str, object]:
    """``{"scenario", "seed", "rounds", "xen", "designs": {name: {...}}}``, plus
    :func:`describe`'s version, host settings and units."""
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "seed": scenario.seed,
        "rounds": scenario.rounds,
        "xen": scenario.host.xen,
        "designs": {name: r.to_json() for name, r in results.items()},
        **describe(scenario),
    }
