"""The design comparison: one table, and the same data as JSON (SPEC.md "Main job")."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from ioreqlab import __version__
from ioreqlab.scenario.runner import DesignResult
from ioreqlab.scenario.spec import Scenario

__all__ = ["comparison_json", "comparison_table"]

_COLUMNS = (
    ("design", "design"),
    ("tracked pages", "tracked_pages"),
    ("ranges/entries", "stored_ranges"),
    ("Xen heap B", "heap_bytes"),
    ("limit hits", "limit_hits"),
    ("unprotect", "unprotections"),
    ("re-shadows", "reshadows"),
    ("pages re-read", "pages_reread"),
    ("mismatch", "shadow_mismatches"),
    ("accesses", "accesses"),
    ("to server", "routed_server"),
    ("to RAM", "ram_accesses"),
    ("retried", "wp_retries"),
    ("ns/access", "ns_per_access"),
)


def _cell(r: DesignResult, key: str) -> str:
    if key == "design":
        return r.design
    if key in r.routes or key in ("routed_server", "ram_accesses", "wp_retries"):
        return f"{r.routes.get(key, 0):,}"
    value = getattr(r, key)
    return f"{value:,.0f}" if isinstance(value, float) else f"{value:,}"


def comparison_table(results: Mapping[str, DesignResult]) -> str:
    """A fixed-width table, one row per design."""
    head = [c for c, _ in _COLUMNS]
    rows = [[_cell(r, key) for _, key in _COLUMNS] for r in results.values()]
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
