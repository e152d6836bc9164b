"""Xen's own ``xen/common/rangeset.c``, compiled in user space and loaded with ctypes.

The source comes from Debian's ``xen`` source package (``scripts/xen-sources``
puts it in ``build/xen-src``).  Its ``#include`` lines are stripped and
``tests/c/xen_rangeset_harness.h`` stands in for Xen's headers: xmalloc on
malloc with a countdown that fails the n-th allocation, printk into a buffer,
an ASSERT that records its failure and returns from the call.  The harness
(``tests/c/xen_rangeset_harness.c``) includes the stripped file, so the
rangeset's private ``nr_ranges`` and the static ``rangeset_printk`` are
reachable, and exports a flat API.
"""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

from ioreqlab.realdm.build import BuildError, compile_c

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "build" / "xen-src" / "xen" / "common" / "rangeset.c"
VERSION = ROOT / "build" / "xen-src" / "VERSION"
HARNESS = ROOT / "tests" / "c" / "xen_rangeset_harness.c"

__all__ = ["XenRangesetLib", "load", "unavailable"]


def unavailable() -> str | None:
    """Why Xen's rangeset cannot be had here, or None."""
    if not SOURCE.exists():
        return f"Xen's rangeset.c is not in {SOURCE.parent} (run scripts/xen-sources)"
    return None


def _stripped() -> Path:
    """rangeset.c without its #include lines, next to the harness build."""
    text = SOURCE.read_text()
    out = ROOT / "build" / "xen-rangeset" / "rangeset_stripped.c"
    body = re.sub(r"^#include .*$", "/* include stripped */", text, flags=re.M)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists() or out.read_text() != body:
        out.write_text(body)
    return out


def _build() -> Path:
    stripped = _stripped()
    # The harness includes the stripped file by name; one generated unit keeps
    # compile_c's cache keyed on both texts.
    unit = stripped.with_name("harness_unit.c")
    header = (ROOT / "tests" / "c" / "xen_rangeset_harness.h").read_text()
    harness = HARNESS.read_text().replace('#include "xen_rangeset_harness.h"', header)
    text = harness.replace("#include XEN_RANGESET_C", stripped.read_text())
    if not unit.exists() or unit.read_text() != text:
        unit.write_text(text)
    return compile_c(unit, shared=True, strict=False)


class XenRangesetLib:
    """The loaded library, with argument and result types declared."""

    def __init__(self, path: Path) -> None:
        lib = ctypes.CDLL(str(path))
        p, ul, ui, i, lng = (
            ctypes.c_void_p,
            ctypes.c_ulong,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_long,
        )
        sigs: dict[str, tuple[list[object], object]] = {
            "h_new": ([ctypes.c_char_p, ui], p),
            "h_destroy": ([p], None),
            "h_add": ([p, ul, ul], i),
            "h_remove": ([p, ul, ul], i),
            "h_contains": ([p, ul, ul], i),
            "h_overlaps": ([p, ul, ul], i),
            "h_is_empty": ([p], i),
            "h_limit": ([p, ui], None),
            "h_swap": ([p, p], None),
            "h_nr_ranges": ([p], lng),
            "h_name": ([p], ctypes.c_char_p),
            "h_report": ([p, ul, ul, ctypes.POINTER(ul), lng], lng),
            "h_ranges": ([p, ctypes.POINTER(ul), lng], lng),
            "h_print": ([p], ctypes.c_char_p),
            "h_take_assert": ([], i),
            "h_fail_nth": ([lng], None),
            "h_granted": ([], lng),
        }
        for name, (args, res) in sigs.items():
            fn = getattr(lib, name)
            fn.argtypes = args
            fn.restype = res
        self.lib = lib
        self.version = VERSION.read_text().strip() if VERSION.exists() else "?"


_LOADED: XenRangesetLib | None = None


def load() -> XenRangesetLib:
    """Build (once, cached by content) and load the library."""
    global _LOADED  # noqa: PLW0603  (one library per process)
    if _LOADED is None:
        try:
            _LOADED = XenRangesetLib(_build())
        except BuildError as err:
            raise RuntimeError(f"cannot build Xen's rangeset.c: {err}") from None
    return _LOADED
