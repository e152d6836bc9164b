"""``ioreqlab.toolstack.cnum`` against the C library it restates: glibc's
``strtol`` and ``strtoul``, called through ctypes on the same bytes.

libxlu and xl convert xl.cfg numbers with these (``strtol(s, &ep, 0)`` in
``xlu_cfg_get_long``, ``strtoul`` in the disk and NIC parsers), so the
model's conversions must agree with them to the character: the value, where
parsing stopped, and ``ERANGE``.  The inputs are generated from the pieces
that matter to the C rules (white space, signs, ``0x``/``0X``, leading zeros,
digits of every base, long runs that overflow, junk after).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import random

import pytest

from ioreqlab.toolstack.cnum import strtol, strtoul, strtoul_prefix

_name = ctypes.util.find_library("c")
if _name is None:  # glibc is part of every Debian system: this cannot be missing
    raise RuntimeError("no C library found for the strtol comparison")
LIBC = ctypes.CDLL(_name, use_errno=True)
LIBC.strtol.restype = ctypes.c_long
LIBC.strtol.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int]
LIBC.strtoul.restype = ctypes.c_ulong
LIBC.strtoul.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int]

PIECES = (
    " ", "\t", "\n", "\v", "\f", "\r", "+", "-", "0", "0x", "0X", "x", "00", "7", "8", "9",
    "1", "f", "F", "g", "z", "Z", "X", ":", ".", "_", "9" * 20, "f" * 17, "7" * 22, "1" * 65,
    "0" * 70, "18446744073709551615", "18446744073709551616", "9223372036854775807",
    "9223372036854775808", "0xffffffffffffffff", "0x10000000000000000", "0x8000000000000000",
)  # fmt: skip
COUNT, SEED = 6000, 5


def inputs() -> list[str]:
    """Seeded strings of 0-6 pieces (the same every run)."""
    rng = random.Random(SEED)
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 6))) for _ in range(COUNT)]


def _c(fn: str, s: str, base: int) -> tuple[int, int, int]:
    """``fn(s, &end, base)``: (value, end - s, errno)."""
    buf = ctypes.create_string_buffer(s.encode("ascii"))
    end = ctypes.c_char_p()
    ctypes.set_errno(0)
    value = getattr(LIBC, fn)(buf, ctypes.byref(end), base)
    err = ctypes.get_errno()
    start = ctypes.addressof(buf)
    stop = ctypes.cast(end, ctypes.c_void_p).value
    assert stop is not None
    return value, stop - start, err


@pytest.mark.parametrize("base", [0, 8, 10, 16])
def test_strtol_is_glibcs(base: int) -> None:
    bad = []
    for s in inputs():
        r = strtol(s, base)
        mine = (r.value, r.end, r.errno)
        theirs = _c("strtol", s, base)
        if mine != theirs:
            bad.append(f"{s!r}: model {mine}, glibc {theirs}")
    assert bad == [], f"{len(bad)} of {COUNT} differ:\n" + "\n".join(bad[:5])


@pytest.mark.parametrize("base", [8, 10, 16])
def test_strtoul_is_glibcs(base: int) -> None:
    bad = []
    for s in inputs():
        value, end, err = _c("strtoul", s, base)
        mine = (*strtoul(s, base), strtoul_prefix(s, base))
        theirs = (value, end, end)
        if mine != theirs:
            bad.append(f"{s!r}: model {mine}, glibc {theirs} (errno {err})")
    assert bad == [], f"{len(bad)} of {COUNT} differ:\n" + "\n".join(bad[:5])


def test_the_inputs_reach_every_outcome() -> None:
    # Worth something only if glibc parsed, stopped early, found nothing and overflowed.
    seen = set()
    for s in inputs():
        value, end, err = _c("strtol", s, 0)
        seen.add("none" if end == 0 else "all" if end == len(s) else "part")
        seen.add("erange" if err == errno.ERANGE else "ok")
        seen.add("negative" if value < 0 else "not negative")
    assert seen == {"none", "all", "part", "erange", "ok", "negative", "not negative"}
