"""Xen 4.17's ``rangeset_remove_range``, restated with its bugs, and the figure it makes."""

from __future__ import annotations

from ioreqlab.analysis.figure import Figure
from ioreqlab.rangeset import RangeSet

__all__ = ["remove_to_the_top", "xen417_remove"]


def xen417_remove(ranges: list[tuple[int, int]], s: int, e: int) -> list[tuple[int, int]]:
    """What Xen 4.17's ``rangeset_remove_range`` leaves, bugs included, in list order.

    A restatement of ``xen/common/rangeset.c`` (4.17) in 64-bit arithmetic, for
    the figure below; ``tests/test_rangeset_xen.py`` checks it against the C
    itself.  The model's :class:`RangeSet` does *not* do this (SPEC's deviations).
    """
    top = (1 << 64) - 1
    nodes = [list(r) for r in ranges]

    def find(v: int) -> int | None:
        at = None
        for k, (a, _) in enumerate(nodes):
            if a > v:
                break
            at = k
        return at

    x, y = find(s), find(e)
    if x == y:  # the single-range branch is right in 4.17; the model's answer then
        kept = RangeSet.from_ranges(ranges)
        kept.remove_range(s, e)
        return kept.ranges()
    assert y is not None
    k = 0 if x is None else x
    if nodes[k][0] < s:
        nodes[k][1] = (s - 1) & top  # the gap bug: done even when nodes[k][1] < s
        k += 1
    while k != y:
        del nodes[k]
        y -= 1
    nodes[k][0] = (e + 1) & top  # the wrap bug: e = 2**64-1 gives 0
    if nodes[k][0] > nodes[k][1]:
        del nodes[k]
    return [(a, b) for a, b in nodes]


def remove_to_the_top() -> Figure:
    """``remove_range(s, 2**64-1)`` across ranges in Xen 4.17, against the model."""
    top = (1 << 64) - 1
    two = [(10, 20), (30, 40)]
    shim = [(0x100, 0x1FF), (0xFEE00, 0xFEEFF)]
    model = RangeSet.from_ranges(shim, "iomem_caps")
    model.remove_range(0, top)
    xen_two = xen417_remove(two, 15, top)
    model_two = RangeSet.from_ranges(two)
    model_two.remove_range(15, top)
    xen_shim = xen417_remove(shim, 0, top)
    return Figure(
        "remove-to-the-top",
        "Removing up to 2^64-1 grows a range in Xen",
        "Not in the thread: found by running ioreqlab's RangeSet against Xen's own "
        "rangeset.c (issue 13), and deliberately not reproduced by the model.",
        {
            "Xen: {10-20, 30-40} minus [15, 2^64-1]": _braces(xen_two),
            "model: {10-20, 30-40} minus [15, 2^64-1]": _braces(model_two.ranges()),
            "Xen: the PV shim's iomem caps minus [0, 2^64-1]": _braces(xen_shim),
            "model: the shim's caps minus [0, 2^64-1]": _braces(model.ranges()),
            "frames Xen leaves the shim's domain": sum(b - a + 1 for a, b in xen_shim),
        },
        "When the removed span holds the start of a range above its own start, Xen 4.17's "
        "rangeset_remove_range ends with `x->s = e + 1`; for e = 2^64-1 that is 0, and the "
        "last range, instead of going, grows down to 0 — leaving the list unsorted and "
        "overlapping when a range lies below. Every release up to 4.22 has the line. Of "
        "4.17's callers only one can pass that end over several ranges: the PV shim's "
        '`iomem_deny_access(d, 0, ~0UL)` (xen/arch/x86/pv/shim.c, "Clean the iomem '
        'range"), which then leaves the domain access to every frame from 0 to the end of '
        "its last range instead of none. A device model cannot reach it: ioreq's unmap "
        "(xen/common/ioreq.c) first requires one range to contain the span; ports end at "
        "0xffff, vPCI BARs below the top, and XEN_DOMCTL_iomem_permission needs the "
        "caller to hold the span itself, which dom0's caps (up to the machine's address "
        "width) do not. Reproducer: tests/test_rangeset_xen.py, on the C of Debian's "
        "xen 4.17 source package.",
    )


def _braces(ranges: list[tuple[int, int]]) -> str:
    """Ranges as rangeset_printk shows them (hex when any bound passes 99)."""
    fmt = "#x" if any(b > 99 for _, b in ranges) else "d"
    parts = [f"{a:{fmt}}" if a == b else f"{a:{fmt}}-{b:{fmt}}" for a, b in ranges]
    return "{ " + ", ".join(parts) + " }" if parts else "{ }"
